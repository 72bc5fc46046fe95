#!/usr/bin/env bash
# Build a 32-bit MicroPython unix port to measure the firmware's heap as an ESP32 (32-bit
# Xtensa) holds it: the pip-installed VM is 64-bit, so its object headers and pointers are
# twice a board's. For people measuring (`edgectl bench boot-heap --vm PATH`); neither
# tools/install.sh nor CI runs this (minutes of compiling).
#
#   bash tools/build_micropython32.sh SRC [--frozen] [--bits 64] [--mbedtls DIR --micropython-lib DIR [--mbedtls-in-gc]]
#
# SRC: a MicroPython source folder (a checkout or `git archive` of micropython/micropython;
#      nothing is downloaded and the submodules are not needed). The pip VM reports
#      1.29.0-preview 9458e3a23f built 2026-07-05; v1.29.0-preview-490-g13303f8d29 is the
#      upstream commit of that day.
# --frozen: also freeze the firmware (firmware/*.py but main.py, protocols/topics.py and
#      signing.py, -O3) into the VM, as a custom ESP32 MicroPython build would: its bytecode
#      and qstrs then live in the image, not the heap (`bench boot-heap --layout frozen`).
# --bits 64: the same configuration built 64-bit for this machine (to tell the word size
#      from the configuration when comparing with the pip VM).
# --mbedtls DIR: with ssl (MICROPY_PY_SSL=1, MICROPY_SSL_MBEDTLS=1), from DIR, an mbedtls
#      source folder (include/, library/) at the commit MicroPython pins as lib/mbedtls
#      (`git ls-tree HEAD lib/mbedtls` of micropython/micropython: 0bebf8b8c7 = v3.6.6 for
#      1.29.0-preview), for `edgectl bench tls-heap --vm PATH`. SRC is left as it is: the build
#      runs on a copy of SRC (build/micropython32/src-mbedtls, no build folders) whose
#      lib/mbedtls links to DIR. mbedtls's configuration is the unix port's own
#      (ports/unix/mbedtls/mbedtls_config_port.h) with the peer certificate kept as ESP-IDF
#      does and its calloc/free counted (tools/micropython32/: edge_mbedtls_config.h, module
#      tlsmem), as on the unix port mbedtls allocates with libc calloc, outside the GC heap
#      -X heapsize sets (on an ESP32: from the ESP-IDF heap).
# --micropython-lib DIR: with --mbedtls, a micropython-lib source folder (its
#      python-stdlib/ssl at least; MicroPython pins it as lib/micropython-lib, 8380c7bb8f for
#      1.29.0-preview): the firmware imports `ssl`, which MicroPython's unix and esp32 ports
#      freeze from there (ssl.py 0.2.1, over the built-in `tls`), as the pip VM has it.
# --mbedtls-in-gc: with --mbedtls, mbedtls allocates from the GC heap (m_tracked_calloc, as
#      MicroPython's bare-metal ports do) instead: -X heapsize then bounds both, one heap with
#      its fragmentation, as the config check counts a board (output suffix -tls-gc).
# Output: build/micropython32/micropython[-64][-frozen][-tls|-tls-gc] (-64 for --bits 64,
# -tls with --mbedtls, -tls-gc with --mbedtls-in-gc too); the path is printed last.
#
# Needs: make, a host gcc (mpy-cross) and for 32 bits an i686 cross gcc (Debian/Ubuntu:
# apt-get install -y gcc-i686-linux-gnu; another prefix with CROSS_COMPILE=...). The VM is
# linked statically, so it runs without 32-bit libraries installed. As the pip VM's
# `standard` variant (ROMFS: vfs.VfsRom on), without ffi and btree (the pip VM has neither)
# and without ssl unless --mbedtls (its mbedtls is a submodule; only a TLS board imports
# ssl): frozen in it is asyncio (extmod/asyncio), the only frozen module the firmware
# imports (and ssl.py with --mbedtls).
# (MICROPY_FORCE_32BIT=1 was retired upstream in 1.29: x86 is a cross target now.)
set -euo pipefail

usage() { echo "usage: bash tools/build_micropython32.sh MICROPYTHON_SRC [--frozen] [--bits 32|64] [--mbedtls DIR --micropython-lib DIR [--mbedtls-in-gc]]" >&2; exit 2; }
[ $# -ge 1 ] || usage
SRC=$(cd "$1" 2>/dev/null && pwd) || { echo "build_micropython32: no folder $1" >&2; exit 2; }
shift
FROZEN=0
BITS=32
MBEDTLS=
MPYLIB=
INGC=0
while [ $# -gt 0 ]; do
  case "$1" in
    --frozen) FROZEN=1 ;;
    --bits) BITS=${2:-}; shift ;;
    --mbedtls) [ -n "${2:-}" ] || usage
               MBEDTLS=$(cd "$2" 2>/dev/null && pwd) || { echo "build_micropython32: no folder $2" >&2; exit 2; }
               shift ;;
    --mbedtls-in-gc) INGC=1 ;;
    --micropython-lib) [ -n "${2:-}" ] || usage
               MPYLIB=$(cd "$2" 2>/dev/null && pwd) || { echo "build_micropython32: no folder $2" >&2; exit 2; }
               shift ;;
    *) usage ;;
  esac
  shift
done
[ "$BITS" = 32 ] || [ "$BITS" = 64 ] || usage
[ -z "$MBEDTLS" ] || { [ -f "$MPYLIB/python-stdlib/ssl/ssl.py" ] && [ -f "$MPYLIB/README.md" ]; } || {
  echo "build_micropython32: --mbedtls needs --micropython-lib DIR with python-stdlib/ssl/ssl.py and README.md (the firmware imports ssl)" >&2; exit 2; }
[ -n "$MBEDTLS" ] || { [ -z "$MPYLIB" ] && [ $INGC = 0 ]; } || usage
[ -f "$SRC/py/mpconfig.h" ] && [ -d "$SRC/ports/unix" ] || {
  echo "build_micropython32: $SRC is not a MicroPython source folder (no py/mpconfig.h, ports/unix)" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/micropython32
mkdir -p "$OUT"
JOBS=${JOBS:-2}
NAME=edge$BITS
SSL=(MICROPY_PY_SSL=0 MICROPY_SSL_MBEDTLS=0)
TAG=
if [ -n "$MBEDTLS" ]; then
  [ -f "$MBEDTLS/include/mbedtls/ssl.h" ] && [ -f "$MBEDTLS/library/ssl_tls.c" ] || {
    echo "build_micropython32: $MBEDTLS is not an mbedtls source folder (no include/mbedtls/ssl.h, library/ssl_tls.c)" >&2; exit 2; }
  # a copy of SRC without its build folders (copied over the last one, the files keeping
  # their times: a second build only compiles what changed), lib/mbedtls linked to MBEDTLS
  STAGE=$OUT/src-mbedtls
  mkdir -p "$STAGE"
  (cd "$SRC" && tar -c --exclude='./ports/*/build*' --exclude='./mpy-cross/build' --exclude='./lib/mbedtls' .) \
    | tar -x -C "$STAGE"
  rm -rf "$STAGE/lib/mbedtls"
  ln -s "$MBEDTLS" "$STAGE/lib/mbedtls"
  # the copy is inside this repository: its version comes from MicroPython, not from git here
  export GIT_CEILING_DIRECTORIES=$OUT
  SRC=$STAGE
  TLSDIR=$ROOT/tools/micropython32
  SSL=(MICROPY_PY_SSL=1 MICROPY_SSL_MBEDTLS=1 USER_C_MODULES="$TLSDIR"
       MBEDTLS_CONFIG_FILE="\\\"$TLSDIR/edge_mbedtls_config.h\\\"")
  NAME=$NAME-tls
  TAG=-tls
  if [ $INGC = 1 ]; then
    SSL+=("CFLAGS_EXTRA=-DEDGE_MBEDTLS_IN_GC_HEAP -DMICROPY_TRACKED_ALLOC=1")   # (the unix port tracks only for ffi)
    NAME=$NAME-gc
    TAG=-tls-gc
  fi
fi
CROSS=()
if [ "$BITS" = 32 ]; then
  CC32=${CROSS_COMPILE:-i686-linux-gnu-}gcc
  command -v "$CC32" >/dev/null || {
    echo "build_micropython32: no $CC32: apt-get install -y gcc-i686-linux-gnu (or set CROSS_COMPILE)" >&2; exit 1; }
  CROSS=(CROSS_COMPILE="${CROSS_COMPILE:-i686-linux-gnu-}")
fi

# the frozen modules: asyncio as in the pip VM, and with --frozen the firmware
MAN=$OUT/manifest-$NAME$([ $FROZEN = 1 ] && echo -frozen || true).py
{
  echo '# generated by tools/build_micropython32.sh'
  echo 'include("$(MPY_DIR)/extmod/asyncio")'
  if [ -n "$MBEDTLS" ]; then echo 'require("ssl")'; fi
  if [ $FROZEN = 1 ]; then
    # what goes onto a board (host/core/build.py sources()) but main.py, and a stamp of it
    # (edge_frozen.SOURCES: the bench refuses a VM whose firmware is not the tree's)
    files=$(cd "$ROOT/firmware" && LC_ALL=C ls *.py | grep -vx main.py)
    mods=$(echo "$files" | sed 's/.*/"&",/' | tr -d '\n')
    stamp=$( { for f in $files; do cat "$ROOT/firmware/$f"; done
               cat "$ROOT/protocols/topics.py" "$ROOT/protocols/signing.py"; } | sha256sum | cut -c1-64)
    mkdir -p "$OUT/stamp"
    echo "SOURCES = '$stamp'" > "$OUT/stamp/edge_frozen.py"
    echo "freeze(\"$ROOT/firmware\", ($mods), opt=3)"
    echo "freeze(\"$ROOT/protocols\", (\"topics.py\", \"signing.py\"), opt=3)"
    echo "freeze(\"$OUT/stamp\", \"edge_frozen.py\")"
  fi
} > "$MAN.tmp"
mv "$MAN.tmp" "$MAN"

# mpy-cross for this machine first (the port's make would otherwise build it with the
# cross compiler, CROSS_COMPILE being passed down to sub-makes)
make -C "$SRC/mpy-cross" -j"$JOBS" >"$OUT/mpy-cross.log" 2>&1 || {
  tail -20 "$OUT/mpy-cross.log" >&2; echo "build_micropython32: mpy-cross did not build (log: $OUT/mpy-cross.log)" >&2; exit 1; }

# without --mbedtls the manifest uses no micropython-lib package; the port's make only wants
# the folder to exist
NOLIB=$OUT/no-micropython-lib
mkdir -p "$NOLIB"
echo "micropython-lib is not used by this build" > "$NOLIB/README.md"
[ -n "$MPYLIB" ] || MPYLIB=$NOLIB

BUILD=build-$NAME$([ $FROZEN = 1 ] && echo -frozen || true)
# the port's qstr scan does not follow a changed mbedtls configuration: build afresh then
if [ -n "$MBEDTLS" ] && [ -n "$(find "$TLSDIR" -newer "$SRC/ports/unix/$BUILD/micropython" 2>/dev/null | head -1)" ]; then
  rm -rf "${SRC:?}/ports/unix/$BUILD"
fi
LOG=$OUT/$BUILD.log
make -C "$SRC/ports/unix" -j"$JOBS" VARIANT=standard BUILD="$BUILD" "${CROSS[@]}" \
  MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 "${SSL[@]}" \
  FROZEN_MANIFEST="$MAN" MPY_LIB_DIR="$MPYLIB" LDFLAGS_EXTRA=-static >"$LOG" 2>&1 || {
  tail -30 "$LOG" >&2; echo "build_micropython32: the unix port did not build (log: $LOG)" >&2; exit 1; }

DEST=$OUT/micropython$([ "$BITS" = 64 ] && echo -64 || true)$([ $FROZEN = 1 ] && echo -frozen || true)$TAG
cp "$SRC/ports/unix/$BUILD/micropython" "$DEST.tmp"
mv "$DEST.tmp" "$DEST"
"$DEST" -c "import sys; print(sys.implementation._machine, sys.version, 'maxsize', sys.maxsize)" >&2
echo "$DEST"
