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
# second daemon refuses to start.
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
"$CERTMINT" -c "$C2" init --name "Other CA" --port "$(free_port)" >/dev/null 2>&1
CONF1=$CONF
CONF=$C2 conf_set server admin_socket "$SOCK"
CONF=$CONF1
check_refused "another daemon's live socket: the second certmintd refuses" 30 \
    "another certmintd is answering on .*admin\.sock" "$CERTMINTD" -c "$C2"
check "the first daemon's socket is still there" test -S "$SOCK"
check_eq "and the first daemon answers on it" "$T_PID" \
    "$("$CERTMINT" -c "$CONF" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')"
finish
