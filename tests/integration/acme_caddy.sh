#!/bin/sh
# ACME with Caddy (Debian's 2.6.2, unmodified) on loopback, configured as
# docs/acme.md says (acme_ca, acme_ca_root, email): it gets a certificate
# for the site it serves by itself (http-01 or tls-alpn-01 on its own
# ports), serves it, and the certificate verifies against the CA and
# carries the profile's extensions.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

acme_need caddy
acme_setup
daemon_start

SITE=caddy.certmint.test
CD=$T_DIR/caddy
mkdir -p "$CD"
cat >"$CD/Caddyfile" <<CF
{
	acme_ca $ACME_DIR
	acme_ca_root $CA_PEM
	email admin@certmint.test
	admin off
	skip_install_trust
	http_port $H01_PORT
	https_port $ALPN_PORT
}
$SITE {
	bind 127.0.0.1
	respond "hello from caddy"
}
CF
XDG_DATA_HOME=$CD/data XDG_CONFIG_HOME=$CD/config HOME=$CD \
    caddy run --config "$CD/Caddyfile" --adapter caddyfile \
    >"$CD/caddy.log" 2>&1 &
CADDY_PID=$!
trap 'kill $CADDY_PID $CTS_PID 2>/dev/null; daemon_kill; rm -rf "$T_DIR"' \
    INT TERM

serves() {
	[ "$(curl -sS -m 5 --cacert "$CA_PEM" --resolve \
	    "$SITE:$ALPN_PORT:127.0.0.1" "https://$SITE:$ALPN_PORT/")" = \
	    "hello from caddy" ]
}
check "Caddy gets a certificate from certmint and serves HTTPS with it" \
    wait_until 60 serves || tail -20 "$CD/caddy.log" | sed 's/^/# /'
CERT=$(find "$CD/data" -name "$SITE.crt" | head -1)
check "Caddy stored it" test -n "$CERT"
acme_verify "it verifies against the CA" "$CERT"
S=$(acme_serial "$CERT")
check_eq "it is a certmint request of Caddy's account, issued" "20|acme" \
    "$(db_query "SELECT r.disposition, r.caller_name FROM requests r JOIN
	certs c ON c.request_id = r.id WHERE c.serial = '$S'")"

kill "$CADDY_PID" 2>/dev/null
wait "$CADDY_PID" 2>/dev/null
acme_finish
