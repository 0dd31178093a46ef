#!/bin/sh
# The test harness itself must fail when the CA does: scripts/testlog.py
# (how scripts/test.sh judges a run) and lib.sh's finish and check_refused,
# driven with logs, scripts and daemons that are wrong on purpose.
. "$LIB"

TESTLOG=$(dirname "$LIB")/../../scripts/testlog.py

# judge NAME JSONLINES...: testlog.py's verdict ("P F rc=N") on a testlog
# made of the given lines.
judge() {
	_f=$T_DIR/$1.json
	shift
	printf '%s\n' "$@" >"$_f"
	_out=$(python3 "$TESTLOG" "$_f" 2>/dev/null)
	echo "$_out rc=$?"
}
ok_tap='{"name": "x:integration / a", "result": "OK", "returncode": 0, "stdout": "ok 1 - a\n1..1\n"}'
ok_unit='{"name": "x:unit / u", "result": "OK", "returncode": 0, "stdout": "[==========] 3 test(s) run.\n"}'
check_eq "a good run passes" "2 0 rc=0" "$(judge good "$ok_tap" "$ok_unit")"
check_eq "a skipped test is a failure" "1 1 rc=1" "$(judge skip "$ok_tap" \
    '{"name": "x:integration / s", "result": "SKIP", "returncode": 77, "stdout": ""}')"
check_eq "a TAP test without a result line is a failure" "1 1 rc=1" \
    "$(judge nores "$ok_unit" \
    '{"name": "x:integration / n", "result": "OK", "returncode": 0, "stdout": "# nothing\n"}')"
check_eq "a TAP plan that does not match is a failure" "0 1 rc=1" \
    "$(judge plan '{"name": "x:integration / p", "result": "OK", "returncode": 0, "stdout": "ok 1 - a\n1..2\n"}')"
check_eq "a non-zero exit is a failure" "0 1 rc=1" \
    "$(judge exit '{"name": "x:integration / e", "result": "OK", "returncode": 3, "stdout": "ok 1 - a\n1..1\n"}')"
check_eq "a cmocka binary that ran no test is a failure" "0 1 rc=1" \
    "$(judge none '{"name": "x:unit / z", "result": "OK", "returncode": 0, "stdout": "[==========] 0 test(s) run.\n"}')"
check_eq "an empty log (nothing ran) fails" "0 0 rc=1" "$(judge empty "")"
check_eq "no log of this run fails" "0 0 rc=1" \
    "$(_o=$(python3 "$TESTLOG" "$T_DIR/missing.json" 2>/dev/null)
    echo "$_o rc=$?")"
printf 'ok 1 - a\nBail out! gone\n1..1\n' >"$T_DIR/bail.tap"
check_fails "a TAP stream that bailed out fails (--tap)" \
    python3 "$TESTLOG" --tap "$T_DIR/bail.tap"

# A child test on lib.sh whose daemon is wrong in one way; prints its TAP.
# child WRAPPER_BODY: the daemon is WRAPPER_BODY, a script around certmintd.
child() {
	cat >"$T_DIR/certmintd-wrap" <<EOF
#!/bin/sh
$1
EOF
	chmod +x "$T_DIR/certmintd-wrap"
	cat >"$T_DIR/child.sh" <<'EOF'
. "$LIB"
ca_init
daemon_start
check "the daemon answers" curl -fsS -m 30 "$URL/health"
finish
EOF
	CERTMINTD=$T_DIR/certmintd-wrap TMPDIR=$T_DIR \
	    sh "$T_DIR/child.sh" >"$T_DIR/child.out" 2>&1
	echo "rc=$?" >>"$T_DIR/child.out"
}
child "exec \"$CERTMINTD\" \"\$@\""
check_match "a clean daemon passes the child test" "^rc=0$" \
    "$(tail -1 "$T_DIR/child.out")"
child "\"$CERTMINTD\" \"\$@\" & p=\$!
trap 'kill -TERM \$p' TERM
wait \$p; wait \$p
exit 42"
check_match "a daemon that exits 42 at stop fails the child test" \
    "not ok [0-9]+ - every certmintd stopped with status 0" "$(cat "$T_DIR/child.out")"
check_match "with a non-zero exit" "^rc=1$" "$(tail -1 "$T_DIR/child.out")"
child "echo '==1==ERROR: LeakSanitizer: detected memory leaks' >&2
exec \"$CERTMINTD\" \"\$@\""
check_match "a sanitizer report in the daemon log fails the child test" \
    "not ok [0-9]+ - no sanitizer report in the daemon log" "$(cat "$T_DIR/child.out")"

# check_refused: only a command that exits non-zero by itself, in time,
# saying the expected thing, passes.
cat >"$T_DIR/refused.sh" <<'EOF'
. "$LIB"
check_refused "still running" 2 "x" sleep 30
check_refused "exits 0" 10 "x" true
check_refused "wrong message" 10 "expected" sh -c 'echo other; exit 1'
check_refused "right" 10 "expected" sh -c 'echo expected; exit 1'
echo "1..$T_N"
EOF
TMPDIR=$T_DIR sh "$T_DIR/refused.sh" >"$T_DIR/refused.out" 2>&1
check_eq "check_refused fails a command still running, one that exits 0 and a wrong message" \
    "not ok 1 - still running (still running after 2 s)
not ok 2 - exits 0 (exited 0)
not ok 3 - wrong message (exit 1, output does not match /expected/)
ok 4 - right" "$(grep -E '^(not )?ok' "$T_DIR/refused.out")"
finish
