# lib.sh - shared by the integration tests (POSIX sh, sourced).
#
# Each test script runs the real certmintd and certmint binaries from the
# build directory against a fresh CA in a temporary directory, on a free
# loopback port, with real clients (openssl, curl). It prints TAP: one
# "ok N - what" or "not ok N - what" line per check, and "1..N" at the end.
#
# The meson test passes the binaries in the environment:
#   CERTMINT, CERTMINTD    paths of the CLI and the daemon
#   MODULES_DIR            the directory of the test modules (tests/modules)
#   SAMPLE_DIR             the sample exit module's source (examples/sample-exit)
#   KEEP                   when set, the test's temporary directory (the
#                          CA, the daemon log, module outputs) is kept

set -u

T_N=0
T_FAILED=0
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/certmint-it.XXXXXX")
# Exit modules run in a host process as nobody by default (isolation):
# let them write their outputs here as the tests' root does.
chmod 1777 "$T_DIR"
# Debian's python3, whatever comes first on PATH: scripts/deps.sh --tests
# installs the modules the tests use (python3-cryptography, -aiosmtpd,
# -acme) for it alone, and a pyenv shim, say, sees none of them and takes
# 0.2 s to start where it takes 0.04 s.
mkdir "$T_DIR/bin"
ln -s /usr/bin/python3 "$T_DIR/bin/python3"
PATH=$T_DIR/bin:$PATH
export PATH
T_PID=
T_LOG=$T_DIR/certmintd.log
T_BAD_STOPS=

# ok DESCRIPTION: record a passed check.
ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}

# not_ok DESCRIPTION: record a failed check.
not_ok() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $*"
}

# check DESCRIPTION COMMAND...: run COMMAND; pass if it exits 0.
check() {
	_d=$1
	shift
	if "$@" >"$T_DIR/check.out" 2>&1; then
		ok "$_d"
	else
		not_ok "$_d"
		sed 's/^/# /' "$T_DIR/check.out" | head -20
	fi
}

# check_fails DESCRIPTION COMMAND...: pass if COMMAND exits non-zero.
check_fails() {
	_d=$1
	shift
	if "$@" >"$T_DIR/check.out" 2>&1; then
		not_ok "$_d (command succeeded)"
		sed 's/^/# /' "$T_DIR/check.out" | head -20
	else
		ok "$_d"
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   expected: $2"
		echo "#   actual:   $3"
	fi
}

# check_match DESCRIPTION PATTERN TEXT: pass if TEXT contains PATTERN
# (grep -E).
check_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   pattern: $2"
		printf '%s\n' "$3" | head -20 | sed 's/^/#   text: /'
	fi
}

# check_refused DESCRIPTION SECONDS PATTERN COMMAND...: pass if COMMAND
# exits by itself within SECONDS with a non-zero status and its output
# matches PATTERN (grep -E). A command still running after SECONDS (for
# example a daemon that wrongly started) fails the check and is killed.
check_refused() {
	_d=$1 _s=$2 _p=$3
	shift 3
	timeout -k 5 "$_s" "$@" >"$T_DIR/check.out" 2>&1
	_rc=$?
	if [ $_rc -eq 124 ] || [ $_rc -eq 137 ]; then
		not_ok "$_d (still running after $_s s)"
	elif [ $_rc -eq 0 ]; then
		not_ok "$_d (exited 0)"
	elif [ $_rc -gt 128 ]; then
		not_ok "$_d (killed by signal $((_rc - 128)))"
	elif ! grep -Eq -- "$_p" "$T_DIR/check.out"; then
		not_ok "$_d (exit $_rc, output does not match /$_p/)"
	else
		ok "$_d"
		return 0
	fi
	sed 's/^/# /' "$T_DIR/check.out" | head -20
	return 1
}

# wait_until SECONDS COMMAND...: run COMMAND every 50 ms until it succeeds
# (return 0) or SECONDS have passed (return 1). For conditions that take a
# while on a loaded machine: the bound is generous, the wait is as short as
# the condition allows, and a check never passes because the wait ran out.
wait_until() {
	_end=$(( $(date +%s) + $1 ))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.05
	done
}

# free_port: a TCP port nobody listens on, on loopback.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ca_init [INIT OPTIONS...]: create a CA under $T_DIR/ca. Sets CONF, PORT,
# URL. The tests speak plain HTTP to the API and submit anonymously, as
# before HTTPS and authentication (issue 14): no HTTPS listener,
# [server] plain_api and [rest] anonymous = issue. tls.sh and auth.sh
# check the defaults (ca_init_secure).
ca_init() {
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	CONF=$T_DIR/ca/certmint.conf
	"$CERTMINT" -c "$CONF" init --name "Test CA" --port "$PORT" \
	    --tls-port 0 --anonymous issue "$@" >"$T_DIR/init.out" 2>&1 || {
		echo "Bail out! certmint init failed"
		cat "$T_DIR/init.out"
		exit 1
	}
	conf_set server plain_api yes
	# Two tests run at once: deliveries ranked below issuance (the
	# default, nice 19) would wait for the other test's CPU.
	# mod_command.sh checks the default; bench/modules measures it.
	conf_set exit nice 0
}

# ca_init_secure [INIT OPTIONS...]: a CA as `certmint init` makes one,
# defaults unchanged: HTTPS on TLS_PORT (SURL, its certificate issued by
# the CA), the plain port for CRLs and CA certificates, authentication
# required. Sets CONF, PORT, URL, TLS_PORT, SURL.
ca_init_secure() {
	PORT=$(free_port)
	TLS_PORT=$(free_port)
	while [ "$TLS_PORT" = "$PORT" ]; do
		TLS_PORT=$(free_port)
	done
	URL=http://127.0.0.1:$PORT
	SURL=https://127.0.0.1:$TLS_PORT
	CONF=$T_DIR/ca/certmint.conf
	"$CERTMINT" -c "$CONF" init --name "Test CA" --port "$PORT" \
	    --tls-port "$TLS_PORT" "$@" >"$T_DIR/init.out" 2>&1 || {
		echo "Bail out! certmint init failed"
		cat "$T_DIR/init.out"
		exit 1
	}
	# Two tests run at once: deliveries ranked below issuance (the
	# default, nice 19) would wait for the other test's CPU.
	# mod_command.sh checks the default; bench/modules measures it.
	conf_set exit nice 0
}

# conf_del SECTION KEY: remove KEY from [SECTION] of $CONF.
conf_del() {
	python3 - "$CONF" "$1" "$2" <<'PY'
import sys
path, sec, key = sys.argv[1:]
out, cur = [], None
for ln in open(path).read().split("\n"):
    s = ln.strip()
    if s.startswith("[") and s.endswith("]"):
        cur = s[1:-1]
    elif cur == sec and "=" in s and not s.startswith((";", "#")) \
            and s.split("=", 1)[0].strip() == key:
        continue
    out.append(ln)
open(path, "w").write("\n".join(out))
PY
}

# conf_set SECTION KEY VALUE: set a key in the CA's config file.
conf_set() {
	python3 - "$CONF" "$1" "$2" "$3" <<'PY'
import sys
path, sec, key, val = sys.argv[1:]
lines = open(path).read().split("\n")
out, cur, done, seen = [], None, False, False
for ln in lines:
    s = ln.strip()
    if s.startswith("[") and s.endswith("]"):
        if cur == sec and not done:
            out.append(f"{key} = {val}")
            done = True
        cur = s[1:-1]
        if cur == sec:
            seen = True
    elif cur == sec and "=" in s and not s.startswith((";", "#")) \
            and s.split("=", 1)[0].strip() == key:
        if not done:
            out.append(f"{key} = {val}")
            done = True
        continue
    out.append(ln)
if not done:
    if not seen:
        out.append(f"[{sec}]")
    out.append(f"{key} = {val}")
open(path, "w").write("\n".join(out) + "\n")
PY
}

# daemon_start: start certmintd on $CONF and wait until /health and the
# admin socket answer.
daemon_start() {
	"$CERTMINTD" -c "$CONF" >>"$T_LOG" 2>&1 &
	T_PID=$!
	_end=$(( $(date +%s) + 60 ))
	while [ "$(date +%s)" -lt "$_end" ]; do
		# HTTP answers a moment before the admin socket is there.
		if curl -fsS -m 5 "$URL/health" >/dev/null 2>&1 &&
		    "$CERTMINT" -c "$CONF" status >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$T_PID" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	echo "Bail out! certmintd did not start"
	sed 's/^/# /' "$T_LOG" | tail -30
	kill -KILL "$T_PID" 2>/dev/null
	T_PID=
	exit 1
}

# daemon_stop: stop certmintd cleanly (SIGTERM), wait for it (at most
# 60 s, then SIGKILL). Returns the daemon's exit status. A status other
# than 0 is also counted, and finish() fails the test for it: every test
# checks that each daemon it stopped stopped cleanly.
daemon_stop() {
	[ -n "$T_PID" ] || return 0
	kill -TERM "$T_PID" 2>/dev/null
	_i=0
	while kill -0 "$T_PID" 2>/dev/null && [ $_i -lt 1200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	if kill -0 "$T_PID" 2>/dev/null; then
		echo "# certmintd did not stop in 60 s: killing it"
		kill -KILL "$T_PID"
	fi
	wait "$T_PID"
	_rc=$?
	if [ "$_rc" -ne 0 ]; then
		T_BAD_STOPS="$T_BAD_STOPS $T_PID:$_rc"
		echo "# certmintd (pid $T_PID) exited with status $_rc"
	fi
	T_PID=
	return $_rc
}

# daemon_kill: kill -9, as a crash would.
daemon_kill() {
	[ -n "$T_PID" ] || return 0
	kill -KILL "$T_PID" 2>/dev/null
	wait "$T_PID" 2>/dev/null
	T_PID=
}

# new_csr NAME [openssl req options...]: an EC P-256 key and CSR
# $T_DIR/NAME.key / NAME.csr with subject CN=NAME.
new_csr() {
	_n=$1
	shift
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T_DIR/$_n.key" -out "$T_DIR/$_n.csr" -subj "/CN=$_n" \
	    "$@" 2>/dev/null
}

# submit_http CSRFILE [NAME:VALUE...]: POST a CSR with request attributes
# (in the query string); prints the HTTP status, then the body (also left in
# $T_DIR/resp.json).
submit_http() {
	_f=$1
	shift
	_q=
	for _a in "$@"; do
		_q="$_q${_q:+&}attrib=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$_a")"
	done
	curl -sS -m 60 -o "$T_DIR/resp.json" -w '%{http_code}\n' \
	    -H 'Content-Type: application/pkcs10' --data-binary "@$_f" \
	    "$URL/api/v1/requests${_q:+?$_q}"
	cat "$T_DIR/resp.json"
}

# calls FILE: the calls= count a Serial/Concurrent test module wrote.
calls() {
	sed -n 's/^calls=\([0-9]*\) .*/\1/p' "$1" 2>/dev/null
}

# calls_at_least FILE N: FILE says calls=N or more.
calls_at_least() {
	_c=$(calls "$1")
	[ "${_c:-0}" -ge "$2" ]
}

# wait_calls FILE N: wait (at most 60 s) until FILE says calls=N or more.
wait_calls() {
	wait_until 60 calls_at_least "$1" "$2"
}

# json FILE EXPR: print a field of a JSON document (python expression on
# the parsed value "j").
json() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1" "$2"
}

# has_lines FILE PATTERN N: FILE has N or more lines matching PATTERN.
has_lines() {
	[ "$(grep -cE -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ]
}

# register_modules NAME...: register the test modules NAME.so of
# $MODULES_DIR (a failure is a failed check).
register_modules() {
	for _m in "$@"; do
		"$CERTMINT" -c "$CONF" exit register "$MODULES_DIR/$_m.so" \
		    >/dev/null 2>&1 || not_ok "register $_m"
	done
}

# db_query SQL: run SQL on the CA's database (read beside the daemon,
# waiting up to 10 s for its locks); one row a line, columns split by |.
db_query() {
	sqlite3 -cmd ".timeout 10000" "$T_DIR/ca/certmint.db" "$1"
}

# module_field FILE NAME FIELD: FIELD of module NAME in FILE, the output
# of `certmint --json exit list`.
module_field() {
	python3 -c 'import json, sys
for m in json.load(open(sys.argv[1])):
    if m["name"] == sys.argv[2]:
        print(m.get(sys.argv[3], ""))' "$1" "$2" "$3"
}

# wait_lines FILE PATTERN N: wait (at most 60 s) until FILE has N lines
# matching PATTERN (grep -E). Returns 0 if it did.
wait_lines() {
	wait_until 60 has_lines "$1" "$2" "$3"
}

# count_lines FILE PATTERN: lines of FILE matching PATTERN (grep -E).
count_lines() {
	[ -f "$1" ] || { echo 0; return; }
	grep -cE "$2" "$1" || true
}

# sanitizer_reports FILE: the lines of FILE in which AddressSanitizer,
# LeakSanitizer, UndefinedBehaviorSanitizer or ThreadSanitizer reported
# something.
sanitizer_reports() {
	grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer|SUMMARY: [A-Za-z]+Sanitizer' \
	    "$1" 2>/dev/null
}

# check_daemons_clean: every certmintd this test stopped exited 0, and no
# sanitizer reported anything in the daemons' log.
check_daemons_clean() {
	check_eq "every certmintd stopped with status 0" "" "$T_BAD_STOPS"
	_r=$(sanitizer_reports "$T_LOG" | head -5)
	check_eq "no sanitizer report in the daemon log" "" "$_r"
}

# check_issued_conform: every certificate each CA of this test issued (a
# certmint.db beside its ca.crt under $T_DIR) and every CRL passes pyca
# cryptography, openssl verify -x509_strict and certtool
# (conformance.py): a CA's signature is its product, so each test checks
# what it made.
check_issued_conform() {
	for _db in $(find "$T_DIR" -name certmint.db 2>/dev/null); do
		_ca=$(dirname "$_db")/ca.crt
		[ -f "$_ca" ] || continue
		[ "$(sqlite3 -cmd ".timeout 10000" "$_db" \
		    "SELECT count(*) FROM certs" 2>/dev/null || echo 0)" -gt 0 ] ||
		    continue
		check "what $(basename "$(dirname "$_db")") signed passes cryptography, openssl -x509_strict, certtool" \
		    /usr/bin/python3 "$(dirname "$LIB")/conformance.py" "$_db" "$_ca" 10
	done
}

# finish: stop the daemon, check that every daemon stopped cleanly and
# that what the CA signed conforms, clean up, print the plan; exit 1 if a
# check failed. Call at the end of every test script.
finish() {
	daemon_stop
	check_daemons_clean
	check_issued_conform
	if [ $T_FAILED -ne 0 ]; then
		echo "# daemon log:"
		sed 's/^/# /' "$T_LOG" 2>/dev/null | tail -40
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$T_DIR"
	echo "1..$T_N"
	[ $T_FAILED -eq 0 ]
	exit $?
}

trap 'daemon_kill; rm -rf "$T_DIR"' INT TERM
