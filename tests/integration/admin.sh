#!/bin/sh
# The admin socket: created 0600 and owned by the daemon's user; another
# uid cannot connect, and when it can (socket made 0666) the daemon refuses
# it by its SO_PEERCRED credentials and runs nothing; malformed requests
# (not JSON, no "cmd", unknown command, wrong argument types, NUL bytes,
# binary garbage, deep nesting) get a JSON error and the daemon serves on;
# 10 MB without a newline is cut off without the daemon's memory growing;
# slow clients (silent, half a line, a byte a second) block neither other
# admin clients nor HTTP issuance and are closed by the 30 s timeout; a
# socket left by a kill -9 is replaced at the next start, but a regular
# file or another live daemon's socket at that path is left alone and the
# second daemon refuses to start. Clients are served concurrently: with
# a module stuck in notify, `status`, `exit list` and `exit show`
# answer; 40 clients at once all get an answer, at most 32 served and the
# rest told "busy"; a daemon stopping with a client blocked in a module
# stops within its deadlines and the client is closed.
. "$LIB"

ca_init
SOCK=$T_DIR/ca/admin.sock
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
new_csr alpha
daemon_start

# adm.py SOCKET MODE: a raw client, every step bounded by timeouts.
#   send       send stdin's bytes, then print the answer's ok, code and error
#   big MB     send MB megabytes without a newline; print how it ended
#   idle|half|trickle SECONDS   a slow client: send nothing, half a line, or a
#              byte a second; print "connected", then how and when the
#              daemon closed the connection (or "still open")
cat >"$T_DIR/adm.py" <<'PY'
import json, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
try:
    s.connect(path)
except OSError as e:
    print("connect:", e)
    sys.exit(3)
def answer(limit):
    s.settimeout(limit)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, "eof"
            data += b
    except socket.timeout:
        return data, "timeout"
    except OSError as e:
        return data, "reset (%s)" % e.__class__.__name__
if mode == "send":
    s.sendall(sys.stdin.buffer.read())
    data, how = answer(30)
    try:
        j = json.loads(data)
        print("ok=%s code=%s error=%s" % (j.get("ok"), j.get("code"), j.get("error")))
    except ValueError:
        print("no JSON answer (%s): %r" % (how, data[:200]))
elif mode == "big":
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent < int(sys.argv[3]) << 20:
            s.sendall(chunk)
            sent += len(chunk)
        how = "all sent"
    except socket.timeout:
        how = "send timed out"
    except OSError as e:
        how = "cut off"
    data, end = answer(30)
    print("%s after %d MB, then %s: %r" % (how, sent >> 20, end, data[:120]))
else:
    limit = float(sys.argv[3])
    t0 = time.time()
    if mode == "half":
        s.sendall(b'{"cmd": "sta')
    print("connected", flush=True)
    if mode == "trickle":
        s.settimeout(1)
        how = "still open"
        for c in b'{"cmd": "status"' * 10:
            if time.time() - t0 > limit:
                break
            try:
                s.sendall(bytes([c]))
                b = s.recv(65536)
                how = "closed, answer %r" % b[:60] if b else "closed"
                break
            except socket.timeout:
                continue
            except OSError:
                how = "closed (reset)"
                break
    else:
        data, end = answer(limit)
        how = "still open" if end == "timeout" else "closed, answer %r" % data[:60]
    print("%s after %d s" % (how, round(time.time() - t0)))
PY
adm() {		# adm MODE [ARGS]: adm.py on the socket
	timeout -k 5 120 python3 "$T_DIR/adm.py" "$SOCK" "$@"
}
status_ok() {
	"$CERTMINT" -c "$CONF" status >/dev/null 2>&1
}

# --- 1. Mode and owner ----------------------------------------------------
check_eq "admin socket mode 0600" 600 "$(stat -c %a "$SOCK")"
check_eq "owned by the daemon's user" \
    "$(awk '/^Uid:/ { print $3 }' "/proc/$T_PID/status")" "$(stat -c %u "$SOCK")"
check "it is a socket" test -S "$SOCK"

# --- 2. Another uid ---------------------------------------------------------
code=$(submit_http "$T_DIR/alpha.csr" | head -1)
check_eq "a certificate to protect: 201" 201 "$code"
serial=$(json "$T_DIR/resp.json" 'j["serial"]')
id=$(json "$T_DIR/resp.json" 'j["request_id"]')
chmod o+x "$T_DIR" "$T_DIR/ca"
cp "$CONF" "$T_DIR/ca/nobody.conf"
chmod 644 "$T_DIR/ca/nobody.conf"
out=$(printf '{"cmd": "revoke", "serial": "%s"}\n' "$serial" |
    $NOBODY /usr/bin/python3 "$T_DIR/adm.py" "$SOCK" send 2>&1)
check_match "uid 65534 cannot connect to the 0600 socket" \
    "connect:.*Permission denied" "$out"
check_refused "certmint run by uid 65534: permission denied" 30 \
    "Permission denied" $NOBODY "$CERTMINT" -c "$T_DIR/ca/nobody.conf" revoke "$serial"
# Now let the other uid connect: the daemon itself must refuse it.
chmod 666 "$SOCK"
out=$(printf '{"cmd": "revoke", "serial": "%s"}\n' "$serial" |
    $NOBODY /usr/bin/python3 "$T_DIR/adm.py" "$SOCK" send 2>&1)
check_match "socket 0666: the daemon refuses uid 65534 by its credentials" \
    "^ok=False code=denied error=permission denied" "$out"
check_refused "certmint revoke by uid 65534 refused by the daemon" 30 \
    "permission denied" $NOBODY "$CERTMINT" -c "$T_DIR/ca/nobody.conf" revoke "$serial"
check_refused "certmint shutdown by uid 65534 refused" 30 \
    "permission denied" $NOBODY "$CERTMINT" -c "$T_DIR/ca/nobody.conf" shutdown
check "the refusals are logged with the uid" \
    wait_lines "$T_LOG" "refused a connection from uid 65534" 3
chmod 600 "$SOCK"
"$CERTMINT" -c "$CONF" --json retrieve "$id" >"$T_DIR/ret.json" 2>&1
check_eq "the certificate was not revoked" issued \
    "$(json "$T_DIR/ret.json" 'j["disposition"]')"
check_eq "nothing revoked at all" 0 \
    "$("$CERTMINT" -c "$CONF" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"]["revoked"])')"
check "the daemon is still running" kill -0 "$T_PID"

# --- 3. Slow clients, started now, closed by the daemon's 30 s timeout ----
for k in idle1 idle2 half1 half2 trickle; do
	adm "${k%[0-9]}" 75 >"$T_DIR/slow.$k" 2>&1 &
done
for k in idle1 idle2 half1 half2 trickle; do
	wait_lines "$T_DIR/slow.$k" "^connected" 1
done
t0=$(date +%s)
check "status answers within 10 s while 5 slow clients are connected" \
    timeout 10 "$CERTMINT" -c "$CONF" status
code=$(submit_http "$T_DIR/alpha.csr" | head -1)
check_eq "and HTTP issues: 201" 201 "$code"

# Malformed requests: each gets a JSON error, the daemon serves on.
bad() {		# bad DESCRIPTION CODE-PATTERN: $T_DIR/req is the request
	_o=$(adm send <"$T_DIR/req" 2>&1)
	check_match "$1: JSON error answer" "^ok=False code=($2) error=.+" "$_o"
}
printf 'hello world\n' >"$T_DIR/req"
bad "not JSON" bad_request
printf '[1, 2, 3]\n' >"$T_DIR/req"
bad "a JSON array" bad_request
printf '{"foo": 1}\n' >"$T_DIR/req"
bad "no \"cmd\"" bad_request
printf '{"cmd": ["status"]}\n' >"$T_DIR/req"
bad "\"cmd\" not a string" bad_request
printf '{"cmd": "frobnicate"}\n' >"$T_DIR/req"
bad "unknown command" bad_request
printf '{"cmd": "revoke", "serial": 12345}\n' >"$T_DIR/req"
bad "revoke with a number serial" bad_request
printf '{"cmd": "retrieve", "id": "one"}\n' >"$T_DIR/req"
bad "retrieve with a string id" bad_request
printf '{"cmd": "deny", "id": -4}\n' >"$T_DIR/req"
bad "deny with a negative id" bad_request
printf '{"cmd": "submit", "csr": "garbage", "attributes": {"a": 1}}\n' >"$T_DIR/req"
bad "submit with a number attribute" bad_request
printf '{"cmd": "submit", "csr": "garbage"}\n' >"$T_DIR/req"
bad "submit with a CSR that is not one" bad_request
printf '{"cmd": "exit-set", "name": 5}\n' >"$T_DIR/req"
bad "exit-set with a number name" bad_request
printf '{"cmd": "sta\000tus"}\n' >"$T_DIR/req"
bad "a NUL byte in the command" bad_request
printf '\000\000\000\000\n' >"$T_DIR/req"
bad "NUL bytes only" bad_request
python3 -c 'import os, sys
sys.stdout.buffer.write(os.urandom(4096).replace(b"\n", b"") + b"\n")' >"$T_DIR/req"
bad "binary garbage" bad_request
python3 -c 'print("[" * 500000)' >"$T_DIR/req"
bad "500000 nested arrays" bad_request
check "status still answers" status_ok
check "the daemon is still running" kill -0 "$T_PID"

# Over-size: 10 MB without a newline, three times.
rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$T_PID/status"
}
rss0=$(rss)
for i in 1 2 3; do
	out=$(adm big 10 2>&1)
	check_match "10 MB without a newline: cut off by the daemon ($i)" \
	    "^(cut off|all sent) after [0-9]+ MB, then (eof|reset)" "$out"
done
check_match "the daemon's memory did not grow by the requests' size" "^ok " \
    "$([ $(( $(rss) - rss0 )) -lt 20000 ] && echo ok) (RSS $rss0 kB -> $(rss) kB)"
check "status still answers" status_ok

# The slow clients: answered "no complete request" and closed.
for k in idle1 idle2 half1 half2 trickle; do
	wait_lines "$T_DIR/slow.$k" " after [0-9]+ s$" 1
	check_match "slow client $k closed by the daemon's timeout" \
	    "^closed.* after ([2-6][0-9]) s$" "$(tail -1 "$T_DIR/slow.$k")"
done
check_match "with the reason, for the one that sent half a line" \
    "no complete request" "$(cat "$T_DIR/slow.half1")"

# --- 4. Stale and foreign files at the socket path ------------------------
daemon_kill
check "kill -9 leaves the socket file behind" test -S "$SOCK"
daemon_start
check "the next daemon replaces it: status answers" status_ok
check_eq "answered by the new daemon" "$T_PID" \
    "$("$CERTMINT" -c "$CONF" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')"
check_eq "the new socket is 0600" 600 "$(stat -c %a "$SOCK")"
daemon_stop
check_fails "a clean stop removes the socket" test -e "$SOCK"

echo "not a socket" >"$SOCK"
check_refused "a regular file at the socket path: certmintd refuses" 30 \
    "admin\.sock exists and is not a socket" "$CERTMINTD" -c "$CONF"
check_eq "and leaves the file alone" "not a socket" "$(cat "$SOCK" 2>&1)"
rm -f "$SOCK"

daemon_start
C2=$T_DIR/ca2/certmint.conf
"$CERTMINT" -c "$C2" init --name "Other CA" --port "$(free_port)" \
    --tls-port 0 >/dev/null 2>&1
CONF1=$CONF
CONF=$C2 conf_set server admin_socket "$SOCK"
CONF=$CONF1
check_refused "another daemon's live socket: the second certmintd refuses" 30 \
    "another certmintd is answering on .*admin\.sock" "$CERTMINTD" -c "$C2"
check "the first daemon's socket is still there" test -S "$SOCK"
# A second config for the same CA (its database), with its own pid file,
# socket and ports: the database is one daemon's.
C3=$(dirname "$CONF")/second.conf
cp "$CONF" "$C3"
CONF=$C3 conf_set server pid_file second.pid
CONF=$C3 conf_set server admin_socket second.sock
CONF=$C3 conf_set server port "$(free_port)"
CONF=$C3 conf_set server tls_port 0
CONF=$CONF1
check_refused "a second certmintd on the same database refuses" 30 \
    "another certmintd runs on the database .*certmint\.db" "$CERTMINTD" -c "$C3"
check_eq "and the first daemon answers on it" "$T_PID" \
    "$("$CERTMINT" -c "$CONF" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')"

# --- 5. Concurrent clients ------------------------------------------------
daemon_stop
STUCK=$T_DIR/stuck.log
HOLD=$T_DIR/hold
register_modules stuck
conf_set Stuck.Exit output "$STUCK"
conf_set Stuck.Exit hold_file "$HOLD"
# In the daemon's process: the notify under way holds the module's lock.
conf_set exit.Stuck.Exit isolation inline
conf_set exit stop_deadline_ms 1000
: >"$HOLD"
daemon_start
check "Stuck.Exit is held inside notify (STARTUP)" \
    wait_lines "$STUCK" "^enter seq=[0-9]+ event=0x80$" 1
# No admin command waits on a module: views answer from what it said at
# load, and what must call into it gives up with a reason.
check "exit show answers within 5 s while the module is stuck in notify" \
    timeout 5 "$CERTMINT" -c "$CONF" exit show Stuck.Exit
check "exit list answers within 5 s" timeout 5 "$CERTMINT" -c "$CONF" exit list
check_refused "exit configure gives up within 5 s, saying why" 5 \
    "busy in a notify call" "$CERTMINT" -c "$CONF" exit configure Stuck.Exit
check_refused "so does exit set" 5 "busy in a notify call" \
    "$CERTMINT" -c "$CONF" exit set Stuck.Exit sleep_ms 1
# A client that never sends holds one slot until its 30 s are up.
adm idle 60 >"$T_DIR/idle.out" 2>&1 &
SHOW=$!
wait_lines "$T_DIR/idle.out" "^connected" 1
check "status answers within 5 s while a client holds its slot" \
    timeout 5 "$CERTMINT" -c "$CONF" status
check "the idle client is still connected" kill -0 "$SHOW"

# flood.py SOCKET N: N clients connect and wait, holding their slots, until
# those over the limit have been told busy (N - 31 of them: the idle client
# holds one slot; at most 10 s), then each of the others sends status. Prints
# "ok=A busy=B other=C".
cat >"$T_DIR/flood.py" <<'PY'
import json, select, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
answers = {}
def read_answer(s):
    data = b""
    s.settimeout(30)
    try:
        while not data.endswith(b"\n"):
            b = s.recv(65536)
            if not b:
                break
            data += b
        return json.loads(data)
    except (OSError, ValueError):
        return None
end = time.time() + 10
while len(answers) < n - 31 and time.time() < end:
    r, _, _ = select.select([s for s in socks if s not in answers], [], [], 0.5)
    for s in r:
        answers[s] = read_answer(s)
for s in socks:
    if s not in answers:
        s.sendall(b'{"cmd": "status"}\n')
        answers[s] = read_answer(s)
ok = busy = other = 0
for j in answers.values():
    if j is not None and j.get("ok"):
        ok += 1
    elif j is not None and j.get("error", "").startswith("busy"):
        busy += 1
    else:
        other += 1
print("ok=%d busy=%d other=%d" % (ok, busy, other))
PY
out=$(timeout -k 5 60 python3 "$T_DIR/flood.py" "$SOCK" 40 2>&1)
check_match "40 clients at once: every one answered, none lost" \
    "^ok=[0-9]+ busy=[0-9]+ other=0$" "$out"
o=$(echo "$out" | sed -n 's/^ok=\([0-9]*\) .*/\1/p')
b=$(echo "$out" | sed -n 's/.* busy=\([0-9]*\) .*/\1/p')
check_eq "ok + busy = 40" 40 "$((${o:-0} + ${b:-0}))"
# 31 (32 less the idle client's), or one less if a finished client's thread was
# still counted at that instant.
check_match "at most 32 clients served at once: $o served" "^3[01]$" "$o"
check_match "the others are told busy: $b" "^(9|10)$" "$b"
for i in $(seq 40); do
	timeout -k 5 60 "$CERTMINT" -c "$CONF" status >"$T_DIR/par.$i" 2>&1 &
done
wait_all() {
	for i in $(seq 40); do
		grep -Eq "Test CA|busy" "$T_DIR/par.$i" || return 1
	done
}
check "40 certmint status at once: each answered (served or busy)" \
    wait_until 60 wait_all
check "the idle client still holds its slot" kill -0 "$SHOW"
# 300 clients one after the other: the threads serving them (and their
# database connections) are reused, not one more per client.
fds() {
	ls "/proc/$T_PID/fd" | wc -l
}
threads() {
	awk '/^Threads:/ { print $2 }' "/proc/$T_PID/status"
}
fd0=$(fds)
th0=$(threads)
python3 - "$SOCK" >"$T_DIR/seq.out" 2>&1 <<'PY'
import json, socket, sys
ok = 0
for i in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.settimeout(30)
    s.sendall(b'{"cmd": "status"}\n')
    data = b""
    while not data.endswith(b"\n"):
        b = s.recv(65536)
        if not b:
            break
        data += b
    ok += json.loads(data).get("ok") is True
    s.close()
print("ok=%d" % ok)
PY
check_eq "300 clients in turn: all served" "ok=300" "$(cat "$T_DIR/seq.out")"
check "and the daemon's descriptors did not grow with them ($fd0 -> $(fds))" \
    test "$(fds)" -le $((fd0 + 10))
check "nor its threads ($th0 -> $(threads))" test "$(threads)" -le $((th0 + 10))
rm -f "$HOLD"
kill "$SHOW" 2>/dev/null
wait "$SHOW" 2>/dev/null
check "released, exit configure works again" \
    "$CERTMINT" -c "$CONF" exit configure Stuck.Exit

# A client blocked in the module at stop: the daemon stops all the same.
: >"$HOLD"
new_csr held
submit_http "$T_DIR/held.csr" >/dev/null
check "Stuck.Exit is held inside notify (CERTISSUED)" \
    wait_lines "$STUCK" "^enter seq=[0-9]+ event=0x1$" 1
"$CERTMINT" -c "$CONF" exit configure Stuck.Exit >"$T_DIR/show2.out" 2>&1 &
SHOW=$!
adm idle 60 >"$T_DIR/slow.stop" 2>&1 &
wait_lines "$T_DIR/slow.stop" "^connected" 1
daemon_stop
check_eq "certmintd stops (status 0) with a client blocked in a module" 0 $?
check "the blocked client is closed, not left hanging" \
    wait_until 30 sh -c "! kill -0 $SHOW 2>/dev/null"
check_match "the client that was sending hears that the daemon stops" \
    "stopping" "$(cat "$T_DIR/slow.stop")"
rm -f "$HOLD"
finish
