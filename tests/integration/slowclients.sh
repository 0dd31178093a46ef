#!/bin/sh
# Slow clients cannot starve good ones (issue 11 §4): 1,100 connections
# from one address (127.0.0.2) that send a request line a byte at a time
# would fill certmintd's 1,000 connections; [server]
# max_client_connections (default 256) caps what one address may hold,
# so /health and submissions from another address (127.0.0.1) are served
# while they hang on. Under a file descriptor limit below max_connections,
# the connections are capped below it. A flood past the cap that leaves
# does not leave the port slow behind it. Loopback only; every wait is
# bounded.
. "$LIB"

ca_init
daemon_start
new_csr good

cat >"$T_DIR/slow.py" <<'PY'
import os, resource, socket, sys, time
port, ready, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count = int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
socks, refused = [], 0
for i in range(count):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"P")
        socks.append(s)
    except OSError:
        refused += 1
        s.close()
time.sleep(0.5)
# A connection the server turned away reads EOF or a reset.
alive = 0
for s in socks:
    s.settimeout(0.01)
    try:
        alive += s.recv(1) != b""
    except socket.timeout:
        alive += 1
    except OSError:
        pass
print(f"opened {len(socks)}, refused at connect {refused}, held {alive}")
open(ready, "w").write(f"{alive}\n")
# A byte a second, for at most 60 s or until told to stop.
end = time.time() + 60
while time.time() < end and not os.path.exists(stop):
    for s in socks:
        try:
            s.sendall(b"O")
        except OSError:
            pass
    time.sleep(1)
PY
# slow_clients N: N of them from 127.0.0.2, in the background (SPID).
slow_clients() {
	rm -f "$T_DIR/slow.ready" "$T_DIR/slow.stop"
	python3 "$T_DIR/slow.py" "$PORT" "$T_DIR/slow.ready" "$T_DIR/slow.stop" \
	    "$1" >"$T_DIR/slow.out" 2>&1 &
	SPID=$!
}
slow_clients 1100
check "the slow clients are connected" wait_until 60 test -s "$T_DIR/slow.ready"
held=$(cat "$T_DIR/slow.ready")
echo "# $(cat "$T_DIR/slow.out")"
check "one address holds at most max_client_connections (256)" \
    test "$held" -le 256
check "health answers another client meanwhile" curl -fsS -m 10 "$URL/health"
check_eq "and a submission is issued" 201 \
    "$(submit_http "$T_DIR/good.csr" | head -1)"
check "the admin socket answers too" "$CERTMINT" -c "$CONF" status
touch "$T_DIR/slow.stop"
wait "$SPID"
check "still healthy after they go" curl -fsS -m 10 "$URL/health"
daemon_stop

# Fewer file descriptors than connections (RLIMIT_NOFILE 300, one address
# allowed them all): the connections are capped below the descriptors,
# said at start, so that the database and the admin socket still get
# theirs and accept() never fails in a loop.
printf '#!/bin/sh\nexec prlimit --nofile=300:300 "%s" "$@"\n' "$CERTMINTD" \
    >"$T_DIR/limited"
chmod +x "$T_DIR/limited"
conf_set server max_client_connections 1000
CERTMINTD=$T_DIR/limited daemon_start
check "the cap is said at start" has_lines "$T_LOG" \
    "max_connections 1000 is more than the file descriptors allow \(RLIMIT_NOFILE 300" 1
slow_clients 400
check "the slow clients are connected" wait_until 60 test -s "$T_DIR/slow.ready"
echo "# $(cat "$T_DIR/slow.out")"
check "the admin socket answers" "$CERTMINT" -c "$CONF" status
check "a submission through it is issued (the database opens its files)" \
    "$CERTMINT" -c "$CONF" submit "$T_DIR/good.csr"
touch "$T_DIR/slow.stop"
wait "$SPID"
# Those past the cap waited in the listen queue and left with it: each
# is closed at its accept, not held until header_timeout.
check "healthy again once the queue is through" wait_until 90 \
    curl -fsS -m 5 "$URL/health"
check "the log says so" wait_until 10 has_lines "$T_LOG" \
    "closed [0-9]+ connections whose client left before its request was read" 1
check_eq "accept() never ran out of descriptors" 0 \
    "$(count_lines "$T_LOG" 'Too many open files')"

# A flood past the cap that leaves at once: 600 connections that send the
# start of a request and close, the last 460 of them while they wait in
# the listen queue. MHD 0.9.75 took each of those and held it until
# header_timeout (10 s), 137 at a time, while /health waited behind them
# for 10 to 30 s. Now the port answers as soon as the flood ends; and a
# client queued with them that sent a whole request and shut down its
# side (nc -N) still gets its answer.
cat >"$T_DIR/flood.py" <<'PY'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(count):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /health HTTP/1.1\r\nHo")
        socks.append(s)
    except OSError:
        s.close()
half = socket.create_connection(("127.0.0.1", port), timeout=2)
half.sendall(b"GET /health HTTP/1.1\r\nHost: ca\r\n\r\n")
half.shutdown(socket.SHUT_WR)
for s in socks:
    s.close()
print(f"flooded with {len(socks)}", flush=True)
half.settimeout(5)
answer = b""
try:
    while len(answer) < 65536:
        b = half.recv(4096)
        if not b:
            break
        answer += b
except OSError:
    pass
print((answer.split(b"\r\n")[0] or b"no answer").decode("latin-1"))
PY
python3 "$T_DIR/flood.py" "$PORT" 600 >"$T_DIR/flood.out" 2>&1 &
FPID=$!
check "the flood is connected and gone" wait_until 30 \
    grep -q flooded "$T_DIR/flood.out"
t0=$(date +%s%N)
check "health answers within 5 s of the flood's end" \
    curl -fsS -m 5 "$URL/health"
echo "# answered in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
wait "$FPID"
check_eq "the client queued with the flood that half-closed is answered" \
    "HTTP/1.1 200 OK" "$(sed -n 2p "$T_DIR/flood.out" | tr -d '\r')"

# A client that leaves in the middle of its request headers is its own
# trouble: libmicrohttpd's word for it is logged as info, not a warning.
python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /health HTTP/1.1\r\nHo")
time.sleep(0.5)
s.close()' "$PORT"
check "a request cut short is logged" wait_until 10 has_lines "$T_LOG" \
    "info: http: Connection was closed by remote side" 1
check_eq "and not as a warning" 0 \
    "$(count_lines "$T_LOG" "warning: http: Connection was closed by remote")"
daemon_stop
finish
