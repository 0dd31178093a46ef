#!/usr/bin/env python3
"""Loopback responders for the ACME VA's tests (tests/unit/acme).

One process serves, on 127.0.0.1 (and ::1 when it can):
  - HTTP for http-01, behaviour chosen by the Host header's name;
  - DNS over UDP and TCP, answering every A query with 127.0.0.1 (as
    pebble-challtestsrv -defaultIPv4 127.0.0.1 does), with hostile and
    special names for TXT, CNAME, truncation and garbage;
  - TLS for tls-alpn-01, the certificate (made here with the openssl
    command) chosen by the SNI.
  - HTTPS on 127.0.0.2:443 when it may bind there (root, port free), for
    redirects to https, which the VA follows only to port 443; secure.test
    resolves to 127.0.0.2.
It prints one line, "http=P dns=P tls=P v6=0|1 https=0|1", then serves
until its stdin closes (so it never outlives the test). Python 3 standard
library only. The key authorization of a token is always TOKEN + "." + THUMB.
"""
import base64
import hashlib
import http.server
import os
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time

THUMB = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
# The token the test uses for dns-01 and tls-alpn-01 (http-01 takes any).
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KA = TOKEN + "." + THUMB


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


DIGEST = b64url(hashlib.sha256(KA.encode()).digest())
PORTS = {}


# ---------------------------------------------------------------- HTTP

class Http(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, loc):
        self.send(302, b"moved\n", [("Location", loc)])

    def do_GET(self):
        host = self.headers.get("Host", "").lower()
        name = host.rsplit(":", 1)[0] if not host.startswith("[") \
            else host.split("]")[0] + "]"
        if name.endswith(".wrongid.test"):
            name = name[:-len(".wrongid.test")]
        path = self.path
        token = path.rsplit("/", 1)[-1]
        ka = (token + "." + THUMB).encode()
        port = PORTS["http"]
        wk = "/.well-known/acme-challenge/"
        if name in ("ok.test", "127.0.0.1", "[::1]", "v6only.test",
                    "noaaaa.test", "secure.test"):
            return self.send(200, ka + b"\r\n \n")
        if name == "hostcheck.test":
            if host != "hostcheck.test":
                return self.send(400, b"Host was " + host.encode())
            return self.send(200, ka)
        if name == "wrong.test":
            return self.send(200, b"not-" + ka)
        if name == "otherthumb.test":
            # this token, another account's thumbprint: shown back
            return self.send(200, (token + ".otherThumbprint").encode())
        if name == "secretredir.test":
            # a Location whose query is the service's secret
            return self.redirect("http://ok.test:%d/?session=SECRET" % port)
        if name == "404.test":
            return self.send(404, b"no such file\n")
        if name == "big.test":
            return self.send(200, ka + b" " * (1 << 20))
        if name == "bigchunk.test":
            # No Content-Length: curl finds out only while reading.
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 4096
            try:
                for _ in range(1024):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return
        if name == "slow.test":
            # slowloris: a byte now and then, for ever.
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            return
        if name.startswith("loop") and name.endswith(".test"):
            # loop.test -> loop1.test -> loop2.test ... for ever
            n = int(name[4:-5] or 0)
            return self.redirect("http://loop%d.test:%d%s" % (n + 1, port,
                                                               path))
        if name == "redir.test":
            return self.redirect("http://ok.test:%d%s%s" % (port, wk, token))
        if name == "redirrel.test":
            if path.startswith(wk):
                return self.redirect("/final/" + token)
            return self.send(200, ka)
        if name.startswith("chain") and name.endswith(".test"):
            n = int(name[5:-5] or 0)
            if n >= 5:
                return self.send(200, ka)
            return self.redirect("http://chain%d.test:%d%s%s" %
                                 (n + 1, port, wk, token))
        if name == "badport.test":
            return self.redirect("http://ok.test:1%s%s" % (wk, token))
        if name == "ftp.test":
            return self.redirect("ftp://ok.test%s%s" % (wk, token))
        if name == "https.test":
            return self.redirect("https://ok.test:%d%s%s" %
                                 (PORTS["tls"], wk, token))
        if name == "tohttps.test":
            return self.redirect("https://secure.test%s%s" % (wk, token))
        if name == "nxredir.test":
            return self.redirect("http://nx.test:%d%s%s" % (port, wk, token))
        if name == "noloc.test":
            return self.send(302, b"")
        return self.send(404, b"unknown host " + host.encode())


class ThreadingHttp(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass        # the VA hangs up on big bodies: that is the test


class ThreadingHttp6(ThreadingHttp):
    address_family = socket.AF_INET6


# ---------------------------------------------------------------- DNS

def qname_parse(msg):
    """The question's name (lowercase, no trailing dot), type, end."""
    labels, o = [], 12
    while msg[o]:
        n = msg[o]
        labels.append(msg[o + 1:o + 1 + n].decode("ascii", "replace"))
        o += 1 + n
    qtype = struct.unpack(">H", msg[o + 1:o + 3])[0]
    return ".".join(labels).lower(), qtype, o + 5


def wire_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(name, rtype, rdata, ttl=60):
    return wire_name(name) + struct.pack(">HHIH", rtype, 1, ttl,
                                         len(rdata)) + rdata


def txt(*strings):
    return b"".join(bytes([len(s)]) + s.encode() for s in strings)


def dns_answer(query, tcp):
    """The reply bytes for query, or None to stay silent."""
    name, qtype, qend = qname_parse(query)
    qid, question = query[:2], query[12:qend]
    rcode, tc, answers = 0, 0, []
    base = name[len("_acme-challenge."):] if \
        name.startswith("_acme-challenge.") else name
    if base.endswith(".wrongid.test"):
        base = base[:-len(".wrongid.test")]
    A, CNAME, TXT, AAAA = 1, 5, 16, 28
    if base == "dns-slow.test" or (base == "noaaaa.test" and qtype == 28):
        return None
    if base == "nx.test":
        rcode = 3
    elif base == "dns-nxtxt.test":
        # NXDOMAIN, and yet the right TXT record: no record counts.
        rcode = 3
        if qtype == TXT:
            answers.append(rr(name, TXT, txt(DIGEST)))
    elif base == "servfail.test":
        rcode = 2
    elif base == "dns-garbage.test":
        # Our ID and question, then an answer that runs off the end.
        return qid + b"\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00" + \
            question + b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c\x01\x00"
    elif base == "dns-ptrloop.test":
        # An answer whose owner name points at itself.
        return qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + \
            question + b"\xc0\x20\xc0\x20"
    elif qtype == A:
        addr = "127.0.0.2" if base == "secure.test" else "127.0.0.1"
        answers.append(rr(name, A, socket.inet_aton(addr)))
    elif qtype == AAAA:
        if base == "v6only.test":
            answers.append(rr(name, AAAA,
                              socket.inet_pton(socket.AF_INET6, "::1")))
    elif qtype == TXT and name.startswith("_acme-challenge."):
        if base == "dns-ok.test":
            answers.append(rr(name, TXT, txt("unrelated value")))
            answers.append(rr(name, TXT, txt(DIGEST)))
        elif base == "dns-split.test":
            answers.append(rr(name, TXT, txt(DIGEST[:20], DIGEST[20:])))
        elif base == "dns-wrong.test":
            answers.append(rr(name, TXT, txt("nope\x01")))
        elif base == "dns-cname.test":
            answers.append(rr(name, CNAME,
                              wire_name("_acme-challenge.dns-ok.test")))
            answers.append(rr("_acme-challenge.dns-ok.test", TXT,
                              txt(DIGEST)))
        elif base == "dns-cname2.test":
            answers.append(rr(name, CNAME, wire_name("target.dns2.test")))
        elif base == "dns-cnameloop.test":
            answers.append(rr(name, CNAME, wire_name(name)))
        elif base == "dns-trunc.test" or base == "dns-big.test":
            if not tcp:
                tc = 1
            else:
                many = 200 if base == "dns-big.test" else 0
                for i in range(many):
                    answers.append(rr(name, TXT, txt("filler %d" % i)))
                answers.append(rr(name, TXT, txt(DIGEST)))
    elif qtype == TXT and name == "target.dns2.test":
        answers.append(rr(name, TXT, txt(DIGEST)))
    flags = 0x8180 | (0x0200 if tc else 0) | rcode
    return qid + struct.pack(">HHHHH", flags, 1, len(answers), 0, 0) + \
        question + b"".join(answers)


def dns_udp(sock):
    while True:
        query, peer = sock.recvfrom(4096)
        try:
            name = qname_parse(query)[0]
            if name.endswith("wrongid.test"):
                # Replies that are not to this query come first: another
                # ID saying NXDOMAIN, garbage, another question.
                nx = bytearray(query[:2] + b"\x81\x83" + query[4:])
                nx[0] ^= 0xff
                sock.sendto(bytes(nx), peer)
                sock.sendto(os.urandom(40), peer)
                other = bytearray(query[:2] + b"\x81\x83" + query[4:])
                other[-15] ^= 1     # the qtype (before qclass and OPT)
                sock.sendto(bytes(other), peer)
            reply = dns_answer(query, False)
        except (IndexError, struct.error, UnicodeError):
            continue
        if reply is not None:
            sock.sendto(reply, peer)


class DnsTcp(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            n = struct.unpack(">H", self.request.recv(2))[0]
            q = b""
            while len(q) < n:
                q += self.request.recv(n - len(q))
            reply = dns_answer(q, True)
            if reply is not None:
                self.request.sendall(struct.pack(">H", len(reply)) + reply)
        except (OSError, struct.error, IndexError):
            pass


class ThreadingTcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---------------------------------------------------------------- TLS

def make_cert(tmp, name, san, ext, critical=True):
    """A self-signed P-256 certificate for name: its (cert, key) paths."""
    cert, key = os.path.join(tmp, name + ".crt"), os.path.join(tmp,
                                                             name + ".key")
    args = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=acme-tls",
            "-days", "2", "-keyout", key, "-out", cert]
    if san:
        args += ["-addext", "subjectAltName=" + san]
    if ext is not None:
        args += ["-addext", "1.3.6.1.5.5.7.1.31=%sDER:04:20:%s" %
                 ("critical," if critical else "", ext.hex(":"))]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


def tls_contexts(tmp):
    good = hashlib.sha256(KA.encode()).digest()
    bad = hashlib.sha256(b"other").digest()
    many = ",".join("DNS:n%d.tls-manysan.test" % i for i in range(500))
    certs = {
        "tls-ok.test": ("DNS:tls-ok.test", good, True),
        "tls-wrongdigest.test": ("DNS:tls-wrongdigest.test", bad, True),
        "tls-noncrit.test": ("DNS:tls-noncrit.test", good, False),
        "tls-noext.test": ("DNS:tls-noext.test", None, True),
        "tls-twosan.test": ("DNS:tls-twosan.test,DNS:other.test", good,
                            True),
        "tls-wrongsan.test": ("DNS:other.test", good, True),
        "tls-manysan.test": ("DNS:tls-manysan.test," + many, good, True),
        "tls-noalpn.test": ("DNS:tls-noalpn.test", good, True),
        "1.0.0.127.in-addr.arpa": ("IP:127.0.0.1", good, True),
    }
    ctxs = {}
    for name, (san, ext, crit) in certs.items():
        cert, key = make_cert(tmp, name, san, ext, crit)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if name != "tls-noalpn.test":
            ctx.set_alpn_protocols(["acme-tls/1"])
        ctxs[name] = ctx
    return ctxs


def tls_serve(sock, ctxs):
    # The context a handshake starts with; pick() swaps in the SNI's.
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    default.load_cert_chain(*[os.path.join(TMP, "tls-ok.test" + e)
                              for e in (".crt", ".key")])
    default.set_alpn_protocols(["acme-tls/1"])

    def pick(sslsock, name, _ctx):
        if name == "tls-hang.test":
            time.sleep(30)
        if name not in ctxs:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslsock.context = ctxs[name]
        return None
    default.sni_callback = pick

    def one(conn):
        try:
            conn.settimeout(20)
            s = default.wrap_socket(conn, server_side=True)
            s.recv(1)
            s.close()
        except (OSError, ssl.SSLError):
            conn.close()
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=one, args=(conn,), daemon=True).start()


# ---------------------------------------------------------------- main

TMP = sys.argv[1] if len(sys.argv) > 1 else "."


def main():
    http4 = ThreadingHttp(("127.0.0.1", 0), Http)
    PORTS["http"] = http4.server_address[1]
    v6 = 1
    try:
        http6 = ThreadingHttp6(("::1", PORTS["http"]), Http)
        threading.Thread(target=http6.serve_forever, daemon=True).start()
    except OSError:
        v6 = 0
    threading.Thread(target=http4.serve_forever, daemon=True).start()

    # DNS on one port for UDP and TCP: a few tries, should one be taken.
    for _ in range(20):
        tcp = ThreadingTcp(("127.0.0.1", 0), DnsTcp)
        PORTS["dns"] = tcp.server_address[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", PORTS["dns"]))
            break
        except OSError:
            udp.close()
            tcp.server_close()
    threading.Thread(target=dns_udp, args=(udp,), daemon=True).start()
    threading.Thread(target=tcp.serve_forever, daemon=True).start()

    ctxs = tls_contexts(TMP)
    tls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tls.bind(("127.0.0.1", 0))
    tls.listen(64)
    PORTS["tls"] = tls.getsockname()[1]
    threading.Thread(target=tls_serve, args=(tls, ctxs), daemon=True).start()

    https = 1
    try:
        https443 = ThreadingHttp(("127.0.0.2", 443), Http)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*[os.path.join(TMP, "tls-ok.test" + e)
                              for e in (".crt", ".key")])
        https443.socket = ctx.wrap_socket(https443.socket, server_side=True)
        threading.Thread(target=https443.serve_forever, daemon=True).start()
    except OSError:
        https = 0

    print("http=%d dns=%d tls=%d v6=%d https=%d" % (
        PORTS["http"], PORTS["dns"], PORTS["tls"], v6, https), flush=True)
    sys.stdin.read()        # until the test closes our stdin (or dies)


if __name__ == "__main__":
    main()
