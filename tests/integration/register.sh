#!/bin/sh
# `certmint exit register FILE --from newest|cursor|SEQ`: a module
# registered, unregistered and registered again resumes from its old cursor
# by default and is told so, and gets exactly the events it missed;
# --from newest skips them; --from SEQ delivers from event SEQ on; a SEQ
# out of range, --from cursor without a cursor and a module whose ELF
# constructor crashes are refused with a clear message, the CLI survives
# and the config is unchanged after each refusal.
. "$LIB"

ca_init
REC=$T_DIR/rec.log
register_modules recording
conf_set Recording.Exit output "$REC"
# In the daemon's process: this test is about where it starts, not how
# it is hosted.
conf_set exit.Recording.Exit isolation inline
daemon_start

# issue NAME: an issued certificate for CN=NAME; sets ID.
issue() {
	new_csr "$1"
	code=$(submit_http "$T_DIR/$1.csr" | head -1)
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]' 2>/dev/null)
	[ "$code" = 201 ] || not_ok "issue $1 (HTTP $code)"
}

# got ID: Recording.Exit has seen CERTISSUED of request ID.
got() {
	grep -Eq "^event=0x1 context=$1 " "$REC"
}

# seq_of ID: the event sequence number of request ID's CERTISSUED.
seq_of() {
	db_query "SELECT seq FROM events WHERE event = 1 AND context = $1"
}

newest() {
	db_query "SELECT COALESCE(MAX(seq), 0) FROM events"
}

reg() {		# reg ARGS...: exit register, output in $T_DIR/reg.out
	"$CERTMINT" -c "$CONF" exit register "$@" >"$T_DIR/reg.out" 2>&1
}

unreg() {
	"$CERTMINT" -c "$CONF" exit unregister Recording.Exit >"$T_DIR/unreg.out" 2>&1 ||
	    { not_ok "unregister Recording.Exit"; sed "s/^/# /" "$T_DIR/unreg.out"; }
}

SO=$MODULES_DIR/recording.so

# --- 1. Default: resume from the old cursor ------------------------------
issue a1
A1=$ID
check "Recording.Exit sees a1" wait_until 60 got "$A1"
unreg
issue b1; B1=$ID
issue b2; B2=$ID
issue b3; B3=$ID
check_eq "three events while unregistered" $(( $(seq_of "$A1") + 3 )) "$(newest)"
reg "$SO"
check_eq "register again: exit status 0" 0 $?
check_match "it says it resumes from its old cursor, 3 events to deliver" \
    "^Recording\.Exit resumes from its old cursor \(event $(seq_of "$A1")\): 3 events to deliver$" \
    "$(cat "$T_DIR/reg.out")"
for id in $B1 $B2 $B3; do
	check "the missed request $id is delivered" wait_until 60 got "$id"
done
check_eq "each exactly once" 3 \
    "$(grep -cE "^event=0x1 context=($B1|$B2|$B3) " "$REC")"

# --- 2. --from newest: what it missed is skipped --------------------------
unreg
issue c1; C1=$ID
issue c2; C2=$ID
reg "$SO" --from newest
check_eq "register --from newest: exit status 0" 0 $?
check_match "it says it starts with the next event and skips 2" \
    "^Recording\.Exit starts with the next event \(newest is $(newest)\), skipping the 2 events" \
    "$(cat "$T_DIR/reg.out")"
issue d1; D1=$ID
check "the next request is delivered" wait_until 60 got "$D1"
check_fails "the skipped c1 is not" got "$C1"
check_fails "nor c2" got "$C2"

# --- 3. --from SEQ: exactly from SEQ --------------------------------------
unreg
S=$(seq_of "$C2")
N=$(newest)
: >"$REC"
reg "$SO" --from "$S"
check_eq "register --from $S: exit status 0" 0 $?
check_match "it says where it starts and how many" \
    "^Recording\.Exit starts at event $S: $((N - S + 1)) events to deliver$" \
    "$(cat "$T_DIR/reg.out")"
check "c2 (event $S) is delivered" wait_until 60 got "$C2"
check "and d1 after it" wait_until 60 got "$D1"
check_fails "c1, before SEQ, is not" got "$C1"
check_eq "the first event delivered is SEQ" "$S" \
    "$(sed -n 's/.* seq=\([0-9]*\) .*/\1/p' "$REC" | sort -n | head -1)"
check_eq "every event from SEQ to the newest, once" "$(seq "$S" "$N" | tr '\n' ' ')" \
    "$(sed -n 's/.* seq=\([0-9]*\) .*/\1/p' "$REC" | sort -n | tr '\n' ' ')"

# --- 4. Refusals: the config is unchanged after each -----------------------
unreg
cp "$CONF" "$T_DIR/conf.before"
N=$(newest)
check_refused "--from 0 refused" 30 "refused: --from 0: .*numbered from 1" \
    "$CERTMINT" -c "$CONF" exit register "$SO" --from 0
check_refused "--from beyond newest+1 refused" 30 \
    "refused: --from $((N + 2)): no such event .*newest is $N" \
    "$CERTMINT" -c "$CONF" exit register "$SO" --from $((N + 2))
check_refused "--from junk refused" 30 "refused: --from junk" \
    "$CERTMINT" -c "$CONF" exit register "$SO" --from junk
check_refused "--from cursor for a module never registered refused" 30 \
    "refused: Flaky\.Exit has no old cursor" \
    "$CERTMINT" -c "$CONF" exit register "$MODULES_DIR/flaky.so" --from cursor
check_refused "a module whose constructor segfaults: refused with the signal" 30 \
    "^certmint: refused: .*crashctor\.so crashed while loading \(SIGSEGV\)$" \
    "$CERTMINT" -c "$CONF" exit register "$MODULES_DIR/crashctor.so"
# The check runs in a session of its own: a constructor that signals its
# process group reaches the check, not the CLI (nor its shell).
check_refused "a module whose constructor kills its process group: refused" 30 \
    "^certmint: refused: .*killpgctor\.so crashed while loading \(SIGTERM\)$" \
    "$CERTMINT" -c "$CONF" exit register "$MODULES_DIR/killpgctor.so"
check "the config is unchanged after the refusals" cmp "$CONF" "$T_DIR/conf.before"
check_eq "and no cursor was written for Flaky.Exit" "" \
    "$(db_query "SELECT seq FROM exit_cursors WHERE module = 'Flaky.Exit'")"
check "the daemon runs on" kill -0 "$T_PID"
reg "$SO" --from "$((N + 1))"
check_eq "--from newest+1 is accepted" 0 $?
reg "$SO"
check_match "registering twice is refused" "already registered" \
    "$(cat "$T_DIR/reg.out")"
finish
