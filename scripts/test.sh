#!/bin/sh
# The full test suite (hardware tests skip with a reason unless HWDBG_REQUIRE=1, as in CI).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
