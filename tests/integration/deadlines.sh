#!/bin/sh
# Header and body deadlines (issue 11 §4): a client that trickles a byte
# a second is never idle, so MHD's idle timeout never closes it. With
# [server] header_timeout = 2 and body_timeout = 2, certmintd closes 40
# connections trickling their headers, 40 trickling a Content-Length:
# 1000 body, and a kept-alive connection trickling its second request
# (and one idle, closed too but logged at info),
# while /health and a submission on other connections are served, and a
# client whose headers come in pieces within the deadline is answered.
# The clients give up after 30 s: a connection still open then fails.
. "$LIB"

ca_init
conf_set server header_timeout 2
conf_set server body_timeout 2
daemon_start
new_csr good

python3 - "$PORT" "$T_DIR/trickle.ready" "$T_DIR/good.csr" \
    >"$T_DIR/trickle.out" 2>&1 <<'PY' &
import select, socket, sys, time
port, ready, csr = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s

def read_answer(s):
    """One whole answer (Content-Length framed): its status line and
    whether the server keeps the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(body) < n:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    keep = b"connection: close" not in head.lower()
    return head.split(b"\r\n")[0].decode() + (" kept" if keep else " closed")

# Headers in three pieces within the deadline: answered.
s = conn()
for piece in (b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
    s.sendall(piece)
    time.sleep(0.3)
print("pieces:", read_answer(s))
s.close()

header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
body_head = (b"POST /api/v1/requests HTTP/1.1\r\nHost: x\r\n"
             b"Content-Type: application/pkcs10\r\nContent-Length: 1000\r\n\r\n")
socks = {}      # socket -> [kind, bytes to trickle, answer bytes]
for i in range(40):
    s = conn()
    socks[s] = ["headers", header, b""]
for i in range(40):
    s = conn()
    s.sendall(body_head)
    socks[s] = ["body", b"x" * 1000, b""]
# A kept-alive connection: a submission answered (MHD keeps only a
# connection whose request it read whole: a GET answered before that is
# closed), then the next request trickled.
s = conn()
s.sendall(b"POST /api/v1/requests HTTP/1.1\r\nHost: x\r\n"
          b"Content-Type: application/pkcs10\r\n"
          b"Content-Length: %d\r\n\r\n" % len(csr) + csr)
print("keepalive first:", read_answer(s))
socks[s] = ["keepalive", header, b""]
open(ready, "w").write("ready\n")

closed = {"headers": 0, "body": 0, "keepalive": 0}
answers = set()
end = time.time() + 30
while socks and time.time() < end:
    for s, st in list(socks.items()):
        try:
            s.send(st[1][:1])
            st[1] = st[1][1:]
        except OSError:
            pass
    # Reads for a second: an EOF or a reset is the server closing.
    tick = time.time() + 1
    while socks and time.time() < tick:
        r, _, _ = select.select(list(socks), [], [], tick - time.time())
        for s in r:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                socks[s][2] += data
                continue
            kind, _, ans = socks.pop(s)
            closed[kind] += 1
            if ans:
                answers.add(ans.split(b"\r\n")[0].decode())
            s.close()
left = {}
for s, st in socks.items():
    left[st[0]] = left.get(st[0], 0) + 1
    s.close()
print("closed:", " ".join(f"{k}={v}" for k, v in closed.items()))
print("open after 30 s:", " ".join(f"{k}={v}" for k, v in left.items())
      or "none")
print("answers:", ", ".join(sorted(answers)) or "none")
PY
TPID=$!
check "the trickling clients are connected" \
    wait_until 60 test -s "$T_DIR/trickle.ready"
check "health answers meanwhile" curl -fsS -m 10 "$URL/health"
check_eq "and a submission is issued" 201 \
    "$(submit_http "$T_DIR/good.csr" | head -1)"
wait "$TPID"
out=$(cat "$T_DIR/trickle.out")
echo "$out" | sed 's/^/# /'
check_match "headers sent in pieces within the deadline are answered" \
    '^pieces: HTTP/1.1 200' "$out"
check_match "a submission is answered on a connection kept alive" \
    '^keepalive first: HTTP/1.1 201 .* kept$' "$out"
check_match "the server closed the 40 header tricklers" \
    '^closed: headers=40 ' "$out"
check_match "the 40 body tricklers" '^closed: .*body=40 ' "$out"
check_match "and the kept-alive connection trickling its next request" \
    '^closed: .*keepalive=1$' "$out"
check_match "none was left open" '^open after 30 s: none$' "$out"
check "the log says why, for headers" wait_lines "$T_LOG" \
    'closed [0-9]+ connections?: headers not complete within 2 s' 1
check "and for bodies" wait_lines "$T_LOG" \
    'closed [0-9]+ connections?: body not complete within 2 s' 1
check "still healthy after" curl -fsS -m 10 "$URL/health"
check_eq "and issuing" 201 "$(submit_http "$T_DIR/good.csr" | head -1)"

# A kept-alive connection that sends nothing after its answer is closed at
# the same deadline, but that is keep-alive ending, not a slow client: an
# info line, not a warning (lego idles so while it makes an RSA key). One
# that trickles its next request line is a slow client: a warning.
warns=$(count_lines "$T_LOG" 'warning: http: closed')
check_eq "idle and trickling kept-alive connections are closed" \
    "idle: kept, then closed; trickle: kept, then closed" \
    "$(python3 - "$PORT" "$T_DIR/good.csr" <<'PY'
import select, socket, sys, time
port, csr = int(sys.argv[1]), open(sys.argv[2], "rb").read()
end = time.time() + 12
socks = {}
# A submission read whole keeps its connection (a GET answered before its
# end would not): then one stays silent, one trickles a request line.
for kind in ("idle", "trickle"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /api/v1/requests HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/pkcs10\r\n"
              b"Content-Length: %d\r\n\r\n" % len(csr) + csr)
    data = b""
    while b"\r\n\r\n" not in data and time.time() < end:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
         if l.lower().startswith(b"content-length:")][0]
    while len(body) < n and time.time() < end:
        body += s.recv(4096)
    kept = head.startswith(b"HTTP/1.1 201") and \
        b"connection: close" not in head.lower()
    socks[s] = [kind, kept, b"GET /he"]
out = {}
while socks and time.time() < end:
    for s, st in list(socks.items()):
        if st[0] == "trickle" and st[2]:
            try:
                s.send(st[2][:1])
                st[2] = st[2][1:]
            except OSError:
                pass
    r, _, _ = select.select(list(socks), [], [], 0.5)
    for s in r:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            kind, kept, _ = socks.pop(s)
            out[kind] = "kept, then closed" if kept else "not kept"
for s, st in socks.items():
    out[st[0]] = "open after 12 s"
print("; ".join("%s: %s" % (k, out.get(k, "?")) for k in ("idle", "trickle")))
PY
)"
daemon_stop
check_eq "the idle one is logged at info, alone" "1 1" \
    "$(count_lines "$T_LOG" 'info: http: closed [0-9]+ kept-alive') $(
    count_lines "$T_LOG" 'info: http: closed 1 kept-alive connection idle for 2 s')"
check_eq "the trickling one as a slow client" \
    "$((warns + 1)) 1" "$(count_lines "$T_LOG" 'warning: http: closed') \
$(count_lines "$T_LOG" 'warning: http: closed 1 connection: headers not complete')"

# The keys are checked like every [server] key.
conf_set server header_timeout 0
check_refused "header_timeout = 0 is refused" 30 \
    'header_timeout = "0": expected an integer from 1 to 3600' \
    "$CERTMINTD" -c "$CONF"
conf_set server header_timeout 2
conf_set server body_timeout 3601
check_refused "body_timeout = 3601 is refused" 30 \
    'body_timeout = "3601": expected an integer from 1 to 3600' \
    "$CERTMINTD" -c "$CONF"
finish
