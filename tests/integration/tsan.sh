#!/bin/sh
# Run under ThreadSanitizer (scripts/test.sh builds certmintd and the test
# modules with -fsanitize=thread): a serial module called from the
# dispatcher's threads during bursts must never be entered twice at once,
# a restart with a module backlog after kill -9 delivers it on an idle CA,
# a backlog of several batches is read a batch ahead,
# admin clients are served side by side, and the daemon itself must show
# no data race and no spinning thread.
. "$LIB"

M=$MODULES_DIR
ca_init
"$CERTMINT" -c "$CONF" exit register "$M/serial.so" >/dev/null
"$CERTMINT" -c "$CONF" exit register "$M/recording.so" >/dev/null
"$CERTMINT" -c "$CONF" exit register "$M/concurrent.so" >/dev/null
conf_set Serial.Exit output "$T_DIR/serial.out"
conf_set Serial.Exit sleep_ms 2
conf_set Concurrent.Exit output "$T_DIR/conc.out"
conf_set Concurrent.Exit sleep_ms 2
conf_set Recording.Exit output "$T_DIR/rec.log"
# In certmintd's own threads, where ThreadSanitizer sees them.
for m in Serial Concurrent Recording Lag; do
	conf_set "exit.$m.Exit" isolation inline
done
conf_set exit threads 4
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1"
daemon_start
new_csr t
seq 1 60 | xargs -P 8 -I{} curl -s -m 60 -o /dev/null -H "Content-Type: application/pkcs10" \
    --data-binary @"$T_DIR/t.csr" "$URL/api/v1/requests"
wait_calls "$T_DIR/serial.out" 60
check_match "Serial.Exit got all 60 events, one at a time" "calls=60 max_inflight=1$" \
    "$(cat "$T_DIR/serial.out")"
wait_calls "$T_DIR/conc.out" 60
check_match "Concurrent.Exit got all 60 events from its pool" "^calls=60 " \
    "$(cat "$T_DIR/conc.out")"
# Admin clients side by side during a burst, each on its own thread
# (admin.c), with a reload among them.
seq 1 30 | xargs -P 4 -I{} curl -s -m 60 -o /dev/null -H "Content-Type: application/pkcs10" \
    --data-binary @"$T_DIR/t.csr" "$URL/api/v1/requests" &
pids=$!
for i in 1 2 3 4 5 6 7 8; do
	"$CERTMINT" -c "$CONF" status >"$T_DIR/st.$i" 2>&1 &
	pids="$pids $!"
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/el.$i" 2>&1 &
	pids="$pids $!"
done
"$CERTMINT" -c "$CONF" reload >/dev/null 2>&1 &
pids="$pids $!"
for p in $pids; do
	wait "$p"
done
check "8 status and 8 exit list at once during a burst: all answered" \
    sh -c 'for i in 1 2 3 4 5 6 7 8; do grep -q "Test CA" "$1/st.$i" &&
	grep -q Serial.Exit "$1/el.$i" || exit 1; done' _ "$T_DIR"
"$CERTMINT" -c "$CONF" crl >/dev/null
"$CERTMINT" -c "$CONF" reload >/dev/null
daemon_stop
check_eq "daemon stops cleanly" 0 $?

# Restart with a module backlog on an idle CA: kill -9 while Lag.Exit is
# far behind, then start with no submission at all. The backlog and the
# new STARTUP must arrive without any later commit to wake anybody (module
# threads and the writer start in the right order, and no connection is
# used by two threads), and once delivery is done no thread spins.
"$CERTMINT" -c "$CONF" exit register "$M/lag.so" >/dev/null
conf_set Lag.Exit output "$T_DIR/lag.log"
conf_set Lag.Exit sleep_ms 20
daemon_start
seq 1 60 | xargs -P 8 -I{} curl -s -m 60 -o /dev/null -H "Content-Type: application/pkcs10" \
    --data-binary @"$T_DIR/t.csr" "$URL/api/v1/requests"
check "Lag.Exit is delivering" wait_lines "$T_DIR/lag.log" "^seq=" 3
daemon_kill
lag_before=$(count_lines "$T_DIR/lag.log" "^seq=")
starts=$(count_lines "$T_DIR/rec.log" "^event=0x80 ")
daemon_start
check "after kill -9, the new STARTUP reaches Recording.Exit on an idle CA" \
    wait_lines "$T_DIR/rec.log" "^event=0x80 " $((starts + 1))
lag_issued() {
	[ "$(grep -E '^seq=[0-9]+ event=0x1 ' "$T_DIR/lag.log" | sort -u |
	    wc -l)" -ge 60 ]
}
check "and Lag.Exit's backlog arrives (60 CERTISSUED of the burst)" \
    wait_until 60 lag_issued
echo "# Lag.Exit had $lag_before of 60 before kill -9"
# A backlog of 2,600 events for the serial Recording.Exit: each batch is
# read, with its requests, by the slot's reader thread while the module
# works on the one before (dispatch.c, reader_main).
"$CERTMINT" -c "$CONF" exit unregister Lag.Exit >/dev/null
conf_set Serial.Exit sleep_ms 0
conf_set Concurrent.Exit sleep_ms 0
daemon_stop
issued0=$(count_lines "$T_DIR/rec.log" "^event=0x1 ")
"$FILLEVENTS" "$T_DIR/ca/certmint.db" 2600 >"$T_DIR/fill.out" 2>&1 ||
    not_ok "fillevents: $(cat "$T_DIR/fill.out")"
daemon_start
check "Recording.Exit gets a backlog of 2,600 events, a batch read ahead" \
    wait_lines "$T_DIR/rec.log" "^event=0x1 " $((issued0 + 2600))
drained() {
	"$CERTMINT" -c "$CONF" --json exit list | python3 -c 'import json, sys
sys.exit(0 if all(m.get("queue", 1) == 0 for m in json.load(sys.stdin)) else 1)'
}
check "and every module's queue drains" wait_until 120 drained
# CPU time of certmintd over 3 s of idleness: a spinning thread would
# burn about 3 s of it.
ticks() {
	awk '{ print $14 + $15 }' "/proc/$T_PID/stat"
}
t0=$(ticks)
sleep 3
t1=$(ticks)
hz=$(getconf CLK_TCK)
check "idle, certmintd uses under 10 % of a core (no thread spins)" \
    test $((t1 - t0)) -lt $((3 * hz / 10))
echo "# $((t1 - t0)) ticks of $hz/s in 3 s"
daemon_stop
check_eq "daemon stops cleanly after the restart" 0 $?
check_eq "ThreadSanitizer reports no race" 0 "$(grep -c 'WARNING: ThreadSanitizer' "$T_LOG")"
finish
