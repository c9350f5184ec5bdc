#!/bin/sh
# Runs the test suite N times in a row (default 10) and prints one line per run plus a tally;
# extra arguments go to pytest. Exits non-zero if any run failed. Logs: build/repeat/run-K.log.
set -u
cd "$(dirname "$0")/.."
n=${1:-10}
[ $# -gt 0 ] && shift
sh scripts/setup.sh || exit 1
mkdir -p build/repeat
failed=0
k=1
while [ "$k" -le "$n" ]; do
    log=build/repeat/run-$k.log
    start=$(date +%s)
    if .venv/bin/python -m pytest -q -rfE -p no:cacheprovider "$@" >"$log" 2>&1; then verdict=ok; else verdict=FAILED; failed=$((failed + 1)); fi
    echo "run $k/$n: $verdict in $(( $(date +%s) - start )) s: $(tail -n 1 "$log")"
    [ "$verdict" = FAILED ] && grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/    /'
    k=$((k + 1))
done
echo "$((n - failed)) of $n runs passed"
[ "$failed" -eq 0 ]
