#!/bin/sh
# Retry, backoff and dead letters as docs/exit-modules.md "Delivery" says:
# a failing event is attempted exactly max_attempts times with the backoff
# doubling from backoff_initial_ms up to backoff_max_ms, holding the
# module's queue (later events wait, order kept), then dead-lettered and
# shown by `certmint exit status`; `exit replay --dead` delivers the dead
# letters in sequence order and removes those delivered; a dead letter that
# fails again goes through every attempt again and stays one dead letter,
# while issuance and the other modules carry on.
. "$LIB"

ca_init
PICKY=$T_DIR/picky.log
REC=$T_DIR/rec.log
PASS=$T_DIR/pass
register_modules recording picky
conf_set Recording.Exit output "$REC"
conf_set Picky.Exit output "$PICKY"
conf_set Picky.Exit fail_cn fail
conf_set Picky.Exit pass_file "$PASS"
# 7 attempts: the gaps are 200, 400, then 500 (the ceiling) four times;
# without the ceiling the last would be 6400 ms, over any bound below.
conf_set exit max_attempts 7
conf_set exit backoff_initial_ms 200
conf_set exit backoff_max_ms 500
daemon_start

# issue CN: submit a CSR with subject CN; sets ID to its request id.
issue() {
	[ -f "$T_DIR/$1.csr" ] || new_csr "$1"
	submit_http "$T_DIR/$1.csr" >"$T_DIR/submit.out"
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]' 2>/dev/null)
	[ "$(head -1 "$T_DIR/submit.out")" = 201 ] || not_ok "issue $1"
}

# seq_of ID: the EventSequence Picky.Exit saw for request ID.
seq_of() {
	sed -n "s/^seq=\([0-9]*\) context=$1 .*/\1/p" "$PICKY" | head -1
}

# attempts ID: how many times Picky.Exit was called for request ID.
attempts() {
	count_lines "$PICKY" "^seq=[0-9]+ context=$1 "
}

# dead_count: Picky.Exit's dead letters per `certmint --json exit list`.
dead_count() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1 &&
	    module_field "$T_DIR/list.json" Picky.Exit dead_letters
}

dead_count_is() {
	[ "$(dead_count)" = "$1" ]
}

# status_has PATTERN: `certmint exit status Picky.Exit` matches PATTERN.
status_has() {
	"$CERTMINT" -c "$CONF" exit status Picky.Exit >"$T_DIR/status.out" 2>&1 &&
	    grep -Eq -- "$1" "$T_DIR/status.out"
}

# status_lacks PATTERN: `certmint exit status Picky.Exit` works and does not
# match PATTERN.
status_lacks() {
	"$CERTMINT" -c "$CONF" exit status Picky.Exit >"$T_DIR/status.out" 2>&1 &&
	    grep -q "^Picky.Exit" "$T_DIR/status.out" &&
	    ! grep -Eq -- "$1" "$T_DIR/status.out"
}

# 1. Backoff and max_attempts: A fails every time, B (issued right after
# A) succeeds, but only once A is done.
issue fail-a
ida=$ID
issue ok-b
idb=$ID
check "the event after a failing one is delivered" \
    wait_lines "$PICKY" "context=$idb .*result=ok" 1
check "exit status shows the dead letter with 7 attempts" wait_until 60 \
    status_has "dead letter: seq $(seq_of "$ida") CERTISSUED context $ida, 7 attempts"
check_eq "the failing event was attempted exactly max_attempts (7) times" 7 \
    "$(attempts "$ida")"
check_eq "each attempt failed" 7 \
    "$(count_lines "$PICKY" "context=$ida .*result=fail")"
sed -n "s/^seq=[0-9]* context=$ida .* ms=\([0-9]*\) .*/\1/p" "$PICKY" \
    >"$T_DIR/times"
gaps=$(awk 'NR > 1 { printf "%s%d", sep, $1 - prev; sep = " " } { prev = $1 }' \
    "$T_DIR/times")
echo "# gaps between attempts (ms): $gaps"
check "gaps between attempts are at least 200 400 500 500 500 500 ms" \
    python3 -c 'import sys
g = [int(x) for x in sys.argv[1].split()]
want = [200, 400, 500, 500, 500, 500]
sys.exit(not (len(g) == len(want) and all(a >= b for a, b in zip(g, want))))' "$gaps"
check "and each below its backoff + 5 s (the ceiling applies)" \
    python3 -c 'import sys
g = [int(x) for x in sys.argv[1].split()]
want = [200, 400, 500, 500, 500, 500]
sys.exit(not (len(g) == len(want) and all(a < b + 5000 for a, b in zip(g, want))))' "$gaps"
last_a=$(tail -1 "$T_DIR/times")
first_b=$(sed -n "s/^seq=[0-9]* context=$idb .* ms=\([0-9]*\) .*/\1/p" "$PICKY" | head -1)
check "the later event waited for the failing one's last attempt (order kept)" \
    test "${first_b:-0}" -ge "${last_a:-999999999999}"
check_eq "the later event was delivered once" 1 "$(attempts "$idb")"
check_match "seq order at Picky.Exit: A's attempts, then B" \
    "^$(seq_of "$ida")( $(seq_of "$ida")){6} $(seq_of "$idb")$" \
    "$(sed -n 's/^seq=\([0-9]*\) .*/\1/p' "$PICKY" | tr '\n' ' ' | sed 's/ $//')"
check "Recording.Exit got B meanwhile" wait_lines "$REC" "^event=0x1 context=$idb " 1

# 2. Replay order: three more dead letters (C, D, E), then the module
# recovers and `replay --dead` delivers all four in sequence order.
issue fail-c
idc=$ID
issue fail-d
idd=$ID
issue fail-e
ide=$ID
issue ok-f
idf=$ID
check "the event after three failing ones is delivered" \
    wait_lines "$PICKY" "context=$idf .*result=ok" 1
check "four dead letters" wait_until 60 dead_count_is 4
dead_seqs="$(seq_of "$ida") $(seq_of "$idc") $(seq_of "$idd") $(seq_of "$ide")"
: >"$PASS"
check_match "replay --dead queues the 4 dead letters" "4 events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay Picky.Exit --dead 2>&1)"
check "the replayed dead letters arrive" \
    wait_lines "$PICKY" "^seq=[0-9]+ context=($ida|$idc|$idd|$ide) .*result=ok" 4
check_eq "replayed in sequence order" "$dead_seqs" \
    "$(grep -E "context=($ida|$idc|$idd|$ide) .*result=ok" "$PICKY" |
    sed 's/^seq=\([0-9]*\) .*/\1/' | tr '\n' ' ' | sed 's/ $//')"
check "delivered dead letters are removed (exit list: 0)" \
    wait_until 60 dead_count_is 0
check "exit status shows no dead letter" status_lacks "dead letter: "
check_match "replaying again queues nothing" "0 events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay Picky.Exit --dead 2>&1)"
# A later event is delivered after the second replay was handled: once it
# arrived, anything that replay would deliver has arrived too.
issue ok-g
idg=$ID
check "an event after the second replay is delivered" \
    wait_lines "$PICKY" "context=$idg .*result=ok" 1
check_eq "the second replay delivered nothing more (one success each)" \
    "1 1 1 1" "$(for i in $ida $idc $idd $ide; do
	count_lines "$PICKY" "context=$i .*result=ok"; done | tr '\n' ' ' | sed 's/ $//')"

# 3. Repeated failure: H is dead-lettered, replayed while the module still
# fails, and dead-lettered again after another max_attempts attempts.
rm -f "$PASS"
new_csr ok-i
issue fail-h
idh=$ID
check "H is dead-lettered" wait_until 60 \
    status_has "dead letter: seq $(seq_of "$idh") CERTISSUED context $idh, 7 attempts"
check_match "replay --dead queues H" "1 events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay Picky.Exit --dead 2>&1)"
check "the replay attempts H again" wait_lines "$PICKY" "context=$idh " 8
# While Picky.Exit retries H, the CA issues and the other modules get the
# event at once.
issue ok-i
idi=$ID
check "a certificate is issued during the replay's retries" test -n "$idi"
check "Recording.Exit gets the new event during the replay" \
    wait_lines "$REC" "^event=0x1 context=$idi " 1
check "... before Picky.Exit has finished retrying H" \
    test "$(attempts "$idh")" -lt 14
check "Picky.Exit gets the new event after the replay" \
    wait_lines "$PICKY" "context=$idi .*result=ok" 1
check_eq "H was attempted max_attempts times again (7 + 7)" 14 \
    "$(attempts "$idh")"
check "H is a dead letter again, with the attempts of its last run (7)" \
    wait_until 60 status_has \
    "dead letter: seq $(seq_of "$idh") CERTISSUED context $idh, 7 attempts"
check_eq "exactly one dead letter (H, not duplicated)" 1 "$(dead_count)"
check_eq "exit status lists H once" 1 \
    "$(grep -c "dead letter: seq $(seq_of "$idh") " "$T_DIR/status.out")"
last_h=$(sed -n "s/^seq=[0-9]* context=$idh .* ms=\([0-9]*\) .*/\1/p" "$PICKY" | tail -1)
first_i=$(sed -n "s/^seq=[0-9]* context=$idi .* ms=\([0-9]*\) .*/\1/p" "$PICKY" | head -1)
check "the new event reached Picky.Exit after H's last attempt" \
    test "${first_i:-0}" -ge "${last_h:-999999999999}"
check "Recording.Exit got every CERTISSUED once" test \
    "$(count_lines "$REC" "^event=0x1 ")" -eq 9

# SDK 1.1: a module that says a failure is permanent (CM_E_PERMANENT) gets
# no retry: a dead letter at once, with the cause it logged; one that asks
# to be suspended (CM_E_SUSPEND) is, its event queued until resume.
rm -f "$PASS"
"$CERTMINT" -c "$CONF" exit replay Picky.Exit --dead >/dev/null 2>&1
conf_set Picky.Exit fail_how permanent
daemon_stop
daemon_start
before=$(dead_count)
issue failp
idp=$ID
check "a permanent failure is a dead letter at once" \
    wait_until 30 dead_count_is $((before + 1))
check_eq "after one attempt" 1 "$(attempts "$idp")"
check "exit status shows the cause the module logged" \
    wait_until 10 status_has \
    "dead letter: seq $(seq_of "$idp") CERTISSUED context $idp, 1 attempts.*CM_E_PERMANENT.*picky refuses CN failp for good"
# CM_S_FALSE is a success (S_FALSE from ICertExit::Notify): no retry.
conf_set Picky.Exit fail_how sfalse
daemon_stop
daemon_start
before=$(dead_count)
issue failsf
idsf=$ID
check "CM_S_FALSE: delivered once" wait_until 30 test "$(attempts "$idsf")" = 1
issue oksf
check "and the events after it are delivered" wait_until 30 \
    test "$(attempts "$ID")" = 1
check_eq "no retry, no dead letter" "1 $before" \
    "$(attempts "$idsf") $(dead_count)"
conf_set Picky.Exit fail_how suspend
daemon_stop
daemon_start
issue fails
ids=$ID
suspended() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1 &&
	    grep -q "asked to be suspended at event $(seq_of "$ids"): picky refuses CN fails for good" \
	    "$T_DIR/list.json"
}
check "a module that asks to be suspended is, saying why" wait_until 30 suspended
issue oksusp
check_eq "its events wait (the refused one was tried once)" \
    "1 0" "$(attempts "$ids") $(attempts "$ID")"
touch "$PASS"
check "certmint exit resume" "$CERTMINT" -c "$CONF" exit resume Picky.Exit
check "after resume the queued events are delivered, in order" \
    wait_lines "$PICKY" "context=$ID .*result=ok" 1
check_eq "the refused one first, delivered now" ok \
    "$(sed -n "s/^seq=[0-9]* context=$ids .*result=\([a-z]*\)$/\1/p" "$PICKY" | tail -1)"
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
check_eq "and its host killed at the suspension counts as no crash" "0 " \
    "$(module_field "$T_DIR/list.json" Picky.Exit crashes) $(module_field "$T_DIR/list.json" Picky.Exit last_crash)"
daemon_stop
check_eq "daemon stops cleanly" 0 $?
finish
