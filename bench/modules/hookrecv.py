# bench/modules: the webhook module's receiver. HTTP/1.1 keep-alive on
# loopback, one asyncio loop (http.server's thread per connection costs
# more than the module it would measure). Each POST is read to its
# Content-Length and its Standard Webhooks signature computed, as a real
# receiver does (checked when the request carries one: loadgen's do not),
# its webhook-id kept to count distinct events; the answer is a 201
# (loadgen counts 201s; the module takes any 2xx). GET /stats answers
# {"posts": N, "ids": distinct ids, "bad_sig": N}. The first signed body
# is saved to DIR/body, for loadgen to send bodies of the same size.
# Usage: python3 hookrecv.py PORT SECRETFILE DIR
import asyncio, base64, hashlib, hmac, json, os, sys

port, secret_file, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = open(secret_file).read().split()[0]
key = base64.b64decode(key[6:]) if key.startswith("whsec_") else key.encode()
ids, stats = set(), {"posts": 0, "bad_sig": 0}
OK = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


def post(headers, body):
    mid = headers.get(b"webhook-id", b"")
    ts = headers.get(b"webhook-timestamp", b"")
    mac = hmac.new(key, mid + b"." + ts + b"." + body, hashlib.sha256)
    sig = b"v1," + base64.b64encode(mac.digest())
    stats["posts"] += 1
    if mid:
        if sig not in headers.get(b"webhook-signature", b"").split():
            stats["bad_sig"] += 1
        if not ids and not os.path.exists(out + "/body"):
            open(out + "/body", "wb").write(body)
        ids.add(mid)


class Conn(asyncio.Protocol):
    def connection_made(self, transport):
        self.t, self.buf = transport, b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buf[:end].split(b"\r\n")
            headers = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(b":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get(b"content-length", b"0"))
            if len(self.buf) < end + 4 + n:
                return
            body = self.buf[end + 4:end + 4 + n]
            self.buf = self.buf[end + 4 + n:]
            if lines[0].startswith(b"GET /stats"):
                s = json.dumps(dict(stats, ids=len(ids))).encode()
                self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                             % len(s) + s)
            else:
                post(headers, body)
                self.t.write(OK)


async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Conn, "127.0.0.1", port, backlog=512)
    open(out + "/ready", "w").close()
    await srv.serve_forever()

asyncio.run(main())
