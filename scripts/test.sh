#!/bin/sh
# Set up and run every test: unit tests (cmocka) and integration tests
# against the real daemon, built with AddressSanitizer and
# UndefinedBehaviorSanitizer, then the threading test under ThreadSanitizer.
# Ends with "N passed, N failed".
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

# Serial exit modules must never be entered twice at once, and the daemon
# must have no data race: ThreadSanitizer, in its own build (it cannot be
# combined with AddressSanitizer).
TSAN_BUILD=${TSAN_BUILD:-build-tsan}
tsan_ok=0 tsan_fail=0
if [ ! -d "$TSAN_BUILD" ]; then
	meson setup "$TSAN_BUILD" -Db_sanitize=thread -Db_lundef=false \
		--buildtype=debugoptimized >/dev/null || exit 1
fi
if ninja -C "$TSAN_BUILD" src/server/certmintd src/cli/certmint \
    tests/modules/serial.so tests/modules/recording.so \
    tests/modules/concurrent.so >/dev/null; then
	CERTMINT="$PWD/$TSAN_BUILD/src/cli/certmint" \
	CERTMINTD="$PWD/$TSAN_BUILD/src/server/certmintd" \
	MODULES_DIR="$PWD/$TSAN_BUILD/tests/modules" \
	LIB="$PWD/tests/integration/lib.sh" \
	    sh tests/integration/tsan.sh >"$BUILD/tsan.tap" 2>&1
	cat "$BUILD/tsan.tap"
	tsan_ok=$(grep -c '^ok ' "$BUILD/tsan.tap")
	tsan_fail=$(grep -c '^not ok ' "$BUILD/tsan.tap")
	[ "$tsan_ok" -gt 0 ] || tsan_fail=$((tsan_fail + 1))
else
	echo "ThreadSanitizer build failed"
	tsan_fail=1
fi
[ "$tsan_fail" -eq 0 ] || status=1
echo "tsan: $tsan_ok passed, $tsan_fail failed"

log="$BUILD/meson-logs/testlog.json"
if [ -f "$log" ]; then
	python3 - "$log" "$tsan_ok" "$tsan_fail" <<'PY'
import json, sys
# The ThreadSanitizer run counts as one test.
tsan_failed = int(sys.argv[3]) > 0
passed, failed, skipped = (0, 1, 0) if tsan_failed else (1, 0, 0)
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
