#!/bin/sh
# Build the libFuzzer targets (fuzz/, clang with AddressSanitizer and
# UndefinedBehaviorSanitizer) and run each for its share of SECONDS
# (default 300): first the inputs that once failed (fuzz/regressions/T),
# then from the seed corpus (fuzz/corpus/T, copied: the tree is not
# written). An input that fails is saved to fuzz/regressions/T so that it
# is run at every later run; add it to git with the fix.
# Ends with "N passed, N failed" (one per target).
set -u
cd "$(dirname "$0")/.."
SECS=${1:-300}
BUILD=${FUZZ_BUILD:-build-fuzz}
TARGETS="csr crl config http jws dns alpn"
if [ ! -d "$BUILD" ]; then
	CC=clang meson setup "$BUILD" -Dfuzz=true -Dtests=false \
	    -Db_sanitize=address,undefined -Db_lundef=false \
	    --buildtype=debugoptimized >/dev/null || exit 1
fi
bins=
for t in $TARGETS; do
	bins="$bins fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
ninja -C "$BUILD" $bins >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
n=$(echo $TARGETS | wc -w)
per=$((SECS / n))
[ "$per" -ge 1 ] || per=1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
passed=0 failed=0
for t in $TARGETS; do
	bin=$PWD/$BUILD/fuzz/fuzz_$t
	work=$(mktemp -d "${TMPDIR:-/tmp}/certmint-fuzz.XXXXXX")
	mkdir "$work/corpus"
	cp fuzz/corpus/$t/* "$work/corpus/"
	ok=1
	# Every saved failure must pass now.
	for f in fuzz/regressions/$t/*; do
		[ -f "$f" ] || continue
		if ! "$bin" "$f" >"$work/regress.log" 2>&1; then
			echo "# fuzz_$t: regression input $f fails again:"
			sed 's/^/#   /' "$work/regress.log" | tail -20
			ok=0
		fi
	done
	if [ $ok -eq 1 ]; then
		(cd "$work" && timeout -k 10 $((per + 120)) "$bin" \
		    -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
		    -print_final_stats=1 -artifact_prefix="$work/" \
		    "$work/corpus" >"$work/fuzz.log" 2>&1)
		rc=$?
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$work/fuzz.log")
		if [ $rc -ne 0 ] || [ -z "$runs" ]; then
			ok=0
			echo "# fuzz_$t failed (exit $rc):"
			grep -E '^fuzz:|ERROR|SUMMARY' "$work/fuzz.log" |
			    sed 's/^/#   /' | head -20
			mkdir -p "fuzz/regressions/$t"
			for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* \
			    "$work"/oom-*; do
				[ -f "$a" ] || continue
				cp "$a" "fuzz/regressions/$t/"
				echo "#   saved fuzz/regressions/$t/$(basename "$a")"
			done
		else
			echo "# fuzz_$t: $runs inputs in ${per} s"
		fi
	fi
	if [ $ok -eq 1 ]; then
		echo "ok - fuzz_$t"
		passed=$((passed + 1))
	else
		echo "not ok - fuzz_$t"
		failed=$((failed + 1))
	fi
	rm -rf "$work"
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
