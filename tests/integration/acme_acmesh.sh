#!/bin/sh
# ACME with acme.sh (standalone http-01, then revoke) when it is
# installed. Debian 12 does not package acme.sh and it is not on npm, so
# this test skips with that reason unless an acme.sh is on PATH.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

if ! command -v acme.sh >/dev/null 2>&1; then
	echo "1..0 # SKIP acme.sh is not installed: Debian 12 does not package" \
	    "it and npm has no acme.sh (install it from acme.sh's own site" \
	    "to run this test)"
	rm -rf "$T_DIR"
	exit 0
fi
acme_need socat
acme_setup
daemon_start

AS=$T_DIR/acmesh
as() {
	acme.sh --home "$AS" --config-home "$AS" --server "$ACME_DIR" \
	    --ca-bundle "$CA_PEM" "$@"
}
check "acme.sh registers" as --register-account -m admin@certmint.test
check "acme.sh http-01 (standalone) gets a certificate" as --issue \
    --standalone --httpport "$H01_PORT" -d sh.certmint.test
CERT=$(find "$AS" -name sh.certmint.test.cer | head -1)
acme_verify "it verifies against the CA" "$CERT"
S=$(acme_serial "$CERT")
check "acme.sh revokes" as --revoke -d sh.certmint.test
check_eq "the certificate is revoked" "21" "$(acme_disposition "$S")"
acme_finish
