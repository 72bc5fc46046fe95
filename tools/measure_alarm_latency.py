"""Time from a door forced open on a simulated board (the firmware on the MicroPython unix
port) to the alarm committed in the control room's journal and drawn on its screen (real
mosquitto, the real monitor).

    python tools/measure_alarm_latency.py [N]      (default N=20; prints JSON)
Same figures as `edgectl bench alarm-latency --json`.
"""
import json
import sys


def main(argv):
    from edgectl.qa.bench import alarm_latency
    n = int(argv[0]) if argv else 20
    print(json.dumps(alarm_latency(n=n)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
