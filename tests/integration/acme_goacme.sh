#!/bin/sh
# ACME with Go's golang.org/x/crypto/acme (Debian's 0.4.0, unmodified;
# cert-manager's ACME client is a fork of it, and cert-manager itself needs
# Kubernetes): acme_goacme.go, built here in GOPATH mode from Debian's
# sources, does what cert-manager's ACME issuer does: an ECDSA account
# registered with the terms agreed, an order of two names by http-01
# served from a webroot, finalize with a CSR of another key, the chain
# downloaded (and again by its URL), revoked by the account, the account
# read, updated and deactivated.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

acme_need go pebble-challtestsrv
GOACME_PATH=/usr/share/gocode
[ -f "$GOACME_PATH/src/golang.org/x/crypto/acme/acme.go" ] ||
    { echo "1..0 # SKIP golang-golang-x-crypto-dev is not installed" \
          "(scripts/deps.sh --tests)"
      rm -rf "$T_DIR"; exit 0; }

# Offline, from Debian's sources only; the build cache and whatever the go
# command might write under HOME stay in T_DIR.
mkdir -p "$T_DIR/home"
check "the Go program builds" env GO111MODULE=off GOPATH="$GOACME_PATH" \
    GOPROXY=off GOFLAGS= GOENV=off GOCACHE="$T_DIR/gocache" \
    HOME="$T_DIR/home" XDG_CACHE_HOME="$T_DIR/home" \
    XDG_CONFIG_HOME="$T_DIR/home" \
    go build -o "$T_DIR/acme_goacme" "$(dirname "$LIB")/acme_goacme.go"
acme_setup
daemon_start

acme_webroot

OUT=$T_DIR/go.out
GO_PEM=$T_DIR/go.pem
timeout 120 "$T_DIR/acme_goacme" "$ACME_DIR" "$CA_PEM" "$WEB" "$GO_PEM" \
    >"$OUT" 2>&1
rc=$?
check_eq "x/crypto/acme runs the whole order" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$OUT"
line() { grep "^$1|" "$OUT" | cut -d'|' -f2-; }
check_eq "its account is valid" valid "$(line account)"
check_eq "go.certmint.test validated" valid "$(line 'authz go.certmint.test')"
check_eq "go2.certmint.test validated" valid \
    "$(line 'authz go2.certmint.test')"
check_eq "the order is ready" ready "$(line order)"
check_eq "finalize gives the leaf and the issuing CA" 2 "$(line finalize)"
check_eq "so does the certificate URL" 2 "$(line fetch)"
check_eq "the file holds 2 certificates" 2 \
    "$(grep -c 'BEGIN CERTIFICATE' "$GO_PEM" 2>/dev/null)"
openssl x509 -in "$GO_PEM" -out "$T_DIR/go-leaf.pem" 2>/dev/null
sed '1,/END CERTIFICATE/d' "$GO_PEM" 2>/dev/null >"$T_DIR/go-ca.pem"
check_eq "the second is the CA" \
    "$(openssl x509 -in "$CA_PEM" -noout -fingerprint -sha256)" \
    "$(openssl x509 -in "$T_DIR/go-ca.pem" -noout -fingerprint -sha256 \
    2>&1)"
acme_verify "the certificate verifies against the CA" "$T_DIR/go-leaf.pem"
check_eq "it names both names" \
    "DNS:go.certmint.test, DNS:go2.certmint.test" \
    "$(openssl x509 -in "$T_DIR/go-leaf.pem" -noout -ext subjectAltName |
    sed -n 's/^ *//; 2p')"
check_eq "the account key in the certificate key's form (jwk) may not revoke" \
    "403 urn:ietf:params:acme:error:unauthorized" "$(line 'revoke by jwk')"
check_eq "the account revokes it" "true|21" \
    "$(line revoke)|$(acme_disposition "$(acme_serial "$T_DIR/go-leaf.pem")")"
check_eq "the account reads back" "valid|mailto:go@certmint.test" \
    "$(line 'get account')"
check_eq "the account's contact is updated" "mailto:go2@certmint.test" \
    "$(line update)"
check_eq "the account is deactivated" true "$(line deactivate)"
check_eq "and refused afterwards" \
    "401 urn:ietf:params:acme:error:unauthorized" \
    "$(line 'after deactivation')"
acme_finish
