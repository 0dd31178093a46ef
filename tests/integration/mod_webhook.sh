#!/bin/sh
# CertMint_Webhook.Exit (docs/modules/webhook.md) against a real receiver:
# a python3 http.server started here on loopback, over HTTPS with a
# certificate this CA issued and a client certificate it requires (mTLS),
# and over plain HTTP. The receiver checks each Standard Webhooks
# signature (HMAC-SHA256 of id.timestamp.body) against the secrets it
# knows, drops duplicates by webhook-id, and answers 500, 429 with
# Retry-After, 410 or 400 as the request's common name asks. Covered:
# every event as a CloudEvent, configure's checks and test delivery,
# secret rotation, a transient and a permanent failure, Retry-After, 410
# (suspended, then resumed), replay (--dead, --from), kill -9 during
# delivery, keep-alive with concurrent delivery, isolation = process and
# inline, and the Slack and Teams presets.
. "$LIB"

MOD=CertMint_Webhook.Exit
RDIR=$T_DIR/recv		# the receiver's files: log, modes
RLOG=$RDIR/log.jsonl
mkdir -p "$RDIR"
ca_init
cp "$T_DIR/ca/ca.crt" "$T_DIR/ca.pem"

# issue CN [openssl req options]: submit a CSR (with the request
# attributes in $ATTRS); sets ID and SERIAL, and leaves the certificate in
# $T_DIR/CN.crt.
ATTRS=
issue() {
	_cn=$1
	shift
	new_csr "$_cn" "$@"
	submit_http "$T_DIR/$_cn.csr" $ATTRS >"$T_DIR/submit.out"
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]' 2>/dev/null)
	SERIAL=$(json "$T_DIR/resp.json" 'j.get("serial", "")' 2>/dev/null)
	json "$T_DIR/resp.json" 'j.get("certificate", "")' >"$T_DIR/$_cn.crt" \
	    2>/dev/null
}

# The receiver's TLS certificate (127.0.0.1) and the module's client one,
# issued before the module is registered.
daemon_start
issue recv -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
ATTRS=CertificateTemplate:tls-client
issue whclient
ATTRS=
# Isolated, the module runs as nobody: its key and secrets are nobody's.
chown nobody "$T_DIR/whclient.key"
chmod 600 "$T_DIR/whclient.key"
daemon_stop

# Two secrets (rotation): a Standard Webhooks whsec_ one and a plain one.
SEC1=$T_DIR/secret1
SEC2=$T_DIR/secret2
echo "whsec_$(openssl rand -base64 32)" >"$SEC1"
openssl rand -hex 20 >"$SEC2"
chmod 600 "$SEC1" "$SEC2"
chown nobody "$SEC1" "$SEC2"
# The receiver knows only the second (it rotated first).
cp "$SEC2" "$RDIR/secrets"

cat >"$RDIR/recv.py" <<'PY'
import base64, hashlib, hmac, json, os, re, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

rdir, http_port, https_port, cert, key, ca = sys.argv[1:7]
lock = threading.Lock()
seen = {}          # id -> accepted once
tries = {}         # id -> requests so far
not_before = {}    # id -> earliest retry a 429 allowed
state = {"inflight": 0}

def secrets():
    out = []
    for ln in open(os.path.join(rdir, "secrets")).read().split():
        out.append(base64.b64decode(ln[6:]) if ln.startswith("whsec_")
                   else ln.encode())
    return out

def verify(h, body):
    mid, ts, sig = (h.get("webhook-id"), h.get("webhook-timestamp"),
                    h.get("webhook-signature"))
    if not (mid and ts and sig) or abs(time.time() - int(ts)) > 300:
        return False
    msg = mid.encode() + b"." + ts.encode() + b"." + body
    want = [base64.b64encode(hmac.new(k, msg, hashlib.sha256).digest())
            .decode() for k in secrets()]
    got = [s.split(",", 1)[1] for s in sig.split() if s.startswith("v1,")]
    return any(hmac.compare_digest(w, g) for w in want for g in got)

def common_name(doc):
    d = doc.get("data") or {}
    for s in ((d.get("certificate") or {}).get("common_name"),
              (d.get("request") or {}).get("subject"),
              doc.get("text"), json.dumps(doc)):
        if s:
            m = re.search(r"(?:CN=)?\b((?:p400|t500|t429|g410)-\w+)", s)
            if m:
                return m.group(1)
    return ""

def mode(name):
    return os.path.exists(os.path.join(rdir, name))

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            state["inflight"] += 1
            inflight = state["inflight"]
        try:
            self.handle_post(body, inflight)
        finally:
            with lock:
                state["inflight"] -= 1
    def handle_post(self, body, inflight):
        for _ in range(400):
            if not mode("hold"):
                break
            time.sleep(0.05)
        if mode("slow"):
            time.sleep(float(open(os.path.join(rdir, "slow")).read()))
        mid = self.headers.get("webhook-id", "")
        rec = {"id": mid, "path": self.path, "inflight": inflight,
               "conn": "%s:%d" % self.client_address,
               "tls": hasattr(self.connection, "getpeercert"),
               "ctype": self.headers.get("Content-Type", ""),
               "nsig": len((self.headers.get("webhook-signature") or "").split()),
               "t": time.time()}
        if rec["tls"]:
            peer = self.connection.getpeercert() or {}
            rec["client"] = [v for rdn in peer.get("subject", ())
                             for k, v in rdn if k == "commonName"]
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        rec["doc"] = doc
        sig_ok = verify(self.headers, body)
        rec["sig"] = sig_ok
        cn = common_name(doc or {})
        with lock:
            n = tries[mid] = tries.get(mid, 0) + 1
            early = mid in not_before and time.time() < not_before[mid]
        rec["try"], rec["early"] = n, early
        hdrs = {}
        if not sig_ok and not self.path.startswith("/chat"):
            status = 401
        elif cn.startswith("p400") and not mode("fixed"):
            status = 400
        elif cn.startswith("t500") and n <= 2:
            status = 500
        elif cn.startswith("t429") and n == 1:
            status = 429
            hdrs["Retry-After"] = "2"
            with lock:
                not_before[mid] = time.time() + 2
        elif cn.startswith("g410") and mode("gone"):
            status = 410
        else:
            status = 200
        if status == 200:
            with lock:
                rec["dup"] = mid in seen
                seen[mid] = True
        rec["status"] = status
        with lock:
            with open(os.path.join(rdir, "log.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")
        out = b'{"ok":true}' if status == 200 else b"no: %d" % status
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

def server(port, tls):
    srv = ThreadingHTTPServer(("127.0.0.1", int(port)), H)
    srv.daemon_threads = True
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED     # mTLS
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return srv

plain, tls = server(http_port, False), server(https_port, True)
threading.Thread(target=plain.serve_forever, daemon=True).start()
open(os.path.join(rdir, "ready"), "w").close()
tls.serve_forever()
PY

HPORT=$(free_port)
SPORT=$(free_port)
python3 "$RDIR/recv.py" "$RDIR" "$HPORT" "$SPORT" "$T_DIR/recv.crt" \
    "$T_DIR/recv.key" "$T_DIR/ca.pem" 2>"$RDIR/recv.err" &
RPID=$!
trap 'kill $RPID 2>/dev/null; daemon_kill; rm -rf "$T_DIR"; exit 1' INT TERM
check "the receiver listens (HTTP and HTTPS)" wait_until 30 test -f "$RDIR/ready"

# q EXPR: evaluate a python expression over the receiver's log: L is the
# list of records, A the accepted (200) first deliveries, T(type) those
# of a CloudEvents type, C(cn) those whose certificate has that CN.
q() {
	python3 - "$RLOG" "$1" <<'PY'
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
A = [r for r in L if r["status"] == 200 and not r.get("dup")]
def T(t): return [r for r in A if (r["doc"] or {}).get("type") == t]
def C(cn, recs=None):
    return [r for r in (L if recs is None else recs)
            if ((r["doc"] or {}).get("data") or {}).get("certificate", {}).get("common_name") == cn
            or cn in json.dumps(r["doc"])]
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
PY
}
# q_is EXPR VALUE: for wait_until.
q_is() {
	[ "$(q "$1")" = "$2" ]
}
list_json() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1
}
field() {	# field NAME: MOD's field in `exit list`
	list_json && module_field "$T_DIR/list.json" "$MOD" "$1"
}
field_match() {	# field_match NAME PATTERN
	field "$1" | grep -Eq -- "$2"
}

check "register webhook (by its short name)" \
    "$CERTMINT" -c "$CONF" exit register webhook
conf_set "$MOD" url "https://127.0.0.1:$SPORT/hook"
conf_set "$MOD" secret_file "$SEC1, $SEC2"
conf_set "$MOD" ca_file "$T_DIR/ca.pem"
conf_set "$MOD" client_cert "$T_DIR/whclient.crt"
conf_set "$MOD" client_key_file "$T_DIR/whclient.key"
conf_set exit max_attempts 6
conf_set exit backoff_initial_ms 100
conf_set exit backoff_max_ms 800
conf_set exit threads 4
# Section 6 holds requests longer than [exit] deadline_ms's default 5 s.
conf_set exit deadline_ms 60000
daemon_start

# 1. Configure: every key checked with its name and why; a test delivery.
out=$("$CERTMINT" -c "$CONF" exit configure "$MOD" 2>&1)
check_match "configure: a test delivery over HTTPS with mTLS answers 200" \
    "test delivery to https://127.0.0.1:$SPORT: HTTP 200; format cloudevents, 2 signing secrets" "$out"
check_eq "the receiver got org.certmint.webhook.test, signed, from the client certificate" \
    "1 True whclient" \
    "$(q 'len(T("org.certmint.webhook.test")), T("org.certmint.webhook.test")[0]["sig"], T("org.certmint.webhook.test")[0]["client"][0]' | tr -d "(),'")"
check_match "the running module is isolated (a host process)" process \
    "$(field isolation)"
check_refused "exit set timeout abc: refused" 30 "refused timeout" \
    "$CERTMINT" -c "$CONF" exit set "$MOD" timeout abc
check_refused "exit set format xml: refused" 30 "refused format" \
    "$CERTMINT" -c "$CONF" exit set "$MOD" format xml
check_refused "exit set url ftp://...: refused" 30 "refused url" \
    "$CERTMINT" -c "$CONF" exit set "$MOD" url ftp://127.0.0.1/x
check_refused "exit set text_issued with an empty %{}: refused" 30 \
    "refused text_issued" \
    "$CERTMINT" -c "$CONF" exit set "$MOD" text_issued 'x %{} y'
chmod 644 "$SEC2"
check_refused "configure names a secret others can read" 30 \
    "secret_file: .*secret2: mode 644" \
    "$CERTMINT" -c "$CONF" exit configure "$MOD"
chmod 600 "$SEC2"
conf_set "$MOD" events "issued, bogus"
"$CERTMINT" -c "$CONF" reload >/dev/null 2>&1
check_refused "configure names an unknown event" 30 \
    'events: unknown event "bogus"' \
    "$CERTMINT" -c "$CONF" exit configure "$MOD"
conf_set "$MOD" events all
conf_set "$MOD" url "https://127.0.0.1:$HPORT/hook"
"$CERTMINT" -c "$CONF" reload >/dev/null 2>&1
check_refused "configure reports a failed test delivery (TLS to a plain HTTP port)" \
    30 "url: test delivery to https://127.0.0.1:$HPORT failed" \
    "$CERTMINT" -c "$CONF" exit configure "$MOD"
conf_set "$MOD" url "https://127.0.0.1:$SPORT/hook"
"$CERTMINT" -c "$CONF" reload >/dev/null 2>&1

# 2. Every event, as a signed CloudEvent.
check "STARTUP: org.certmint.ca.startup" wait_until 30 \
    q_is 'len(T("org.certmint.ca.startup"))' 1
ATTRS=CertificateTemplate:tls-client	# a profile that allows a hold
issue one -addext "subjectAltName=DNS:one.test"
ATTRS=
id1=$ID
serial1=$SERIAL
check "CERTISSUED: org.certmint.certificate.issued" wait_until 30 \
    q_is 'len(T("org.certmint.certificate.issued"))' 1
q 'T("org.certmint.certificate.issued")[0]["doc"]' >"$T_DIR/ce.json"
check_eq "structured CloudEvent: specversion, source, subject, datacontenttype" \
    "1.0 urn:certmint:ca:Test%20CA $serial1 application/json" \
    "$(json "$T_DIR/ce.json" '" ".join([j["specversion"], j["source"], j["subject"], j["datacontenttype"]])')"
seq1=$(json "$T_DIR/ce.json" 'j["data"]["sequence"]')
check_eq "id is <CA id>-<EventSequence> and the webhook-id" \
    "$(db_query "SELECT seq FROM events WHERE event = 1 ORDER BY seq DESC LIMIT 1")" "$seq1"
check_match "id form" "^[0-9a-f]{16}-$seq1\$" "$(json "$T_DIR/ce.json" 'j["id"]')"
check_eq "data: request id, disposition, certificate serial and CN" \
    "$id1 20 $serial1 one" \
    "$(json "$T_DIR/ce.json" '" ".join(str(x) for x in [j["data"]["request"]["id"], j["data"]["request"]["disposition"], j["data"]["certificate"]["serial"], j["data"]["certificate"]["common_name"]])')"
json "$T_DIR/ce.json" 'j["data"]["certificate"]["pem"]' >"$T_DIR/ce.crt"
check_eq "data.certificate.pem is the issued certificate" \
    "$(openssl x509 -in "$T_DIR/one.crt" -outform DER | sha256sum)" \
    "$(openssl x509 -in "$T_DIR/ce.crt" -outform DER | sha256sum)"
check_eq "Content-Type application/cloudevents+json; two signatures, one verifies" \
    "application/cloudevents+json; charset=utf-8 2 True" \
    "$(q '" ".join(str(x) for x in [T("org.certmint.certificate.issued")[0]["ctype"], T("org.certmint.certificate.issued")[0]["nsig"], T("org.certmint.certificate.issued")[0]["sig"]])')"

conf_set policy request_disposition pending
"$CERTMINT" -c "$CONF" reload >/dev/null
issue two
id2=$ID
check "CERTPENDING: org.certmint.request.pending" wait_until 30 \
    q_is 'len(T("org.certmint.request.pending"))' 1
"$CERTMINT" -c "$CONF" resubmit "$id2" >/dev/null
"$CERTMINT" -c "$CONF" retrieve "$id2" >/dev/null
check "CERTRETRIEVEPENDING: org.certmint.request.retrieved" wait_until 30 \
    q_is 'len(T("org.certmint.request.retrieved"))' 1
issue three
"$CERTMINT" -c "$CONF" deny "$ID" >/dev/null
check "CERTDENIED: org.certmint.request.denied" wait_until 30 \
    q_is 'len(T("org.certmint.request.denied"))' 1
check_eq "the pending event is as it was (disposition 9, no certificate)" \
    "9 False" "$(q 'T("org.certmint.request.pending")[0]["doc"]["data"]["request"]["disposition"], "certificate" in T("org.certmint.request.pending")[0]["doc"]["data"]' | tr -d '(),')"
conf_set policy request_disposition issue
"$CERTMINT" -c "$CONF" reload >/dev/null
"$CERTMINT" -c "$CONF" revoke "$serial1" certificateHold >/dev/null
check "CERTREVOKED: org.certmint.certificate.revoked" wait_until 30 \
    q_is 'len(T("org.certmint.certificate.revoked"))' 1
check_eq "revoked: reason certificateHold (6)" 6 \
    "$(q 'T("org.certmint.certificate.revoked")[0]["doc"]["data"]["certificate"]["revoked_reason"]')"
"$CERTMINT" -c "$CONF" unrevoke "$serial1" >/dev/null
check "CERTUNREVOKED: org.certmint.certificate.unrevoked" wait_until 30 \
    q_is 'len(T("org.certmint.certificate.unrevoked"))' 1
"$CERTMINT" -c "$CONF" crl >/dev/null
check "CRLISSUED: org.certmint.crl.issued" wait_until 30 \
    q_is 'len(T("org.certmint.crl.issued")) >= 1' True
q 'T("org.certmint.crl.issued")[-1]["doc"]["data"]["crl"]["pem"]' >"$T_DIR/ce.crl"
check "data.crl.pem is a CRL signed by the CA" \
    openssl crl -in "$T_DIR/ce.crl" -CAfile "$T_DIR/ca.pem" -noout
check_eq "data.crl.number is that CRL's number" \
    "$(openssl crl -in "$T_DIR/ce.crl" -noout -crlnumber | sed 's/.*=//' | python3 -c 'print(int(input(), 16))')" \
    "$(q 'T("org.certmint.crl.issued")[-1]["doc"]["data"]["crl"]["number"]')"
new_csr imp
openssl x509 -req -in "$T_DIR/imp.csr" -CA "$T_DIR/ca/ca.crt" \
    -CAkey "$T_DIR/ca/ca.key" -set_serial 0x1234567890 -days 30 \
    -out "$T_DIR/imp.crt" 2>/dev/null
"$CERTMINT" -c "$CONF" import "$T_DIR/imp.crt" >/dev/null
check "CERTIMPORTED: org.certmint.certificate.imported" wait_until 30 \
    q_is 'len(T("org.certmint.certificate.imported"))' 1
check_eq "every request verified (signature checked by the receiver)" 0 \
    "$(q 'len([r for r in L if not r["sig"]])')"

# 3. Transient (500 twice, then 200), Retry-After, permanent (400).
issue t500-a
check "HTTP 500 twice, then delivered" wait_until 30 \
    q_is 'len([r for r in C("t500-a", A)])' 1
check_eq "three attempts of the same id" "3" "$(q 'len(C("t500-a"))')"
issue t429-a
check "HTTP 429 with Retry-After: 2, then delivered" wait_until 30 \
    q_is 'len(C("t429-a", A))' 1
check_eq "no retry came before Retry-After" "[]" \
    "$(q '[r["try"] for r in C("t429-a") if r["early"]]')"
issue p400-a
p400=$ID
check "HTTP 400: a dead letter at once" wait_until 30 \
    field_match dead_letters '^1$'
check_eq "... after one attempt (permanent: no retry)" 1 "$(q 'len(C("p400-a"))')"
"$CERTMINT" -c "$CONF" exit status "$MOD" >"$T_DIR/status.out" 2>&1
check_match "exit status shows the dead letter with its cause" \
    "context $p400, 1 attempts.*HTTP 400 .*permanent" "$(cat "$T_DIR/status.out")"
check_match "exit list's last error names the status, without the URL's path" \
    "HTTP 400 for [0-9a-f]+-[0-9]+ \\(permanent\\)" "$(field last_error)"
check_eq "the URL's path is never logged" "" \
    "$(grep -F "127.0.0.1:$SPORT/hook" "$T_LOG" | head -3)"
check_eq "no secret is ever logged or stored in the database" "" \
    "$(grep -F -e "$(cat "$SEC1")" -e "$(sed 's/^whsec_//' "$SEC1")" \
    -e "$(cat "$SEC2")" "$T_LOG" "$T_DIR/ca/certmint.db" | head -3)"

# 4. Replay: --dead once the receiver accepts; --from: the duplicates
# carry the same id and the receiver drops them.
touch "$RDIR/fixed"
check_match "replay --dead queues the dead letter" "1 events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay "$MOD" --dead 2>&1)"
check "the dead letter is delivered" wait_until 30 \
    q_is 'len(C("p400-a", A))' 1
before=$(q 'len(A)')
check "replay --from the first issued event" \
    "$CERTMINT" -c "$CONF" exit replay "$MOD" --from "$seq1"
check "the replayed issued event arrives again, with its id" wait_until 30 \
    q_is 'len([r for r in L if r.get("dup") and r["doc"]["data"]["sequence"] == '"$seq1"'])' 1
check_eq "the receiver dropped every replayed event (nothing new accepted)" \
    "$before" "$(q 'len(A)')"

# 5. 410 Gone: the module suspends (visibly), its events queue; resume.
touch "$RDIR/gone"
issue g410-a
check "HTTP 410 suspends the module" wait_until 30 \
    field_match suspended "410"
check_match "exit list shows the suspension and why" \
    "suspended: .*HTTP 410 Gone" "$("$CERTMINT" -c "$CONF" exit list)"
issue queued-a
rm -f "$RDIR/gone"
check "exit resume" "$CERTMINT" -c "$CONF" exit resume "$MOD"
check "after resume the 410 event and the queued one are delivered" \
    wait_until 30 q_is 'len(C("g410-a", A)) + len(C("queued-a", A))' 2

# 6. Concurrent, kept alive: 12 events queue while the receiver holds
# its first request (at most 20 s), then go out. The module waits longer
# than the receiver holds: issuing 12 certificates on a loaded machine
# can outlast 6 attempts of the default 4 s (a dead letter, new
# connections). So does the host (deadline_ms above).
check "exit set timeout 30s" "$CERTMINT" -c "$CONF" exit set "$MOD" timeout 30s
touch "$RDIR/hold"
n0=$(q 'len(L)')
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	issue "ka-$i" >/dev/null
done
# Released slowly (0.5 s a request), so that the queued events overlap
# at the receiver however fast or slow (TSan) certmintd is.
echo 0.5 >"$RDIR/slow"
rm -f "$RDIR/hold"
check "12 events delivered" wait_until 60 \
    q_is 'len([r for r in A if "ka-" in json.dumps(r["doc"])])' 12
check "delivered concurrently (several requests in flight at once)" \
    test "$(q 'max(r["inflight"] for r in L['"$n0"':])')" -gt 1
check "over kept-alive connections (fewer connections than requests)" \
    test "$(q 'len(set(r["conn"] for r in L['"$n0"':]))')" -lt 12
rm -f "$RDIR/slow"

# 7. kill -9 of certmintd during delivery: nothing lost, duplicates
# dropped by id.
echo 0.3 >"$RDIR/slow"
for i in 1 2 3 4 5 6 7 8 9 10; do
	issue "k9-$i" >/dev/null
done
check "deliveries under way" wait_until 30 \
    q_is 'len([r for r in L if "k9-" in json.dumps(r["doc"])]) >= 2' True
daemon_kill
rm -f "$RDIR/slow"
daemon_start
check "after kill -9 and a restart every event arrives" wait_until 60 \
    q_is 'len([r for r in A if "k9-" in json.dumps(r["doc"])])' 10
check_eq "each once as accepted (any redelivery dropped by id)" 10 \
    "$(q 'len(set(r["id"] for r in A if "k9-" in json.dumps(r["doc"])))')"
dl=$(field dead_letters)
check_eq "no dead letter from the crash" 0 "$dl"
[ "$dl" = 0 ] || "$CERTMINT" -c "$CONF" exit status "$MOD" 2>&1 | sed 's/^/# /'

# 8. Inline, plain HTTP, the Slack and Teams presets.
conf_set "exit.$MOD" isolation inline
conf_set "$MOD" url "http://127.0.0.1:$HPORT/chat/slack"
conf_set "$MOD" format slack
conf_set "$MOD" text_issued "Issued %{Subject.CommonName} to %{Request.RequesterName} (%{Attribute.Missing}, %{Attribute.Nope:-none})"
daemon_stop
check_eq "SHUTDOWN: org.certmint.ca.shutdown, once" 1 \
    "$(q 'len(T("org.certmint.ca.shutdown"))')"
daemon_start
check_match "the module now runs inline" inline "$(field isolation)"
issue chat-a
check "Slack: a {\"text\": ...} message" wait_until 30 \
    q_is '[r["doc"]["text"] for r in L if r["path"] == "/chat/slack" and "chat-a" in r["doc"].get("text", "")][:1]' \
    '["[Test CA] Issued chat-a to 127.0.0.1 (???, none)"]'
# What a requester puts in a value is text, not Slack's markup: no ping,
# no disguised link (the template's own markup stays the operator's).
ATTRS=CertificateTemplate:User issue chat-m \
    -subj '/CN=<!channel> <https:\/\/evil.example\/renew|Renew now> & chat-m'
check "Slack: a value's <, > and & escaped" wait_until 30 \
    q_is '[r["doc"]["text"] for r in L if r["path"] == "/chat/slack" and "chat-m" in r["doc"].get("text", "")][:1]' \
    '["[Test CA] Issued &lt;!channel&gt; &lt;https://evil.example/renew|Renew now&gt; &amp; chat-m to 127.0.0.1 (???, none)"]'
check "exit set format teams" "$CERTMINT" -c "$CONF" exit set "$MOD" format teams
issue chat-b
check "Teams: an Adaptive Card with the text" wait_until 30 \
    q_is '[r["doc"]["attachments"][0]["content"]["body"][0]["text"] for r in L if "chat-b" in json.dumps(r["doc"])][:1]' \
    '["[Test CA] Issued chat-b to 127.0.0.1 (???, none)"]'
ATTRS=CertificateTemplate:User issue chat-n \
    -subj '/CN=[Renew now](https:\/\/evil.example\/renew) **chat-n**'
check "Teams: a value's markdown escaped" wait_until 30 \
    q_is '[r["doc"]["attachments"][0]["content"]["body"][0]["text"] for r in L if "chat-n" in json.dumps(r["doc"])][:1]' \
    '["[Test CA] Issued \\[Renew now\\]\\(https://evil.example/renew\\) \\*\\*chat-n\\*\\* to 127.0.0.1 (???, none)"]'
# A misspelt key is refused by name, not silently ignored.
conf_set "$MOD" secrets_file 1
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: a misspelt key (secrets_file), by name" 30 \
    "secrets_file: not a setting of CertMint_" \
    "$CERTMINT" -c "$CONF" exit configure "$MOD"
sed -i '/^secrets_file = /d' "$CONF"
"$CERTMINT" -c "$CONF" reload >/dev/null

daemon_stop
check_eq "daemon stops cleanly" 0 $?
check_match "inline, SHUTDOWN as a Teams card" "The CA is stopping" \
    "$(q '[r["doc"] for r in L if r["path"] == "/chat/slack"][-1]')"
kill "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
finish
