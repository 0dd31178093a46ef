#!/bin/sh
# Leaf renewal (issue 11 §3): certmint renew SERIAL issues a new
# certificate for the same key, through the policy and the profile, with
# the old certificate linked (RenewalOf; exit modules read it as
# RawOldCertificate, AD CS's property); with --csr, the request must be
# for the old certificate's key. A revoked certificate or an unknown
# serial is refused.
. "$LIB"

ca_init
SNAP=$T_DIR/snap.log
register_modules snapshot
conf_set Snapshot.Exit output "$SNAP"
daemon_start

new_csr alice
check_eq "issue" 201 "$(submit_http "$T_DIR/alice.csr" \
    CertificateTemplate:ClientAuth CertFile:yes | head -1)"
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/old.crt"
old=$(openssl x509 -in "$T_DIR/old.crt" -noout -serial | cut -d= -f2)
check "certmint renew SERIAL (as OpenSSL prints it)" \
    "$CERTMINT" -c "$CONF" renew "$old" --out "$T_DIR/new.crt"
new=$(openssl x509 -in "$T_DIR/new.crt" -noout -serial | cut -d= -f2)
check "a new serial" test "$new" != "$old"
check_eq "for the same key" \
    "$(openssl x509 -in "$T_DIR/old.crt" -noout -pubkey)" \
    "$(openssl x509 -in "$T_DIR/new.crt" -noout -pubkey)"
check_eq "and the same subject" \
    "$(openssl x509 -in "$T_DIR/old.crt" -noout -subject)" \
    "$(openssl x509 -in "$T_DIR/new.crt" -noout -subject)"
check_match "under the same profile" "TLS Web Client Authentication" \
    "$(openssl x509 -in "$T_DIR/new.crt" -noout -ext extendedKeyUsage)"
nid=$(db_query "SELECT request_id FROM certs WHERE serial = '$(echo "$new" |
    tr A-F a-f)'")
check_eq "the new request names the old certificate" \
    "$(echo "$old" | tr A-F a-f)" \
    "$(db_query "SELECT value FROM request_attrs WHERE request_id = $nid
    AND name = 'RenewalOf'")"
check_eq "and keeps its attributes" yes \
    "$(db_query "SELECT value FROM request_attrs WHERE request_id = $nid
    AND name = 'CertFile'")"
seen() { grep -q "ctx=$nid .*oldcert=[0-9]" "$SNAP"; }
check "the exit module's CERTISSUED reads RawOldCertificate" \
    wait_until 60 seen
len=$(openssl x509 -in "$T_DIR/old.crt" -outform DER | wc -c)
check_match "which is the old certificate ($len octets)" \
    "ctx=$nid .*oldcert=$len:" "$(cat "$SNAP")"
check_match "and is empty for a request that renews nothing" \
    "ctx=1 .*oldcert=- " "$(cat "$SNAP")"

# With a request: it must prove the old key.
openssl req -new -key "$T_DIR/alice.key" -subj "/CN=alice2" \
    -out "$T_DIR/same.csr" 2>/dev/null
check "renew --csr with a request for the same key" \
    "$CERTMINT" -c "$CONF" renew "$old" --csr "$T_DIR/same.csr" \
    --out "$T_DIR/new2.crt"
check_match "which gives its subject" "CN *= *alice2" \
    "$(openssl x509 -in "$T_DIR/new2.crt" -noout -subject)"
new_csr mallory
check_refused "a request for another key is refused" 30 \
    "not for the key of certificate" \
    "$CERTMINT" -c "$CONF" renew "$old" --csr "$T_DIR/mallory.csr"
check "revoke the old certificate" "$CERTMINT" -c "$CONF" revoke "$old" superseded
check_refused "a revoked certificate is not renewed" 30 \
    "only an issued certificate is renewed" \
    "$CERTMINT" -c "$CONF" renew "$old"
check_refused "an unknown serial" 30 "no certificate with serial" \
    "$CERTMINT" -c "$CONF" renew 0123abcd
daemon_stop
finish
