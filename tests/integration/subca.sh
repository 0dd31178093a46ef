#!/bin/sh
# Every CA key type; a subordinate CA signed by a root run by certmint,
# whose certificates verify through the chain; delta CRLs.
. "$LIB"

# Each key type makes a root that signs what openssl then verifies.
for kt in ec-p256 ec-p384 rsa-2048 ed25519; do
	C=$T_DIR/$kt/certmint.conf
	check "init --key-type $kt" "$CERTMINT" -c "$C" init --key-type "$kt" \
	    --name "Root $kt" --tls-port 0
	check "$kt: key file is mode 600" test "$(stat -c %a "$T_DIR/$kt/ca.key")" = 600
	check "$kt: self-signed certificate verifies" \
	    openssl verify -CAfile "$T_DIR/$kt/ca.crt" "$T_DIR/$kt/ca.crt"
done
# --subject in RFC 4514's order, as certmint prints a name: C= first in DER.
check "init --subject" "$CERTMINT" -c "$T_DIR/subj/certmint.conf" init \
    --subject "CN=Subj Root,O=Ex Org,C=DE" --tls-port 0
check_eq "the name starts with C=, as RFC 4514's text ends with it" \
    "subject=C = DE, O = Ex Org, CN = Subj Root" \
    "$(openssl x509 -in "$T_DIR/subj/ca.crt" -noout -subject)"
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
"$CERTMINT" -c "$SUB" init --subordinate --name "Test Sub CA" \
    --port "$SPORT" --key-type ec-p384 --tls-port 0 --anonymous issue \
    >"$T_DIR/subinit.out" 2>&1
check "init --subordinate writes a request" test -s "$T_DIR/sub/ca.csr"
check_match "and says to start it once its certificate is installed" \
    "^Once the CA certificate is installed, start it with: certmintd -c" \
    "$(cat "$T_DIR/subinit.out")"
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
conf_set server plain_api yes	# plain HTTP, as ca_init's
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

# The sub CA's certificate (SubCA: pathLenConstraint 0) allows no CA below
# it: asked for one, it refuses instead of issuing what no verifier takes.
conf_set policy profiles all
"$CERTMINT" -c "$SUB" reload >/dev/null
"$CERTMINT" -c "$T_DIR/sub2/certmint.conf" init --subordinate --name "Sub Sub" \
    --port "$(free_port)" --tls-port 0 >/dev/null 2>&1
out=$(submit_http "$T_DIR/sub2/ca.csr" "CertificateTemplate:sub-ca")
check_eq "a CA below a pathLenConstraint of 0: 403" 403 "$(echo "$out" | head -1)"
check_match "saying why" "allows no CA below it \(pathLenConstraint 0\)" \
    "$(json "$T_DIR/resp.json" 'j["error"]')"
# A CA certificate whose requested keyUsage leaves out keyCertSign would
# carry a pathLenConstraint RFC 5280 forbids without it.
printf '\n[profile.SubKU]\nbase = SubCA\nrequest_extensions = keyUsage\n' >>"$SUB"
"$CERTMINT" -c "$SUB" reload >/dev/null
openssl req -new -key "$T_DIR/sub2/ca.key" -subj /CN=ku -out "$T_DIR/ku.csr" \
    -addext keyUsage=critical,cRLSign 2>/dev/null
out=$(submit_http "$T_DIR/ku.csr" "CertificateTemplate:SubKU")
check_eq "a CA certificate without keyCertSign: 403" 403 "$(echo "$out" | head -1)"
check_match "saying why" "needs the keyUsage keyCertSign" \
    "$(json "$T_DIR/resp.json" 'j["error"]')"

# Renewal of the running sub CA with a new key: a request for the parent,
# installed with install-ca-cert (docs/ca-renewal.md).
check "ca renew --new-key on a sub CA writes a request" \
    "$CERTMINT" -c "$SUB" ca renew --new-key
SDIR=$(dirname "$SUB")
check "ca(1).csr and ca(1).key, no certificate yet" test -s "$SDIR/ca(1).csr" \
    -a -s "$SDIR/ca(1).key" -a ! -e "$SDIR/ca(1).crt"
check_refused "a second renewal waits for the first" 30 \
    "a renewal is waiting for the parent" "$CERTMINT" -c "$SUB" ca renew
check_refused "the old certificate is no answer to it" 30 \
    "not for|another key|does not match" \
    "$CERTMINT" -c "$SUB" install-ca-cert "$T_DIR/subca.pem" \
    --chain "$T_DIR/ca/ca.crt"
out=$(URL=$ROOT_URL submit_http "$SDIR/ca(1).csr" "CertificateTemplate:sub-ca")
check_eq "the root issues the renewed sub CA certificate" 201 \
    "$(echo "$out" | head -1)"
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/subca1.pem"
check "install-ca-cert completes the renewal (certmintd reloads), without --chain: the chain.pem installed before" \
    "$CERTMINT" -c "$SUB" install-ca-cert "$T_DIR/subca1.pem"
check "ca(1).crt is installed" test -s "$SDIR/ca(1).crt"
new_csr leaf2
submit_http "$T_DIR/leaf2.csr" >/dev/null
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/leaf2.pem"
check "a new leaf verifies through the renewed sub CA" \
    openssl verify -CAfile "$T_DIR/ca/ca.crt" -untrusted "$T_DIR/subca1.pem" \
    "$T_DIR/leaf2.pem"
check_fails "and not through the old sub CA certificate (another key)" \
    openssl verify -CAfile "$T_DIR/ca/ca.crt" -untrusted "$T_DIR/subca.pem" \
    "$T_DIR/leaf2.pem"
check "the old leaf still verifies through the old one" \
    openssl verify -CAfile "$T_DIR/ca/ca.crt" -untrusted "$T_DIR/subca.pem" \
    "$T_DIR/leaf.pem"
check "the renewed key's CRL is served at /ca(1).crl" \
    curl -fsS -m 10 -o "$T_DIR/sub1.crl" "$URL/ca(1).crl"
check_match "signed by the renewed sub CA" "verify OK" \
    "$(openssl crl -inform DER -in "$T_DIR/sub1.crl" -CAfile "$T_DIR/subca1.pem" \
    -noout 2>&1)"
daemon_stop
check_eq "the sub CA stops cleanly" 0 $?
# Its chain file gone: it starts, and says the chain is not served.
mv "$SDIR/chain.pem" "$T_DIR/sub-chain.saved"
daemon_start
check "a sub CA without its chain file says so" wait_lines "$T_LOG" \
    "chain.pem: No such file or directory: the CA's chain to its root is not served" 1
daemon_stop
mv "$T_DIR/sub-chain.saved" "$SDIR/chain.pem"

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
