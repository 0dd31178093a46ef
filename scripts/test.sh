#!/bin/sh
# Set up and run every test: unit tests (cmocka) and integration tests
# against the real daemon, all built with AddressSanitizer and
# UndefinedBehaviorSanitizer. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
sh scripts/deps.sh || exit 1
BUILD=${BUILD:-build-test}
if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false \
		--buildtype=debugoptimized || exit 1
fi
ninja -C "$BUILD" || exit 1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
meson test -C "$BUILD" --print-errorlogs --num-processes 2 \
	--timeout-multiplier 3 "$@"
status=$?
log="$BUILD/meson-logs/testlog.json"
if [ -f "$log" ]; then
	python3 - "$log" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
fi
exit $status
