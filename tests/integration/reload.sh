#!/bin/sh
# Reload under load. (1) SIGHUP and `certmint reload`, 12 times each, then
# 4 s of SIGHUPs back to back, while 8 HTTP clients submit without pause:
# every submission is answered 201, the CA counts exactly as many issued
# certificates, the daemon serves on (no sanitizer report).
# (2) Exit modules registered and unregistered while submissions flow: the
# new module gets every event from its starting cursor on and none from
# before its registration, the removed one is not called once the
# unregister (and its reload) has returned, the one left in place gets
# every event exactly once. (3) A reload with a broken policy setting or a
# policy module that cannot load (missing, bad magic, not a module) is
# refused naming the problem, by `certmint reload` and by SIGHUP alike;
# the running policy and its settings stay in force; a good reload then
# switches to the new module.
. "$LIB"

M=$MODULES_DIR
ca_init
REC=$T_DIR/recording.log
SLOW=$T_DIR/slow.log
FLAKY=$T_DIR/flaky.log
"$CERTMINT" -c "$CONF" exit register "$M/recording.so" >/dev/null 2>&1
"$CERTMINT" -c "$CONF" exit register "$M/slow.so" >/dev/null 2>&1
conf_set Recording.Exit output "$REC"
conf_set Slow.Exit output "$SLOW"
conf_set Slow.Exit sleep_ms 0
i=1
while [ $i -le 8 ]; do
	new_csr "c$i"
	i=$((i + 1))
done
daemon_start

# burst TAG MIN: 8 clients in the background, each submitting at least MIN
# times and then on until $T_DIR/TAG.stop exists (at most 400 times). One
# line per submission in $T_DIR/TAG.codes.K: HTTP status and curl's exit
# status.
client() {
	_k=$1 _min=$2 _stop=$3 _out=$4 _i=0
	while [ $_i -lt 400 ]; do
		[ $_i -ge "$_min" ] && [ -f "$_stop" ] && break
		_c=$(curl -sS -m 60 -o /dev/null -w '%{http_code}' \
		    -H 'Content-Type: application/pkcs10' \
		    --data-binary "@$T_DIR/c$_k.csr" "$URL/api/v1/requests" \
		    2>>"$T_DIR/curl.err")
		echo "$_c rc=$?" >>"$_out"
		_i=$((_i + 1))
	done
}
burst() {
	BURST_PIDS=
	_k=1
	while [ $_k -le 8 ]; do
		client $_k "$2" "$T_DIR/$1.stop" "$T_DIR/$1.codes.$_k" &
		BURST_PIDS="$BURST_PIDS $!"
		_k=$((_k + 1))
	done
}
# answered TAG: submissions answered so far.
answered() {
	cat "$T_DIR/$1".codes.* 2>/dev/null | wc -l
}
answered_at_least() {
	[ "$(answered "$1")" -ge "$2" ]
}
# burst_end TAG: let the clients finish (each is bounded) and wait for them.
burst_end() {
	touch "$T_DIR/$1.stop"
	for _p in $BURST_PIDS; do
		wait "$_p"
	done
}
status_json() {
	"$CERTMINT" -c "$CONF" --json status >"$T_DIR/status.json" 2>&1
}
issued() {
	status_json && json "$T_DIR/status.json" 'j["requests"]["issued"]'
}
last_seq() {
	status_json && json "$T_DIR/status.json" 'j["last_event_seq"]'
}

# --- 1. Reloads both ways during a burst ---------------------------------
# Each reload also switches validity_days (30 / 60), so that every reload
# really replaces the configuration the submissions are decided with.
conf_set policy validity_days 30
cp "$CONF" "$T_DIR/conf.0"
conf_set policy validity_days 60
cp "$CONF" "$T_DIR/conf.1"
burst b1 38
: >"$T_DIR/reload.rc"
r=0
while [ $r -lt 12 ]; do
	# Spread the reloads over the burst: one per 20 answers.
	wait_until 60 answered_at_least b1 $((r * 20))
	cp "$T_DIR/conf.$((r % 2))" "$CONF.new" && mv "$CONF.new" "$CONF"
	kill -HUP "$T_PID"
	# Signals pending together merge: one SIGHUP reload at a time.
	wait_lines "$T_LOG" "configuration reloaded$" $((r + 1))
	"$CERTMINT" -c "$CONF" reload >>"$T_DIR/reload.out" 2>&1
	echo "$?" >>"$T_DIR/reload.rc"
	r=$((r + 1))
done
# Then 4 s of SIGHUPs back to back: every reload frees the configuration
# and the signer the submissions in flight were decided with (a
# use-after-free there shows as a sanitizer report or a dead daemon).
end=$(( $(date +%s) + 4 ))
while [ "$(date +%s)" -lt "$end" ]; do
	kill -HUP "$T_PID"
	sleep 0.01
done
during=$(answered b1)
burst_end b1
total=$(answered b1)
n201=$(cat "$T_DIR"/b1.codes.* | grep -c '^201 rc=0$')
check_match "a burst of at least 300 submissions" "^[0-9]{3,}$" \
    "$([ "$total" -ge 300 ] && echo "$total")"
check_match "the reloads happened while submissions flowed" "^yes " \
    "$([ "$during" -lt "$total" ] && echo yes) ($during of $total answered at the last reload)"
check_eq "every submission answered 201 (no reset, no 5xx)" "$total" "$n201"
grep -v '^201 rc=0$' "$T_DIR"/b1.codes.* | sort | uniq -c | head -5 | sed 's/^/# /'
check_eq "every certmint reload succeeded (12)" "0 0 0 0 0 0 0 0 0 0 0 0" \
    "$(echo $(cat "$T_DIR/reload.rc"))"
check "12 SIGHUP reloads applied" \
    wait_lines "$T_LOG" "configuration reloaded$" 12
check_eq "12 certmint reloads applied" 12 \
    "$(count_lines "$T_LOG" "configuration reloaded by ")"
check_eq "no reload failed" 0 "$(count_lines "$T_LOG" "reload failed")"
check_eq "issued certificates in the database = 201 answers" "$n201" "$(issued)"
check "the daemon answers /health" curl -fsS -m 10 -o /dev/null "$URL/health"
code=$(submit_http "$T_DIR/c1.csr" | head -1)
check_eq "and still issues: 201" 201 "$code"
if ! kill -0 "$T_PID" 2>/dev/null; then
	echo "Bail out! certmintd died during the reloads"
	sed 's/^/# /' "$T_LOG" | grep -v 'configuration reloaded' | head -40
	exit 1
fi

# --- 2. Exit modules added and removed mid-burst -------------------------
conf_set Flaky.Exit output "$FLAKY"
conf_set Flaky.Exit fail_times 0
base=$(issued)
burst b2 20
wait_until 60 answered_at_least b2 40
l1=$(last_seq)
check "exit register Flaky.Exit mid-burst" \
    "$CERTMINT" -c "$CONF" exit register "$M/flaky.so"
check_match "which reloads the daemon" "certmintd reloaded" "$(cat "$T_DIR/check.out")"
l2=$(last_seq)
n=$(answered b2)
wait_until 60 answered_at_least b2 $((n + 40))
check "exit unregister Slow.Exit mid-burst" \
    "$CERTMINT" -c "$CONF" exit unregister Slow.Exit
check_match "which reloads the daemon" "certmintd reloaded" "$(cat "$T_DIR/check.out")"
slow_after=$(count_lines "$SLOW" "^seq=")
n=$(answered b2)
wait_until 60 answered_at_least b2 $((n + 40))
burst_end b2
total=$(answered b2)
n201=$(cat "$T_DIR"/b2.codes.* | grep -c '^201 rc=0$')
check_eq "every submission of the second burst answered 201" "$total" "$n201"
check_eq "issued certificates = 201 answers" "$((base + n201))" "$(issued)"
"$CERTMINT" -c "$CONF" crl >/dev/null
last=$(last_seq)
check "Recording.Exit (left in place) catches up" \
    wait_lines "$REC" " seq=$last " 1
check "Flaky.Exit (added) catches up" wait_lines "$FLAKY" "^seq=$last " 1
check_match "Slow.Exit was called before its removal" "^[1-9]" "$slow_after"
check_eq "Slow.Exit (removed) not called after unregister returned" \
    "$slow_after" "$(count_lines "$SLOW" "^seq=")"
cursor=$(sed -n 's/.*exit module Flaky.Exit loaded (.*, cursor \([0-9]*\)).*/\1/p' \
    "$T_LOG" | head -1)
check_match "Flaky.Exit started at an event of its registration" "^ok " \
    "$([ "${cursor:-0}" -ge "$l1" ] && [ "${cursor:-0}" -le "$l2" ] &&
    echo ok) (cursor ${cursor:--}, last event before register $l1, after $l2)"
daemon_stop

# Compare what each module received with the events in the database.
python3 - "$T_DIR/ca/certmint.db" "$REC" "$FLAKY" "${cursor:-0}" \
    >"$T_DIR/cmp.out" <<'PY'
import re, sqlite3, sys
db, rec, flaky, cursor = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# Since the modules' registration: init's first CRL came before it.
seqs = [r[0] for r in sqlite3.connect(db).execute("SELECT seq FROM events "
    "WHERE seq >= (SELECT MIN(seq) FROM events WHERE event = 128) ORDER BY seq")]
def got(path, pat):
    return [int(m.group(1)) for m in (re.search(pat, l) for l in open(path)) if m]
r = got(rec, r" seq=(\d+) ")
f = got(flaky, r"^seq=(\d+) ")
print("rec", "ok" if sorted(r) == seqs else
    f"{len(r)} lines, {len(set(r))} distinct, {len(seqs)} events, "
    f"missing {sorted(set(seqs) - set(r))[:5]}")
want = [s for s in seqs if s > cursor]
print("flaky", "ok" if sorted(f) == want else
    f"{len(f)} lines, {len(set(f))} distinct, {len(want)} events after {cursor}, "
    f"missing {sorted(set(want) - set(f))[:5]}, early {[s for s in f if s <= cursor][:5]}")
PY
check_eq "Recording.Exit got every event exactly once (SHUTDOWN included)" \
    "rec ok" "$(grep '^rec' "$T_DIR/cmp.out")"
check_eq "Flaky.Exit got every event after its cursor, once, none before" \
    "flaky ok" "$(grep '^flaky' "$T_DIR/cmp.out")"

# --- 3. Refused policy reloads keep the running policy --------------------
conf_set policy request_disposition pending
daemon_start
# pending_code: what a submission gets now (202 while the old policy holds).
pending_code() {
	submit_http "$T_DIR/c2.csr" Decision:deny | head -1
}
check_eq "running policy: pending (202)" 202 "$(pending_code)"
mkdir -p "$T_DIR/ca/modules"
cp "$M/policy.so" "$T_DIR/ca/modules/Test.Policy.so"
chmod 644 "$T_DIR/ca/modules/Test.Policy.so"
# Bad.Policy.so: Test.Policy's file with its magic number ("CMPO") spoiled.
python3 - "$T_DIR/ca/modules/Test.Policy.so" "$T_DIR/ca/modules/Bad.Policy.so" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
m = struct.pack("<I", 0x434d504f)
assert b.count(m) == 1, b.count(m)
open(sys.argv[2], "wb").write(b.replace(m, struct.pack("<I", 0x12345678)))
PY
chmod 644 "$T_DIR/ca/modules/Bad.Policy.so"
cp "$T_DIR/ca/ca.crt" "$T_DIR/ca/modules/Junk.Policy.so"
chmod 644 "$T_DIR/ca/modules/Junk.Policy.so"

# A broken setting, then modules that cannot load. Each also asks for
# request_disposition = issue: that must not apply either.
conf_set policy request_disposition bogus
check_refused "reload with request_disposition = bogus refused" 30 \
    "request_disposition.*bogus|bogus.*request_disposition" \
    "$CERTMINT" -c "$CONF" reload
check_eq "the old policy holds: 202" 202 "$(pending_code)"
conf_set policy request_disposition issue
for bad in "Missing.Policy:Missing\.Policy\.so" "Bad.Policy:Bad\.Policy\.so.*magic" \
    "Junk.Policy:Junk\.Policy\.so.*(cannot load|not)"; do
	name=${bad%%:*}
	conf_set policy module "$name"
	check_refused "reload to $name refused, naming the file and the fault" 30 \
	    "${bad#*:}" "$CERTMINT" -c "$CONF" reload
	check_eq "the old policy and its settings hold: 202" 202 "$(pending_code)"
done
check_match "policy show: still the built-in policy" "CertMint_Default.Policy" \
    "$("$CERTMINT" -c "$CONF" policy show 2>&1)"
# SIGHUP with a module that cannot load: logged, old policy kept.
conf_set policy module Missing.Policy
fails=$(count_lines "$T_LOG" "reload failed")
kill -HUP "$T_PID"
check "SIGHUP with a missing policy module: logged as a failed reload" \
    wait_lines "$T_LOG" "reload failed.*Missing\.Policy\.so" $((fails + 1))
check_eq "the old policy holds after SIGHUP: 202" 202 "$(pending_code)"
check "the daemon answers /health" curl -fsS -m 10 -o /dev/null "$URL/health"

# A good reload applies: the module decides (Decision:deny -> 403).
conf_set policy module Test.Policy
check "reload to Test.Policy accepted" "$CERTMINT" -c "$CONF" reload
check_eq "Test.Policy decides now: 403" 403 "$(pending_code)"
check_eq "with its message" "Test.Policy denies c2" \
    "$(json "$T_DIR/resp.json" 'j["message"]')"
code=$(submit_http "$T_DIR/c3.csr" | head -1)
check_eq "and issues: 201" 201 "$code"
check_eq "by Test.Policy" "Issued by Test.Policy" "$(json "$T_DIR/resp.json" 'j["message"]')"

# The file itself: empty, a directory, endless, a FIFO (no writer: its open
# would wait), a line libinih would split, a NUL, a key set twice (here
# the policy module: the last one would have won). Each SIGHUP is refused
# (at once: /dev/zero never ends), logged, and the running configuration
# issues on.
cp "$CONF" "$T_DIR/conf.good"
for bad in "empty:is empty" "dir:not a regular file" \
    "zero:not a regular file" "fifo:not a regular file" \
    "long:longer than 198 characters" \
    "nul:a NUL byte" "dup:\"module\" is set twice in .policy."; do
	what=${bad%%:*}
	rm -rf "$CONF"
	case $what in
	empty)	: >"$CONF" ;;
	dir)	mkdir "$CONF" ;;
	zero)	ln -s /dev/zero "$CONF" ;;
	fifo)	mkfifo "$T_DIR/conf.fifo"; ln -s "$T_DIR/conf.fifo" "$CONF" ;;
	long)	{ cat "$T_DIR/conf.good"; printf 'x = %0250d\n' 0; } >"$CONF" ;;
	nul)	{ cat "$T_DIR/conf.good"; printf 'x = a\000b\n'; } >"$CONF" ;;
	dup)	{ cat "$T_DIR/conf.good"
		  printf '[policy]\nmodule = CertMint_Default.Policy\n'; } >"$CONF" ;;
	esac
	fails=$(count_lines "$T_LOG" "reload failed.*${bad#*:}")
	kill -HUP "$T_PID"
	check "SIGHUP with a config that is $what: refused" \
	    wait_lines "$T_LOG" "reload failed.*${bad#*:}" $((fails + 1))
	rm -rf "$CONF"
	cp "$T_DIR/conf.good" "$CONF"
	code=$(submit_http "$T_DIR/c3.csr" | head -1)
	check_eq "and Test.Policy still issues: 201" 201 "$code"
done
check_refused "certmint refuses an empty config too" 30 "is empty" sh -c \
    ": >'$T_DIR/empty.conf'; '$CERTMINT' -c '$T_DIR/empty.conf' status"
check_refused "and a key set twice, whatever its case" 30 \
    '"NAME" is set twice in \[ca\]' sh -c "{ cat '$T_DIR/conf.good';
    printf '[ca]\nNAME = Other\n'; } >'$T_DIR/dup.conf';
    '$CERTMINT' -c '$T_DIR/dup.conf' status"
# What only a restart applies: said, and the running value serves on.
conf_set server port "$(free_port)"
check_refused "a reload that moves the port says it takes a restart" 30 \
    "\[server\] port changed: only a restart applies that" \
    "$CERTMINT" -c "$CONF" reload
check "the daemon answers on the port it has" \
    curl -fsS -m 10 -o /dev/null "$URL/health"
cp "$T_DIR/conf.good" "$CONF"
conf_set acme enabled yes
check_refused "a reload that turns ACME on says (exit 1) it takes a restart" \
    30 "\\[acme\\] enabled = yes takes a restart: ACME stays off" \
    "$CERTMINT" -c "$CONF" reload
cp "$T_DIR/conf.good" "$CONF"
check "back to the running port, a reload is quiet" \
    "$CERTMINT" -c "$CONF" reload
# The same with a policy module that does not load: the reload is undone,
# and the running configuration keeps the running pid file.
conf_set server pid_file elsewhere.pid
conf_set policy module Missing.Policy
check_refused "a reload that also names a missing policy module is refused" \
    30 "Missing\.Policy" "$CERTMINT" -c "$CONF" reload
cp "$T_DIR/conf.good" "$CONF"
check "after it, the running pid file is still the running config's" \
    "$CERTMINT" -c "$CONF" reload
check_refused "exit set will not write a line libinih would split" 30 \
    "would be a line of 2[0-9][0-9] characters" \
    "$CERTMINT" -c "$CONF" exit set Recording.Exit output "/tmp/$(printf '%0220d' 0)"

# (4) The port moved and restarted, base_url (init writes it) not: the
# certificates would point at the old port. Said at start and at reload.
check_eq "a base_url on the port it serves: no warning yet" 0 \
    "$(count_lines "$T_LOG" "base_url = .* names port")"
daemon_stop
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
conf_set server port "$PORT"
daemon_start
check "at start: base_url names the old port" wait_lines "$T_LOG" \
    "\\[publish\\] base_url = http://127.0.0.1:[0-9]+ names port [0-9]+ of this host, but certmintd serves CRLs and CA certificates on port $PORT" 1
check "certmint reload" "$CERTMINT" -c "$CONF" reload
check "and at each reload" wait_lines "$T_LOG" "base_url = .* names port" 2
conf_set publish base_url "$URL"
check "certmint reload, base_url fixed" "$CERTMINT" -c "$CONF" reload
check_eq "then no more" 2 "$(count_lines "$T_LOG" "base_url = .* names port")"

# (5) A config cut short mid-line (what a full disk or an interrupted copy
# leaves) loads, the rest on defaults: said at reload, and not when the
# file ends with its newline again.
check_eq "no such warning yet" 0 "$(count_lines "$T_LOG" "ends without a newline")"
cp "$CONF" "$T_DIR/conf.whole"
printf '[exit]\nyield_ms = 10' >>"$CONF"
lines=$(wc -l <"$CONF")
out=$("$CERTMINT" -c "$CONF" reload 2>&1)
check_eq "certmint reload of the cut config succeeds" 0 "$?"
check_match "and tells its caller" \
    "^certmint: reload: note: .*certmint.conf:$((lines + 1)): the file ends without a newline" "$out"
check "the log says it may be cut short, and where" wait_lines "$T_LOG" \
    "certmint.conf:$((lines + 1)): the file ends without a newline: if it was cut short" 1
echo >>"$CONF"
check "certmint reload, the newline back" "$CERTMINT" -c "$CONF" reload
check_eq "then no more" 1 "$(count_lines "$T_LOG" "ends without a newline")"
cp "$T_DIR/conf.whole" "$CONF"
finish
