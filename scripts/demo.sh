#!/bin/sh
# The main job: watch `counter` in the bundled example program and print every change.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
mkdir -p build
gcc -g -O0 -pthread -o build/counter examples/counter.c
exec .venv/bin/hwdbg --batch -ex start -ex 'watch counter --trace' -ex continue build/counter "$@"
