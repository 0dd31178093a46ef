#!/bin/sh
# What an isolated module writes on its stdout and stderr reaches the
# daemon's log one line at a time, each prefixed with the module and its
# host's pid, control characters escaped: no line of it reads as
# certmintd's own. A long line is cut, a flood is limited (100 lines at
# once) and counted. srv->log text with a newline stays on its line.
# What the module started ends with its process, even a daemon in a
# session of its own (the host's keeper): when the module's process is
# killed, when certmintd stops and when certmintd is killed with -9. A
# kill -9 of the keeper itself still ends what is in the host's group.
. "$LIB"

ca_init
OUT=$T_DIR/pub
mkdir "$OUT"
chmod 1777 "$OUT"	# the isolated host runs as nobody
chmod o+x "$T_DIR"
register_modules chatty
conf_set Chatty.Exit output "$OUT/chatty.log"
conf_set Chatty.Exit flood 300
conf_set exit backoff_initial_ms 50
new_csr one

# alive PID: PID runs (and is not a zombie).
alive() {
	[ -r "/proc/$1/stat" ] &&
	    [ "$(awk '{ print $3 }' "/proc/$1/stat")" != Z ]
}

daemon_start
check "the module started a child" wait_lines "$OUT/chatty.log" '^child=' 1
child1=$(sed -n 's/^child=//p' "$OUT/chatty.log" | head -1)
check "which runs" alive "$child1"
check_eq "a request is issued" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check "the module had CERTISSUED" wait_lines "$OUT/chatty.log" '^seq=' 1
check "its output reached the log, and what was not shown is counted" \
    wait_lines "$T_LOG" "Chatty.Exit: host process [0-9]+: [0-9]+ lines of its output not shown" 1
check_eq "no line of the log is one the module made up" 0 \
    "$(count_lines "$T_LOG" '^2026-01-01T00:00:00Z')"
check_eq "no ESC byte reached the log" 0 \
    "$(tr -cd '\033' <"$T_LOG" | wc -c)"
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
hostpid=$(module_field "$T_DIR/list.json" Chatty.Exit pid)
pre="exit module Chatty.Exit: host process $hostpid: "
check "stdout's first line, prefixed" has_lines "$T_LOG" \
    "warning: ${pre}chatty on stdout$" 1
check "stdout's forged line, prefixed, at its own place" has_lines "$T_LOG" \
    "warning: ${pre}2026-01-01T00:00:00Z certmintd\[1\]: error: FORGED on stdout$" 1
check "stderr's ESC sequences escaped" has_lines "$T_LOG" \
    "${pre}\\\\x1b\[31mred\\\\x1b\[0m FORGED on stderr$" 1
check "the host's own line keeps its level" has_lines "$T_LOG" \
    "info: ${pre}runs as nobody$" 1
check "a 5000-byte line is cut at 1000" has_lines "$T_LOG" \
    "${pre}x{1000} \[4000 more bytes not shown\]$" 1
flood=$(count_lines "$T_LOG" 'flood line [0-9]+$')
check "a flood of 300 lines is limited ($flood logged)" \
    test "$flood" -ge 90 -a "$flood" -le 100
check_eq "shown and not shown, 300 in all" 300 "$(($flood + $(sed -nE \
    "s/.*${pre}([0-9]+) lines of its output not shown.*/\\1/p" "$T_LOG")))"
check "srv->log's newline is escaped, on the module's line" has_lines "$T_LOG" \
    "info: exit module Chatty.Exit: logged\\\\x0a2026-01-01T00:00:00Z certmintd\[1\]: error: FORGED by log$" 1

# gone PID: PID has ended (or is a zombie), within 10 s.
gone() {
	wait_until 10 sh -c "! { [ -r /proc/$1/stat ] && [ \"\$(awk '{ print \$3 }' /proc/$1/stat)\" != Z ]; }"
}
# nth KEY N: the Nth "KEY=PID" line of the module's output.
nth() {
	sed -n "s/^$1=//p" "$OUT/chatty.log" | sed -n "${2}p"
}

check "the module started a daemon" wait_lines "$OUT/chatty.log" '^daemon=' 1
daemon1=$(nth daemon 1)
sid=$(awk '{ print $6 }' "/proc/$daemon1/stat" 2>/dev/null)
check "which runs, in a session of its own ($sid)" test -n "$sid" -a \
    "$sid" != "$hostpid" -a "$sid" != 0
check "the module's process is below its host's keeper" test \
    "$(awk '{ print $4 }' "/proc/$(nth host 1)/stat" 2>/dev/null)" = "$hostpid"

# The module's process crashes (killed): its keeper kills what it left,
# the daemon too, and ends as it did.
kill -KILL "$(nth host 1)"
check_eq "a request is issued" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check "after the module's process is killed, its child is gone" gone "$child1"
check "and so is its daemon" gone "$daemon1"
check "the keeper says what it killed" has_lines "$T_LOG" \
    "warning: ${pre}killed 2 processes the module left running$" 1
check "the crash is the module's: killed by SIGKILL" has_lines "$T_LOG" \
    "Chatty.Exit.*(SIGKILL|signal 9)" 1
check "the restarted module starts another child" wait_lines \
    "$OUT/chatty.log" '^daemon=' 2
child2=$(nth child 2)

# A killed host (its keeper) takes the child of its group with it
# (certmintd sees it gone at the next event). Its daemon, in a session of
# its own, is out of reach then (docs/exit-modules.md).
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
hostpid=$(module_field "$T_DIR/list.json" Chatty.Exit pid)
kill -KILL "$hostpid"
check_eq "a request is issued" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check "after the host is killed, the module's child is gone" gone "$child2"
kill -KILL "$(nth daemon 2)" 2>/dev/null
check "the restarted module starts another" wait_lines "$OUT/chatty.log" \
    '^daemon=' 3
child3=$(nth child 3)
daemon3=$(nth daemon 3)
check "which runs" alive "$child3"
daemon_stop
check "after certmintd stops, that child is gone too" gone "$child3"
check "and its daemon" gone "$daemon3"

# kill -9 of certmintd: the keepers end what their modules started.
daemon_start
check "the module starts again" wait_lines "$OUT/chatty.log" '^daemon=' 4
child4=$(nth child 4)
daemon4=$(nth daemon 4)
check "its daemon runs" alive "$daemon4"
daemon_kill
check "after a kill -9 of certmintd, the module's child is gone" \
    gone "$child4"
check "and its daemon" gone "$daemon4"
# Inline, a module that closes fds 0-2 in notify: they are put back (the
# log goes on to where it went), and the log names the module, instead of
# the next socket taking fd 2 and the daemon dying later without a trace.
conf_set exit.Chatty.Exit isolation inline
conf_set Chatty.Exit flood 0
conf_set Chatty.Exit close_stdio 1
daemon_start
check_eq "a request is issued" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check "the log names the module that closed them" wait_lines "$T_LOG" \
    "exit module Chatty.Exit closed certmintd's stdin stdout stderr in notify of event [0-9]+: put back" 1
for i in 1 2 3 4 5; do
	submit_http "$T_DIR/one.csr" >/dev/null
done
check_eq "certmintd serves on" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check "and its log goes on where it went" wait_lines "$T_LOG" \
    "closed certmintd's stdin stdout stderr" 7
daemon_stop
check_eq "and stops cleanly" 0 $?
# Inline, what it forked is certmintd's own (docs/exit-modules.md): gone by hand.
kill -KILL "$(nth child 5)" "$(nth daemon 5)" 2>/dev/null
check_eq "no sanitizer report" "" "$(sanitizer_reports "$T_LOG")"
finish
