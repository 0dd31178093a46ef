#!/bin/sh
# A module slow to load (its initialize sleeps 8 s; one that never
# returns is the same until the load deadline) keeps neither the CA nor
# the other modules waiting: certmintd serves after at most 5 s, the
# other module is loaded and gets its events, and the slow one, once
# loaded, gets every event since the start, STARTUP first. A stop while
# it loads waits for it and stops cleanly.
. "$LIB"

ca_init
REC=$T_DIR/rec.log
FLAKY=$T_DIR/flaky.log
register_modules recording flaky
conf_set Recording.Exit output "$REC"
conf_set Recording.Exit init_sleep_ms 8000
conf_set Flaky.Exit output "$FLAKY"
conf_set Flaky.Exit fail_times 0
new_csr one

t0=$(date +%s)
daemon_start
t1=$(date +%s)
check "certmintd serves before the slow module has loaded ($((t1 - t0)) s)" \
    test $((t1 - t0)) -lt 8
check_match "and says why it did not wait" \
    "exit modules still loading after 5000 ms: certmintd serves meanwhile" \
    "$(cat "$T_LOG")"
check_eq "a request is issued meanwhile" 201 \
    "$(submit_http "$T_DIR/one.csr" | head -1)"
id=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "the other module got it" wait_lines "$FLAKY" " event=0x1 context=$id( |$)" 1
check "the slow module loads in the end" wait_lines "$T_LOG" \
    "exit module Recording.Exit loaded" 1
check "and gets STARTUP, first" wait_until 30 sh -c \
    "head -1 '$REC' | grep -q '^event=0x80 '"
check "and the request issued while it loaded" wait_lines "$REC" \
    "^event=0x1 context=$id " 1
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
check_eq "exit list: both, in [exit] active's order" \
    "Recording.Exit Flaky.Exit" \
    "$(json "$T_DIR/list.json" '" ".join(m["name"] for m in j)')"

# A stop while it loads: waited for, then stopped with the others.
daemon_stop
daemon_start
daemon_stop
check_eq "stopped while a module loads: cleanly" 0 "$?"
check_match "having waited for it to load" "exit module Recording.Exit loaded" \
    "$(tail -5 "$T_LOG")"
finish
