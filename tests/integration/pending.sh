#!/bin/sh
# The policy's dispositions: pending then resubmit or deny, automatic deny,
# the Disposition attribute, pending-first, and retrieval.
. "$LIB"

ca_init
conf_set policy request_disposition pending
daemon_start
curl -fsS -m 60 "$URL/ca.crt" | openssl x509 -inform DER -out "$T_DIR/ca.pem"

new_csr p1
out=$(submit_http "$T_DIR/p1.csr")
check_eq "pending request answers 202" 202 "$(echo "$out" | head -1)"
check_eq "disposition pending" pending "$(json "$T_DIR/resp.json" 'j["disposition"]')"
check_match "message says taken under submission" "Taken Under Submission" "$out"
id1=$(json "$T_DIR/resp.json" 'j["request_id"]')
code=$(curl -s -m 60 -o /dev/null -w '%{http_code}' "$URL/api/v1/requests/$id1/certificate")
check_eq "no certificate while pending (409)" 409 "$code"
check_match "view queue lists it" "$id1" "$("$CERTMINT" -c "$CONF" view queue)"

"$CERTMINT" -c "$CONF" retrieve "$id1" --out "$T_DIR/none.crt" >/dev/null 2>&1
check_eq "retrieve of a pending request exits 3 (pending), not 1" 3 "$?"
new_csr p0
"$CERTMINT" -c "$CONF" submit "$T_DIR/p0.csr" --out "$T_DIR/none.crt" \
    >"$T_DIR/p0.out" 2>&1
check_eq "certmint submit of a request that goes pending exits 3" 3 "$?"
check "and writes no certificate" test ! -e "$T_DIR/none.crt"
# A requester's text reaches the terminal escaped (ESC, BEL, C1 CSI).
"$CERTMINT" -c "$CONF" submit "$T_DIR/p0.csr" \
    --requester "$(printf 'mallory\033]0;pwned\007\302\233')" \
    >"$T_DIR/esc.out" 2>&1
check "no escape character is printed" sh -c \
    "! grep -q \"\$(printf '\033')\" '$T_DIR/esc.out'"
check_match "it is shown as \\x1b" 'mallory\\x1b]0;pwned\\x07\\u009b' \
    "$(cat "$T_DIR/esc.out")"
"$CERTMINT" -c "$CONF" submit "$T_DIR/p0.csr" \
    --requester "$(printf 'mallory\342\200\256txt.exe')" >"$T_DIR/bidi.out" 2>&1
check_match "a right-to-left override is shown as \\u202e" \
    'mallory\\u202etxt.exe' "$(cat "$T_DIR/bidi.out")"
check_refused "an --attrib value that is not UTF-8 is refused, not dropped" 30 \
    "not UTF-8" "$CERTMINT" -c "$CONF" submit "$T_DIR/p0.csr" \
    --attrib "$(printf 'Note:caf\351')"

check "certmint resubmit issues it" "$CERTMINT" -c "$CONF" resubmit "$id1"
curl -fsS -m 60 -o "$T_DIR/p1.crt" "$URL/api/v1/requests/$id1/certificate"
check "retrieved certificate verifies" \
    openssl verify -CAfile "$T_DIR/ca.pem" "$T_DIR/p1.crt"
check_eq "request now issued" issued \
    "$(curl -fsS -m 60 "$URL/api/v1/requests/$id1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["disposition"])')"
check_fails "resubmit of an issued request is refused" \
    "$CERTMINT" -c "$CONF" resubmit "$id1"

new_csr p2
submit_http "$T_DIR/p2.csr" >/dev/null
id2=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "certmint deny" "$CERTMINT" -c "$CONF" deny "$id2"
curl -fsS -m 60 -o "$T_DIR/get.json" "$URL/api/v1/requests/$id2"
check_eq "request now denied" denied "$(json "$T_DIR/get.json" 'j["disposition"]')"
code=$(curl -s -m 60 -o /dev/null -w '%{http_code}' "$URL/api/v1/requests/$id2/certificate")
check_eq "no certificate for a denied request (409)" 409 "$code"
check_fails "deny of a denied request is refused" "$CERTMINT" -c "$CONF" deny "$id2"
check_fails "deny of an unknown request is refused" "$CERTMINT" -c "$CONF" deny 999999
check_fails "resubmit of an unknown request is refused" "$CERTMINT" -c "$CONF" resubmit 999999
check "a denied request can be resubmitted (approval)" \
    "$CERTMINT" -c "$CONF" resubmit "$id2"

# Automatic deny.
conf_set policy request_disposition deny
check "certmint reload" "$CERTMINT" -c "$CONF" reload
out=$(submit_http "$T_DIR/p1.csr")
check_eq "denied request answers 403" 403 "$(echo "$out" | head -1)"
check_eq "disposition denied" denied "$(json "$T_DIR/resp.json" 'j["disposition"]')"
id3=$(json "$T_DIR/resp.json" 'j["request_id"]')
check_match "the denial is recorded" "$id3" "$("$CERTMINT" -c "$CONF" view logfail)"

# The Disposition attribute decides.
conf_set policy request_disposition attribute
"$CERTMINT" -c "$CONF" reload >/dev/null
out=$(submit_http "$T_DIR/p1.csr")
check_eq "no Disposition attribute: issued" 201 "$(echo "$out" | head -1)"
out=$(submit_http "$T_DIR/p1.csr" "Disposition:pending")
check_eq "Disposition:pending: 202" 202 "$(echo "$out" | head -1)"
out=$(submit_http "$T_DIR/p1.csr" "Disposition:deny")
check_eq "Disposition:deny: 403" 403 "$(echo "$out" | head -1)"

# Issue, but pending first.
conf_set policy request_disposition issue
conf_set policy pending_first true
"$CERTMINT" -c "$CONF" reload >/dev/null
out=$(submit_http "$T_DIR/p1.csr")
check_eq "pending_first: 202" 202 "$(echo "$out" | head -1)"

# Auto issue (the default) and the CLI's submit.
conf_set policy pending_first false
"$CERTMINT" -c "$CONF" reload >/dev/null
check "certmint submit issues and writes the certificate" \
    "$CERTMINT" -c "$CONF" submit "$T_DIR/p1.csr" --out "$T_DIR/cli.crt"
check "the CLI's certificate verifies" \
    openssl verify -CAfile "$T_DIR/ca.pem" "$T_DIR/cli.crt"
# --out replaces a file, writes through a link or to a device or a pipe,
# and turns neither a link nor a device into a file.
cid=$("$CERTMINT" -c "$CONF" --json submit "$T_DIR/p1.csr" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["request_id"])')
: >"$T_DIR/target.crt"
ln -s "$T_DIR/target.crt" "$T_DIR/link.crt"
check "--out through a symbolic link" \
    "$CERTMINT" -c "$CONF" retrieve "$cid" --out "$T_DIR/link.crt"
check "the link is still one" test -L "$T_DIR/link.crt"
check "and its target holds the certificate" \
    openssl x509 -in "$T_DIR/target.crt" -noout
check_refused "--out to a directory is refused" 30 "a directory" \
    "$CERTMINT" -c "$CONF" retrieve "$cid" --out "$T_DIR"
check_match "--out /dev/stdout writes to stdout" "BEGIN CERTIFICATE" \
    "$("$CERTMINT" -c "$CONF" retrieve "$cid" --out /dev/stdout 2>&1)"
check_refused "--out /dev/full says the device is full" 30 \
    "/dev/full: No space left on device" \
    "$CERTMINT" -c "$CONF" retrieve "$cid" --out /dev/full
check "and /dev/full is still a device" test -c /dev/full
openssl req -in "$T_DIR/p1.csr" -outform DER -out "$T_DIR/p1.der"
check "certmint submit takes a DER request" \
    "$CERTMINT" -c "$CONF" submit "$T_DIR/p1.der"
out=$(curl -sS -m 60 -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data "$(python3 -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read(), "attributes": {"CertificateTemplate": "tls-client"}}))' "$T_DIR/p1.csr")" \
    "$URL/api/v1/requests")
check_eq "JSON submission answers 201" 201 "$(echo "$out" | tail -1)"

# [ca] serials = random, picked up on reload: 20 octets, not ordered.
conf_set ca serials random
check "reload with serials = random" "$CERTMINT" -c "$CONF" reload
: >"$T_DIR/rserials"
for i in 1 2 3 4 5 6; do
	submit_http "$T_DIR/p1.csr" >/dev/null
	json "$T_DIR/resp.json" 'j["serial"]' >>"$T_DIR/rserials"
done
check_eq "random serials are 20 octets" "40 40 40 40 40 40" \
    "$(awk '{ print length($0) }' "$T_DIR/rserials" | paste -sd ' ')"
check "and do not all start with the ordered prefix 01" \
    test "$(grep -c '^01' "$T_DIR/rserials")" -lt 6

finish
