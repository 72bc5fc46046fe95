"""Time from the door contact going active past held_open_s to door.held_open arriving at
an MQTT subscriber (real mosquitto, the firmware on the MicroPython unix port).

    python tools/measure_alarm_latency.py [N]      (default N=20; prints JSON)
Same figures as `edgectl bench alarm-latency --json`.
"""
import json
import sys


def main(argv):
    from edgectl.bench import alarm_latency
    n = int(argv[0]) if argv else 20
    print(json.dumps(alarm_latency(n=n)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
