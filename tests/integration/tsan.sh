#!/bin/sh
# Run under ThreadSanitizer (scripts/test.sh builds certmintd and the test
# modules with -fsanitize=thread): a serial module called from the
# dispatcher's threads during bursts must never be entered twice at once,
# and the daemon itself must show no data race.
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
"$CERTMINT" -c "$CONF" crl >/dev/null
"$CERTMINT" -c "$CONF" reload >/dev/null
daemon_stop
check_eq "daemon stops cleanly" 0 $?
check_eq "ThreadSanitizer reports no race" 0 "$(grep -c 'WARNING: ThreadSanitizer' "$T_LOG")"
finish
