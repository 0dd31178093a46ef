#!/usr/bin/python3
# acme_bad.py DIRECTORY_URL CA_PEM HTTP01_PORT OUT: a small ACME client
# (python3 stdlib + cryptography) that sends what real clients must not:
# bad JWS, bad CSRs, calls out of order. For each case it writes to OUT a
# line "case|HTTP status|problem type suffix|checks" where checks is "ok"
# when the answer was application/problem+json with a "status" equal to
# the HTTP status and a Replay-Nonce header, else what was wrong. Cases
# that must succeed (the control flow) write "case|status|-|ok".
import base64, hashlib, hmac, ipaddress, json, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import urllib.error, urllib.parse, urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

DIRURL, CAPEM, H01, OUT = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
CTX = ssl.create_default_context(cafile=CAPEM)
out = open(OUT, "w", buffering=1)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwk_of(key):
    n = key.public_key().public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64(n.x.to_bytes(32, "big")),
            "y": b64(n.y.to_bytes(32, "big"))}


def thumb(key):
    j = json.dumps(jwk_of(key), sort_keys=True, separators=(",", ":"))
    return b64(hashlib.sha256(j.encode()).digest())


def es256(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def http(method, url, body=None, ctype="application/jose+json"):
    req = urllib.request.Request(url, data=body, method=method)
    if ctype and body is not None:
        req.add_header("Content-Type", ctype)
    req.add_header("User-Agent", "acme_bad.py")
    try:
        r = urllib.request.urlopen(req, context=CTX, timeout=30)
        return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


D = json.loads(http("GET", DIRURL)[2])


def nonce():
    return http("HEAD", D["newNonce"])[1]["Replay-Nonce"]


def jws(key, url, payload, kid=None, alg="ES256", nonce_=None, jwk=None,
        sign_with=None):
    prot = {"alg": alg, "url": url, "nonce": nonce_ or nonce()}
    if kid:
        prot["kid"] = kid
    else:
        prot["jwk"] = jwk or jwk_of(key)
    p = b64(json.dumps(prot).encode())
    pl = "" if payload is None else b64(json.dumps(payload).encode())
    si = (p + "." + pl).encode()
    if alg == "ES256":
        sig = es256(sign_with or key, si)
    elif alg == "HS256":
        sig = hmac.new(b"k" * 32, si, hashlib.sha256).digest()
    else:
        sig = b""
    return json.dumps({"protected": p, "payload": pl,
                       "signature": b64(sig)}).encode()


def post(key, url, payload, **kw):
    ctype = kw.pop("ctype", "application/jose+json")
    return http("POST", url, jws(key, url, payload, **kw), ctype)


def record(case, resp, expect_ok=False):
    st, hd, body = resp
    if expect_ok:
        out.write("%s|%d|-|%s\n" % (case, st, "ok" if st < 300 and
                                    hd.get("Replay-Nonce") else "bad"))
        return
    why = []
    try:
        j = json.loads(body)
    except ValueError:
        j = {}
    if not (hd.get("Content-Type") or "").startswith("application/problem+json"):
        why.append("content-type %s" % hd.get("Content-Type"))
    if j.get("status") != st:
        why.append("status field %s" % j.get("status"))
    if not hd.get("Replay-Nonce"):
        why.append("no Replay-Nonce")
    t = j.get("type", "")
    prefix = "urn:ietf:params:acme:error:"
    out.write("%s|%d|%s|%s\n" % (case, st, t[len(prefix):] if
              t.startswith(prefix) else t, ",".join(why) or "ok"))


def new_account(key):
    st, hd, _ = post(key, D["newAccount"], {"termsOfServiceAgreed": True})
    return hd["Location"]


def csr_for(names, key=None, ips=()):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    b = b.add_extension(x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in names] +
        [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]),
        critical=False)
    return b64(b.sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)), key


# An http-01 responder on the port the VA dials.
TOKENS = {}


ASKED = []
HANG = set()                    # tokens answered only once RELEASE is set
RELEASE = threading.Event()


class H(BaseHTTPRequestHandler):
    def do_GET(self):
        tok = self.path.rsplit("/", 1)[-1]
        ASKED.append(tok)
        if tok in HANG:
            RELEASE.wait(50)
        v = TOKENS.get(tok)
        self.send_response(200 if v else 404)
        self.end_headers()
        if v:
            self.wfile.write(v.encode())

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", H01), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()

PHASE = sys.argv[5] if len(sys.argv) > 5 else "all"
STATE = OUT + ".state"


def order_ready(key, kid, name, typ="dns"):
    """A new order for name, validated by http-01: (order, order URL)."""
    st, hd, body = post(key, D["newOrder"], {"identifiers": [
        {"type": typ, "value": name}]}, kid=kid)
    order, ourl = json.loads(body), hd["Location"]
    az = json.loads(post(key, order["authorizations"][0], None, kid=kid)[2])
    ch = [c for c in az["challenges"] if c["type"] == "http-01"][0]
    TOKENS[ch["token"]] = ch["token"] + "." + thumb(key)
    post(key, ch["url"], {}, kid=kid)
    for _ in range(100):
        if json.loads(post(key, ourl, None, kid=kid)[2])["status"] != "pending":
            break
        time.sleep(0.1)
    return order, ourl


def order_valid(key, kid, name, typ="dns", csr=None):
    """A whole order by http-01, finalized (with csr if given): (order URL,
    certificate URL)."""
    order, ourl = order_ready(key, kid, name, typ)
    if csr is None:
        csr, _ = csr_for([name]) if typ == "dns" else csr_for([], ips=[name])
    o = json.loads(post(key, order["finalize"], {"csr": csr}, kid=kid)[2])
    return ourl, o.get("certificate")


def chall_result(key, kid, typ, name, body=None):
    """The http-01 challenge of a new order for name once validated, the
    responder answering body (default: the key authorization); and
    whether the responder was asked."""
    st, hd, ob = post(key, D["newOrder"], {"identifiers": [
        {"type": typ, "value": name}]}, kid=kid)
    az_url = json.loads(ob)["authorizations"][0]
    az = json.loads(post(key, az_url, None, kid=kid)[2])
    ch = [c for c in az["challenges"] if c["type"] == "http-01"][0]
    TOKENS[ch["token"]] = body(ch["token"]) if callable(body) else \
        body or ch["token"] + "." + thumb(key)
    post(key, ch["url"], {}, kid=kid)
    for _ in range(100):
        az = json.loads(post(key, az_url, None, kid=kid)[2])
        c = [c for c in az["challenges"] if c["type"] == "http-01"][0]
        if c["status"] not in ("pending", "processing"):
            break
        time.sleep(0.1)
    return c, ch["token"] in ASKED


def chall_line(case, c, cond):
    t = c.get("error", {}).get("type", "").rsplit(":", 1)[-1] or "-"
    out.write("%s|%s|%s|%s\n" % (case, c["status"], t,
                                 "ok" if cond else c.get("error")))


if PHASE == "echo":
    # A body that is not a key authorization is not quoted back: the URL
    # (a name, a redirect) may lead to anyone's service.
    k = ec.generate_private_key(ec.SECP256R1())
    kid = new_account(k)
    secret = "INTERNAL-SECRET: db_password=hunter2"
    c, asked = chall_result(k, kid, "dns", "echo1.certmint.test", secret)
    chall_line("echo_secret", c, asked and
               "hunter2" not in json.dumps(c.get("error")))
    # base64url, but not this token's: not shown either (an API key...)
    c, asked = chall_result(k, kid, "dns", "echo2.certmint.test",
                            "AKIAEXAMPLEKEY.abcdef")
    chall_line("echo_base64url", c, asked and
               "AKIAEXAMPLEKEY" not in json.dumps(c.get("error")))
    # this token with another thumbprint (a client's mistake): shown
    c, asked = chall_result(k, kid, "dns", "echo3.certmint.test",
                            lambda t: t + ".otherThumbprint")
    chall_line("echo_keyauth_like", c, ".otherThumbprint" in
               json.dumps(c.get("error")))
    out.close()
    sys.exit(0)
if PHASE == "fair":
    # One account's 20 http-01 validations whose responder hangs (more
    # than [acme] max_validations, 16) hold up its own validations, not
    # another account's: that one is valid while all 20 still hang.
    from concurrent.futures import ThreadPoolExecutor
    ka, kb = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    kida, kidb = new_account(ka), new_account(kb)
    names = ["h%d.fair.certmint.test" % i for i in range(20)]
    ob = json.loads(post(ka, D["newOrder"], {"identifiers": [
        {"type": "dns", "value": n} for n in names]}, kid=kida)[2])
    chs = []
    for az_url in ob["authorizations"]:
        az = json.loads(post(ka, az_url, None, kid=kida)[2])
        ch = [c for c in az["challenges"] if c["type"] == "http-01"][0]
        HANG.add(ch["token"])
        TOKENS[ch["token"]] = ch["token"] + "." + thumb(ka)
        chs.append(ch)
    with ThreadPoolExecutor(20) as ex:
        list(ex.map(lambda c: post(ka, c["url"], {}, kid=kida), chs))
        for _ in range(100):            # the pool's slots taken
            if len(set(ASKED) & HANG) >= 8:
                break
            time.sleep(0.05)
        c, asked = chall_result(kb, kidb, "dns", "b.fair.certmint.test")
        hanging = sum(1 for c2 in chs if json.loads(post(
            ka, c2["url"], None, kid=kida)[2])["status"] in
            ("pending", "processing"))
        chall_line("fair_other_account", c, c["status"] == "valid" and
                   hanging == 20)
        out.write("fair_asked|%d|-|ok\n" % len(set(ASKED) & HANG))
        RELEASE.set()
        # Every held validation answered before this process ends: a
        # responder thread still writing while Python shuts down can
        # crash it (it did once, in CI, after the results were written).
        for _ in range(600):
            if all(json.loads(post(ka, c2["url"], None, kid=kida)[2])[
                    "status"] not in ("pending", "processing") for c2 in chs):
                break
            time.sleep(0.1)
    srv.shutdown()
    srv.server_close()
    out.close()
    sys.exit(0)
if PHASE == "deny":
    # The default [acme] validation_deny: a name resolving to 127.0.0.1,
    # and the IP itself, are never fetched.
    k = ec.generate_private_key(ec.SECP256R1())
    kid = new_account(k)
    for case, typ, name in (("deny_name", "dns", "deny.certmint.test"),
                            ("deny_ip", "ip", "127.0.0.1")):
        c, asked = chall_result(k, kid, typ, name)
        chall_line(case, c, not asked and "validation_deny" in
                   c.get("error", {}).get("detail", ""))
    out.close()
    sys.exit(0)
def save_state(k, kid, **more):
    """An account (key, kid) and more, for a later phase (load_state)."""
    json.dump(dict(key=k.private_bytes(serialization.Encoding.PEM,
                   serialization.PrivateFormat.PKCS8,
                   serialization.NoEncryption()).decode(), kid=kid, **more),
              open(STATE, "w"))


def load_state():
    s = json.load(open(STATE))
    return s, serialization.load_pem_private_key(s["key"].encode(), None)


if PHASE == "prep":
    # An order finalized, and a nonce kept unused, for after a restart.
    k = ec.generate_private_key(ec.SECP256R1())
    kid = new_account(k)
    ourl, curl = order_valid(k, kid, "restart.certmint.test")
    save_state(k, kid, cert=curl, nonce=nonce())
    out.write("prep|%s|-|ok\n" % ("valid" if curl else "no certificate"))
    out.close()
    sys.exit(0)
if PHASE == "ratelimit":
    # [acme] orders_per_account_hour = 3, orders_per_domain_hour = 4.
    ka, kb = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    kida, kidb = new_account(ka), new_account(kb)
    for i in range(1, 5):
        record("rl_a%d" % i, post(ka, D["newOrder"], {"identifiers": [
            {"type": "dns", "value": "a%d.rl.test" % i}]}, kid=kida),
            expect_ok=i < 4)
    for i in range(1, 3):
        r = post(kb, D["newOrder"], {"identifiers": [
            {"type": "dns", "value": "b%d.x.rl.test" % i}]}, kid=kidb)
        record("rl_b%d" % i, r, expect_ok=i < 2)
    # The window's end for the oldest order counted: about an hour now.
    ra = r[1].get("Retry-After") or "0"
    out.write("rl_retry_after|%s|-|ok\n" % ("under an hour" if ra.isdigit()
              and 3500 <= int(ra) <= 3600 else ra))
    # The registered domain is the public suffix list's: five names in
    # five domains under co.uk, from two accounts, are five domains, not
    # five orders for "co.uk".
    kc, kd = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    kidc, kidd = new_account(kc), new_account(kd)
    for i, n in enumerate(("one", "two", "three", "four", "five")):
        k, kid = (kc, kidc) if i < 3 else (kd, kidd)
        ids = [{"type": "dns", "value": "www.%s.co.uk" % n}]
        record("rl_psl%d" % (i + 1), post(k, D["newOrder"],
               {"identifiers": ids}, kid=kid), expect_ok=True)
    out.close()
    sys.exit(0)
if PHASE == "expiring":
    # An order whose authorization the test then ages in the database.
    k = ec.generate_private_key(ec.SECP256R1())
    kid = new_account(k)
    st, hd, body = post(k, D["newOrder"], {"identifiers": [
        {"type": "dns", "value": "expiring.certmint.test"}]}, kid=kid)
    order = json.loads(body)
    az_url = order["authorizations"][0]
    az = json.loads(post(k, az_url, None, kid=kid)[2])
    ch = [c for c in az["challenges"] if c["type"] == "http-01"][0]
    save_state(k, kid, order=hd["Location"], authz=az_url, chall=ch["url"],
               token=ch["token"])
    out.write("expiring|%s|-|ok\n" % az["status"])
    out.close()
    sys.exit(0)
if PHASE == "expired":
    # Its authorization expired, pending: the challenge is refused, never
    # fetched, and the authorization and order say invalid.
    s, k = load_state()
    TOKENS[s["token"]] = s["token"] + "." + thumb(k)
    record("expired_chall", post(k, s["chall"], {}, kid=s["kid"]))
    time.sleep(0.5)
    out.write("expired_fetched|%s|-|ok\n" % (s["token"] in ASKED))
    az = json.loads(post(k, s["authz"], None, kid=s["kid"])[2])
    out.write("expired_authz|%s|-|ok\n" % az["status"])
    o = json.loads(post(k, s["order"], None, kid=s["kid"])[2])
    out.write("expired_order|%s|-|ok\n" % o["status"])
    out.close()
    sys.exit(0)
if PHASE == "after":
    s, k = load_state()
    r = post(k, s["kid"], None, kid=s["kid"], nonce_=s["nonce"])
    if r[0] < 300:
        record("old_nonce", r, expect_ok=True)
    else:
        record("old_nonce", r)
    st, hd, pem = post(k, s["cert"], None, kid=s["kid"])
    record("download_after_restart", (st, hd, pem), expect_ok=True)
    open(OUT + ".pem", "wb").write(pem)
    out.close()
    sys.exit(0)

k1 = ec.generate_private_key(ec.SECP256R1())
k2 = ec.generate_private_key(ec.SECP256R1())
kid1 = new_account(k1)
kid2 = new_account(k2)
ORD = D["newOrder"]
ids = [{"type": "dns", "value": "bad.certmint.test"}]

# ---- bad JWS ----
record("wrong_url", http("POST", ORD, jws(k1, ORD + "x", {"identifiers": ids},
       kid=kid1)))
n = nonce()
record("first_use", post(k1, kid1, None, kid=kid1, nonce_=n), expect_ok=True)
record("reused_nonce", post(k1, kid1, None, kid=kid1, nonce_=n))
record("garbage_nonce", post(k1, kid1, None, kid=kid1, nonce_="AAAA"))
record("unknown_kid", post(k1, ORD, {"identifiers": ids},
       kid=kid1.rsplit("/", 1)[0] + "/999"))
record("alg_none", post(k1, ORD, {"identifiers": ids}, kid=kid1, alg="none"))
r = post(k1, ORD, {"identifiers": ids}, kid=kid1, alg="HS256")
record("hs256", r)
out.write("algorithms|%s|-|ok\n" % ",".join(json.loads(r[2]).get(
    "algorithms", ["none"])))
record("mismatched_jwk", post(k1, D["newAccount"], {"termsOfServiceAgreed":
       True}, jwk=jwk_of(k2), sign_with=k1))
record("other_key_kid", post(k2, ORD, {"identifiers": ids}, kid=kid1))
record("no_content_type", post(k1, ORD, {"identifiers": ids}, kid=kid1,
       ctype="application/json"))
record("kid_on_new_account", post(k1, D["newAccount"],
       {"termsOfServiceAgreed": True}, kid=kid1))
record("only_return_existing", post(ec.generate_private_key(ec.SECP256R1()),
       D["newAccount"], {"onlyReturnExisting": True}))
record("rejected_identifier", post(k1, ORD, {"identifiers": [
       {"type": "dns", "value": "evil.example.com"}]}, kid=kid1))
# The IP pattern 127.0.0.* is for addresses: not for a name that starts so.
record("ip_pattern_dns_name", post(k1, ORD, {"identifiers": [
       {"type": "dns", "value": "127.0.0.evil.test"}]}, kid=kid1))

# ---- out of order ----
st, hd, body = post(k1, ORD, {"identifiers": ids}, kid=kid1)
record("new_order", (st, hd, body), expect_ok=True)
order = json.loads(body)
ourl = hd["Location"]
record("get_order", http("GET", ourl))
record("get_unknown", http("GET", D["newNonce"].rsplit("/", 1)[0] +
                           "/nothing"))
csr, ckey = csr_for(["bad.certmint.test"])
record("finalize_not_ready", post(k1, order["finalize"], {"csr": csr},
       kid=kid1))
record("other_account_order", post(k2, ourl, None, kid=kid2))
az = json.loads(post(k1, order["authorizations"][0], None, kid=kid1)[2])
ch = [c for c in az["challenges"] if c["type"] == "http-01"][0]
TOKENS[ch["token"]] = ch["token"] + "." + thumb(k1)
record("other_account_chall", post(k2, ch["url"], {}, kid=kid2))
record("chall", post(k1, ch["url"], {}, kid=kid1), expect_ok=True)
for _ in range(100):
    o = json.loads(post(k1, ourl, None, kid=kid1)[2])
    if o["status"] != "pending":
        break
    time.sleep(0.1)
out.write("order_ready|%s|-|ok\n" % o["status"])

# ---- keys that prove nothing: refused before any signature counts ----
def raw_post(url, prot, payload, sig):
    ps = b64(json.dumps(prot).encode())
    pl = b64(json.dumps(payload).encode())
    return http("POST", url, json.dumps({"protected": ps, "payload": pl,
                "signature": b64(sig((ps + "." + pl).encode()))}).encode())


def pkcs1_em(msg, nbytes):
    di = bytes.fromhex("3031300d060960864801650304020105000420") + \
        hashlib.sha256(msg).digest()
    return b"\x00\x01" + b"\xff" * (nbytes - len(di) - 3) + b"\x00" + di


# RSA e = 1: the padded message is its own signature, for any n.
n = rsa.generate_private_key(65537, 2048).public_key().public_numbers().n
record("weak_jwk_rsa_e1", raw_post(D["newAccount"], {
    "alg": "RS256", "nonce": nonce(), "url": D["newAccount"],
    "jwk": {"kty": "RSA", "e": b64(b"\x01"), "n": b64(n.to_bytes(256, "big"))}},
    {"termsOfServiceAgreed": True}, lambda m: pkcs1_em(m, 256)))
# Ed25519 identity point: R = identity, S = 0 verifies any message.
ident = b"\x01" + bytes(31)
record("weak_jwk_ed25519", raw_post(D["newAccount"], {
    "alg": "EdDSA", "nonce": nonce(), "url": D["newAccount"],
    "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(ident)}},
    {"termsOfServiceAgreed": True}, lambda m: ident + bytes(32)))


def probable_prime(n):
    for p in range(3, 2000, 2):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def rsa_with_factor_3():
    """An RSA key of 2048 bits whose modulus is 3 times a prime."""
    import random
    rnd = random.Random(3)
    while True:
        q = rnd.getrandbits(2046) | (3 << 2044) | 1
        if (3 * q).bit_length() == 2048 and (q - 1) % 65537 and \
                probable_prime(q):
            break
    d = pow(65537, -1, 2 * (q - 1))
    nums = rsa.RSAPrivateNumbers(
        3, q, d, rsa.rsa_crt_dmp1(d, 3), rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(3, q), rsa.RSAPublicNumbers(65537, 3 * q))
    try:        # cryptography >= 39 checks keys unless told not to
        return nums.private_key(unsafe_skip_rsa_key_validation=True)
    except TypeError:
        return nums.private_key()


# ---- bad CSRs (the order stays ready: nothing is issued) ----
csr, _ = csr_for(["bad.certmint.test", "extra.certmint.test"])
record("csr_extra_name", post(k1, order["finalize"], {"csr": csr}, kid=kid1))
csr, _ = csr_for(["other.certmint.test"])
record("csr_other_name", post(k1, order["finalize"], {"csr": csr}, kid=kid1))
csr, _ = csr_for(["bad.certmint.test"], key=k1)
record("csr_account_key", post(k1, order["finalize"], {"csr": csr}, kid=kid1))
record("csr_garbage", post(k1, order["finalize"], {"csr": b64(b"junk")},
       kid=kid1))
csr, _ = csr_for(["bad.certmint.test"], key=rsa_with_factor_3())
record("csr_weak_rsa", post(k1, order["finalize"], {"csr": csr}, kid=kid1))
ck = ec.generate_private_key(ec.SECP256R1())
csr = b64(x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Google LLC"),
    x509.NameAttribute(NameOID.COMMON_NAME, "bad.certmint.test")])
).add_extension(x509.SubjectAlternativeName([x509.DNSName(
    "bad.certmint.test")]), critical=False).sign(ck, hashes.SHA256()
).public_bytes(serialization.Encoding.DER))
record("csr_subject_org", post(k1, order["finalize"], {"csr": csr}, kid=kid1))
csr = b64(x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
    x509.RelativeDistinguishedName([
        x509.NameAttribute(NameOID.COMMON_NAME, "bad.certmint.test"),
        x509.NameAttribute(NameOID.COMMON_NAME, "BAD.certmint.test")])])
).add_extension(x509.SubjectAlternativeName([x509.DNSName(
    "bad.certmint.test")]), critical=False).sign(ck, hashes.SHA256()
).public_bytes(serialization.Encoding.DER))
record("csr_two_cns", post(k1, order["finalize"], {"csr": csr}, kid=kid1))
# Taken: the order's name in capitals as the CN, and twice among the SANs,
# as lego sends a name typed in capitals (the certificate names it once).
ckey = ec.generate_private_key(ec.SECP256R1())
csr = b64(x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
    x509.NameAttribute(NameOID.COMMON_NAME, "BAD.certmint.test")])
).add_extension(x509.SubjectAlternativeName([x509.DNSName(
    "BAD.certmint.test"), x509.DNSName("bad.certmint.test")]),
    critical=False).sign(ckey, hashes.SHA256()
).public_bytes(serialization.Encoding.DER))
# A finalize whose JWS fails is refused before the CA sees it: no request
# recorded (acme_bad.sh counts them), no event, the order still ready.
record("finalize_other_key", post(k2, order["finalize"], {"csr": csr},
       kid=kid1))
record("finalize_wrong_url", http("POST", order["finalize"], jws(
       k1, order["finalize"] + "x", {"csr": csr}, kid=kid1)))
st, hd, body = post(k1, order["finalize"], {"csr": csr}, kid=kid1)
record("finalize", (st, hd, body), expect_ok=True)
o = json.loads(body)
out.write("order_valid|%s|-|ok\n" % o["status"])
record("finalize_again", post(k1, order["finalize"], {"csr": csr}, kid=kid1))
st, hd, pem = post(k1, o["certificate"], None, kid=kid1)
record("download", (st, hd, pem), expect_ok=True)
open(OUT + ".pem", "wb").write(pem)


def san_names(pem):
    c = x509.load_pem_x509_certificate(pem)
    return ",".join(str(n.value) for n in c.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value)


out.write("finalize_sans|%s|-|ok\n" % san_names(pem))
out.write("finalize_cn|%s|-|ok\n" % x509.load_pem_x509_certificate(
    pem).subject.rfc4514_string())
der = x509.load_pem_x509_certificate(pem).public_bytes(
    serialization.Encoding.DER)
RV = D["revokeCert"]


def ari(pem):
    """GET renewalInfo for pem: (HTTP status, window start, window end)."""
    c = x509.load_pem_x509_certificate(pem)
    aki = c.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier).value.key_identifier
    sn = c.serial_number.to_bytes((c.serial_number.bit_length() + 8) // 8,
                                  "big")
    st, hd, body = http("GET", D["renewalInfo"] + "/" + b64(aki) + "." +
                        b64(sn))
    if st != 200:
        return st, "", ""
    w = json.loads(body)["suggestedWindow"]
    return st, w["start"], w["end"]


st, ws, we = ari(pem)
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
out.write("ari_valid|%d|%s|ok\n" % (st, "future" if now < ws < we else
                                    "window %s %s" % (ws, we)))
record("revoke_other_account", post(k2, RV, {"certificate": b64(der)},
       kid=kid2))
record("revoke_bad_reason", post(k1, RV, {"certificate": b64(der),
       "reason": 7}, kid=kid1))
record("revoke_wrong_key", post(k2, RV, {"certificate": b64(der)}))
record("revoke", post(k1, RV, {"certificate": b64(der), "reason": 1},
       kid=kid1), expect_ok=True)
record("revoke_again", post(k1, RV, {"certificate": b64(der)}, kid=kid1))
st, ws, we = ari(pem)
out.write("ari_revoked|%d|%s|ok\n" % (st, "past" if ws < we < now else
                                      "window %s %s" % (ws, we)))
record("ari_unknown", http("GET", D["renewalInfo"] + "/AAAA.AQID"))

# ---- profiles (draft-aaron-acme-profiles) ----
out.write("meta_profiles|%s|-|ok\n" % ",".join(sorted(
    D["meta"].get("profiles", {}))))
record("invalid_profile", post(k1, ORD, {"identifiers": ids, "profile":
       "NoSuchProfile"}, kid=kid1))
st, hd, body = post(k1, ORD, {"identifiers": ids, "profile": "WebServer"},
                    kid=kid1)
out.write("order_profile|%d|%s|ok\n" % (st, json.loads(body).get("profile")))

# ---- a CSR with only a CN (acme-tiny's single name): it is the SAN ----
ck = ec.generate_private_key(ec.SECP256R1())
csr = b64(x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
    x509.NameAttribute(NameOID.COMMON_NAME, "cnonly.certmint.test")])).sign(
    ck, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
ourl, curl = order_valid(k1, kid1, "cnonly.certmint.test", csr=csr)
st, hd, pem = post(k1, curl, None, kid=kid1) if curl else (0, {}, b"")
record("cn_only_download", (st, hd, pem), expect_ok=True)
out.write("cn_only_sans|%s|-|ok\n" % (san_names(pem) if curl else "-"))
# Revoked by another account once it holds an authorization for its name
# (RFC 8555 7.6), not before.
cn_der = b64(x509.load_pem_x509_certificate(pem).public_bytes(
    serialization.Encoding.DER)) if curl else ""
record("revoke_no_authz", post(k2, RV, {"certificate": cn_der}, kid=kid2))
c, _ = chall_result(k2, kid2, "dns", "cnonly.certmint.test")
out.write("authz_for_revoke|%s|-|ok\n" % c["status"])
record("revoke_by_authz", post(k2, RV, {"certificate": cn_der}, kid=kid2),
       expect_ok=True)

# ---- a CSR key the policy does not take: badCSR, not unauthorized ----
o5, _ = order_ready(k1, kid1, "p521.certmint.test")
csr, _ = csr_for(["p521.certmint.test"],
                 key=ec.generate_private_key(ec.SECP521R1()))
record("csr_key_type", post(k1, o5["finalize"], {"csr": csr}, kid=kid1))

# ---- an IP identifier (RFC 8738) by http-01 ----
ourl, curl = order_valid(k1, kid1, "127.0.0.1", typ="ip")
st, hd, pem = post(k1, curl, None, kid=kid1) if curl else (0, {}, b"")
record("ip_download", (st, hd, pem), expect_ok=True)
open(OUT + ".ip.pem", "wb").write(pem)
o3 = json.loads(post(k1, D["newOrder"], {"identifiers": [
    {"type": "ip", "value": "127.0.0.3"}]}, kid=kid1)[2])
az = json.loads(post(k1, o3["authorizations"][0], None, kid=kid1)[2])
record("ip_v4_mapped", post(k1, D["newOrder"], {"identifiers": [
    {"type": "ip", "value": "::ffff:127.0.0.1"}]}, kid=kid1))
for case, ip in (("ip_unspecified4", "0.0.0.0"), ("ip_unspecified6", "::")):
    record(case, post(k1, D["newOrder"], {"identifiers": [
        {"type": "ip", "value": ip}]}, kid=kid1))
out.write("ip_challenges|%s|-|ok\n" % ",".join(sorted(
    c["type"] for c in az["challenges"])))
o4 = json.loads(post(k1, D["newOrder"], {"identifiers": [
    {"type": "dns", "value": "*.w.certmint.test"}]}, kid=kid1)[2])
az = json.loads(post(k1, o4["authorizations"][0], None, kid=kid1)[2])
out.write("wildcard_challenges|%s|%s|ok\n" % (",".join(sorted(
    c["type"] for c in az["challenges"])), az["identifier"]["value"]))

# ---- a body announced over max_body: 413 before it is sent ----
def announced(length):
    import socket
    u = urllib.parse.urlsplit(ORD)
    with socket.create_connection((u.hostname, u.port), timeout=10) as raw:
        with CTX.wrap_socket(raw, server_hostname=u.hostname) as t:
            t.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                       "application/jose+json\r\nContent-Length: %d\r\n"
                       "\r\n" % (u.path, u.netloc, length)).encode())
            t0, got = time.time(), b""
            while b"\r\n\r\n" not in got and time.time() - t0 < 10:
                d = t.recv(4096)
                if not d:
                    break
                got += d
            return got.split(b" ", 2)[1].decode() if got else "-", \
                time.time() - t0


st, took = announced(10 ** 12)
out.write("huge_content_length|%s|-|%s\n" % (st, "ok" if took < 5 else
          "took %.1f s" % took))

# ---- what RFC 7515 and RFC 8555 say to refuse, not to ignore ----
record("crit_header", raw_post(ORD, {
    "alg": "ES256", "url": ORD, "nonce": nonce(), "kid": kid1,
    "crit": ["exp"], "exp": 1}, {"identifiers": ids},
    lambda m: es256(k1, m)))
record("content_type_suffix", post(k1, ORD, {"identifiers": ids}, kid=kid1,
       ctype="application/jose+jsonx"))
stem, num = kid1.rsplit("/", 1)
record("kid_leading_zero", post(k1, ORD, {"identifiers": ids},
       kid=stem + "/0" + num))
record("not_after", post(k1, ORD, {"identifiers": ids,
       "notAfter": "2030-01-01T00:00:00Z"}, kid=kid1))
record("replaces_garbage", post(k1, ORD, {"identifiers": ids,
       "replaces": "garbage"}, kid=kid1))

# ---- account changes ----
k3 = ec.generate_private_key(ec.SECP256R1())
inner = jws(k3, D["keyChange"], {"account": kid1, "oldKey": jwk_of(k1)},
            nonce_="x")
record("key_change_inner_nonce", post(k1, D["keyChange"], json.loads(inner),
       kid=kid1))
inner_obj = json.loads(inner)
del inner_obj["protected"]
prot = {"alg": "ES256", "url": D["keyChange"], "jwk": jwk_of(k3)}
p = b64(json.dumps(prot).encode())
pl = b64(json.dumps({"account": kid1, "oldKey": jwk_of(k1)}).encode())
inner_obj = {"protected": p, "payload": pl,
             "signature": b64(es256(k3, (p + "." + pl).encode()))}
record("key_change", post(k1, D["keyChange"], inner_obj, kid=kid1),
       expect_ok=True)
record("old_key_after_change", post(k1, kid1, None, kid=kid1))
record("new_key_after_change", post(k3, kid1, None, kid=kid1), expect_ok=True)
# ---- contacts: e-mail addresses, each once, no control characters ----
for case, addr in (("contact_esc", "mailto:a\x1b[2Jb@certmint.test"),
                   ("contact_c1", "mailto:a\u009b2Jb@certmint.test"),
                   ("contact_bidi", "mailto:a\u202eb@certmint.test"),
                   ("contact_zwsp", "mailto:a\u200bb@certmint.test"),
                   ("contact_space", "mailto:a b@certmint.test"),
                   ("contact_crlf", "mailto:a%0d%0aBcc:x@certmint.test"),
                   ("contact_two_at", "mailto:a@b@certmint.test")):
    record(case, post(k2, kid2, {"contact": [addr]}, kid=kid2))
st, hd, body = post(k2, kid2, {"contact": ["mailto:x@certmint.test",
                    "MAILTO:y@certmint.test", "mailto:x@CertMint.Test"]},
                    kid=kid2)
out.write("contact_once|%d|%s|ok\n" % (st, ",".join(json.loads(body).get(
    "contact", []))))
record("deactivate", post(k2, kid2, {"status": "deactivated"}, kid=kid2),
       expect_ok=True)
record("deactivated_account", post(k2, ORD, {"identifiers": ids}, kid=kid2))


# ---- a key change and a deactivation under stale writes ----
# Contact updates signed with the old key, in flight when the change
# commits, must not write the old key or status back.
def race(change):
    k = ec.generate_private_key(ec.SECP256R1())
    kid = new_account(k)
    stop = threading.Event()

    def stale():
        while not stop.is_set():
            try:
                post(k, kid, {"contact": ["mailto:stale@certmint.test"]},
                     kid=kid)
            except Exception:
                pass
    ths = [threading.Thread(target=stale) for _ in range(12)]
    for t in ths:
        t.start()
    time.sleep(0.5)
    st = change(k, kid)
    time.sleep(0.5)
    stop.set()
    for t in ths:
        t.join(30)
    return st, k, kid


def key_change(k, kid):
    kn = ec.generate_private_key(ec.SECP256R1())
    prot_ = {"alg": "ES256", "url": D["keyChange"], "jwk": jwk_of(kn)}
    p_ = b64(json.dumps(prot_).encode())
    pl_ = b64(json.dumps({"account": kid, "oldKey": jwk_of(k)}).encode())
    inner_ = {"protected": p_, "payload": pl_,
              "signature": b64(es256(kn, (p_ + "." + pl_).encode()))}
    key_change.new = kn
    return post(k, D["keyChange"], inner_, kid=kid)[0]


for i in range(3):
    st, k, kid = race(key_change)
    ok_new = post(key_change.new, kid, None, kid=kid)[0]
    record("race_key_change_%d" % i, post(k, kid, None, kid=kid))
    out.write("race_key_change_new_%d|%d|-|ok\n" % (i, ok_new))
    st, k, kid = race(lambda k, kid: post(k, kid, {"status": "deactivated"},
                                          kid=kid)[0])
    record("race_deactivate_%d" % i, post(k, kid, None, kid=kid))
srv.shutdown()
out.close()
