#!/bin/sh
# Every CA key type; a subordinate CA signed by a root run by certmint,
# whose certificates verify through the chain; delta CRLs.
. "$LIB"

# Each key type makes a root that signs what openssl then verifies.
for kt in ec-p256 ec-p384 rsa-2048 ed25519; do
	C=$T_DIR/$kt/certmint.conf
	check "init --key-type $kt" "$CERTMINT" -c "$C" init --key-type "$kt" \
	    --name "Root $kt"
	check "$kt: key file is mode 600" test "$(stat -c %a "$T_DIR/$kt/ca.key")" = 600
	check "$kt: self-signed certificate verifies" \
	    openssl verify -CAfile "$T_DIR/$kt/ca.crt" "$T_DIR/$kt/ca.crt"
done
check_fails "init refuses to overwrite a CA" \
    "$CERTMINT" -c "$T_DIR/ec-p256/certmint.conf" init
check_fails "init refuses an unknown key type" \
    "$CERTMINT" -c "$T_DIR/x/certmint.conf" init --key-type dsa-1024

# The root, allowed to issue sub-ca certificates, with delta CRLs.
ca_init
conf_set policy profiles all
conf_set crl delta yes
daemon_start
ROOT_CONF=$CONF ROOT_URL=$URL ROOT_PID=$T_PID

SUB=$T_DIR/sub/certmint.conf
SPORT=$(free_port)
check "init --subordinate writes a request" \
    "$CERTMINT" -c "$SUB" init --subordinate --name "Test Sub CA" \
    --port "$SPORT" --key-type ec-p384
check "the sub CA request verifies" \
    openssl req -in "$T_DIR/sub/ca.csr" -noout -verify
check_refused "the sub CA refuses to start without its certificate" 30 \
    "no CA certificate.*install-ca-cert" "$CERTMINTD" -c "$SUB"

out=$(submit_http "$T_DIR/sub/ca.csr" "CertificateTemplate:sub-ca")
check_eq "the root issues the sub CA certificate" 201 "$(echo "$out" | head -1)"
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/subca.pem"
check_match "it is a CA certificate" "CA:TRUE" \
    "$(openssl x509 -in "$T_DIR/subca.pem" -noout -text)"
check_fails "install without the parent's chain is refused" \
    "$CERTMINT" -c "$SUB" install-ca-cert "$T_DIR/subca.pem"
check_fails "install of a certificate for another key is refused" \
    "$CERTMINT" -c "$SUB" install-ca-cert "$T_DIR/ca/ca.crt" \
    --chain "$T_DIR/ca/ca.crt"
check "install with the parent's chain" \
    "$CERTMINT" -c "$SUB" install-ca-cert "$T_DIR/subca.pem" \
    --chain "$T_DIR/ca/ca.crt"

# Run the sub CA too and have it issue.
CONF=$SUB PORT=$SPORT URL=http://127.0.0.1:$SPORT
daemon_start
SUB_PID=$T_PID
new_csr leaf
out=$(submit_http "$T_DIR/leaf.csr")
check_eq "the sub CA issues" 201 "$(echo "$out" | head -1)"
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/leaf.pem"
json "$T_DIR/resp.json" 'j["chain"]' >"$T_DIR/chain.pem"
check "the leaf verifies through the sub CA to the root" \
    openssl verify -CAfile "$T_DIR/ca/ca.crt" -untrusted "$T_DIR/subca.pem" \
    "$T_DIR/leaf.pem"
# As the user guide says: the sub CA's own files, or the answer's chain.
check "the leaf verifies with the sub CA's ca.crt and chain.pem" \
    openssl verify -CAfile "$T_DIR/ca/ca.crt" \
    -untrusted "$(dirname "$SUB")/ca.crt" \
    -untrusted "$(dirname "$SUB")/chain.pem" "$T_DIR/leaf.pem"
check "and with the answer's chain" openssl verify \
    -CAfile "$T_DIR/ca/ca.crt" -untrusted "$T_DIR/chain.pem" "$T_DIR/leaf.pem"
csplit -s -z -f "$T_DIR/ch." "$T_DIR/chain.pem" '/-----BEGIN/' '{*}'
fps=$(for f in "$T_DIR"/ch.*; do openssl x509 -in "$f" -noout -fingerprint -sha256; done)
check_eq "the answer's chain holds the sub CA and the root" 2 \
    "$(echo "$fps" | wc -l)"
check_match "the chain's last certificate is the root" \
    "$(openssl x509 -in "$T_DIR/ca/ca.crt" -noout -fingerprint -sha256)" "$fps"
daemon_stop
check_eq "the sub CA stops cleanly" 0 $?

# Delta CRLs on the root: a revocation after the base shows in the delta.
CONF=$ROOT_CONF URL=$ROOT_URL T_PID=$ROOT_PID
new_csr d1
submit_http "$T_DIR/d1.csr" >/dev/null
json "$T_DIR/resp.json" 'j["serial"]' >"$T_DIR/d1.serial"
check "base CRL (with delta CRLs on)" "$CERTMINT" -c "$CONF" crl
check "revoke after the base CRL" \
    "$CERTMINT" -c "$CONF" revoke "$(cat "$T_DIR/d1.serial")" superseded
check "certmint crl --delta" "$CERTMINT" -c "$CONF" crl --delta
curl -fsS -m 60 "$URL/delta.crl" | openssl crl -inform DER -out "$T_DIR/delta.pem"
dtext=$(openssl crl -in "$T_DIR/delta.pem" -noout -text)
check_match "delta CRL indicator" "Delta CRL Indicator" "$dtext"
check_match "the delta lists the new revocation" \
    "$(tr a-f A-F <"$T_DIR/d1.serial")" "$dtext"
curl -fsS -m 60 "$URL/ca.crl" | openssl crl -inform DER -noout -text >"$T_DIR/base.txt"
check_match "the base CRL points to the delta (freshest CRL)" \
    "Freshest CRL" "$(cat "$T_DIR/base.txt")"
check_match "view crl lists base and delta" "delta" \
    "$("$CERTMINT" -c "$CONF" view crl)"

finish
