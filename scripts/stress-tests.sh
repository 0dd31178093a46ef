#!/bin/sh
# Run the whole test suite N times in a row (default 20) while two busy
# loops keep both cores loaded, as a loaded CI machine would; stop at the
# first failing run and keep its output. Extra arguments go to
# scripts/test.sh (test names, or nothing for every test).
#
#   scripts/stress-tests.sh [N] [TEST...]
#
# Ends with "N passed, N failed" counting runs.
set -u
cd "$(dirname "$0")/.."
N=${1:-20}
[ $# -gt 0 ] && shift
case $N in
''|*[!0-9]*) echo "usage: scripts/stress-tests.sh [N] [TEST...]" >&2; exit 2 ;;
esac
LOGDIR=${LOGDIR:-build-stress}
mkdir -p "$LOGDIR"

busy=
for _ in 1 2; do
	sh -c 'while :; do :; done' &
	busy="$busy $!"
done
# shellcheck disable=SC2086
trap 'kill $busy 2>/dev/null' EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
i=1
while [ "$i" -le "$N" ]; do
	log=$LOGDIR/run-$i.log
	start=$(date +%s)
	if sh scripts/test.sh "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "run $i: $(tail -1 "$log") ($(( $(date +%s) - start )) s)"
	else
		failed=$((failed + 1))
		echo "run $i FAILED: $(tail -1 "$log") ($(( $(date +%s) - start )) s); log: $log"
		grep -E 'testlog: FAILED|^not ok|^Bail out' "$log" | head -20
		break
	fi
	i=$((i + 1))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
