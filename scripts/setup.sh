#!/bin/sh
# Creates .venv and installs hwdbg into it (editable, with test extras). Needs python3, gcc, libc headers.
set -eu
cd "$(dirname "$0")/.."
if ! command -v gcc >/dev/null 2>&1; then
    echo "hwdbg needs gcc to build its debug-register module (Debian: apt-get install gcc libc6-dev python3-dev)" >&2
    exit 1
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
log=.venv/install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip setuptools &&
       .venv/bin/python -m pip install -q -e '.[test]'; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "installing hwdbg into .venv failed (log above, also in $log)" >&2
    exit 1
fi
