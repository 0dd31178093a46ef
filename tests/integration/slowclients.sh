#!/bin/sh
# Slow clients cannot starve good ones (issue 11 §4): 1,100 connections
# from one address (127.0.0.2) that send a request line a byte at a time
# would fill certmintd's 1,000 connections; [server]
# max_client_connections (default 256) caps what one address may hold,
# so /health and submissions from another address (127.0.0.1) are served
# while they hang on. Loopback only; every wait is bounded.
. "$LIB"

ca_init
daemon_start
new_csr good

python3 - "$PORT" "$T_DIR/slow.ready" "$T_DIR/slow.stop" \
    >"$T_DIR/slow.out" 2>&1 <<'PY' &
import os, resource, socket, sys, time
port, ready, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
socks, refused = [], 0
for i in range(1100):
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
SPID=$!
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
finish
