#!/bin/sh
# Exit modules in their own process ([exit.NAME] isolation = process, the
# default): modules that segfault, abort, hang or eat memory do not stop
# issuance or another module; each poison event is dead-lettered with its
# cause after crash_attempts crashes; after suspend_after crashes the
# module is suspended (exit list says so) until `exit resume`, which
# delivers what queued meanwhile. The host runs as the dropped user. A
# kill -9 of certmintd leaves no host process. `exit list` answers while
# a module hangs in notify (isolated and inline) and while a reload waits
# for a stuck module. An inline module that crashes certmintd is named at
# the next start, and after crash_attempts starts its event is
# dead-lettered: no crash loop.
. "$LIB"

ca_init
REC=$T_DIR/rec.log
PUB=$T_DIR/pub		# writable by the host's dropped user (nobody)
mkdir "$PUB"
chmod 1777 "$PUB"
chmod o+x "$T_DIR"
MODS="Segv Abort Hang Hog"
register_modules recording segv abort hang hog
conf_set Recording.Exit output "$REC"
conf_set exit.Recording.Exit user root
for m in $MODS; do
	conf_set "$m.Exit" output "$PUB/$m.log"
done
conf_set exit.Hog.Exit memory_mb 64
conf_set exit deadline_ms 2000
conf_set exit backoff_initial_ms 50
conf_set exit backoff_max_ms 400
conf_set exit crash_attempts 2
conf_set exit suspend_after 4

# list_json: `certmint --json exit list` into $T_DIR/list.json.
list_json() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
}

# issued_seq ID: the seq of the CERTISSUED event of request ID.
issued_seq() {
	db_query "SELECT seq FROM events WHERE event = 1 AND context = $1"
}

# submit_bg N ATTR...: N submissions of $T_DIR/ok.csr at once; the HTTP
# statuses in $T_DIR/codes.
submit_many() {
	_n=$1
	shift
	seq 1 "$_n" | xargs -P 4 -I{} curl -s -m 60 -o /dev/null \
	    -w "%{http_code}\n" -H "Content-Type: application/pkcs10" \
	    --data-binary @"$T_DIR/ok.csr" "$URL/api/v1/requests" \
	    >"$T_DIR/codes"
}

daemon_start
new_csr ok
new_csr bad
check "initialize's config is the CA's name, after the module's own srv calls" \
    wait_lines "$T_LOG" 'Recording.Exit.*initialize\("Test CA"\)' 1
list_json
for m in $MODS; do
	check_eq "$m.Exit runs isolated by default" process \
	    "$(module_field "$T_DIR/list.json" "$m.Exit" isolation)"
done
pid=$(module_field "$T_DIR/list.json" Segv.Exit pid)
check_eq "Segv.Exit's host process runs as nobody (the dropped user)" \
    "$(id -u nobody)" "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")"
check_match "and is certmintd --module-host" "module-host" \
    "$(tr '\0' ' ' <"/proc/$pid/cmdline")"
check_eq "and not of the daemon's session" 1 \
    "$([ "$(ps -o sid= -p "$pid")" != "$(ps -o sid= -p "$T_PID")" ] && echo 1)"

# Two poison events, with issuance going on around them.
submit_http "$T_DIR/ok.csr" >/dev/null
first=$(json "$T_DIR/resp.json" 'j["request_id"]')
for m in $MODS; do
	check "$m.Exit gets a plain event" wait_lines "$PUB/$m.log" \
	    "^seq=$(issued_seq "$first") " 1
done
submit_http "$T_DIR/bad.csr" crash:yes >"$T_DIR/p1.out"
check_match "a poison request is issued" "^201" "$(cat "$T_DIR/p1.out")"
p1=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "Hang.Exit hangs in notify on it" wait_lines "$PUB/Hang.log" \
    "^crash seq=$(issued_seq "$p1")$" 1
submit_many 20
check_eq "20 certificates returned while the modules crash" 20 \
    "$(grep -c '^201$' "$T_DIR/codes")"
submit_http "$T_DIR/bad.csr" crash:yes >"$T_DIR/p2.out"
p2=$(json "$T_DIR/resp.json" 'j["request_id"]')
submit_many 5
check_eq "5 more certificates returned" 5 "$(grep -c '^201$' "$T_DIR/codes")"
s1=$(issued_seq "$p1")
s2=$(issued_seq "$p2")

# dead SEQ MODULE: the dead letter's error, if any.
dead() {
	db_query "SELECT error FROM dead_letters WHERE module = '$2' AND
	    seq = $1"
}
has_dead() {
	[ -n "$(dead "$1" "$2")" ]
}
for m in $MODS; do
	check "$m.Exit: the first poison event is dead-lettered" \
	    wait_until 120 has_dead "$s1" "$m.Exit"
	check "$m.Exit: the second one too" \
	    wait_until 120 has_dead "$s2" "$m.Exit"
done
check_match "Segv.Exit's dead letter names SIGSEGV" \
    "module process killed by SIGSEGV \(2 crashes" "$(dead "$s1" Segv.Exit)"
check_match "Abort.Exit's names SIGABRT" "module process killed by SIGABRT" \
    "$(dead "$s1" Abort.Exit)"
check_match "Hang.Exit's names the deadline" "killed after 2000 ms deadline" \
    "$(dead "$s1" Hang.Exit)"
check_match "Hog.Exit's names its end (malloc failed at 64 MB: abort)" \
    "module process killed by SIGABRT" "$(dead "$s1" Hog.Exit)"

# suspended_is MODULE: exit list says MODULE is suspended.
suspended_is() {
	list_json
	[ -n "$(module_field "$T_DIR/list.json" "$1" suspended)" ]
}
for m in $MODS; do
	check "$m.Exit is suspended after 4 crashes" wait_until 30 \
	    suspended_is "$m.Exit"
done
check_match "exit list says why" \
    "suspended: +crashed 4× in [0-9]+ s, the last on event $s2: SIGSEGV" \
    "$("$CERTMINT" -c "$CONF" exit list)"
check_eq "the suspension is in the database" 4 \
    "$(db_query "SELECT COUNT(*) FROM exit_suspended")"

# Recording.Exit got every CERTISSUED event meanwhile.
db_query "SELECT seq FROM events WHERE event = 1" >"$T_DIR/want"
rec_all() {
	while read -r s; do
		grep -q "^event=0x1 context=[0-9]* seq=$s " "$REC" || return 1
	done <"$T_DIR/want"
}
check "Recording.Exit got every one of the $(wc -l <"$T_DIR/want") CERTISSUED" \
    wait_until 60 rec_all

# Suspended modules queue; resumed, they get what queued.
submit_http "$T_DIR/ok.csr" >/dev/null
queued=$(issued_seq "$(json "$T_DIR/resp.json" 'j["request_id"]')")
check "Recording.Exit gets the next event" wait_lines "$REC" \
    "^event=0x1 context=[0-9]* seq=$queued " 1
check_eq "suspended Segv.Exit does not" 0 \
    "$(count_lines "$PUB/Segv.log" "^seq=$queued ")"
list_json
check "and its queue is kept" test \
    "$(module_field "$T_DIR/list.json" Segv.Exit queue)" -ge 1
daemon_stop
daemon_start
check "the suspension survives a restart" suspended_is Segv.Exit
for m in $MODS; do
	check "exit resume $m.Exit" "$CERTMINT" -c "$CONF" exit resume "$m.Exit"
done
for m in $MODS; do
	check "$m.Exit, resumed, gets the queued event" wait_lines \
	    "$PUB/$m.log" "^seq=$queued " 1
done
list_json
check_eq "and is no longer suspended" "" \
    "$(module_field "$T_DIR/list.json" Segv.Exit suspended)"
check_refused "exit resume of an unknown module is refused" 10 \
    "no active exit module" "$CERTMINT" -c "$CONF" exit resume No.Exit

# exit list answers while modules hang in notify: Hang.Exit isolated
# (deadline 60 s) and Stuck.Exit inline; and while a reload waits for
# the stuck inline module it unloads.
register_modules stuck
conf_set Stuck.Exit hold_file "$T_DIR/hold"
conf_set Stuck.Exit output "$T_DIR/stuck.log"
conf_set exit.Stuck.Exit isolation inline
conf_set exit deadline_ms 60000
conf_set exit stop_deadline_ms 3000
: >"$T_DIR/hold"
daemon_stop
daemon_start
check "Stuck.Exit hangs in STARTUP's notify" wait_lines "$T_DIR/stuck.log" \
    "^enter seq=" 1
hung=$(count_lines "$PUB/Hang.log" "^crash seq=")
submit_http "$T_DIR/bad.csr" crash:yes >/dev/null
check "Hang.Exit hangs in notify" wait_lines "$PUB/Hang.log" "^crash seq=" \
    $((hung + 1))
check "exit list answers within 5 s meanwhile" \
    timeout 5 "$CERTMINT" -c "$CONF" exit list
check "exit show of the isolated one too" \
    timeout 5 "$CERTMINT" -c "$CONF" exit show Hang.Exit
conf_set exit active "Recording.Exit, Segv.Exit, Abort.Exit, Hang.Exit, Hog.Exit"
kill -HUP "$T_PID"
check "exit list answers within 5 s while a reload waits for Stuck.Exit" \
    timeout 5 "$CERTMINT" -c "$CONF" exit list
check_eq "(Stuck.Exit was still in notify then)" 0 \
    "$(count_lines "$T_DIR/stuck.log" "^done ")"
rm -f "$T_DIR/hold"
check "the reload unloads Stuck.Exit" wait_lines "$T_LOG" \
    "exit module Stuck.Exit (unloaded|is still in notify)" 1

# kill -9 of certmintd: no host process is left behind.
list_json
pids=$(python3 -c 'import json, sys
print(" ".join(str(m["pid"]) for m in json.load(open(sys.argv[1])) if "pid" in m))' \
    "$T_DIR/list.json")
check "there are host processes" test -n "$pids"
# One of them stopped: it cannot notice its sockets closing, only the
# parent-death signal ends it.
for p in $pids; do
	kill -STOP "$p"
	break
done
daemon_kill
hosts_gone() {
	for p in $pids; do
		grep -qs module-host "/proc/$p/cmdline" && return 1
	done
	return 0
}
check "after kill -9 of certmintd no host process is left" \
    wait_until 10 hosts_gone

# An inline module that crashes certmintd.
conf_set exit.Segv.Exit isolation inline
conf_set exit.Segv.Exit user root
conf_set exit deadline_ms 2000
conf_set exit suspend_after 10
conf_set exit active "Recording.Exit, Segv.Exit"
# start_nowait: start certmintd without waiting for it to answer (it may
# die of the module first).
start_nowait() {
	"$CERTMINTD" -c "$CONF" >>"$T_LOG" 2>&1 &
	T_PID=$!
}
daemon_start
# The module may kill certmintd before the answer is sent: the event is
# read from the database once it is dead, never from resp.json (which
# would then still be the previous submission's).
rm -f "$T_DIR/resp.json"
submit_http "$T_DIR/bad.csr" crash:yes >/dev/null
# crashed: wait (at most 60 s) for certmintd to die of the module.
crashed() {
	_i=0
	while kill -0 "$T_PID" 2>/dev/null && [ $_i -lt 1200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	wait "$T_PID"
	_rc=$?
	T_PID=
	echo "# certmintd exited with status $_rc"
	[ "$_rc" -gt 128 ]
}
check "the inline module's segfault kills certmintd" crashed
pseq=$(db_query "SELECT MAX(seq) FROM events WHERE event = 1")
check "its crash handler names the module and the event" grep -q \
    "exit module Segv.Exit crashed on event $pseq (SIGSEGV)" "$T_LOG"
start_nowait
check "the next start logs the module and the event" wait_lines "$T_LOG" \
    "exit module Segv.Exit crashed certmintd on event $pseq \(SIGSEGV\)" 1
check "redelivered, the event kills it again" crashed
daemon_start
check "the third start dead-letters the event instead" \
    wait_until 30 has_dead "$pseq" Segv.Exit
check_match "with the cause" "crashed certmintd with SIGSEGV \(2 crashes" \
    "$(dead "$pseq" Segv.Exit)"
submit_http "$T_DIR/ok.csr" >/dev/null
after=$(issued_seq "$(json "$T_DIR/resp.json" 'j["request_id"]')")
check "and the daemon keeps running: Segv.Exit gets the next event" \
    wait_lines "$PUB/Segv.log" "^seq=$after " 1
list_json
check "exit list counts its crashes" test \
    "$(module_field "$T_DIR/list.json" Segv.Exit crashes)" -ge 2

# A module loaded by a reload (exit register: an admin command's thread,
# which ends) keeps its host; one that exits is a crash like a signal.
daemon_stop
conf_set exit active Recording.Exit
daemon_start
conf_set Exit3.Exit output "$PUB/Exit3.log"
register_modules exit3
list_json
e3=$(module_field "$T_DIR/list.json" Exit3.Exit pid)
submit_http "$T_DIR/ok.csr" >/dev/null
check "Exit3.Exit, registered on a running daemon, gets an event" \
    wait_lines "$PUB/Exit3.log" "^seq=$(issued_seq \
    "$(json "$T_DIR/resp.json" 'j["request_id"]')") " 1
list_json
check_eq "from the host started by that reload" "$e3" \
    "$(module_field "$T_DIR/list.json" Exit3.Exit pid)"
submit_http "$T_DIR/bad.csr" crash:yes >/dev/null
s3=$(issued_seq "$(json "$T_DIR/resp.json" 'j["request_id"]')")
check "its poison event is dead-lettered" wait_until 60 has_dead "$s3" \
    Exit3.Exit
check_match "as exited with status 3" "module process exited with status 3" \
    "$(dead "$s3" Exit3.Exit)"
finish
