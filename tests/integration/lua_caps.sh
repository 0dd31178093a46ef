#!/bin/sh
# Lua's network capabilities (docs/lua.md "Capabilities"): certmint.http_post
# to a python receiver on loopback, over HTTP and over HTTPS with a
# certificate this CA issued (ca_file); certmint.mail to aiosmtpd on
# loopback, plain and STARTTLS, the message parsed and checked. Both are
# off unless the module's section allows them; only http(s) URLs, no
# redirects, the response capped, the timeout honoured.
. "$LIB"

PY=/usr/bin/python3		# Debian's, with python3-aiosmtpd
LD=$(dirname "$LIB")/../modules/lua
OUT=$T_DIR/out
mkdir -p "$OUT/http" "$OUT/smtp"
HTTPD_PID= SMTPD_PID=

cat >"$T_DIR/httpd.py" <<'EOF'
# POSTs saved as req-N.json (path, headers, body); /slow answers after
# 5 s, /redirect with a 302, /big with 3 MiB. HTTPS on a second port.
import http.server, json, os, signal, ssl, sys, threading, time
out, port, tls_port, cert, key = sys.argv[1:6]
lock = threading.Lock()
count = [0]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with lock:
            count[0] += 1
            k = count[0]
        with open(os.path.join(out, "req-%03d.json" % k), "w") as f:
            json.dump({"path": self.path, "headers": dict(self.headers),
                       "body": body.decode("utf-8", "replace"),
                       "tls": self.server.tls}, f)
        code, data, hdr = 200, b"received %d" % k, {}
        if self.path == "/slow":
            time.sleep(5)
        elif self.path == "/redirect":
            code, hdr = 302, {"Location": "/elsewhere"}
        elif self.path == "/big":
            data = b"y" * (3 << 20)
        self.send_response(code)
        for h, v in hdr.items():
            self.send_header(h, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

def serve(p, tls):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", int(p)), H)
    s.daemon_threads = True
    s.tls = tls
    if tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
    threading.Thread(target=s.serve_forever, daemon=True).start()

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
serve(port, False)
serve(tls_port, True)
open(os.path.join(out, "ready"), "w").close()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
EOF

cat >"$T_DIR/smtpd.py" <<'EOF'
# STARTTLS offered, not required; each message saved as msg-N.eml.
import os, signal, ssl, sys
from aiosmtpd.controller import Controller
out, port, cert, key = sys.argv[1:5]
class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        with open(os.path.join(out, "msg-%03d.rcpt" % Handler.n), "w") as f:
            f.write("\n".join(envelope.rcpt_tos))
        with open(os.path.join(out, "msg-%03d.eml" % Handler.n), "wb") as f:
            f.write(envelope.original_content)
        return "250 OK"
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname="127.0.0.1", port=int(port),
               tls_context=ctx)
c.start()
open(os.path.join(out, "ready"), "w").close()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
EOF

servers_stop() {
	for _p in $HTTPD_PID $SMTPD_PID; do
		kill -TERM "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	HTTPD_PID= SMTPD_PID=
}
trap 'servers_stop; daemon_kill; rm -rf "$T_DIR"' INT TERM
trap 'servers_stop' EXIT

# A CA to issue the servers' certificate (the Lua calls run in exit test).
ca_init
daemon_start
new_csr srv -addext "subjectAltName=IP:127.0.0.1,DNS:localhost"
submit_http "$T_DIR/srv.csr" >/dev/null
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/srv.crt"
CA=$T_DIR/ca/ca.crt
check "the CA issued the servers' certificate" \
    openssl verify -CAfile "$CA" "$T_DIR/srv.crt"
HPORT=$(free_port)
SPORT=$(free_port)
"$PY" "$T_DIR/httpd.py" "$OUT/http" "$HPORT" "$SPORT" "$T_DIR/srv.crt" \
    "$T_DIR/srv.key" >"$T_DIR/httpd.log" 2>&1 &
HTTPD_PID=$!
MPORT=$(free_port)
"$PY" "$T_DIR/smtpd.py" "$OUT/smtp" "$MPORT" "$T_DIR/srv.crt" \
    "$T_DIR/srv.key" >"$T_DIR/smtpd.log" 2>&1 &
SMTPD_PID=$!
wait_until 30 test -f "$OUT/http/ready" -a -f "$OUT/smtp/ready" || {
	echo "Bail out! the receivers did not start"
	sed 's/^/# /' "$T_DIR/httpd.log" "$T_DIR/smtpd.log"
	exit 1
}

net() {	# the output also kept in net.out for the sanitizer check
	"$CERTMINT" exit test "$LD/net.lua" --event CERTISSUED "$@" 2>&1 |
	    tee -a "$T_DIR/net.out"
}
req() {	# req EXPR: EXPR over the last request ("r") the receiver saw
	"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	    "$(ls "$OUT"/http/req-*.json | tail -1)" "$1"
}

# http_post
check_match "http_post is off by default" "http_post is not allowed" \
    "$(net --set url=http://127.0.0.1:$HPORT/hook)"
check_match "allow = smtp does not allow http_post" "http_post is not allowed" \
    "$(net --set allow=smtp --set url=http://127.0.0.1:$HPORT/hook)"
check_match "allow = http: POST over HTTP, status and body returned" \
    "http status=200 len=10 body=received 1" \
    "$(net --set allow=http --set url=http://127.0.0.1:$HPORT/hook)"
check_eq "the receiver got the JSON body" '{"event": "CERTISSUED", "who": "Zoë"}' \
    "$(req 'json.dumps(json.loads(r["body"]), ensure_ascii=False, sort_keys=True)')"
check_eq "with the script's headers" "application/json lua" \
    "$(req 'r["headers"]["Content-Type"] + " " + r["headers"]["X-Certmint-Test"]')"
check_match "HTTPS with ca_file: a certificate this CA issued" \
    "http status=200 len=[0-9]+ body=received [0-9]+" \
    "$(net --set allow=http --set url=https://127.0.0.1:$SPORT/hook --set ca="$CA")"
check_eq "the receiver got it over TLS" True "$(req 'r["tls"]')"
check_match "HTTPS without the CA: the certificate is not trusted" \
    "http failed: http_post: .*(certificate|SSL)" \
    "$(net --set allow=http --set url=https://127.0.0.1:$SPORT/hook)"
check_match "a file:// URL is refused" "http failed: http_post: only http:// and https:// URLs" \
    "$(net --set allow=http --set url=file:///etc/passwd)"
check_match "a gopher:// URL is refused" "http failed: http_post: only http:// and https:// URLs" \
    "$(net --set allow=http --set url=gopher://127.0.0.1:$HPORT/)"
check_match "a redirect is not followed" "http status=302 len=10" \
    "$(net --set allow=http --set url=http://127.0.0.1:$HPORT/redirect)"
check_match "the response is capped at max_response" "http status=200 len=1000 body=yyy" \
    "$(net --set allow=http --set url=http://127.0.0.1:$HPORT/big --set max_response=1000)"
check_match "the default cap: 1 MiB of a 3 MiB answer" "http status=200 len=1048576 " \
    "$(net --set allow=http --set url=http://127.0.0.1:$HPORT/big)"
check_match "the call's timeout is honoured" "http failed: http_post: .*timed out" \
    "$(net --set allow=http --set url=http://127.0.0.1:$HPORT/slow --set http_timeout=0.5)"
# /slow answers after 5 s: inside http_post's default 10 s, not inside
# the module's 1 s deadline.
check_match "the module's deadline bounds a call without one" \
    "http failed: http_post: .*timed out" \
    "$(net --set allow=http --set url=http://127.0.0.1:$HPORT/slow --set timeout=1)"

# mail
# exit test delivers two CERTISSUED events: each run sends two messages.
mail_py() {	# mail_py N EXPR: EXPR over message N ("m", "rcpt")
	"$PY" -c '
import email, email.policy, sys
f = sys.argv[1]
m = email.message_from_binary_file(open(f + ".eml", "rb"), policy=email.policy.default)
rcpt = open(f + ".rcpt").read().split("\n")
print(eval(sys.argv[2]))' "$OUT/smtp/msg-$(printf %03d "$1")" "$2"
}
check_match "mail is off by default" "mail is not allowed" \
    "$(net --set try=mail --set port=$MPORT)"
check_match "allow = http does not allow mail" "mail is not allowed" \
    "$(net --set try=mail --set allow=http --set port=$MPORT)"
check_match "allow = smtp: mail sent (no TLS)" "mail sent" \
    "$(net --set try=mail --set allow=smtp --set port=$MPORT)"
check_eq "both recipients in the envelope" "security@example.com ops@example.com" \
    "$(mail_py 1 '" ".join(rcpt)')"
check_eq "Subject decoded from UTF-8" "Issued: Zoë's certificate" "$(mail_py 1 'm["Subject"]')"
check_eq "From and To headers" "Certmint CA <ca@example.com> | security@example.com, Zoë Ops <ops@example.com>" \
    "$(mail_py 1 'm["From"] + " | " + m["To"]')"
check_eq "a UTF-8 body" "Grüße|line two|" \
    "$(mail_py 1 '"|".join(m.get_body(("plain",)).get_content().splitlines()) + "|"')"
check_match "Date and Message-ID as the mail module makes them" \
    "^[A-Z][a-z][a-z], [0-9]+ [A-Z][a-z][a-z] [0-9]{4} [0-9:]{8} \+0000 <[0-9a-f]{16}\.[0-9]+\.lua@.+>$" \
    "$(mail_py 1 'm["Date"] + " " + m["Message-ID"]')"
check_eq "UTF-8 MIME" "1.0 text/plain utf-8" \
    "$(mail_py 1 'm["MIME-Version"] + " " + m.get_content_type() + " " + m.get_content_charset()')"
check_match "STARTTLS with ca_file" "mail sent" \
    "$(net --set try=mail --set allow=smtp --set port=$MPORT --set tls=starttls --set ca="$CA")"
check_eq "the STARTTLS message arrived" "Issued: Zoë's certificate" "$(mail_py 3 'm["Subject"]')"
check_match "STARTTLS without the CA: refused" "mail failed: mail: SMTP 127.0.0.1:$MPORT: .*(certificate|SSL)" \
    "$(net --set try=mail --set allow=smtp --set port=$MPORT --set tls=starttls)"
check_match "an unknown tls value is an error" 'tls = "bogus": give none, starttls or tls' \
    "$(net --set try=mail --set allow=smtp --set port=$MPORT --set tls=bogus)"
check_eq "only the good runs' messages arrived" 4 "$(ls "$OUT/smtp" | grep -c '\.eml$')"
check_eq "no sanitizer report from exit test" "" \
    "$(sanitizer_reports "$T_DIR/net.out" | head -5)"
servers_stop
finish
