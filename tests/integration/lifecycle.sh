#!/bin/sh
# Issue, verify, publish, revoke, hold and release: a certificate's life as
# openssl sees it.
. "$LIB"

ca_init
daemon_start

curl -fsS -m 60 -o "$T_DIR/ca.der" "$URL/ca.crt"
check "GET /ca.crt is a DER certificate" \
    openssl x509 -inform DER -in "$T_DIR/ca.der" -out "$T_DIR/ca.pem"

new_csr www -addext "subjectAltName=DNS:www.test,IP:127.0.0.1"
out=$(submit_http "$T_DIR/www.csr")
check_eq "submission answers 201" 201 "$(echo "$out" | head -1)"
check_eq "disposition issued" issued "$(json "$T_DIR/resp.json" 'j["disposition"]')"
id=$(json "$T_DIR/resp.json" 'j["request_id"]')
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/www.crt"
check "issued certificate verifies against the CA" \
    openssl verify -CAfile "$T_DIR/ca.pem" "$T_DIR/www.crt"
text=$(openssl x509 -in "$T_DIR/www.crt" -noout -text)
check_match "subject from the request" "Subject: CN ?= ?www" "$text"
check_match "SANs from the request" "DNS:www.test, IP Address:127.0.0.1" "$text"
check_match "tls-server profile: serverAuth" "TLS Web Server Authentication" "$text"
check_match "CRL distribution point" "URI:$URL/ca.crl" "$text"
check_match "AIA caIssuers" "CA Issuers - URI:$URL/ca.crt" "$text"
check_match "version 3" "Version: 3" "$text"
check_match "subject key identifier" "X509v3 Subject Key Identifier" "$text"
check_match "authority key identifier" "X509v3 Authority Key Identifier" "$text"
serial=$(openssl x509 -in "$T_DIR/www.crt" -noout -serial | cut -d= -f2 |
    tr 'A-F' 'a-f')
check_eq "20-byte serial" 40 "${#serial}"
check_eq "ordered serial: 0x01 and the time of issue in ms (within a minute)" ok \
    "$(python3 -c 'import sys, time
s = sys.argv[1]
print("ok" if s[:2] == "01" and abs(int(s[2:14], 16) / 1000 - time.time()) < 60 else s)' "$serial")"

curl -fsS -m 60 -o "$T_DIR/get.json" "$URL/api/v1/requests/$id"
check_eq "GET request by id" issued "$(json "$T_DIR/get.json" 'j["disposition"]')"
check_eq "GET request shows the serial" "$serial" \
    "$(json "$T_DIR/get.json" 'j["serial"]')"
check "GET certificate by id" \
    sh -c "curl -fsS -m 60 '$URL/api/v1/requests/$id/certificate' | openssl x509 -noout"

new_csr client
out=$(submit_http "$T_DIR/client.csr" "CertificateTemplate:tls-client")
check_eq "tls-client request answers 201" 201 "$(echo "$out" | head -1)"
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/client.crt"
check_match "tls-client profile: clientAuth" "TLS Web Client Authentication" \
    "$(openssl x509 -in "$T_DIR/client.crt" -noout -text)"
cserial=$(openssl x509 -in "$T_DIR/client.crt" -noout -serial | cut -d= -f2 |
    tr 'A-F' 'a-f')

# Revoke, publish, check with openssl.
check_refused "an invalidity date before the certificate existed is refused" \
    30 "before the certificate's notBefore" \
    "$CERTMINT" -c "$CONF" revoke "$serial" keyCompromise --date 1969-12-31T00:00:00Z
check_refused "an invalidity date in the future is refused" 30 "future" \
    "$CERTMINT" -c "$CONF" revoke "$serial" keyCompromise --date 2099-01-01T00:00:00Z
check "certmint revoke keyCompromise" "$CERTMINT" -c "$CONF" revoke "$serial" keyCompromise
check "certmint crl" "$CERTMINT" -c "$CONF" crl
curl -fsS -m 60 -o "$T_DIR/crl.der" "$URL/ca.crl"
check "CRL signature verifies" \
    openssl crl -inform DER -in "$T_DIR/crl.der" -CAfile "$T_DIR/ca.pem" -noout
openssl crl -inform DER -in "$T_DIR/crl.der" -out "$T_DIR/crl.pem"
crltext=$(openssl crl -in "$T_DIR/crl.pem" -noout -text)
check_match "CRL lists the serial" "$(echo "$serial" | tr 'a-f' 'A-F')" "$crltext"
check_match "CRL reason keyCompromise" "Key Compromise" "$crltext"
check_match "CRL number" "X509v3 CRL Number" "$crltext"
check_match "CRL next update" "Next Update" "$crltext"
check_fails "revoked certificate fails verify -crl_check" \
    openssl verify -crl_check -CAfile "$T_DIR/ca.pem" -CRLfile "$T_DIR/crl.pem" "$T_DIR/www.crt"
check "other certificate passes verify -crl_check" \
    openssl verify -crl_check -CAfile "$T_DIR/ca.pem" -CRLfile "$T_DIR/crl.pem" "$T_DIR/client.crt"
check_fails "revoking a revoked certificate is refused" \
    "$CERTMINT" -c "$CONF" revoke "$serial"
check_fails "revoking an unknown serial is refused" \
    "$CERTMINT" -c "$CONF" revoke 0123456789abcdef
check_fails "unrevoking a keyCompromise revocation is refused" \
    "$CERTMINT" -c "$CONF" unrevoke "$serial"

# Hold, then release.
check "certmint revoke certificateHold" \
    "$CERTMINT" -c "$CONF" revoke "$cserial" certificateHold
"$CERTMINT" -c "$CONF" crl >/dev/null
curl -fsS -m 60 "$URL/ca.crl" | openssl crl -inform DER -out "$T_DIR/crl2.pem"
check_match "CRL reason certificateHold" "Certificate Hold" \
    "$(openssl crl -in "$T_DIR/crl2.pem" -noout -text)"
check_fails "held certificate fails verify -crl_check" \
    openssl verify -crl_check -CAfile "$T_DIR/ca.pem" -CRLfile "$T_DIR/crl2.pem" "$T_DIR/client.crt"
check "certmint unrevoke" "$CERTMINT" -c "$CONF" unrevoke "$cserial"
"$CERTMINT" -c "$CONF" crl >/dev/null
curl -fsS -m 60 "$URL/ca.crl" | openssl crl -inform DER -out "$T_DIR/crl3.pem"
check "released certificate passes verify -crl_check again" \
    openssl verify -crl_check -CAfile "$T_DIR/ca.pem" -CRLfile "$T_DIR/crl3.pem" "$T_DIR/client.crt"
check_fails "the keyCompromise one is still revoked" \
    openssl verify -crl_check -CAfile "$T_DIR/ca.pem" -CRLfile "$T_DIR/crl3.pem" "$T_DIR/www.crt"
n1=$(openssl crl -in "$T_DIR/crl.pem" -noout -crlnumber | cut -d= -f2)
n3=$(openssl crl -in "$T_DIR/crl3.pem" -noout -crlnumber | cut -d= -f2)
check "CRL numbers increase" test "$(($n3))" -gt "$(($n1))"

# Import a certificate this CA issued (it is in the database already: refused),
# and one from another CA (refused).
out=$("$CERTMINT" -c "$CONF" import "$T_DIR/www.crt" 2>&1)
check_eq "import of a known certificate is refused (exit 1)" 1 "$?"
check_match "and says it is already there" "already in the database" "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T_DIR/other.key" -out "$T_DIR/other.crt" -subj /CN=other -days 1 2>/dev/null
check_fails "import of another CA's certificate is refused" \
    "$CERTMINT" -c "$CONF" import "$T_DIR/other.crt"
# A serial no CRL can list (zero, or longer than 20 octets: RFC 5280
# 4.1.2.2) is refused, though this CA's key signed it: a revocation of it
# would be confirmed and never published.
new_csr longserial
for sn in 0x00 0x7fffffffffffffffffffffffffffffffffffffffffffffff; do
	openssl x509 -req -in "$T_DIR/longserial.csr" -CA "$T_DIR/ca/ca.crt" \
	    -CAkey "$T_DIR/ca/ca.key" -set_serial "$sn" -days 30 \
	    -out "$T_DIR/sn.crt" 2>/dev/null
	check_refused "import of a certificate with serial $sn is refused" 30 \
	    "its serial number is (zero|longer than 20 octets).*no CRL could list it" \
	    "$CERTMINT" -c "$CONF" import "$T_DIR/sn.crt"
done
# The CA's own certificate is signed by the CA's key too; imported, it
# could be revoked onto the CA's own CRL.
out=$("$CERTMINT" -c "$CONF" import "$T_DIR/ca.pem" 2>&1)
check_eq "import of the CA's own certificate is refused (exit 1)" 1 "$?"
check_match "and says why" "this CA's own key" "$out"
check_eq "nothing recorded for it" 0 "$("$CERTMINT" -c "$CONF" --json view \
    log | python3 -c 'import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["message"] == "Imported"))')"
# A database from before that refusal may hold one: it is not revoked.
ca_serial=$(openssl x509 -in "$T_DIR/ca.pem" -noout -serial | cut -d= -f2)
db_query "INSERT INTO requests (id, request_type, disposition,
    disposition_message, submitted_when) VALUES (100000, 0, 20, 'Imported', 0);
    INSERT INTO certs (request_id, serial, raw, not_before, not_after)
    VALUES (100000, lower('$ca_serial'), X'$(openssl x509 -in "$T_DIR/ca.pem" \
    -outform DER | od -An -v -tx1 | tr -d ' \n')', 0, 4102444800)"
out=$("$CERTMINT" -c "$CONF" revoke "$ca_serial" keyCompromise 2>&1)
check_eq "revoking the CA's own certificate is refused (exit 1)" 1 "$?"
check_match "and says why" "this CA's own" "$out"

check "certmint status" "$CERTMINT" -c "$CONF" status
"$CERTMINT" -c "$CONF" --json status >"$T_DIR/status.json"
check_eq "status times every submission and its stages" "ok" \
    "$(json "$T_DIR/status.json" '"ok" if j["timing"]["submissions"] >= 2 and all(j["timing"]["ns"][k] > 0 for k in ("parse_verify", "build_sign", "commit_wait", "http_total", "writer_cpu")) else j["timing"]')"
check "certmint view log" "$CERTMINT" -c "$CONF" view log
check_match "view revoked lists the serial" "$serial" \
    "$("$CERTMINT" -c "$CONF" view revoked --json)"

daemon_stop
check_eq "daemon stops cleanly" 0 $?
finish
