#!/bin/sh
# What the ACME server recovers from, and what it changes at reload:
# - finalize writes the order with its request, in one commit; finalizes
#   of one order at once issue one certificate, the others are refused;
# - what older versions could leave: an order "processing" after its
#   request committed (valid at once after the restart, its certificate
#   downloads, a repeated finalize issues nothing), or "processing"
#   without a request (ready again, finalizes once);
# - a challenge left "processing" by a kill -9 is validated again at
#   start and the order becomes ready;
# - a challenge POST answers with its validation's result (at most
#   [acme] challenge_wait_ms; at once at a stop; a client gone
#   meanwhile loses only its answer);
# - a request the policy leaves pending keeps the order "processing" with
#   Retry-After; `certmint resubmit` makes it valid (the certificate
#   downloads), `certmint deny` invalid with a problem;
# - `certmint reload` applies [acme] identifiers, eab, rate limits and a
#   new [acme.NAME], and says (exit 1) that base_url takes a restart.
# The crash windows are made exactly by editing the database of a killed
# daemon into what a crash at that instant leaves.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

acme_setup
conf_set acme identifiers '*.certmint.test'
TOK=$T_DIR/tokens
mkdir "$TOK"
python3 "$(dirname "$LIB")/acme_recover.py" serve "$H01_PORT" "$TOK" &
SRV_PID=$!
trap 'kill $CTS_PID $SRV_PID 2>/dev/null; daemon_kill; rm -rf "$T_DIR"' \
    INT TERM
daemon_start

C() {
	timeout 60 python3 "$(dirname "$LIB")/acme_recover.py" "$ACME_DIR" \
	    "$CA_PEM" "$TOK" "$T_DIR/state.json" "$@"
}
acme_requests() {
	db_query "SELECT count(*) FROM requests WHERE caller_name = 'acme'"
}
# held NAME OUT: with the responder holding its answers, NAME's order made
# and its challenge asked for, in the background (its output in OUT, its
# pid in HELD_PID), until the responder was asked. The answer is held, so
# nothing is written yet: the challenge is "pending" in the database
# until the result, the deadline or a stop.
held() {
	: >"$TOK/hold"
	rm -f "$TOK"/asked.*
	C trigger "$1" >"$2" 2>&1 &
	HELD_PID=$!
	check "$1: its challenge is being validated" wait_until 30 asked
}
asked() {
	ls "$TOK"/asked.* >/dev/null 2>&1
}
# asked_times: how often the responder was asked since the last held.
asked_times() {
	cat "$TOK"/asked.* | wc -l
}
# last_http01: the status of the newest http-01 challenge, as stored.
last_http01() {
	db_query "SELECT status FROM acme_challenges WHERE type = 'http-01'
	    ORDER BY id DESC LIMIT 1"
}
last_order() {
	db_query "SELECT max(id) FROM acme_orders"
}
check_eq "an account" ok "$(C account)"

# 0. Finalizes at once: one certificate.
check_eq "order r is ready" ready "$(C ready r.certmint.test)"
check_eq "8 finalizes at once: one issues" "orderNotReady=7 valid=1" \
    "$(C race r.certmint.test 8)"
check_eq "one request for the order" 1 "$(acme_requests)"
check_eq "the order records it" 1 "$(db_query "SELECT count(*) FROM
    acme_orders WHERE status = 'valid' AND request_id > 0 AND serial <> ''")"

# 1. Killed after ca_submit committed, before the order's update (older
# versions wrote them apart).
check_eq "order a is ready" ready "$(C ready a.certmint.test)"
check_eq "finalize issues" "200 valid - -" "$(C finalize a.certmint.test)"
OID=$(last_order)
daemon_kill
db_query "UPDATE acme_orders SET status = 'processing', serial = '',
    request_id = 0 WHERE id = $OID"
daemon_start
check_eq "after the restart the order is valid" valid \
    "$(C status a.certmint.test)"
check_eq "its certificate downloads" 200 \
    "$(C download a.certmint.test "$T_DIR/a.pem")"
acme_verify "and verifies" "$T_DIR/a.pem"
check_eq "a repeated finalize is refused" "403 - orderNotReady -" \
    "$(C finalize a.certmint.test)"
check_eq "one request for the order" 2 "$(acme_requests)"
check_eq "the order records its certificate" \
    "$(acme_serial "$T_DIR/a.pem")" \
    "$(db_query "SELECT serial FROM acme_orders WHERE id = $OID")"

# 2. Killed after ready -> processing, before ca_submit committed (older
# versions).
check_eq "order b is ready" ready "$(C ready b.certmint.test)"
OID=$(last_order)
daemon_kill
db_query "UPDATE acme_orders SET status = 'processing' WHERE id = $OID"
daemon_start
check_match "the start says so" "order $OID: finalize cut short" \
    "$(cat "$T_LOG")"
check_eq "the order is ready again" ready "$(C status b.certmint.test)"
check_eq "it finalizes" "200 valid - -" "$(C finalize b.certmint.test)"
check_eq "one request for it" 3 "$(acme_requests)"

# 3. A validation cut short by kill -9 runs again at start.
: >"$TOK/hold"
check_eq "order c's challenge is processing" processing \
    "$(C trigger c.certmint.test)"
daemon_kill
rm -f "$TOK/hold"
# And 300 more, on the authorization of order r (valid already): every
# one is validated again, not the first 256 (anyone can make them).
R_AUTHZ=$(db_query "SELECT id FROM acme_authzs WHERE value = 'r.certmint.test'")
db_query "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
    WHERE i < 300) INSERT INTO acme_challenges (authz_id, type, token,
    status) SELECT $R_AUTHZ, 'http-01', 'extra' || i, 'processing' FROM n"
daemon_start
check_eq "after the restart the order becomes ready" ready \
    "$(C wait c.certmint.test ready)"
check_match "the start said it validates all 301 again" \
    "acme: 301 challenges cut short by the stop: validating again" \
    "$(cat "$T_LOG")"
none_processing() {
	test 0 = "$(db_query "SELECT count(*) FROM acme_challenges
	    WHERE status = 'processing'")"
}
check "none is left processing" wait_until 60 none_processing
check_eq "and it finalizes" "200 valid - -" "$(C finalize c.certmint.test)"

# 3b. A challenge POST answers once its validation's result is in, at
# most [acme] challenge_wait_ms: "valid", its order ready without a
# poll; "processing" after the wait while the responder holds, or at
# once with 0; at a stop, at once, while the validation still runs.
check_eq "the challenge answers valid" valid "$(C trigger v.certmint.test)"
check_eq "its order is ready at once" ready "$(C status v.certmint.test)"
daemon_stop
conf_set acme challenge_wait_ms 300
daemon_start
: >"$TOK/hold"
check_eq "held by the responder: processing after the wait" processing \
    "$(C trigger h.certmint.test)"
rm -f "$TOK/hold"
check_eq "then the order becomes ready" ready "$(C wait h.certmint.test ready)"
daemon_stop
conf_set acme challenge_wait_ms 0
daemon_start
check_eq "challenge_wait_ms = 0: processing at once" processing \
    "$(C trigger z.certmint.test)"
check_eq "and ready after a poll" ready "$(C wait z.certmint.test ready)"
daemon_stop
conf_set acme challenge_wait_ms 60000
conf_set acme validation_timeout_ms 60000
daemon_start
held s.certmint.test "$T_DIR/s.out"
check_eq "nothing is written before the answer" pending "$(last_http01)"
kill -TERM "$T_PID"
wait "$HELD_PID"
check_eq "a stop answers the waiting challenge at once" processing \
    "$(cat "$T_DIR/s.out")"
check "while the validation still holds the stop" kill -0 "$T_PID"
check_eq "what it said is written first" processing "$(last_http01)"
rm -f "$TOK/hold"
daemon_stop
conf_set acme challenge_wait_ms 60001
timeout -k 5 60 "$CERTMINTD" -c "$CONF" >"$T_DIR/bad.out" 2>&1
check_eq "challenge_wait_ms over 60000: certmintd does not start" 1 "$?"
check_match "saying why" "challenge_wait_ms = \"60001\": expected 0 to 60000" \
    "$(cat "$T_DIR/bad.out")"
conf_set acme challenge_wait_ms 1000
conf_set acme validation_timeout_ms 10000
daemon_start
check_eq "after the restart s becomes ready" ready \
    "$(C wait s.certmint.test ready)"
# A client gone while its answer waits (challenge_wait_ms reloaded): the
# answer is dropped when the result comes, the result still counts.
conf_set acme challenge_wait_ms 30000
check "certmint reload" "$CERTMINT" -c "$CONF" reload
held g.certmint.test /dev/null
kill -KILL "$HELD_PID"
wait "$HELD_PID" 2>/dev/null
rm -f "$TOK/hold"
check_eq "its order becomes ready all the same" ready \
    "$(C wait g.certmint.test ready)"
check "certmintd serves on" curl -fsS -o /dev/null "$URL/health"
# Asked twice while its answer is held: one validation, which answers both.
held t.certmint.test "$T_DIR/t1.out"
C again t.certmint.test >"$T_DIR/t2.out" 2>&1 &
P2=$!
sleep 2		# the second POST held too
rm -f "$TOK/hold"
wait "$HELD_PID" "$P2"
check_eq "both answers say valid" "valid valid" \
    "$(cat "$T_DIR/t1.out") $(cat "$T_DIR/t2.out")"
check_eq "the responder was asked once" 1 "$(asked_times)"
# The authorization deactivated while the answer is held: the result is
# not kept, the answer says pending, and no validation starts again.
held x.certmint.test "$T_DIR/x.out"
check_eq "x's authorization is deactivated meanwhile" deactivated \
    "$(C deactivate x.certmint.test)"
rm -f "$TOK/hold"
wait "$HELD_PID"
check_eq "the held answer says pending" pending "$(cat "$T_DIR/x.out")"
check_eq "the responder was asked once" 1 "$(asked_times)"
# Killed while a challenge's answer is held: its client had no answer, the
# challenge is still pending after the restart, and asking again
# validates it.
held k.certmint.test /dev/null
daemon_kill
wait "$HELD_PID" 2>/dev/null
rm -f "$TOK/hold"
daemon_start
check_eq "after the restart k's order is pending" pending \
    "$(C status k.certmint.test)"
check_eq "asked again, the challenge is valid" valid \
    "$(C again k.certmint.test)"
check_eq "and the order ready" ready "$(C status k.certmint.test)"
conf_set acme challenge_wait_ms 1000
check "certmint reload" "$CERTMINT" -c "$CONF" reload

# 4. The policy leaves requests pending: an officer decides.
daemon_stop
conf_set policy request_disposition pending
daemon_start
check_eq "order p is ready" ready "$(C ready p.certmint.test)"
check_eq "finalize: processing, with Retry-After" "200 processing - 1" \
    "$(C finalize p.certmint.test)"
RID=$(db_query "SELECT max(id) FROM requests")
check "the log says it waits for an officer" wait_lines "$T_LOG" \
    "info: acme: order [0-9]+: pending \(request $RID\) until an officer" 1
check_eq "the order stays processing" processing \
    "$(C status p.certmint.test)"
check "an officer approves it" "$CERTMINT" -c "$CONF" resubmit "$RID"
check_eq "the order is valid, the certificate downloads" 200 \
    "$(C download p.certmint.test "$T_DIR/p.pem")"
acme_verify "and verifies" "$T_DIR/p.pem"
check_eq "order d is ready" ready "$(C ready d.certmint.test)"
check_eq "finalize d: processing" "200 processing - 1" \
    "$(C finalize d.certmint.test)"
RID=$(db_query "SELECT max(id) FROM requests")
check "an officer denies it" "$CERTMINT" -c "$CONF" deny "$RID"
check_eq "the order is invalid" invalid "$(C status d.certmint.test)"
check_eq "with a problem" unauthorized "$(C error d.certmint.test)"
check_eq "no certificate for it" \
    "no certificate (invalid)" "$(C download d.certmint.test "$T_DIR/d.pem")"
# A policy that denies at once: the order is invalid from the finalize,
# and the log says so with the policy's message.
conf_set policy request_disposition deny
check "certmint reload" "$CERTMINT" -c "$CONF" reload
check_eq "order n is ready" ready "$(C ready n.certmint.test)"
check_eq "finalize n: refused at once" "403 - unauthorized -" \
    "$(C finalize n.certmint.test)"
check_eq "the order is invalid" invalid "$(C status n.certmint.test)"
check "the log says why" wait_lines "$T_LOG" \
    "info: acme: order [0-9]+: refused \(request [0-9]+\): .*[Dd]enied" 1
conf_set policy request_disposition pending
check "certmint reload" "$CERTMINT" -c "$CONF" reload

# 5. certmint reload applies [acme].
check_eq "a name outside the patterns is refused" "400 rejectedIdentifier" \
    "$(C order x.reload.test)"
check_eq "no EAB required" false "$(C meta)"
check_fails "no directory extra yet" curl -fsS --cacert "$CA_PEM" \
    -o /dev/null "$SURL/acme/extra/directory"
conf_set acme.extra identifiers '*.extra.test'
conf_set acme.directory-b identifiers '*.b.test'
conf_set acme identifiers '*.certmint.test, *.reload.test'
conf_set acme eab required
conf_set acme orders_per_account_hour 1
conf_set acme base_url https://elsewhere.test
check_refused "certmint reload applies the rest, and says (exit 1) that base_url takes a restart" \
    30 "\\[acme\\] base_url changed: only a restart applies that" \
    "$CERTMINT" -c "$CONF" reload
check_match "the reload is logged" "acme: reloaded 3 directories" \
    "$(cat "$T_LOG")"
check_match "and what waits for a restart" \
    "\\[acme\\] base_url changed: only a restart" "$(cat "$T_LOG")"
check_eq "EAB is required now" true "$(C meta)"
check "the directory extra added serves" curl -fsS --cacert "$CA_PEM" \
    -o /dev/null "$SURL/acme/extra/directory"
# Only a directory itself goes without a nonce, whatever the directory's
# name (one that starts with "directory" had none anywhere).
nonces() { curl -sS -I --cacert "$CA_PEM" "$1" | grep -ci '^replay-nonce:'; }
check_eq "directory-b: newNonce has a nonce, its directory none" "1 0" \
    "$(nonces "$SURL/acme/directory-b/new-nonce") $(nonces \
    "$SURL/acme/directory-b/directory")"
# A key holds one account in all directories: looked up in another it is
# none of that one's; made there, refused as taken.
check_eq "its own directory finds the account" "200 -" "$(C lookup existing)"
CX() {
	timeout 60 python3 "$(dirname "$LIB")/acme_recover.py" \
	    "$SURL/acme/extra/directory" "$CA_PEM" "$TOK" "$T_DIR/state.json" "$@"
}
check_eq "another directory: accountDoesNotExist" \
    "400 accountDoesNotExist" "$(CX lookup existing)"
check_eq "and an account there with the same key is refused" \
    "409 malformed" "$(CX lookup new)"
check_eq "the rate limit applies (orders of the last hour)" \
    "429 rateLimited" "$(C order y.reload.test)"
conf_set acme orders_per_account_hour 0
check_refused "certmint reload again (base_url still waits for the restart)" \
    30 "\\[acme\\] base_url changed" "$CERTMINT" -c "$CONF" reload
check_eq "the new pattern applies" "201 -" "$(C order x.reload.test)"
conf_set acme profile NoSuchProfile
check_refused "a reload whose [acme] does not read says so, and fails" 30 \
    "the rest applied, but acme: not reloaded.*NoSuchProfile" \
    "$CERTMINT" -c "$CONF" reload
check_eq "and ACME serves on" "201 -" "$(C order z.reload.test)"
conf_del acme profile
check_eq "URLs keep the running base_url" 0 \
    "$(grep -c elsewhere.test "$T_DIR/state.json")"

kill "$SRV_PID" 2>/dev/null
wait "$SRV_PID" 2>/dev/null
acme_finish
