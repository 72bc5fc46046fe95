# GENERATED from protocols/controllers.json by tools/gen_settings_spec.py: do not edit.
# One line per setting: key kind default min max (default, min and max as JSON).
# kind: i whole number, n number, b true/false (no range), s text (max: length),
# w schedule windows [on_min, off_min, day mask], d day numbers, z UTC offsets from a time zone
# [[utc_minute, offset_min], ...] (max: items). The key is
# the one in the board's flat config. Text, not tuples: a few hundred bytes of heap.
# SPEC[0]: the device's settings, SPEC[1 + i]: those of TYPES[i], SPEC[-1]: ' type.signal '
# for each signal whose inversion (active_low) needs invert_ack. Strings, not tuples of
# names: every short string a module holds stays in the board's string table for good.

TYPES = ('door', 'barrier', 'pump', 'intercom', 'lift_recall', 'genset', 'zone')

SPEC = (
    '\nkeepalive_s i 30 5 120\ntele_s i 60 1 3600\ntick_ms i 10 1 50\noutbox_max i 0 0 100000\nlog_level i 2 0 4\ndebug b false null null\nwatchdog_ms i 8000 1000 30000\nhealthy_s i 60 1 3600\nsafe_boots i 3 0 20\ntrial_s i 300 10 3600\nnet_timeout_ms i 5000 500 60000\nbackoff_max_s i 10 1 300\nntp_host s "pool.ntp.org" 0 64\nconsole_locked b false null null\n',
    '\nheld_open_s n 30 1 3600\nprealarm_s n 10 0 3600\nunlock_s n 5 1 600\ndebounce_ms i 50 0 1000\nfail_safe b true null null\ncontact_eol b false null null\naccess_group i 0 0 31\nreader_dir i 0 0 2\npin_timeout_s n 10 3 60\ntz_offset_min i 0 -720 840\n',
    '\nauto_close_s n 30 0 3600\ntravel_timeout_s n 15 1 60\nreverse_dead_ms i 300 50 2000\neye_test_ms i 500 50 1000\nmax_obstructions i 2 1 5\ndebounce_ms i 50 0 100\nbeam_debounce_ms i 0 0 20\nwarn_s n 3 0 30\naccess_group i 0 0 31\nreader_dir i 0 0 2\npin_timeout_s n 10 3 60\ntz_offset_min i 0 -720 840\n',
    '\nrestore_s n 1200 0 86400\nmax_trips i 3 1 20\ntrip_window_s n 3600 1 604800\nmax_run_s n 0 0 604800\nmin_off_s n 60 0 86400\nlow_debounce_ms i 2000 0 10000\nlow_pct n 20 0 100\nhysteresis_pct n 5 0 50\nhigh_pct n 0 0 100\ntz_offset_min i 0 -720 840\ntz_changes z [] 0 16\nschedule w [] 0 16\nexcept_days d [] 0 64\n',
    '\nring_timeout_s n 60 5 600\ntalk_timeout_s n 180 10 3600\nstrike_s n 5 1 60\ndebounce_ms i 50 0 1000\n',
    '\nrecall_s n 60 10 600\nfail_recall b true null null\ndebounce_ms i 100 0 2000\n',
    '\nmains_fail_s n 5 0 600\ncrank_s n 10 1 30\nstart_attempts i 3 1 10\nrest_s n 15 5 300\ncooldown_s n 180 0 1800\nfail_run b false null null\ndebounce_ms i 200 0 2000\ntz_offset_min i 0 -720 840\ntz_changes z [] 0 16\nexercise w [] 0 8\nexcept_days d [] 0 64\n',
    '\nmembers s "" 0 200\nexit_s n 30 0 600\nentry_s n 20 0 600\ndebounce_ms i 50 0 1000\n',
    ' door.lock door.fire barrier.motor_up barrier.motor_down barrier.eye_tx barrier.beam barrier.up_limit barrier.down_limit barrier.close_held barrier.warn pump.pump pump.low_level intercom.strike lift_recall.recall lift_recall.recalled genset.gen_start genset.mains_ok genset.gen_running genset.gen_fault ',
)
