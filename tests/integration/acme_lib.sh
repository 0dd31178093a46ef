# acme_lib.sh - shared by the ACME tests (acme_*.sh), sourced after lib.sh.
#
# acme_setup: a CA as `certmint init` makes one (HTTPS on SURL) with the
# ACME server on, and pebble-challtestsrv (Debian's pebble package) as
# the DNS oracle: every name resolves to 127.0.0.1, TXT records are set
# through its management API. The VA dials the loopback ports H01_PORT
# (http-01) and ALPN_PORT (tls-alpn-01), where the clients' own
# responders listen. Sets ACME_DIR (the directory URL), CA_PEM, DNS_PORT,
# MGMT_PORT, H01_PORT, ALPN_PORT.

# acme_need PROGRAM...: skip the whole test (TAP "1..0 # SKIP") when a
# client is not installed.
acme_need() {
	for _p in "$@"; do
		if ! command -v "$_p" >/dev/null 2>&1; then
			echo "1..0 # SKIP $_p is not installed (scripts/deps.sh --tests)"
			rm -rf "$T_DIR"
			exit 0
		fi
	done
}

# acme_ports: four distinct free loopback ports.
acme_ports() {
	# Not PORT nor TLS_PORT, released after ca_init picked them: the
	# kernel may hand one out again (pebble-challtestsrv once took the
	# HTTPS port before certmintd started).
	set -- $(python3 -c 'import socket, sys
taken = set(int(p) for p in sys.argv[1:] if p)
ss, held = [], []
while len(ss) < 4:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    (held if s.getsockname()[1] in taken else ss).append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))' "${PORT:-}" "${TLS_PORT:-}")
	H01_PORT=$1 ALPN_PORT=$2 DNS_PORT=$3 MGMT_PORT=$4
}

acme_setup() {
	acme_need pebble-challtestsrv
	ca_init_secure
	acme_ports
	conf_set acme enabled yes
	conf_set acme base_url "$SURL"
	conf_set acme http01_port "$H01_PORT"
	conf_set acme tlsalpn01_port "$ALPN_PORT"
	conf_set acme resolver "127.0.0.1:$DNS_PORT"
	conf_set acme validation_timeout_ms 5000
	# Every test name resolves to 127.0.0.1, which the default
	# validation_deny keeps validation away from (acme_bad.sh checks it).
	conf_set acme validation_deny none
	ACME_DIR=$SURL/acme/directory
	CA_PEM=$T_DIR/ca/ca.crt
	pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" \
	    -management "127.0.0.1:$MGMT_PORT" -defaultIPv4 127.0.0.1 \
	    -defaultIPv6 "" -http01 "" -https01 "" -tlsalpn01 "" \
	    >"$T_DIR/challtestsrv.log" 2>&1 &
	CTS_PID=$!
	trap 'kill $CTS_PID 2>/dev/null; daemon_kill; rm -rf "$T_DIR"' INT TERM
	# A script that bails out early must not leave it running either.
	trap 'kill $CTS_PID 2>/dev/null' EXIT
	wait_until 20 curl -s -o /dev/null \
	    "http://127.0.0.1:$MGMT_PORT/clear-txt" || {
		echo "Bail out! pebble-challtestsrv did not start"
		cat "$T_DIR/challtestsrv.log"
		exit 1
	}
	# The DNS hooks of certbot (manual) and lego (exec).
	cat >"$T_DIR/dns-hook" <<EOF
#!/bin/sh
# certbot: CERTBOT_DOMAIN, CERTBOT_VALIDATION; lego exec: present|cleanup FQDN VALUE
if [ -n "\${CERTBOT_DOMAIN:-}" ]; then
	h="_acme-challenge.\$CERTBOT_DOMAIN."; v="\${CERTBOT_VALIDATION:-}"
	op=\${1:-present}
else
	op=\$1 h=\$2 v=\${3:-}
fi
case "\$op" in
present) curl -s -d "{\"host\":\"\$h\",\"value\":\"\$v\"}" http://127.0.0.1:$MGMT_PORT/set-txt ;;
*) curl -s -d "{\"host\":\"\$h\"}" http://127.0.0.1:$MGMT_PORT/clear-txt ;;
esac
EOF
	chmod +x "$T_DIR/dns-hook"
}

# acme_verify DESCRIPTION CERT [CHAIN]: CERT verifies with openssl against
# the CA, as a TLS server certificate, with CHAIN as the intermediates, and
# carries the extensions of the ACME profile (WebServer, as init makes
# it): not a CA, key usage digitalSignature only (an EC key), server
# authentication only, the CA's CRL and certificate URLs.
acme_verify() {
	check "$1" openssl verify -CAfile "$CA_PEM" -purpose sslserver \
	    ${3:+-untrusted "$3"} "$2"
	_exts=basicConstraints,keyUsage,extendedKeyUsage
	_exts=$_exts,crlDistributionPoints,authorityInfoAccess
	_ext=$(openssl x509 -in "$2" -noout -ext "$_exts" 2>&1 |
	    sed 's/^ *//' | tr '\n' '|')
	check_eq "$1: the profile's extensions" "$(printf '%s|' \
	    'X509v3 Basic Constraints: critical' 'CA:FALSE' \
	    'X509v3 Key Usage: critical' 'Digital Signature' \
	    'X509v3 Extended Key Usage: ' 'TLS Web Server Authentication' \
	    'X509v3 CRL Distribution Points: ' 'Full Name:' "URI:$URL/ca.crl" \
	    'Authority Information Access: ' "CA Issuers - URI:$URL/ca.crt")" \
	    "$_ext"
}

# acme_serial CERT: its serial as certmint stores it (lowercase hex).
acme_serial() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' |
	    tr 'A-F' 'a-f'
}

# acme_disposition SERIAL: the request's Disposition (20 issued, 21 revoked).
acme_disposition() {
	db_query "SELECT r.disposition FROM requests r JOIN certs c ON
	    c.request_id = r.id WHERE c.serial = '$1'"
}

# acme_webroot: WEB, a directory served over plain HTTP on the VA's port
# (H01_PORT), for a client that writes its http-01 token files under a
# webroot. acme_finish stops the server.
acme_webroot() {
	WEB=$T_DIR/webroot
	mkdir -p "$WEB"
	python3 -m http.server --bind 127.0.0.1 --directory "$WEB" \
	    "$H01_PORT" >"$T_DIR/web.log" 2>&1 &
	WEB_PID=$!
	trap 'kill $CTS_PID $WEB_PID 2>/dev/null' EXIT
	check "the webroot is served" wait_until 20 curl -s -o /dev/null \
	    "http://127.0.0.1:$H01_PORT/"
}

acme_finish() {
	kill "$CTS_PID" ${WEB_PID:-} 2>/dev/null
	wait "$CTS_PID" ${WEB_PID:-} 2>/dev/null
	finish
}
