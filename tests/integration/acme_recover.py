#!/usr/bin/python3
# acme_recover.py: the ACME client steps of acme_recover.sh, one per run,
# so that the daemon can be killed and restarted between them.
#
#   acme_recover.py serve PORT TOKDIR
#       an http-01 responder: GET .../TOKEN answers the file TOKDIR/TOKEN;
#       it first adds a line to TOKDIR/asked.TOKEN (a validation has
#       started);
#       while TOKDIR/hold exists it holds the answer (at most 60 s), so
#       that a validation stays "processing".
#   acme_recover.py DIRURL CA_PEM TOKDIR STATE STEP [NAME [ARG]]
#       STATE (JSON) keeps the account and the orders by NAME between runs.
#       Each step prints one line:
#       account                 "ok"
#       order NAME              HTTP status and problem type of newOrder
#                               ("201 -", "400 rejectedIdentifier")
#       ready NAME              new order, http-01 answered, waits until it
#                               is not pending: the order's status
#       trigger NAME            new order, http-01 asked for (the
#                               responder holds): the challenge's status
#       again NAME              the order's http-01 asked for again: the
#                               challenge's status
#       deactivate NAME         the order's authorization deactivated: its
#                               status
#       status NAME             the order's status
#       wait NAME STATUS        waits (at most 30 s) until the order has
#                               STATUS: its status then
#       finalize NAME           "HTTP-status order-status problem-type
#                               Retry-After" ("-" for none)
#       race NAME N             N finalizes of the order at once, each
#                               with its CSR: "orderNotReady=N-1 valid=1"
#       download NAME FILE      the order's certificate chain into FILE:
#                               the HTTP status
#       error NAME              the order's error type ("-" for none)
#       meta                    the directory's externalAccountRequired
import base64, hashlib, json, os, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import urllib.error, urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def serve(port, tokdir):
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            with open(os.path.join(tokdir, "asked." +
                                   os.path.basename(self.path)), "a") as f:
                f.write("asked\n")
            end = time.time() + 60
            while os.path.exists(os.path.join(tokdir, "hold")) and \
                    time.time() < end:
                time.sleep(0.05)
            path = os.path.join(tokdir, os.path.basename(self.path))
            try:
                v = open(path).read()
            except OSError:
                v = None
            try:
                self.send_response(200 if v else 404)
                self.end_headers()
                if v:
                    self.wfile.write(v.encode())
            except OSError:
                pass    # the VA gave up (its daemon was killed)

        def log_message(self, *a):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


if sys.argv[1] == "serve":
    serve(int(sys.argv[2]), sys.argv[3])
    sys.exit(0)

DIRURL, CAPEM, TOKDIR, STATE, STEP = sys.argv[1:6]
ARGS = sys.argv[6:]
CTX = ssl.create_default_context(cafile=CAPEM)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/jose+json")
    try:
        r = urllib.request.urlopen(req, context=CTX, timeout=30)
        return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


D = json.loads(http("GET", DIRURL)[2])
try:
    S = json.load(open(STATE))
except OSError:
    S = {"orders": {}}
KEY = serialization.load_pem_private_key(S["key"].encode(), None) \
    if "key" in S else None


def jwk_of(key):
    n = key.public_key().public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64(n.x.to_bytes(32, "big")),
            "y": b64(n.y.to_bytes(32, "big"))}


def thumb(key):
    j = json.dumps(jwk_of(key), sort_keys=True, separators=(",", ":"))
    return b64(hashlib.sha256(j.encode()).digest())


def post(url, payload, kid=True):
    return http("POST", url, signed(url, payload, kid))


def signed(url, payload, kid=True):
    nonce = http("HEAD", D["newNonce"])[1]["Replay-Nonce"]
    prot = {"alg": "ES256", "url": url, "nonce": nonce}
    if kid:
        prot["kid"] = S["kid"]
    else:
        prot["jwk"] = jwk_of(KEY)
    p = b64(json.dumps(prot).encode())
    pl = "" if payload is None else b64(json.dumps(payload).encode())
    r, s = decode_dss_signature(KEY.sign((p + "." + pl).encode(),
                                         ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return json.dumps({"protected": p, "payload": pl,
                       "signature": b64(sig)}).encode()


def problem(body):
    try:
        t = json.loads(body).get("type", "-")
    except ValueError:
        return "-"
    return t.rsplit(":", 1)[-1]


def save():
    json.dump(S, open(STATE, "w"))


def new_order(name):
    st, hd, body = post(D["newOrder"], {"identifiers": [
        {"type": "dns", "value": name}]})
    if st == 201:
        o = json.loads(body)
        S["orders"][name] = {"url": hd["Location"],
                             "finalize": o["finalize"],
                             "authz": o["authorizations"][0]}
        save()
    return st, body


def csr_of(name):
    k = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([])).add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(name)]), critical=False).sign(k, hashes.SHA256())
    return b64(csr.public_bytes(serialization.Encoding.DER))


def order(name):
    return json.loads(post(S["orders"][name]["url"], None)[2])


def challenge(name):
    az = json.loads(post(S["orders"][name]["authz"], None)[2])
    ch = [c for c in az["challenges"] if c["type"] == "http-01"][0]
    open(os.path.join(TOKDIR, ch["token"]), "w").write(
        ch["token"] + "." + thumb(KEY))
    return json.loads(post(ch["url"], {})[2])


def wait(name, pred, secs):
    end = time.time() + secs
    o = order(name)
    while not pred(o["status"]) and time.time() < end:
        time.sleep(0.1)
        o = order(name)
    return o


if STEP == "account":
    KEY = ec.generate_private_key(ec.SECP256R1())
    S["key"] = KEY.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    st, hd, _ = post(D["newAccount"], {"termsOfServiceAgreed": True},
                     kid=False)
    S["kid"] = hd["Location"]
    save()
    print("ok" if st == 201 else "newAccount %d" % st)
elif STEP == "order":
    st, body = new_order(ARGS[0])
    print(st, "-" if st == 201 else problem(body))
elif STEP == "ready":
    new_order(ARGS[0])
    challenge(ARGS[0])
    print(wait(ARGS[0], lambda s: s != "pending", 30)["status"])
elif STEP == "trigger":
    new_order(ARGS[0])
    print(challenge(ARGS[0])["status"])
elif STEP == "again":
    print(challenge(ARGS[0])["status"])
elif STEP == "deactivate":
    print(json.loads(post(S["orders"][ARGS[0]]["authz"],
                          {"status": "deactivated"})[2])["status"])
elif STEP == "status":
    print(order(ARGS[0])["status"])
elif STEP == "wait":
    print(wait(ARGS[0], lambda s: s == ARGS[1], 30)["status"])
elif STEP == "finalize":
    st, hd, body = post(S["orders"][ARGS[0]]["finalize"], {"csr": csr_of(
        ARGS[0])})
    if st >= 400:
        print(st, "-", problem(body), hd.get("Retry-After") or "-")
    else:
        print(st, json.loads(body)["status"], "-",
              hd.get("Retry-After") or "-")
elif STEP == "race":
    # N finalizes of one order, signed first, sent at once: how they end.
    url = S["orders"][ARGS[0]]["finalize"]
    bodies = [signed(url, {"csr": csr_of(ARGS[0])})
              for _ in range(int(ARGS[1]))]
    out = []
    def one(b):
        st, _, body = http("POST", url, b)
        out.append(json.loads(body)["status"] if st < 400 else problem(body))
    ts = [threading.Thread(target=one, args=(b,)) for b in bodies]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(" ".join("%s=%d" % (k, out.count(k)) for k in sorted(set(out))))
elif STEP == "download":
    o = wait(ARGS[0], lambda s: s != "processing", 30)
    if "certificate" not in o:
        print("no certificate (%s)" % o["status"])
        sys.exit(0)
    st, _, pem = post(o["certificate"], None)
    open(ARGS[1], "wb").write(pem)
    print(st)
elif STEP == "error":
    e = order(ARGS[0]).get("error")
    print(e["type"].rsplit(":", 1)[-1] if e else "-")
elif STEP == "meta":
    print(str(D["meta"].get("externalAccountRequired")).lower())
elif STEP == "lookup":
    # newAccount with this key: onlyReturnExisting, or a creation.
    pl = {"onlyReturnExisting": True} if ARGS[0] == "existing" else \
        {"termsOfServiceAgreed": True}
    st, hd, body = post(D["newAccount"], pl, kid=False)
    print(st, "-" if st < 300 else problem(body))
