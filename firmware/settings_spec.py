# GENERATED from protocols/controllers.json by tools/gen_settings_spec.py: do not edit.
# A setting: (key, kind, default, min, max). kind: 'i' whole number, 'n' number,
# 'b' true/false (no range), 's' text (max: length), 'w' schedule windows [on_min, off_min,
# day mask], 'd' day numbers (max: items). The key is the one the board's flat config uses.
# SAFETY[i]: the signals of TYPES[i] whose inversion (active_low) needs invert_ack.

DEVICE = (
    ('keepalive_s', 'i', 30, 5, 120),
    ('tele_s', 'i', 60, 1, 3600),
    ('tick_ms', 'i', 10, 1, 50),
    ('outbox_max', 'i', 200, 10, 5000),
    ('debug', 'b', False, None, None),
    ('watchdog_ms', 'i', 8000, 1000, 30000),
    ('healthy_s', 'i', 60, 1, 3600),
    ('safe_boots', 'i', 3, 0, 20),
    ('trial_s', 'i', 300, 10, 3600),
    ('net_timeout_ms', 'i', 5000, 500, 60000),
    ('backoff_max_s', 'i', 10, 1, 300),
    ('ntp_host', 's', 'pool.ntp.org', 0, 64),
    ('console_locked', 'b', False, None, None),
)

TYPES = ('door', 'barrier', 'pump', 'intercom')

SETTINGS = (
  (  # door
    ('held_open_s', 'n', 30, 1, 3600),
    ('prealarm_s', 'n', 10, 0, 3600),
    ('unlock_s', 'n', 5, 1, 600),
    ('debounce_ms', 'i', 50, 0, 1000),
    ('fail_safe', 'b', True, None, None),
    ('contact_eol', 'b', False, None, None),
  ),
  (  # barrier
    ('auto_close_s', 'n', 30, 0, 3600),
    ('travel_timeout_s', 'n', 15, 1, 60),
    ('reverse_dead_ms', 'i', 300, 50, 2000),
    ('eye_test_ms', 'i', 500, 50, 1000),
    ('max_obstructions', 'i', 2, 1, 5),
    ('debounce_ms', 'i', 50, 0, 100),
    ('beam_debounce_ms', 'i', 0, 0, 20),
  ),
  (  # pump
    ('restore_s', 'n', 1200, 0, 86400),
    ('max_trips', 'i', 3, 1, 20),
    ('trip_window_s', 'n', 3600, 1, 604800),
    ('max_run_s', 'n', 0, 0, 604800),
    ('min_off_s', 'n', 60, 0, 86400),
    ('low_debounce_ms', 'i', 2000, 0, 10000),
    ('low_pct', 'n', 20, 0, 100),
    ('hysteresis_pct', 'n', 5, 0, 50),
    ('high_pct', 'n', 0, 0, 100),
    ('tz_offset_min', 'i', 0, -720, 840),
    ('schedule', 'w', (), 0, 16),
    ('except_days', 'd', (), 0, 64),
  ),
  (  # intercom
    ('ring_timeout_s', 'n', 60, 5, 600),
    ('talk_timeout_s', 'n', 180, 10, 3600),
    ('strike_s', 'n', 5, 1, 60),
    ('debounce_ms', 'i', 50, 0, 1000),
  ),
)

SAFETY = (
    ('lock', 'fire'),
    ('motor_up', 'motor_down', 'eye_tx', 'beam', 'up_limit', 'down_limit'),
    ('pump', 'low_level'),
    ('strike',),
)
