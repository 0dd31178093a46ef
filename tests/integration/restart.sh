#!/bin/sh
# Restarts, clean and by kill -9, as a user sees them:
# 1. a module's backlog (events held by a failing module) reaches it after a
#    restart on an idle CA, all of it, in order, once;
# 2. kill -9 while a slow module lags: after the restart every committed
#    event reaches it, and only events after its saved cursor come twice,
#    no more than the cursor's 200 ms save interval allows;
# 3. CRL numbers (base and delta share one sequence) strictly increase
#    across a clean restart and kill -9, and a delta names the current base;
# 4. ordered serials stay unique and ordered when the wall clock steps back
#    an hour, while running and across a restart (libfaketime); random
#    serials are 20 octets and unique across restarts;
# 5. the pid file: locked, so that a stale file naming a live unrelated
#    process does not stop the CA, a second daemon is still refused, a
#    clean stop removes it and a file left by kill -9 does not matter.
# After every restart a submission must be issued (201).
. "$LIB"

M=$MODULES_DIR
ca_init
DB=$T_DIR/ca/certmint.db
PIDF=$T_DIR/ca/certmintd.pid
REC=$T_DIR/rec.log
FLAKY=$T_DIR/flaky.log
SLOW=$T_DIR/slow.log
for m in recording flaky slow; do
	"$CERTMINT" -c "$CONF" exit register "$M/$m.so" >/dev/null 2>&1 ||
	    not_ok "register $m"
done
conf_set Recording.Exit output "$REC"
conf_set Flaky.Exit output "$FLAKY"
conf_set Slow.Exit output "$SLOW"
conf_set Slow.Exit sleep_ms 250
conf_set exit max_attempts 1000
conf_set exit backoff_initial_ms 20
conf_set exit backoff_max_ms 100
conf_set crl delta yes
new_csr r

# issue_ok WHAT: one submission is issued (HTTP 201); its serial is
# appended to $T_DIR/serials, in the order of issue.
issue_ok() {
	_code=$(submit_http "$T_DIR/r.csr" | head -1)
	if [ "$_code" = 201 ]; then
		ok "issuance works $1"
		json "$T_DIR/resp.json" 'j["serial"]' >>"$T_DIR/serials"
	else
		not_ok "issuance works $1 (HTTP $_code)"
		sed 's/^/# /' "$T_DIR/resp.json" | head -5
	fi
}

# sql_crashed QUERY: the same on a copy, after kill -9: the recovery of what
# the crash left is the restarted daemon's to do, not sqlite3's.
sql_crashed() {
	rm -rf "$T_DIR/snap"
	mkdir "$T_DIR/snap"
	cp "$DB" "$T_DIR/snap/db"
	[ ! -f "$DB-wal" ] || cp "$DB-wal" "$T_DIR/snap/db-wal"
	sqlite3 "$T_DIR/snap/db" "$1"
}

# seqs FILE: the seq= values of a module's output, one a line, in order.
seqs() {
	sed -n 's/^seq=\([0-9]*\).*/\1/p' "$1" 2>/dev/null
}

# has_seqs FILE EXPECTED: FILE's seqs include every line of EXPECTED.
has_seqs() {
	seqs "$1" | sort -u >"$T_DIR/has.got"
	sort -u "$2" >"$T_DIR/has.exp"
	[ -z "$(comm -13 "$T_DIR/has.got" "$T_DIR/has.exp")" ]
}

# ---------------------------------------------------------------------------
# 1. A backlog held by a failing module, then a clean restart on an idle CA.
conf_set Flaky.Exit fail_times 1000000000
daemon_start
i=0
while [ $i -lt 5 ]; do
	submit_http "$T_DIR/r.csr" >/dev/null
	i=$((i + 1))
done
check "Recording.Exit has the 5 CERTISSUED meanwhile" \
    wait_lines "$REC" "^event=0x1 " 5
check "Flaky.Exit keeps failing: none delivered" test ! -s "$FLAKY"
daemon_stop
c1=$(db_query "SELECT seq FROM exit_cursors WHERE module = 'Flaky.Exit'")
last1=$(db_query "SELECT max(seq) FROM events")
check "a backlog of 7 or more events (STARTUP, 5 CERTISSUED, SHUTDOWN)" \
    test $((last1 - ${c1:-0})) -ge 7
# The module works now; nothing but the restart itself happens.
conf_set Flaky.Exit fail_times 0
daemon_start
db_query "SELECT seq FROM events WHERE seq > ${c1:-0} ORDER BY seq" >"$T_DIR/exp1"
check "after the restart the whole backlog reaches Flaky.Exit" \
    wait_until 60 has_seqs "$FLAKY" "$T_DIR/exp1"
check_eq "in order, each once, from the saved cursor on" \
    "$(cat "$T_DIR/exp1")" "$(seqs "$FLAKY")"
check_eq "the 5 CERTISSUED are among them" 5 \
    "$(count_lines "$FLAKY" " event=0x1 ")"
issue_ok "after a clean restart with a backlog"

# ---------------------------------------------------------------------------
# 2. kill -9 while Slow.Exit (250 ms a notify) lags behind: 16 submissions
# from 8 clients at once, then the kill once it has half of them.
seq 1 16 | xargs -P 8 -I{} curl -s -m 30 -o /dev/null \
    -H "Content-Type: application/pkcs10" --data-binary "@$T_DIR/r.csr" \
    "$URL/api/v1/requests"
n_issued=$(db_query "SELECT count(*) FROM events WHERE event = 1")
slow_has() {
	[ "$(seqs "$SLOW" | wc -l)" -ge "$1" ]
}
check "Slow.Exit delivers meanwhile, 250 ms an event" \
    wait_until 60 slow_has $((n_issued - 8))
daemon_kill
n_before=$(seqs "$SLOW" | wc -l)
c2=$(sql_crashed "SELECT seq FROM exit_cursors WHERE module = 'Slow.Exit'")
check "Slow.Exit was behind at the kill" test "$n_before" -lt "$n_issued"
echo "# Slow.Exit: $n_before lines at the kill, cursor ${c2:-none}, $n_issued issued"
check "Recording.Exit saw its events before the crash" test -s "$REC"
check "a pid file is left by kill -9" test -s "$PIDF"
daemon_start
check "the CA starts after kill -9 despite the pid file" kill -0 "$T_PID"
issue_ok "after kill -9"
# Every event in Slow.Exit's mask (CERTISSUED, CRLISSUED), the new one too,
# since its registration (init's first CRL came before it).
db_query "SELECT seq FROM events WHERE event IN (1, 32) AND seq > (SELECT
    MIN(seq) FROM events WHERE event = 128) ORDER BY seq" >"$T_DIR/exp2"
check "after kill -9 every committed event reaches Slow.Exit" \
    wait_until 60 has_seqs "$SLOW" "$T_DIR/exp2"
seqs "$SLOW" >"$T_DIR/got2"
check_eq "no event at or before the saved cursor came twice" "" \
    "$(sort -n "$T_DIR/got2" | uniq -d | awk -v c="${c2:-0}" '$1 <= c')"
check_eq "no event came three times" "" \
    "$(sort -n "$T_DIR/got2" | uniq -c | awk '$1 > 2 { print $2 }')"
# A notify takes 250 ms and the cursor is saved once 200 ms have passed, so
# at the kill at most the event being saved and the one in notify were
# delivered without a saved cursor: at most 2 come again.
dups=$(sort -n "$T_DIR/got2" | uniq -d | wc -l)
check "at most 2 events (200 ms of cursor saving + one in flight) came twice" \
    test "$dups" -le 2
echo "# $dups events came twice; the restart loaded Slow.Exit's cursor at" \
    "$(sed -n 's/.*Slow.Exit loaded.*cursor \([0-9]*\).*/\1/p' "$T_LOG" | tail -1)"
echo "# Slow.Exit got: $(tr '\n' ' ' <"$T_DIR/got2")"
check_eq "after the restart, delivery resumes in order" \
    "$(tail -n +$((n_before + 1)) "$T_DIR/got2" | sort -n)" \
    "$(tail -n +$((n_before + 1)) "$T_DIR/got2")"

# ---------------------------------------------------------------------------
# 3. CRL numbers across a clean restart and kill -9.
: >"$T_DIR/crlnums"
# crl_get NAME: fetch ca.crl or delta.crl; prints its CRL number and, for a
# delta, the base CRL number its Delta CRL Indicator names.
crl_get() {
	curl -fsS -m 10 -o "$T_DIR/$1.der" "$URL/$1.crl" || return 1
	openssl crl -inform DER -in "$T_DIR/$1.der" -noout -text |
	    python3 -c 'import re, sys
t = sys.stdin.read()
def ext(name):
    m = re.search(name + r"[^\n]*\n\s*(\S+)", t)
    return int(m.group(1), 16 if re.search("[a-fA-F:]", m.group(1)) else 10) if m else None
n, b = ext("X509v3 CRL Number"), ext("X509v3 Delta CRL Indicator")
print(n if b is None else "%d %d" % (n, b))'
}
# crl_pub NAME [--delta]: publish, then fetch what NAME now serves and
# record it in $T_DIR/crlnums (in the order of publication).
crl_pub() {
	_w=$1
	shift
	"$CERTMINT" -c "$CONF" crl "$@" >/dev/null 2>&1 || echo "# certmint crl $* failed"
	_r=$(crl_get "$_w")
	echo "$_r" >>"$T_DIR/crlnums"
	echo "$_r"
}
b1=$(crl_pub ca)
d1=$(crl_get delta)
echo "$d1" >>"$T_DIR/crlnums"
check_eq "first delta names the base" "$b1" "${d1#* }"
check "base and delta share the sequence" test "${d1% *}" -gt "$b1"
# crls_across STOP WHAT: stop the daemon with STOP (daemon_stop or
# daemon_kill) and start it again; then a delta and a base: each numbered
# above every earlier CRL, each delta naming the base current then.
crls_across() {
	$1
	daemon_start
	issue_ok "after $2 (CRLs)"
	_cd=$(crl_pub delta --delta)
	check_eq "delta after $2 names the current base" "$base" "${_cd#* }"
	check "delta after $2 numbered above every earlier CRL" \
	    test "${_cd% *}" -gt "$last"
	base=$(crl_pub ca)
	check "base after $2 numbered above every earlier CRL" \
	    test "$base" -gt "${_cd% *}"
	_cd=$(crl_get delta)
	echo "$_cd" >>"$T_DIR/crlnums"
	check_eq "the delta published with the base after $2 names it" \
	    "$base" "${_cd#* }"
	last=${_cd% *}
}
base=$b1 last=${d1% *}
crls_across daemon_stop "a clean restart"
crls_across daemon_kill "kill -9"
nums=$(cut -d' ' -f1 "$T_DIR/crlnums")
check_eq "CRL numbers strictly increase, none repeats" \
    "$(echo "$nums" | sort -nu)" "$nums"
echo "# CRL numbers (number [base]): $(tr '\n' ',' <"$T_DIR/crlnums")"

# ---------------------------------------------------------------------------
# 4. Serials when the wall clock steps back.
daemon_stop
FT=$T_DIR/faketime
echo "+0" >"$FT"
LIBFT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
# certmintd under libfaketime: the offset in $FT is reread at every call.
cat >"$T_DIR/faked.sh" <<EOF
#!/bin/sh
export LD_PRELOAD="$LIBFT" FAKETIME_TIMESTAMP_FILE="$FT" FAKETIME_NO_CACHE=1
export FAKETIME_DONT_FAKE_MONOTONIC=1
export ASAN_OPTIONS="\${ASAN_OPTIONS:-}:verify_asan_link_order=0"
exec "$CERTMINTD" "\$@"
EOF
chmod +x "$T_DIR/faked.sh"
REAL_CERTMINTD=$CERTMINTD
CERTMINTD=$T_DIR/faked.sh
check "libfaketime is installed" test -n "$LIBFT"
: >"$T_DIR/serials"
daemon_start
issue_ok "under libfaketime"
nb0=$(json "$T_DIR/resp.json" 'j["certificate"]' |
    openssl x509 -noout -startdate | cut -d= -f2)
issue_ok "under libfaketime (2)"
echo "-3600" >"$FT"
issue_ok "with the clock an hour back"
nb1=$(json "$T_DIR/resp.json" 'j["certificate"]' |
    openssl x509 -noout -startdate | cut -d= -f2)
check "the daemon's clock did step back (notBefore an hour earlier)" \
    test $(( $(date -d "$nb0" +%s) - $(date -d "$nb1" +%s) )) -ge 3000
issue_ok "with the clock an hour back (2)"
daemon_stop
daemon_start
issue_ok "after a restart with the clock an hour back"
issue_ok "after a restart with the clock an hour back (2)"
daemon_kill
daemon_start
issue_ok "after kill -9 with the clock an hour back"
# serial_check FILE: 20 octets each (40 hex digits), none twice; prints
# "ok" or what is wrong.
serial_check() {
	python3 - "$1" <<'PY'
import sys
s = [l.strip() for l in open(sys.argv[1]) if l.strip()]
bad = [x for x in s if len(x) != 40]
dup = sorted({x for x in s if s.count(x) > 1})
print("ok" if not bad and not dup else "bad length %s, twice %s" % (bad, dup))
PY
}
check_eq "ordered serials: 20 octets, unique" ok "$(serial_check "$T_DIR/serials")"
# Ordered: 0x01, then the time in ms; one issue after another, the time
# part never goes down, whatever the clock does.
check_eq "ordered serials keep their order when the clock steps back" ok \
    "$(python3 - "$T_DIR/serials" <<'PY'
import sys
s = [l.strip() for l in open(sys.argv[1]) if l.strip()]
t = [int(x[2:14], 16) for x in s]
bad = [(s[i], s[i + 1]) for i in range(len(s) - 1) if t[i + 1] < t[i]]
print("ok" if all(x[:2] == "01" for x in s) and not bad else bad or s)
PY
)"
cat "$T_DIR/serials" >"$T_DIR/all-serials"
daemon_stop
CERTMINTD=$REAL_CERTMINTD

# Random serials across restarts.
conf_set ca serials random
: >"$T_DIR/serials"
daemon_start
issue_ok "with random serials"
issue_ok "with random serials (2)"
daemon_stop
daemon_start
issue_ok "with random serials after a clean restart"
daemon_kill
daemon_start
issue_ok "with random serials after kill -9"
check_eq "random serials: 20 octets, unique" ok "$(serial_check "$T_DIR/serials")"
# Random: a positive first octet and no time of issue after it (a random
# serial looks like 0x01 and a time within two days of now once in ~10^8).
check_eq "random serials: positive, not of the ordered form" "" \
    "$(python3 - "$T_DIR/serials" <<'PY'
import sys, time
for x in open(sys.argv[1]).read().split():
    if x[0] not in "01234567" or (x[:2] == "01" and
            abs(int(x[2:14], 16) / 1000 - time.time()) < 2 * 86400):
        print(x)
PY
)"
cat "$T_DIR/serials" >>"$T_DIR/all-serials"
check_eq "no serial of this CA given twice" ok "$(serial_check "$T_DIR/all-serials")"
check_eq "the database has them all, once" "$(sort -u "$T_DIR/all-serials")" \
    "$(db_query "SELECT serial FROM certs" | sort | grep -Fx -f "$T_DIR/all-serials")"

# ---------------------------------------------------------------------------
# 5. The pid file.
check_eq "the pid file names the running daemon" "$T_PID" "$(cat "$PIDF")"
check_refused "a second daemon on the same CA is refused, naming the first" \
    30 "another certmintd \(pid $T_PID\)" "$CERTMINTD" -c "$CONF"
check_eq "the refused daemon left the pid file alone" "$T_PID" "$(cat "$PIDF")"
issue_ok "after a second daemon was refused"
daemon_stop
check "a clean stop removes the pid file" test ! -e "$PIDF"
daemon_start
issue_ok "after a restart with the pid file removed"
daemon_kill
# The dead daemon's pid was reused by an unrelated process.
sleep 300 &
other=$!
trap 'kill "$other"; daemon_kill; rm -rf "$T_DIR"' INT TERM
echo "$other" >"$PIDF"
"$CERTMINTD" -c "$CONF" >>"$T_LOG" 2>&1 &
T_PID=$!
check "a stale pid file naming a live unrelated process does not stop the CA" \
    wait_until 60 curl -fsS -m 5 "$URL/health"
check "the CA did not exit" kill -0 "$T_PID"
check_eq "the pid file names the new daemon" "$T_PID" "$(cat "$PIDF" 2>/dev/null)"
issue_ok "after starting over a reused pid"
check "the unrelated process was left alone" kill -0 "$other"
kill "$other"
wait "$other" 2>/dev/null
check_refused "a second daemon is still refused" \
    30 "another certmintd \(pid $T_PID\) runs" "$CERTMINTD" -c "$CONF"
daemon_stop
check "a clean stop removes the pid file" test ! -e "$PIDF"

# A daemon killed a moment ago can still hold the lock while its threads
# end (a zombie: kill -9 during an fsync): a quick restart waits for it,
# rather than failing as if another certmintd ran. Played by a process
# that holds the lock while the pid in the file is a zombie, for 1 s.
python3 - "$PIDF" >"$T_DIR/holder.out" 2>&1 <<'PY' &
import fcntl, os, sys, time
f = open(sys.argv[1], "w")
fcntl.flock(f, fcntl.LOCK_EX)
child = os.fork()
if child == 0:
    os._exit(0)
time.sleep(0.3)                  # the child is a zombie now, not reaped
f.write("%d\n" % child)
f.flush()
print("locked", flush=True)
time.sleep(1)
f.close()
os.waitpid(child, 0)
PY
holder=$!
wait_until 30 grep -q locked "$T_DIR/holder.out"
"$CERTMINTD" -c "$CONF" >>"$T_LOG" 2>&1 &
T_PID=$!
check "a start while the pid file's holder is exiting waits, then starts" \
    wait_until 60 curl -fsS -m 5 "$URL/health"
check "saying so" wait_lines "$T_LOG" "certmintd pid [0-9]+, which holds .*certmintd.pid, is exiting: waiting for it" 1
wait "$holder"
issue_ok "after waiting for the exiting daemon"

# The commit-to-notify latency of a slow serial module (250 ms a call):
# its few events are each sampled, not one in 16.
before=$(count_lines "$SLOW" " event=0x1 ")
for i in 1 2 3 4 5; do issue_ok "for the latency figures ($i)"; done
check "Slow.Exit got them" wait_lines "$SLOW" " event=0x1 " $((before + 5))
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
samples=$(json "$T_DIR/list.json" \
    '[m for m in j if m["name"] == "Slow.Exit"][0]["latency_us"]["samples"]')
check "exit list: Slow.Exit's latency has a sample of each (>= 5: $samples)" \
    test "${samples:-0}" -ge 5
daemon_stop

# ---------------------------------------------------------------------------
# 6. An older key whose newest certificate ends before an earlier one (a
# same-key renewal its parent cut short) still signs the CRLs of what it
# issued while that earlier certificate is valid.
CONF=$T_DIR/old/certmint.conf PORT=$(free_port)
URL=http://127.0.0.1:$PORT
"$CERTMINT" -c "$CONF" init --name "Old Key CA" --port "$PORT" --tls-port 0 \
    --anonymous issue >/dev/null 2>&1
conf_set server plain_api yes
conf_set crl period 1h
new_csr g1
daemon_start
check_eq "issue g1" 201 "$(submit_http "$T_DIR/g1.csr" \
    CertificateTemplate:ClientAuth | head -1)"
g1=$(json "$T_DIR/resp.json" 'j["serial"]')
check "renew with the same key, for a day" "$CERTMINT" -c "$CONF" ca renew --days 1
check "renew with a new key" "$CERTMINT" -c "$CONF" ca renew --new-key
check "revoke g1" "$CERTMINT" -c "$CONF" revoke "$g1" keyCompromise
daemon_stop
echo "+2d" >"$FT"
CERTMINTD=$T_DIR/faked.sh daemon_start
"$CERTMINT" -c "$CONF" crl >/dev/null
fresh_old_crl() {
	curl -fsS -m 10 -o "$T_DIR/old.crl" "$URL/ca.crl" &&
	    [ "$(date -d "$(openssl crl -inform DER -in "$T_DIR/old.crl" -noout \
	    -nextupdate | cut -d= -f2)" +%s)" -gt $(( $(date +%s) + 2 * 86400 )) ]
}
check "two days on, key 0's CRL is still published, fresh" wait_until 30 \
    fresh_old_crl
check "and lists g1" sh -c "openssl crl -inform DER -in '$T_DIR/old.crl' \
    -noout -text | grep -qi '$g1'"

# 7. The clock wrong. A CRL published while it was 30 days ahead is not
# valid anywhere yet: once the clock is back, status says FUTURE, the log
# says why, and the schedule publishes a new one at once.
echo "+30d" >"$FT"
"$CERTMINT" -c "$CONF" crl >/dev/null
echo "+0" >"$FT"
base_age() {
	"$CERTMINT" -c "$CONF" --json status 2>/dev/null |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)["crl"]["base"]["age"])'
}
base_current() {
	_a=$(base_age)
	[ -n "$_a" ] && [ "$_a" -gt -300 ]
}
check "the CRL of a clock 30 days ahead is replaced once it is back" \
    wait_until 30 base_current
check "the log said it was not yet valid" has_lines "$T_LOG" \
    "base CRL number [0-9]+ is not yet valid: its thisUpdate is [0-9]+ s ahead of the clock" 1
# Past the CA certificate's end: CRLs are still signed, and said to be.
echo "+3700d" >"$FT"
"$CERTMINT" -c "$CONF" crl >/dev/null
check "a CRL signed past the CA certificate's notAfter is warned about" \
    wait_lines "$T_LOG" "CRL [0-9]+: the CA certificate that signs it expired at" 1
# A clock a year behind: what the CA signed would have ended already.
echo "-400d" >"$FT"
check_eq "a clock a year behind: issuance refused (403)" 403 \
    "$(submit_http "$T_DIR/g1.csr" CertificateTemplate:ClientAuth | head -1)"
check_match "saying why" "the clock is more than a day before the CA certificate's notBefore" \
    "$(json "$T_DIR/resp.json" 'j["error"]')"
"$CERTMINT" -c "$CONF" crl >/dev/null
check "a CRL published then says the clock went back" has_lines "$T_LOG" \
    "CRL [0-9]+: the clock is behind the last one's thisUpdate" 1
echo "+0" >"$FT"
daemon_stop
finish
