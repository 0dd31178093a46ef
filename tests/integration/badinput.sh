#!/bin/sh
# Bad input gets a clear error and a recorded outcome; nothing stored is
# lost and the daemon keeps serving.
. "$LIB"

ca_init
daemon_start

new_csr good
out=$(submit_http "$T_DIR/good.csr")
check_eq "a good request is issued first" 201 "$(echo "$out" | head -1)"
good_id=$(json "$T_DIR/resp.json" 'j["request_id"]')
good_serial=$(json "$T_DIR/resp.json" 'j["serial"]')

printf 'this is not a certificate request' >"$T_DIR/garbage"
out=$(submit_http "$T_DIR/garbage")
check_eq "garbage: 400" 400 "$(echo "$out" | head -1)"
check_match "garbage: JSON error" '"error"' "$out"
gid=$(json "$T_DIR/resp.json" 'j.get("request_id", "")')
check_match "garbage: recorded as a request" '^[0-9]+$' "$gid"
curl -fsS -m 60 -o "$T_DIR/g.json" "$URL/api/v1/requests/$gid"
check_eq "garbage: recorded as failed" failed "$(json "$T_DIR/g.json" 'j["disposition"]')"

# A request whose signature does not verify: flip a byte of the signature.
openssl req -in "$T_DIR/good.csr" -outform DER -out "$T_DIR/good.der"
python3 - "$T_DIR/good.der" "$T_DIR/badsig.der" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-5] ^= 0x01
open(sys.argv[2], "wb").write(d)
PY
out=$(submit_http "$T_DIR/badsig.der")
check_eq "bad signature: 400" 400 "$(echo "$out" | head -1)"
check_match "bad signature: says so" "signature" "$out"

# Truncated DER.
head -c 60 "$T_DIR/good.der" >"$T_DIR/trunc.der"
out=$(submit_http "$T_DIR/trunc.der")
check_eq "truncated request: 400" 400 "$(echo "$out" | head -1)"

# An unsupported key: RSA 1024.
openssl req -new -newkey rsa:1024 -nodes -keyout "$T_DIR/weak.key" \
    -out "$T_DIR/weak.csr" -subj /CN=weak 2>/dev/null
out=$(submit_http "$T_DIR/weak.csr")
check_eq "RSA 1024: 403" 403 "$(echo "$out" | head -1)"
check_match "RSA 1024: the message names the key" "rsa-1024" "$out"

# Oversized body.
head -c 200000 /dev/zero | tr '\0' 'A' >"$T_DIR/big"
out=$(submit_http "$T_DIR/big")
check_eq "oversized body: 413" 413 "$(echo "$out" | head -1)"
bid=$(json "$T_DIR/resp.json" 'j.get("request_id", "")')
check_match "oversized body: recorded" '^[0-9]+$' "$bid"

# Wrong content type.
code=$(curl -s -m 60 -o "$T_DIR/ct.json" -w '%{http_code}' -H 'Content-Type: text/plain' \
    --data-binary @"$T_DIR/good.csr" "$URL/api/v1/requests")
check_eq "wrong content type: 415" 415 "$code"

# Bad attributes.
out=$(submit_http "$T_DIR/good.csr" "NoColonHere")
check_eq "malformed attribute: 400" 400 "$(echo "$out" | head -1)"
out=$(submit_http "$T_DIR/good.csr" "CertificateTemplate:no-such-profile")
check_eq "unknown profile: 403" 403 "$(echo "$out" | head -1)"
# What certmint sets itself, a client may not: RenewalOf would hand a module
# (RawOldCertificate) another's certificate, Acme* fake an ACME order.
for a in RenewalOf:0101 renewalof:0101 AcmeAccount:http://x/acct/1 \
    AcmeIdentifiers:dns:www.bank.test AcmeOrder:1 AcmeDirectory:x; do
	out=$(submit_http "$T_DIR/good.csr" "$a")
	check_eq "attribute ${a%%:*}: 400" 400 "$(echo "$out" | head -1)"
	check_match "saying it is certmint's own" \
	    "request attribute .* is set by certmint itself, not by a client" \
	    "$(json "$T_DIR/resp.json" 'j["error"]')"
done
bad_attr() {
	curl -sS -m 60 -o "$T_DIR/resp.json" -w '%{http_code}' \
	    -H 'Content-Type: application/pkcs10' --data-binary "@$T_DIR/good.csr" \
	    "$URL/api/v1/requests?attrib=$1"
}
check_eq "a value that is not UTF-8: 400" 400 "$(bad_attr 'Note:caf%e9')"
check_match "says why" 'the value is not UTF-8 text without control characters' \
    "$(json "$T_DIR/resp.json" 'j["error"]')"
check_eq "a value with a newline: 400" 400 \
    "$(bad_attr 'Note:a%0aX-Evil:%20yes')"
check_eq "a value with an escape: 400" 400 "$(bad_attr 'Note:a%1b%5b31m')"
check_eq "a name with a blank: 400" 400 "$(bad_attr 'Bad%20Name:x')"
check_eq "UTF-8 text is taken" 201 "$(bad_attr 'Note:caf%c3%a9')"
code=$(curl -sS -m 60 -o "$T_DIR/resp.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "$(python3 -c '
import json, sys
print(json.dumps({"csr": open(sys.argv[1]).read(),
    "attributes": {"AcmeAccount": "x"}}))' "$T_DIR/good.csr")" \
    "$URL/api/v1/requests")
check_eq "AcmeAccount in a JSON body: 400" 400 "$code"
check_refused "nor through the admin socket (certmint submit)" 30 \
    "request attribute \"RenewalOf\" is set by certmint itself" \
    "$CERTMINT" -c "$CONF" submit "$T_DIR/good.csr" --attrib RenewalOf:0101

# Unknown ids.
code=$(curl -s -m 60 -o /dev/null -w '%{http_code}' "$URL/api/v1/requests/987654")
check_eq "unknown request id: 404" 404 "$code"
code=$(curl -s -m 60 -o /dev/null -w '%{http_code}' "$URL/api/v1/requests/abc")
check_match "non-numeric request id: 404 or 400" '^(400|404)$' "$code"
for id in 99999999999999999999 +5 %205; do
	out=$(curl -s -m 60 -w '\n%{http_code}' "$URL/api/v1/requests/$id")
	check_eq "request id $id: 404" 404 "$(echo "$out" | tail -1)"
	check_eq "naming no request at all" 0 "$(echo "$out" |
	    grep -c 'request [0-9]* not found')"
done
check_refused "token create --expires 0 names the option" 30 \
    "^certmint: --expires: 1 to 36500" \
    "$CERTMINT" -c "$CONF" token create --name zero --expires 0
check_refused "retrieve of an unknown id fails" 30 "request 987654 not found" \
    "$CERTMINT" -c "$CONF" retrieve 987654
check_refused "revoke of an unknown serial fails" 30 \
    "no certificate with serial ffff" "$CERTMINT" -c "$CONF" revoke ffff
check_refused "revoke with an unknown reason fails" 30 \
    '"noSuchReason" is not a revocation reason' \
    "$CERTMINT" -c "$CONF" revoke "$good_serial" noSuchReason
check_eq "and the certificate is not revoked" issued \
    "$(curl -fsS -m 30 "$URL/api/v1/requests/$good_id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["disposition"])')"

# A client cannot name itself: X-Certmint-Requester counts only when the
# config trusts it (an authenticating front end sets it).
spoof() {
	curl -sS -m 60 -o "$T_DIR/spoof.json" -H 'Content-Type: application/pkcs10' \
	    -H 'X-Certmint-Requester: CORP\ceo' --data-binary @"$T_DIR/good.csr" \
	    "$URL/api/v1/requests"
	json "$T_DIR/spoof.json" 'j["requester"]'
}
check_eq "X-Certmint-Requester is ignored by default" 127.0.0.1 "$(spoof)"
cp "$CONF" "$T_DIR/conf.trust"
conf_set server trust_requester_header true
"$CERTMINT" -c "$CONF" reload >/dev/null
check_eq "and names the requester when trusted" 'CORP\ceo' "$(spoof)"
cp "$T_DIR/conf.trust" "$CONF"
"$CERTMINT" -c "$CONF" reload >/dev/null

# A broken config: reload refuses and the daemon keeps the old one.
cp "$CONF" "$T_DIR/conf.bak"
printf '[policy]\nrequest_disposition = sometimes\n' >>"$CONF"
check_fails "reload of a broken config is refused" "$CERTMINT" -c "$CONF" reload
cp "$T_DIR/conf.bak" "$CONF"
printf '[ca]\nno_such_key = 1\n' >>"$CONF"
check_refused "certmintd names the unknown key" 30 "no_such_key" \
    "$CERTMINTD" -c "$CONF"
cp "$T_DIR/conf.bak" "$CONF"
conf_set ca serials sometimes
check_refused "certmintd names a bad value" 30 \
    'serials = "sometimes": expected ordered or random' "$CERTMINTD" -c "$CONF"
cp "$T_DIR/conf.bak" "$CONF"

# Clients that give up while their request is signed or committed (the
# connection is suspended meanwhile): each sends a whole request, then
# resets the connection after 0-20 ms without reading the answer. The
# daemon records what it read, serves on and, at the end, stops cleanly
# with nothing left waiting (ASan checks for leaks).
total() {
	"$CERTMINT" -c "$CONF" --json status >"$T_DIR/st.json" &&
	    json "$T_DIR/st.json" 'j["requests"]["total"]'
}
before=$(total)
python3 - "$PORT" "$T_DIR/good.csr" >"$T_DIR/gone.out" 2>&1 <<'PY'
import random, socket, struct, sys, threading, time
port, body = int(sys.argv[1]), open(sys.argv[2], "rb").read()
req = (b"POST /api/v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       b"Content-Type: application/pkcs10\r\nContent-Length: %d\r\n\r\n"
       % len(body)) + body
sent = 0
def client(n):
    global sent
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(req)
        sent += 1
        time.sleep(random.uniform(0, 0.02))
        # RST, not FIN: the client is gone, not half-closed.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
ts = [threading.Thread(target=client, args=(10,)) for _ in range(6)]
for t in ts: t.start()
for t in ts: t.join()
print("sent", sent)
PY
check_match "60 clients sent a request and went away" "^sent 60$" "$(cat "$T_DIR/gone.out")"
check "healthy after clients gave up mid-request" curl -fsS -m 10 "$URL/health"
# Requests the daemon had read are recorded (and issued) although nobody
# reads the answer: at least some must have been, or nothing was exercised.
after=$(total)
check "some of the gone clients' requests were recorded" \
    test "$((after - before))" -ge 1 -a "$((after - before))" -le 60
echo "# $((after - before)) of 60 abandoned requests were recorded"
# Still serving, nothing lost.
check "still healthy" curl -fsS -m 60 "$URL/health"
curl -fsS -m 60 -o "$T_DIR/g2.json" "$URL/api/v1/requests/$good_id"
check_eq "earlier certificate still there" issued "$(json "$T_DIR/g2.json" 'j["disposition"]')"
out=$(submit_http "$T_DIR/good.csr")
check_eq "and still issuing" 201 "$(echo "$out" | head -1)"

check_refused "a second daemon on the same CA refuses to start" 30 \
    "another certmintd" "$CERTMINTD" -c "$CONF"
daemon_stop
check_eq "and stops cleanly" 0 "$?"
check "with no submission left waiting" test -z "$(grep 'still waiting' "$T_LOG")"
daemon_start

# Another CA configured on the port this one listens on must not share it
# (SO_REUSEPORT would split the clients between the two CAs).
"$CERTMINT" -c "$T_DIR/other/certmint.conf" init --name Other --port "$PORT" --tls-port 0 \
    >/dev/null 2>&1
check_refused "a daemon on a port already in use exits, saying so" 30 \
    "cannot listen.*port $PORT" "$CERTMINTD" -c "$T_DIR/other/certmint.conf"

# A 100 MB body announced: refused at once (no 100 Continue, no upload).
truncate -s 100M "$T_DIR/huge"
before=$(db_query "SELECT count(*) FROM requests")
out=$(curl -sS -m 60 -o "$T_DIR/huge.json" -w '%{http_code} %{size_upload}' \
    -H 'Content-Type: application/pkcs10' -H 'Expect: 100-continue' \
    --data-binary @"$T_DIR/huge" "$URL/api/v1/requests" 2>&1)
check_eq "an announced 100 MB body: 413" 413 "${out%% *}"
check "and not uploaded (under 1 MB sent)" test "${out#* }" -lt 1048576
check_eq "recorded as failed, as any body too large" $((before + 1)) \
    "$(db_query "SELECT count(*) FROM requests")"
# Two Content-Length headers that differ: a request smuggling attempt.
out=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"POST /api/v1/requests HTTP/1.1\r\nHost: x\r\n"
          b"Content-Type: application/pkcs10\r\nContent-Length: 500\r\n"
          b"Content-Length: 5\r\n\r\nhello")
try:
    print(s.recv(4096).split(b"\r\n")[0].decode())
except OSError as e:
    print("no answer:", e)
PY
)
check_match "conflicting Content-Length headers: 400" "^HTTP/1.1 400" "$out"
check "still healthy" curl -fsS -m 60 "$URL/health"

finish
