#!/bin/sh
# The stop drain deadline ([exit] stop_deadline_ms): at SIGTERM a module
# stuck in notify does not keep the CA from stopping: certmintd exits 0
# once the deadline has passed, names the busy module in its log, and
# after a restart the event the module had not finished is delivered again.
# A concurrent module's pool stopped mid-batch stops within the deadline
# too; its saved cursor never passes an event it did not get, and after a
# restart every event reaches it.
. "$LIB"

ca_init
REC=$T_DIR/rec.log
STUCK=$T_DIR/stuck.log
HOLD=$T_DIR/hold
POOL=$T_DIR/pool.log
register_modules recording stuck
conf_set Recording.Exit output "$REC"
conf_set Stuck.Exit output "$STUCK"
conf_set Stuck.Exit hold_file "$HOLD"
# Left behind in notify at the stop is what inline modules do (an
# isolated one's host is killed instead: isolation.sh).
conf_set exit.Stuck.Exit isolation inline
conf_set exit stop_deadline_ms 2000
conf_set exit threads 4

now_ms() {
	date +%s%3N
}

# timed_stop: daemon_stop; sets STOP_MS (how long it took) and STOP_RC.
timed_stop() {
	_t0=$(now_ms)
	daemon_stop
	STOP_RC=$?
	STOP_MS=$(( $(now_ms) - _t0 ))
	echo "# certmintd stopped in $STOP_MS ms, status $STOP_RC"
}

# cursor MODULE: the module's saved cursor, read from the database.
cursor() {
	_c=$(db_query "SELECT seq FROM exit_cursors WHERE module = '$1'")
	echo "${_c:--1}"
}

# 1. A module stuck in notify at SIGTERM.
daemon_start
check "Stuck.Exit gets STARTUP" wait_lines "$STUCK" "^done seq=[0-9]+ event=0x80$" 1
: >"$HOLD"
new_csr stuck1
submit_http "$T_DIR/stuck1.csr" >/dev/null
id1=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "Recording.Exit gets the CERTISSUED" wait_lines "$REC" "^event=0x1 context=$id1 " 1
seq1=$(sed -n "s/^event=0x1 context=$id1 seq=\([0-9]*\) .*/\1/p" "$REC")
check "Stuck.Exit is inside notify for it" \
    wait_lines "$STUCK" "^enter seq=$seq1 event=0x1$" 1
timed_stop
check_eq "certmintd exits 0 although a module is stuck" 0 "$STOP_RC"
check "it waited the stop deadline (2000 ms) for the module" \
    test "$STOP_MS" -ge 2000
check "and exited within the deadline + 6 s" test "$STOP_MS" -lt 8000
check "the log names the module still busy at the deadline" \
    grep -Eq "Stuck.Exit.*stop deadline" "$T_LOG"
check_eq "Recording.Exit still got SHUTDOWN" 1 \
    "$(count_lines "$REC" "^event=0x40 ")"
check_eq "Stuck.Exit never finished the event" 0 \
    "$(count_lines "$STUCK" "^done seq=$seq1 ")"
c=$(cursor Stuck.Exit)
check "Stuck.Exit's saved cursor ($c) is before the unfinished event ($seq1)" \
    test "$c" -lt "$seq1"
sed -n 's/^event=0x[0-9a-f]* context=[0-9]* seq=\([0-9]*\) .*/\1/p' "$REC" \
    >"$T_DIR/run1.seqs"

rm -f "$HOLD"
daemon_start
check "after restart the unfinished event is delivered again" \
    wait_lines "$STUCK" "^done seq=$seq1 event=0x1$" 1
check "and every event of the first run reached Stuck.Exit" wait_until 60 \
    sh -c 'for s in $(cat "$1"); do
	grep -q "^done seq=$s " "$2" || exit 1; done' _ "$T_DIR/run1.seqs" "$STUCK"
timed_stop
check_eq "a clean stop: status 0" 0 "$STOP_RC"

# 2. A concurrent module's pool stopped mid-batch: 100 events at 500 ms
# each on 4 workers (and the module's own thread) take 10 s, far over the
# deadline.
register_modules pool
conf_set Pool.Exit output "$POOL"
conf_set Pool.Exit sleep_ms 500
daemon_start
new_csr p
first=$(sed -n 's/^event=0x[0-9a-f]* context=[0-9]* seq=\([0-9]*\) .*/\1/p' "$REC" |
    tail -1)
seq 1 100 | xargs -P 8 -I{} sh -c 'curl -s -m 30 -o /dev/null \
    -w "%{http_code}\n" -H "Content-Type: application/pkcs10" \
    --data-binary @"$1" "$2/api/v1/requests"' _ "$T_DIR/p.csr" "$URL" \
    >"$T_DIR/codes"
check_eq "100 certificates issued" 100 "$(grep -c '^201$' "$T_DIR/codes")"
check "Pool.Exit is delivering" wait_lines "$POOL" "^seq=" 5
timed_stop
check_eq "certmintd exits 0 with the pool busy" 0 "$STOP_RC"
check "and within the deadline + 6 s" test "$STOP_MS" -lt 8000
# Its notifies under way at the deadline (500 ms) end within the second
# they get: it is stopped and shut down, not left behind.
check "Pool.Exit finished its calls under way and stopped with events queued" \
    grep -q "Pool.Exit stopped with events queued" "$T_LOG"
check "Pool.Exit was not left in notify" \
    sh -c '! grep -q "Pool.Exit is still in notify" "$1"' _ "$T_LOG"
# The events Pool.Exit subscribes to, from the database.
db_query "SELECT seq FROM events WHERE event = 1 AND seq > ${first:-0}" \
    >"$T_DIR/pool.want"
check_eq "100 CERTISSUED events recorded" 100 "$(wc -l <"$T_DIR/pool.want")"
got=$(sort -u "$POOL" | grep -c '^seq=')
check "the stop came with events still undelivered ($got of 100 delivered)" \
    test "$got" -lt 100
c=$(cursor Pool.Exit)
skipped=$(while read -r s; do
	[ "$s" -le "$c" ] && ! grep -q "^seq=$s$" "$POOL" && echo "$s"
done <"$T_DIR/pool.want" | tr '\n' ' ')
check_eq "the saved cursor ($c) passes no undelivered event" "" "$skipped"

daemon_start
check "after restart every event reaches Pool.Exit" wait_until 60 \
    sh -c 'while read -r s; do
	grep -q "^seq=$s$" "$2" || exit 1; done <"$1"' _ "$T_DIR/pool.want" "$POOL"
finish
