#!/bin/sh
# ACME with lego (Debian's 4.9.1, unmodified) on loopback, over HTTPS:
# http-01 and tls-alpn-01 with lego's own responders, dns-01 (a wildcard
# and its base name) through its exec provider against
# pebble-challtestsrv, a name in capitals, renew and revoke. Every certificate verifies
# against the CA and carries the profile's extensions; lego takes the chain from the download (and would fail
# on any rel="alternate" link that does not work). An exit module gets
# the CERTISSUED event of an ACME certificate.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

acme_need lego
acme_setup
REC=$T_DIR/rec.log
register_modules recording
conf_set Recording.Exit output "$REC"
daemon_start

LG=$T_DIR/lego
lg() {
	LEGO_CA_CERTIFICATES=$CA_PEM lego --server "$ACME_DIR" --accept-tos \
	    --email admin@certmint.test --path "$LG" "$@"
}
CERTS=$LG/certificates

check "lego http-01 gets a certificate" lg --domains lego.certmint.test \
    --http --http.port "127.0.0.1:$H01_PORT" run
acme_verify "it verifies against the CA" "$CERTS/lego.certmint.test.crt"
check_eq "the download is the leaf then the issuing CA" "2" \
    "$(grep -c 'BEGIN CERTIFICATE' "$CERTS/lego.certmint.test.crt")"
check "the issuer lego saved is the CA" \
    cmp "$CERTS/lego.certmint.test.issuer.crt" "$CA_PEM"
S1=$(acme_serial "$CERTS/lego.certmint.test.crt")
# An ACME certificate is a request like any other: exit modules get it.
check "an exit module gets CERTISSUED for it" \
    wait_lines "$REC" "^event=0x1 .* serial=$S1 " 1

# A name typed in capitals: lego puts it in the CSR as typed and as the
# order gives it back (lower case); the certificate names it once.
check "lego http-01 with a name in capitals" lg --domains \
    LegoUpper.Certmint.test --http --http.port "127.0.0.1:$H01_PORT" run
UP=$(ls "$CERTS"/*.crt | grep -i '/legoupper\.certmint\.test\.crt$')
acme_verify "it verifies against the CA" "$UP"
check_eq "its CN is that name as the SAN has it" \
    "subject=CN = legoupper.certmint.test" \
    "$(openssl x509 -in "$UP" -noout -subject)"
check_eq "it names the name once, in lower case" \
    "X509v3 Subject Alternative Name: DNS:legoupper.certmint.test" \
    "$(openssl x509 -in "$UP" -noout -ext subjectAltName | tr -d '\n' |
    sed 's/  */ /g')"

check "lego tls-alpn-01 gets a certificate" lg --domains alpn.certmint.test \
    --tls --tls.port "127.0.0.1:$ALPN_PORT" run
acme_verify "it verifies against the CA" "$CERTS/alpn.certmint.test.crt"

# lego waits a minute between two TXT values of one name: not here.
check "lego dns-01 (exec) gets a wildcard and its base name" \
    env EXEC_PATH="$T_DIR/dns-hook" EXEC_SEQUENCE_INTERVAL=1 \
    EXEC_POLLING_INTERVAL=1 EXEC_PROPAGATION_TIMEOUT=30 \
    LEGO_CA_CERTIFICATES="$CA_PEM" lego --server "$ACME_DIR" --accept-tos \
    --email admin@certmint.test --path "$LG" --domains '*.wild.certmint.test' \
    --domains wild.certmint.test --dns exec \
    --dns.resolvers "127.0.0.1:$DNS_PORT" --dns.disable-cp run
acme_verify "the wildcard certificate verifies" \
    "$CERTS/_.wild.certmint.test.crt"
check_match "it names both" "DNS:\*\.wild\.certmint\.test" \
    "$(openssl x509 -in "$CERTS/_.wild.certmint.test.crt" -noout \
    -ext subjectAltName)"

check "lego renews" lg --domains lego.certmint.test --http \
    --http.port "127.0.0.1:$H01_PORT" renew --days 1000 --no-random-sleep
S2=$(acme_serial "$CERTS/lego.certmint.test.crt")
check "the renewed certificate is another one" test "$S1" != "$S2"
acme_verify "the renewed certificate verifies" \
    "$CERTS/lego.certmint.test.crt"

check "lego revokes" lg --domains lego.certmint.test revoke --keep
check_eq "the certificate is revoked" "21" "$(acme_disposition "$S2")"
check_eq "the first one is not" "20" "$(acme_disposition "$S1")"
acme_finish
