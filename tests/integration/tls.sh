#!/bin/sh
# HTTPS on certmintd (issue 14 §1): `certmint init` issues certmintd's
# server certificate from the CA itself (key 0600); curl --cacert ca.crt
# trusts the HTTPS listener for 127.0.0.1 and localhost; the plain port
# serves CRLs and CA certificates but refuses the API (and anything else)
# by default; `certmint tls renew` gives new connections a new
# certificate without a restart, with certmintd running or stopped; a
# broken file at reload leaves the old one serving.
. "$LIB"

ca_init_secure
CA=$T_DIR/ca/ca.crt
TLSCRT=$T_DIR/ca/tls.crt
daemon_start

# served_serial: the serial of the certificate the HTTPS listener sends.
served_serial() {
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$CA" \
	    </dev/null 2>/dev/null | openssl x509 -noout -serial
}
# code URL [CURL ARGS]: the HTTP status of a GET (body in resp.json).
code() {
	_u=$1
	shift
	curl -s -m 30 -o "$T_DIR/resp.json" -w '%{http_code}' "$@" "$_u"
}

check_eq "init wrote the HTTPS key mode 0600" 600 \
    "$(stat -c %a "$T_DIR/ca/tls.key")"
check "the HTTPS certificate verifies against the CA for 127.0.0.1" \
    openssl verify -CAfile "$CA" -purpose sslserver -verify_ip 127.0.0.1 \
    "$TLSCRT"
check "and for localhost and ::1" sh -c "openssl verify -CAfile '$CA' \
    -verify_hostname localhost '$TLSCRT' && openssl verify -CAfile '$CA' \
    -verify_ip ::1 '$TLSCRT'"
check "curl --cacert ca.crt: https /health" \
    curl -fsS -m 30 --cacert "$CA" "$SURL/health"
check "curl --cacert ca.crt: https://localhost" curl -fsS -m 30 \
    --cacert "$CA" --resolve "localhost:$TLS_PORT:127.0.0.1" \
    "https://localhost:$TLS_PORT/api/v1/ca"
check_fails "TLS 1.1 is refused" sh -c "openssl s_client -tls1_1 \
    -connect 127.0.0.1:$TLS_PORT </dev/null 2>&1 | grep -q 'BEGIN CERT'"
check_match "the start log names both listeners" \
    "ready: http://127.0.0.1:$PORT \(CRLs, CA certificates\), https://127.0.0.1:$TLS_PORT.*REST API authenticated" \
    "$(cat "$T_LOG")"

# The plain port: CRLs, CA certificates, /health; nothing else.
check "plain HTTP serves the CRL" sh -c "curl -fsS -m 30 '$URL/ca.crl' | \
    openssl crl -inform DER -noout"
check "plain HTTP serves ca.crt and ca.pem" sh -c "curl -fsS -m 30 \
    '$URL/ca.crt' | openssl x509 -inform DER -noout && curl -fsS -m 30 \
    '$URL/ca.pem' | openssl x509 -noout"
new_csr www.example.com
before=$(db_query "SELECT count(*) FROM requests")
check_eq "plain HTTP refuses a submission: 403" 403 "$(code \
    "$URL/api/v1/requests" -H 'Content-Type: application/pkcs10' \
    --data-binary "@$T_DIR/www.example.com.csr")"
check_match "and says where the API is" "use https://127.0.0.1:$TLS_PORT" \
    "$(cat "$T_DIR/resp.json")"
check_eq "nothing is recorded for it" "$before" \
    "$(db_query "SELECT count(*) FROM requests")"
check_eq "plain HTTP refuses GET /api/v1/ca" 403 "$(code "$URL/api/v1/ca")"
check_eq "plain HTTP refuses GET of a request" 403 \
    "$(code "$URL/api/v1/requests/1")"
check_eq "plain HTTP refuses other paths (ACME's too)" 403 \
    "$(code "$URL/acme/directory")"
check_eq "HTTPS serves the CRL too" 200 "$(code "$SURL/ca.crl" --cacert "$CA")"
# A client that does not trust the server certificate, and one speaking
# plain HTTP to the HTTPS port: their trouble, said at info.
warns=$(count_lines "$T_LOG" 'warning: http:')
check_fails "curl without the CA is refused" curl -fsS -m 10 -o /dev/null \
    "$SURL/health"
check_fails "plain HTTP to the HTTPS port too" curl -fsS -m 10 -o /dev/null \
    "http://127.0.0.1:$TLS_PORT/health"
check "the failed handshakes are logged at info" wait_lines "$T_LOG" \
    'info: http: a TLS handshake failed \(a client that does not trust' 1
check_eq "without a warning" "$warns" "$(count_lines "$T_LOG" 'warning: http:')"

# Renewal and reload without a restart.
old=$(served_serial)
check_match "the listener sends the init certificate" "serial=" "$old"
check "certmint tls renew, certmintd running" "$CERTMINT" -c "$CONF" tls renew
new=$(openssl x509 -in "$TLSCRT" -noout -serial)
check "a new certificate was written" test "$old" != "$new"
check_eq "new connections get it, no restart" "$new" "$(served_serial)"
check "the same certmintd serves" kill -0 "$T_PID"
check "the renewed certificate verifies" openssl verify -CAfile "$CA" \
    -purpose sslserver -verify_ip 127.0.0.1 "$TLSCRT"
check_eq "the key stays 0600" 600 "$(stat -c %a "$T_DIR/ca/tls.key")"

# A certificate file that does not load (or a key that is not its own):
# the reload keeps the one serving.
cp "$TLSCRT" "$T_DIR/tls.good"
printf 'not a certificate\n' >"$TLSCRT"
check_refused "a reload with a broken tls.crt applies the rest, saying so" 30 \
    "the rest applied, but HTTPS certificate not reloaded" \
    "$CERTMINT" -c "$CONF" reload
check "and logs why the certificate was kept" \
    wait_lines "$T_LOG" "HTTPS certificate not reloaded" 1
check_eq "the old certificate serves on" "$new" "$(served_serial)"
cp "$T_DIR/tls.good" "$TLSCRT"
openssl ecparam -name prime256v1 -genkey -noout -out "$T_DIR/other.key" \
    2>/dev/null
cp "$T_DIR/ca/tls.key" "$T_DIR/tls.key.good"
cp "$T_DIR/other.key" "$T_DIR/ca/tls.key"
kill -HUP "$T_PID"
check "a key that is not the certificate's is refused at SIGHUP" \
    wait_lines "$T_LOG" "HTTPS certificate not reloaded.*not the certificate's" 1
check_eq "and the certificate serves on" "$new" "$(served_serial)"
cp "$T_DIR/tls.key.good" "$T_DIR/ca/tls.key"
chmod 644 "$T_DIR/ca/tls.key"
check_refused "a tls.key others can read is refused at reload, as the CA key is" \
    30 "tls.key: the HTTPS key \\(\\[server\\] tls_key\\) has mode 0644" \
    "$CERTMINT" -c "$CONF" reload
check_eq "and the certificate serves on" "$new" "$(served_serial)"
chmod 600 "$T_DIR/ca/tls.key"
# A FIFO in the key's place: refused at once, never waited on (a reload
# stuck in open() held the lock that SIGTERM's stop needs).
mv "$T_DIR/ca/tls.key" "$T_DIR/tls.key.real"
mkfifo -m 600 "$T_DIR/ca/tls.key"
check_refused "a FIFO as tls.key is refused at reload, not waited on" 30 \
    "tls.key: not a regular file" timeout 20 "$CERTMINT" -c "$CONF" reload
check_eq "and the certificate serves on" "$new" "$(served_serial)"
daemon_stop
check_eq "SIGTERM stops it after" 0 $?
check_refused "refused at start too" 30 "tls.key: not a regular file" \
    timeout 20 "$CERTMINTD" -c "$CONF"
rm -f "$T_DIR/ca/tls.key"
mv "$T_DIR/tls.key.real" "$T_DIR/ca/tls.key"
chmod 644 "$T_DIR/ca/tls.key"
check_refused "and at start" 30 "the HTTPS key .* has mode 0644.*chmod 600" \
    "$CERTMINTD" -c "$CONF"
chmod 600 "$T_DIR/ca/tls.key"
mv "$T_DIR/ca/ca.key" "$T_DIR/ca.key.real"
mkfifo -m 600 "$T_DIR/ca/ca.key"
check_refused "a FIFO as the CA key is refused at start" 30 \
    "ca.key: the CA key is not a regular file" timeout 20 "$CERTMINTD" -c "$CONF"
rm -f "$T_DIR/ca/ca.key"
mv "$T_DIR/ca.key.real" "$T_DIR/ca/ca.key"
rm -f "$T_DIR/ca/certmint.db.crash"
mkfifo -m 600 "$T_DIR/ca/certmint.db.crash"
daemon_start
check "a FIFO as the crash file: it starts, and says so" wait_lines "$T_LOG" \
    "certmint.db.crash: not a regular file: an inline module's crash will not be recorded" 1
daemon_stop
rm -f "$T_DIR/ca/certmint.db.crash"
daemon_start

# Renewed with certmintd stopped: the next start serves it.
daemon_stop
check "certmint tls renew, certmintd stopped" "$CERTMINT" -c "$CONF" tls renew
third=$(openssl x509 -in "$TLSCRT" -noout -serial)
daemon_start
check_eq "the next start serves it" "$third" "$(served_serial)"
check_eq "each HTTPS certificate is a request of the CA's, requester 'certmint tls'" \
    3 "$(db_query "SELECT count(*) FROM requests r JOIN certs c ON \
    c.request_id = r.id WHERE r.requester_name = 'certmint tls'")"

daemon_stop
mv "$TLSCRT" "$T_DIR/tls.away"
check_refused "certmintd refuses to start without its HTTPS certificate" 30 \
    "tls.crt: No such file.*certmint tls renew" "$CERTMINTD" -c "$CONF"

# init --tls-name adds a name; --tls-port 0 makes no HTTPS at all.
C2=$T_DIR/ca2/certmint.conf
check "init --tls-name" "$CERTMINT" -c "$C2" init --port "$(free_port)" \
    --tls-name ca.example.test --tls-name 192.0.2.7
check_match "the HTTPS certificate has the names" \
    "DNS:ca.example.test.*IP Address:192.0.2.7" \
    "$(openssl x509 -in "$T_DIR/ca2/tls.crt" -noout -ext subjectAltName | tr '\n' ' ')"
check_match "tls renew keeps them ([server] tls_names)" \
    "tls_names = ca.example.test, 192.0.2.7" "$(cat "$C2")"
C3=$T_DIR/ca3/certmint.conf
check "init --tls-port 0" "$CERTMINT" -c "$C3" init --port "$(free_port)" \
    --tls-port 0
check_fails "makes no HTTPS certificate" test -e "$T_DIR/ca3/tls.crt"

# After a root's new-key renewal the next HTTPS certificate is the new
# root's: tls renew says that clients trusting only ca.crt must take
# ca.pem; a renewal under the same key says nothing.
check "ca2: tls renew under the key ca.crt has" "$CERTMINT" -c "$C2" tls renew
check_eq "says nothing more" "" "$("$CERTMINT" -c "$C2" tls renew 2>&1 >/dev/null)"
check "ca2: ca renew --new-key" "$CERTMINT" -c "$C2" ca renew --new-key
check_match "tls renew then says who will not trust it, and what to give them" \
    "note: it is issued under the CA's new root key.*only $T_DIR/ca2/ca.crt.*ca.pem" \
    "$("$CERTMINT" -c "$C2" tls renew 2>&1 >/dev/null)"
check_fails "indeed: ca.crt alone does not verify it" \
    openssl verify -CAfile "$T_DIR/ca2/ca.crt" "$T_DIR/ca2/tls.crt"
check "the CA's new root does" \
    openssl verify -CAfile "$T_DIR/ca2/ca(1).crt" "$T_DIR/ca2/tls.crt"
finish
