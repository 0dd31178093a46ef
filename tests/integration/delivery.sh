#!/bin/sh
# Durable delivery: a hanging module delays only itself, serial modules are
# never called concurrently (concurrent ones are), and kill -9 during a
# burst loses no committed event.
. "$LIB"

M=$MODULES_DIR
ca_init
REC=$T_DIR/rec.log
for m in recording slow serial concurrent; do
	"$CERTMINT" -c "$CONF" exit register "$M/$m.so" >/dev/null 2>&1 ||
	    not_ok "register $m"
done
conf_set Recording.Exit output "$REC"
conf_set Slow.Exit output "$T_DIR/slow.log"
conf_set Slow.Exit sleep_ms 1500
conf_set Serial.Exit output "$T_DIR/serial.out"
conf_set Concurrent.Exit output "$T_DIR/concurrent.out"
conf_set exit deadline_ms 500
conf_set exit threads 4
daemon_start

# burst N CSR: N submissions from 8 parallel clients; the HTTP codes go to
# $T_DIR/c.*.
burst() {
	rm -f "$T_DIR"/c.*
	seq 1 "$1" | xargs -P 8 -I{} sh -c 'curl -s -m 30 -o /dev/null \
	    -w "%{http_code}" -H "Content-Type: application/pkcs10" \
	    --data-binary @"$1" "$2/api/v1/requests" >"$3/c.{}" 2>/dev/null; true' \
	    _ "$2" "$URL" "$T_DIR"
}

new_csr b
burst 6 "$T_DIR/b.csr"
check_eq "6 certificates issued while Slow.Exit sleeps" 6 \
    "$(grep -l 201 "$T_DIR"/c.* | wc -l)"
check "Recording.Exit receives all 6 meanwhile" wait_lines "$REC" "^event=0x1 " 6
check "Slow.Exit is still behind" test "$(count_lines "$T_DIR/slow.log" "^seq=")" -lt 6
check "the deadline overrun is logged with the module's name" \
    wait_lines "$T_LOG" "Slow.Exit.*deadline" 1
check "exit unregister Slow.Exit" "$CERTMINT" -c "$CONF" exit unregister Slow.Exit

# Serial versus concurrent.
burst 40 "$T_DIR/b.csr"
wait_calls "$T_DIR/serial.out" 46
wait_calls "$T_DIR/concurrent.out" 46
check_eq "Serial.Exit got every CERTISSUED" 46 "$(calls "$T_DIR/serial.out")"
check_eq "Concurrent.Exit got every CERTISSUED" 46 "$(calls "$T_DIR/concurrent.out")"
check_match "Serial.Exit never saw two calls at once" "max_inflight=1$" \
    "$(cat "$T_DIR/serial.out")"
check_match "Concurrent.Exit's calls overlapped" "max_inflight=[2-9]" \
    "$(cat "$T_DIR/concurrent.out")"

# kill -9 in the middle of a burst, then restart.
( burst 200 "$T_DIR/b.csr" ) &
clients=$!
i=0
while [ $i -lt 600 ]; do
	[ "$(grep -l 201 "$T_DIR"/c.* 2>/dev/null | wc -l)" -ge 30 ] && break
	sleep 0.02
	i=$((i + 1))
done
daemon_kill
wait $clients
daemon_start
"$CERTMINT" -c "$CONF" --json view issued >"$T_DIR/issued.json"
python3 - "$T_DIR/issued.json" "$REC" >"$T_DIR/cmp.out" <<'PY'
import json, re, sys, time
ids = {r["request_id"] for r in json.load(open(sys.argv[1]))}
seen = set()
for _ in range(400):
    seen = set()
    for ln in open(sys.argv[2]):
        m = re.match(r"event=0x1 context=(\d+) ", ln)
        if m:
            seen.add(int(m.group(1)))
    if ids <= seen:
        break
    time.sleep(0.05)
print("issued", len(ids), "missing", sorted(ids - seen)[:10],
      "phantom", sorted(seen - ids)[:10])
PY
check_match "after kill -9, every committed CERTISSUED reached Recording.Exit" \
    "missing \[\]" "$(cat "$T_DIR/cmp.out")"
check_match "no event for a request that was not committed" \
    "phantom \[\]$" "$(cat "$T_DIR/cmp.out")"
wait_lines "$REC" "^event=0x80 " 2
check_eq "STARTUP delivered once per start" 2 "$(count_lines "$REC" "^event=0x80 ")"
daemon_stop
check_eq "daemon stops cleanly" 0 $?
finish
