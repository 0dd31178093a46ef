#!/bin/sh
# The ACME server refuses what it must, with the RFC 8555 problem types:
# bad JWS (wrong url, reused or garbage nonce, unknown kid, alg none,
# HS256, a jwk that did not sign, a kid with another key, no
# application/jose+json, kid on newAccount), identifiers outside
# [acme] identifiers, bad CSRs at finalize (a name not in the order, a
# name missing, the account key, garbage), calls out of order (finalize
# before ready and twice, GET instead of POST-as-GET, another account's
# order, challenge and certificate), bad revocations, a profile not
# offered; every problem is application/problem+json with "status" and a
# Replay-Nonce, and nothing refused is issued. Also: an IP identifier
# (RFC 8738) by http-01, renewal information (RFC 9773) before and after
# revocation, the profiles extension, keyChange and deactivation, rate
# limits per account and per registered domain. And
# restarts: after kill -9 just after finalize the certificate downloads;
# a nonce from before a clean restart is good after it, one from before
# a crash is not. An expired order's challenge is refused.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

acme_setup
conf_set acme identifiers '*.certmint.test, 127.0.0.*'
conf_set acme profiles WebServer
daemon_start

OUT=$T_DIR/bad.out
check "the client ran" timeout 80 python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT"

# expect CASE STATUS TYPE: the case's line in $OUT.
expect() {
	check_eq "$1: $2 $3" "$1|$2|$3|ok" "$(grep "^$1|" "$OUT")"
}
expect wrong_url 401 unauthorized
expect first_use 200 -
expect reused_nonce 400 badNonce
expect garbage_nonce 400 badNonce
# Every nonce is new (a sequence under the MAC, nonce.c), however many.
for _i in $(seq 40); do
	curl -sS -I --cacert "$CA_PEM" "$SURL/acme/new-nonce" | tr -d '\r' |
	    sed -n 's/^[Rr]eplay-[Nn]once: //p'
done >"$T_DIR/nonces"
check_eq "40 nonces, all different" "40 40" \
    "$(grep -c . "$T_DIR/nonces") $(sort -u "$T_DIR/nonces" | grep -c .)"
# The directory has none (Ruby's acme-client 2.0.9 fails on one there).
curl -sS -D "$T_DIR/dir.head" -o /dev/null --cacert "$CA_PEM" "$ACME_DIR"
check_eq "the directory answers without a Replay-Nonce" "200 0" \
    "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$T_DIR/dir.head" | tr -d '\r') $(grep -ci '^replay-nonce:' "$T_DIR/dir.head")"
expect unknown_kid 400 accountDoesNotExist
expect alg_none 400 badSignatureAlgorithm
expect hs256 400 badSignatureAlgorithm
expect algorithms ES256,ES384,ES512,RS256,EdDSA -
expect mismatched_jwk 400 malformed
expect other_key_kid 400 malformed
expect no_content_type 415 malformed
expect kid_on_new_account 400 malformed
expect only_return_existing 400 accountDoesNotExist
expect rejected_identifier 400 rejectedIdentifier
expect ip_pattern_dns_name 400 rejectedIdentifier
expect new_order 201 -
expect get_order 405 malformed
expect get_unknown 404 malformed
expect finalize_not_ready 403 orderNotReady
expect other_account_order 403 unauthorized
expect other_account_chall 403 unauthorized
expect chall 200 -
expect order_ready ready -
expect csr_extra_name 400 badCSR
expect csr_other_name 400 badCSR
expect csr_account_key 400 badCSR
expect csr_garbage 400 badCSR
expect csr_weak_rsa 400 badCSR
expect csr_subject_org 400 badCSR
expect csr_two_cns 400 badCSR
expect weak_jwk_rsa_e1 400 badPublicKey
expect weak_jwk_ed25519 400 badPublicKey
# A JWS that fails at finalize: refused, nothing recorded (the request
# count below), the order still ready for the good one.
expect finalize_other_key 400 malformed
expect finalize_wrong_url 401 unauthorized
expect finalize 200 -
expect finalize_sans bad.certmint.test -
expect finalize_cn CN=bad.certmint.test -
expect order_valid valid -
expect finalize_again 403 orderNotReady
expect download 200 -
expect revoke_other_account 403 unauthorized
expect revoke_bad_reason 400 badRevocationReason
expect revoke_wrong_key 403 unauthorized
expect revoke 200 -
expect revoke_again 400 alreadyRevoked
expect huge_content_length 413 -
expect crit_header 400 malformed
expect content_type_suffix 415 malformed
expect kid_leading_zero 400 malformed
expect not_after 400 malformed
expect replaces_garbage 400 malformed
expect key_change_inner_nonce 400 malformed
expect key_change 200 -
expect old_key_after_change 400 malformed
expect new_key_after_change 200 -
expect ari_valid 200 future
expect ari_revoked 200 past
expect ari_unknown 404 malformed
expect meta_profiles WebServer -
expect invalid_profile 400 invalidProfile
expect order_profile 201 WebServer
expect csr_key_type 400 badCSR
expect cn_only_download 200 -
expect cn_only_sans cnonly.certmint.test -
expect revoke_no_authz 403 unauthorized
expect authz_for_revoke valid -
expect revoke_by_authz 200 -
check_eq "the certificate is revoked" "21" "$(db_query "SELECT r.disposition
    FROM requests r JOIN request_attrs a ON a.request_id = r.id AND
    a.name = 'AcmeIdentifiers' WHERE a.value = 'dns:cnonly.certmint.test'")"
expect ip_download 200 -
expect ip_challenges http-01,tls-alpn-01 -
expect ip_v4_mapped 400 rejectedIdentifier
expect ip_unspecified4 400 rejectedIdentifier
expect ip_unspecified6 400 rejectedIdentifier
expect wildcard_challenges dns-01 w.certmint.test
check_match "the IP certificate names 127.0.0.1" "IP Address:127.0.0.1" \
    "$(openssl x509 -in "$OUT.ip.pem" -noout -ext subjectAltName)"
acme_verify "the IP certificate verifies" "$OUT.ip.pem"
for c in esc c1 bidi zwsp space crlf two_at; do
	expect "contact_$c" 400 invalidContact
done
expect contact_once 200 mailto:x@certmint.test,MAILTO:y@certmint.test
expect deactivate 200 -
expect deactivated_account 401 unauthorized
for i in 0 1 2; do
	expect race_key_change_$i 400 malformed
	expect race_key_change_new_$i 200 -
	expect race_deactivate_$i 401 unauthorized
done
check_eq "only the control orders made certmint requests" "4" \
    "$(db_query "SELECT count(*) FROM requests WHERE caller_name = 'acme'")"
check_eq "the DNS one was issued, then revoked by its account" "21" \
    "$(db_query "SELECT disposition FROM requests WHERE caller_name = 'acme'
	ORDER BY id LIMIT 1")"
acme_verify "its certificate verifies against the CA" "$OUT.pem"

# kill -9 right after finalize: nothing is lost.
check "an order finalized" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.1" prep
daemon_kill
daemon_start
check "after kill -9 and a restart" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.1" after
expect_in() {
	check_eq "$2: $3 $4" "$2|$3|$4|ok" "$(grep "^$2|" "$1")"
}
expect_in "$OUT.1" download_after_restart 200 -
acme_verify "the certificate downloaded after the crash verifies" "$OUT.1.pem"
expect_in "$OUT.1" old_nonce 400 badNonce

# A clean restart keeps the used nonces: an unused one stays good.
check "another order finalized" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.2" prep
daemon_stop
daemon_start
check "after a clean restart" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.2" after
expect_in "$OUT.2" old_nonce 200 -
expect_in "$OUT.2" download_after_restart 200 -
# A pending order and its authorization past their expiry (an order's
# authorizations expire with it): the challenge is refused and never
# fetched, and both show as invalid.
check "an order to expire" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.4" expiring
expect_in "$OUT.4" expiring pending -
db_query "UPDATE acme_authzs SET expires = strftime('%s', 'now') - 60
    WHERE value = 'expiring.certmint.test';
    UPDATE acme_orders SET expires = strftime('%s', 'now') - 60
    WHERE id = (SELECT order_id FROM acme_authzs
	WHERE value = 'expiring.certmint.test')"
check "its challenge after the expiry" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.4" expired
expect_in "$OUT.4" expired_chall 403 malformed
expect_in "$OUT.4" expired_fetched False -
expect_in "$OUT.4" expired_authz invalid -
expect_in "$OUT.4" expired_order invalid -
# What validation shows and where it connects.
check "the echo client ran" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.4" echo
expect_in "$OUT.4" echo_secret invalid incorrectResponse
expect_in "$OUT.4" echo_base64url invalid incorrectResponse
expect_in "$OUT.4" echo_keyauth_like invalid incorrectResponse
# A validation that hangs holds its thread until the timeout: long
# enough here that none ends while the client looks.
daemon_stop
conf_set acme validation_timeout_ms 60000
daemon_start
check "the fairness client ran" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.6" fair
expect_in "$OUT.6" fair_other_account valid -
# 16 threads, half of them for one account.
expect_in "$OUT.6" fair_asked 8 -
conf_set acme validation_timeout_ms 5000
daemon_stop
sed -i '/^validation_deny = /d' "$CONF"	# the default
daemon_start
check "the validation_deny client ran" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.5" deny
expect_in "$OUT.5" deny_name invalid connection
expect_in "$OUT.5" deny_ip invalid connection
conf_set acme validation_deny none
# [acme] base_url: by default the HTTPS listener; plain HTTP, where the
# plain port answers ACME 403, is refused at start.
daemon_stop
conf_del acme base_url
daemon_start
check_match "without base_url the directory names the HTTPS listener" \
    "\"newNonce\": *\"$SURL/acme/new-nonce\"" \
    "$(curl -sS -m 60 --cacert "$CA_PEM" "$SURL/acme/directory")"
daemon_stop
conf_set acme base_url "$URL"
check_refused "a plain http:// base_url is refused at start" 60 \
    "base_url $URL is plain HTTP" "$CERTMINTD" -c "$CONF"
conf_set acme base_url "$SURL"
# Rate limits: orders per account and per registered domain an hour.
daemon_stop
conf_set acme identifiers '*.certmint.test, 127.0.0.*, *.rl.test, *.co.uk'
conf_set acme orders_per_account_hour 3
conf_set acme orders_per_domain_hour 4
daemon_start
check "the rate-limit client ran" python3 "$(dirname "$LIB")/acme_bad.py" \
    "$ACME_DIR" "$CA_PEM" "$H01_PORT" "$OUT.3" ratelimit
expect_in "$OUT.3" rl_a1 201 -
expect_in "$OUT.3" rl_a3 201 -
expect_in "$OUT.3" rl_a4 429 rateLimited
expect_in "$OUT.3" rl_b1 201 -
expect_in "$OUT.3" rl_b2 429 rateLimited
expect_in "$OUT.3" rl_retry_after "under an hour" -
expect_in "$OUT.3" rl_psl5 201 -

acme_finish
