#!/bin/sh
# Mending a suspended exit module before `exit resume`. Segv.Exit crashes
# on a request with the attribute crash:yes unless its section says
# crash = no. Isolated, once suspended its host is stopped: `exit set`
# saves the value unchecked (exit list and exit show say so), `exit
# configure --refresh` says when it is read, and the module stays
# suspended, its events queued, until `exit resume` starts it with the
# new value and it delivers them all. The same by editing the file and
# `certmint reload`, [exit.NAME]'s limits included. Inline, `exit set`
# reaches the module itself.
. "$LIB"

ca_init
PUB=$T_DIR/pub		# writable by the host's dropped user (nobody)
mkdir "$PUB"
chmod 1777 "$PUB"
chmod o+x "$T_DIR"
LOG=$PUB/segv.log
register_modules segv
conf_set Segv.Exit output "$LOG"
conf_set exit backoff_initial_ms 50
conf_set exit backoff_max_ms 200
# Suspended after two crashes, before any event is dead-lettered.
conf_set exit suspend_after 2
conf_set exit crash_attempts 10
new_csr ok
new_csr bad

list_json() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
}
field() {
	list_json
	module_field "$T_DIR/list.json" Segv.Exit "$1"
}
suspended() {
	[ -n "$(field suspended)" ]
}
# issue CSR [ATTR]: submit; ID and SEQ are the request and its CERTISSUED.
issue() {
	submit_http "$T_DIR/$1.csr" ${2:+"$2"} >/dev/null
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]')
	SEQ=$(db_query "SELECT seq FROM events WHERE event = 1 AND
	    context = $ID")
}
crashes_logged() {
	count_lines "$LOG" "^crash seq="
}

# 1. Isolated: suspended by its crashes, mended by `exit set`.
daemon_start
issue bad crash:yes
s1=$SEQ
check "the isolated module is suspended after two crashes" \
    wait_until 60 suspended
issue ok
s2=$SEQ
crashed=$(crashes_logged)
out=$("$CERTMINT" -c "$CONF" exit set Segv.Exit crash no 2>&1)
check_eq "exit set on the suspended module succeeds" 0 $?
check_match "and says the value is saved unchecked, read at resume" \
    "saved unchecked.*certmint exit resume Segv.Exit. starts it" "$out"
check_match "the value is in the module's section" \
    "^crash = no$" "$(sed -n '/^\[Segv.Exit\]/,/^\[/p' "$CONF")"
check "the module stays suspended" suspended
# Property names are case-insensitive: set again as Crash, listed once.
"$CERTMINT" -c "$CONF" exit set Segv.Exit Crash no >/dev/null 2>&1
check_eq "exit list names the unchecked setting (once)" crash \
    "$(field unchecked_settings)"
# (the key written in lower case again, as conf_set below looks for it)
"$CERTMINT" -c "$CONF" exit set Segv.Exit crash no >/dev/null 2>&1
check_match "exit list says when it is read" \
    "unchecked: +crash \(saved while suspended; read when .certmint exit resume Segv.Exit. starts it\)" \
    "$("$CERTMINT" -c "$CONF" exit list)"
check_match "exit show says suspended and unchecked" \
    "suspended: .*crashed 2×.*unchecked: +crash" \
    "$("$CERTMINT" -c "$CONF" exit show Segv.Exit | tr '\n' ' ')"
check_match "exit configure --refresh says when it rereads" \
    "suspended.*reads its settings when .certmint exit resume Segv.Exit. starts it" \
    "$("$CERTMINT" -c "$CONF" exit configure Segv.Exit --refresh 2>&1)"
check_refused "exit configure (a check) says it cannot check yet" 10 \
    "suspended.*can check its configuration when .certmint exit resume" \
    "$CERTMINT" -c "$CONF" exit configure Segv.Exit
check_eq "its events queue meanwhile" 2 "$(field queue)"
check_eq "and nothing ran the module meanwhile" "$crashed 0" \
    "$(crashes_logged) $(count_lines "$LOG" "^seq=$s2 ")"
check "exit resume" "$CERTMINT" -c "$CONF" exit resume Segv.Exit
check "resumed, it runs with the new value: the poison event is spared" \
    wait_lines "$LOG" "^spared seq=$s1$" 1
check "and the events queued while suspended are delivered, in order" \
    wait_lines "$LOG" "^seq=$s2 " 1
check_eq "in order, each once" "$s1 $s2" \
    "$(sed -n 's/^seq=\([0-9]*\) .*/\1/p' "$LOG" | tr '\n' ' ' | sed 's/ $//')"
check_eq "no more crash" "$crashed" "$(crashes_logged)"
check_eq "no longer suspended, nothing left unchecked" " " \
    "$(field suspended) $(field unchecked_settings)"
check_eq "no dead letter" 0 \
    "$(db_query "SELECT COUNT(*) FROM dead_letters")"

# 2. The same by editing the file and reloading, [exit.NAME] included:
# its limits apply when resume starts the host.
conf_set Segv.Exit crash yes
check "reload" "$CERTMINT" -c "$CONF" reload
# The running host read crash = no at its start: a refresh rereads it.
check_match "exit configure --refresh reaches the running host" \
    "crash = yes" "$("$CERTMINT" -c "$CONF" exit configure Segv.Exit --refresh)"
issue bad crash:yes
s3=$SEQ
check "suspended again" wait_until 60 suspended
issue ok
s4=$SEQ
conf_set Segv.Exit crash no
conf_set exit.Segv.Exit open_files 200
check "certmint reload while it is suspended" \
    "$CERTMINT" -c "$CONF" reload
check "the reload keeps it suspended" suspended
check_eq "its events still queued" 2 "$(field queue)"
check "exit resume" "$CERTMINT" -c "$CONF" exit resume Segv.Exit
check "resumed, it runs with the reloaded section" \
    wait_lines "$LOG" "^spared seq=$s3$" 1
check "and delivers what queued" wait_lines "$LOG" "^seq=$s4 " 1
# host_files: the open file limit of the module's process (the child of
# the host's keeper, whose pid exit list shows).
host_files() {
	_k=$(field pid)
	_c=$(ps -o pid= --ppid "$_k" | head -1 | tr -d ' ')
	awk '/^Max open files/ { print $4 }' "/proc/$_c/limits"
}
check_eq "its host started with [exit.Segv.Exit] open_files as reloaded" \
    200 "$(host_files)"
daemon_stop

# 3. Inline: a crash takes certmintd down; at the next start the module
# is suspended (suspend_after 1), and exit set reaches the module itself.
conf_set Segv.Exit crash yes
conf_set exit.Segv.Exit isolation inline
conf_set exit.Segv.Exit user root
conf_set exit suspend_after 1
daemon_start
rm -f "$T_DIR/resp.json"
submit_http "$T_DIR/bad.csr" crash:yes >/dev/null
s5=$(db_query "SELECT MAX(seq) FROM events WHERE event = 1")
died() {
	! kill -0 "$T_PID" 2>/dev/null
}
check "the inline module's segfault takes certmintd down" wait_until 60 died
wait "$T_PID"
T_PID=
daemon_start
check "at the next start it is suspended" suspended
issue ok
s6=$SEQ
check "exit set on the suspended inline module" \
    "$CERTMINT" -c "$CONF" exit set Segv.Exit crash no
check_eq "the module took it: nothing left unchecked" "" \
    "$(field unchecked_settings)"
check "it stays suspended" suspended
check "exit resume" "$CERTMINT" -c "$CONF" exit resume Segv.Exit
check "resumed, it spares the event that crashed certmintd" \
    wait_lines "$LOG" "^spared seq=$s5$" 1
check "and delivers what queued" wait_lines "$LOG" "^seq=$s6 " 1
finish
