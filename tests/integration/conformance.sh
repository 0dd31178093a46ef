#!/bin/sh
# The CA's signature is its product: every certificate and CRL it signs for
# each built-in profile and key type must load and verify in three independent
# readers - pyca cryptography (Debian's), `openssl verify -x509_strict` and
# GnuTLS certtool - and a TLS client must accept the server certificate.
. "$LIB"

for root in p256 rsa; do
	T_DIR_CA=$T_DIR/$root
	ca_init --key-type "$([ $root = rsa ] && echo rsa-3072 || echo ec-p256)"
	conf_set policy key_types "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519"
	conf_set policy profiles all
	conf_set crl delta true
	daemon_start
	n=0
	for key in "ec -pkeyopt ec_paramgen_curve:P-256" \
	    "ec -pkeyopt ec_paramgen_curve:P-384" rsa:2048 rsa:3072 ed25519; do
		for p in WebServer ClientAuth SMIME CodeSigning SubCA User \
		    Machine OCSPSigning; do
			n=$((n + 1))
			case $p in
			WebServer|Machine) san="DNS:h$n.example.com,DNS:*.h$n.example.com,IP:192.0.2.$n" ;;
			SMIME|User) san="email:u$n@example.com" ;;
			*) san="DNS:c$n.example.com" ;;
			esac
			openssl req -new -newkey $key -nodes -keyout "$T_DIR/c$n.key" \
			    -out "$T_DIR/c$n.csr" -subj "/CN=c$n.example.com/O=Conformance" \
			    -addext "subjectAltName=$san" 2>/dev/null
			code=$(submit_http "$T_DIR/c$n.csr" "CertificateTemplate:$p" | head -1)
			[ "$code" = 201 ] || not_ok "$root: issue $p with $key (HTTP $code)"
		done
	done
	"$CERTMINT" -c "$CONF" crl >/dev/null
	"$CERTMINT" -c "$CONF" revoke "$(db_query "SELECT serial FROM certs LIMIT 1")" \
	    keyCompromise >/dev/null
	"$CERTMINT" -c "$CONF" crl >/dev/null
	"$CERTMINT" -c "$CONF" crl --delta >/dev/null
	check_eq "$root: 40 certificates issued" 40 \
	    "$(db_query "SELECT count(*) FROM certs")"
	check "$root: every certificate and CRL passes cryptography, openssl -x509_strict, certtool" \
	    /usr/bin/python3 "$(dirname "$LIB")/conformance.py" \
	    "$T_DIR/ca/certmint.db" "$T_DIR/ca/ca.crt" 40
	# TLS handshakes (OpenSSL and GnuTLS clients) with a server
	# certificate it issued for localhost.
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T_DIR/srv.key" -out "$T_DIR/srv.csr" -subj "/CN=localhost" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
	submit_http "$T_DIR/srv.csr" >/dev/null
	sid=$(json "$T_DIR/resp.json" 'j["request_id"]')
	curl -fsS -m 60 -o "$T_DIR/srv.crt" "$URL/api/v1/requests/$sid/certificate"
	# A port free a moment ago may be taken by a test running beside
	# this one before s_server binds it: then try another.
	for _try in 1 2 3; do
		tport=$(free_port)
		openssl s_server -quiet -accept "127.0.0.1:$tport" \
		    -cert "$T_DIR/srv.crt" -key "$T_DIR/srv.key" -www \
		    >/dev/null 2>&1 &
		spid=$!
		wait_until 20 sh -c "echo | openssl s_client -connect \
		    127.0.0.1:$tport >/dev/null 2>&1" && break
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	done
	out=$(echo | timeout 30 openssl s_client -connect "127.0.0.1:$tport" \
	    -CAfile "$T_DIR/ca/ca.crt" -verify_return_error -x509_strict \
	    -verify_hostname localhost -servername localhost 2>&1)
	check_match "$root: OpenSSL TLS client verifies the server certificate" \
	    "Verification: OK|Verify return code: 0 \\(ok\\)" "$out"
	out=$(echo | timeout 30 gnutls-cli --x509cafile "$T_DIR/ca/ca.crt" \
	    -p "$tport" localhost 2>&1)
	check_match "$root: GnuTLS TLS client verifies the server certificate" \
	    "certificate is trusted|Status: The certificate is trusted" "$out"
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	daemon_stop
	mv "$T_DIR/ca" "$T_DIR_CA"
done
finish
