#!/bin/sh
# The Lua sandbox (docs/lua.md "Sandbox" and "Limits"), in the real
# daemon: each escape of tests/modules/lua/escape.lua is refused (an error
# the script sees) or ends its call with a clear message (a limit:
# here dead-lettered at once), and the CA and the script go on. The opt-in
# capabilities are off unless the module's section allows them.
. "$LIB"

LD=$(dirname "$LIB")/../modules/lua
ca_init
OUT=$T_DIR/out
mkdir -p "$OUT"
LOG=$OUT/escape.log
check "register escape.lua" "$CERTMINT" -c "$CONF" exit register "$LD/escape.lua"
conf_set LuaEscape.Exit allow file
conf_set LuaEscape.Exit allow_dir "$OUT"
conf_set LuaEscape.Exit max_instructions 2000000
conf_set LuaEscape.Exit max_memory 96M
conf_set LuaEscape.Exit timeout 3
conf_set exit max_attempts 1
conf_set exit backoff_initial_ms 20
conf_set exit backoff_max_ms 50
daemon_start

new_csr one
try() {	# try NAME: submit with Try:NAME; the CA must issue (201)
	code=$(submit_http "$T_DIR/one.csr" "Try:$1" | head -1)
	[ "$code" = 201 ] || not_ok "the CA issued while $1 was tried ($code)"
}
refused="os_execute io_open io_popen require dofile loadfile package debug
string_dump bytecode string_meta string_meta_gc collect_stop collect_gen
cstack recursion"
limits="loop pcall_loop coroutine_loop rep_bomb table_bomb slow"
try noop
for t in $refused $limits; do
	try "$t"
done
try noop
check "the script went on after every try" wait_lines "$LOG" "^noop ok" 2
check_eq "nothing escaped" "" "$(grep ESCAPED "$LOG")"
for t in $refused; do
	check_match "$t refused" "^$t refused: " "$(cat "$LOG")"
done
check_match "bytecode: a binary chunk is refused even with mode b" \
    "bytecode refused: .*attempt to load a binary chunk \(mode is 't'\)" "$(cat "$LOG")"
check_match "os.execute is not there" "os_execute refused: .*field 'execute'" "$(cat "$LOG")"
check_match "the string metatable is hidden" \
    "string_meta refused: .*attempt to index a boolean value" "$(cat "$LOG")"
check_match "collectgarbage(\"stop\") is refused" \
    'collect_stop refused: .*collectgarbage\("stop"\) is not available' "$(cat "$LOG")"
check_match "deep recursion: a stack overflow, not a crash" \
    "recursion refused: .*stack overflow" "$(cat "$LOG")"
check_match "deep C recursion: a C stack overflow" \
    "cstack refused: .*C stack overflow" "$(cat "$LOG")"
check_eq "no file was made by os.execute" no \
    "$([ -e /tmp/escaped ] && echo yes || echo no)"

"$CERTMINT" -c "$CONF" exit status LuaEscape.Exit >"$T_DIR/status.out" 2>&1
st=$(cat "$T_DIR/status.out")
check_eq "six dead letters, one per limit" 6 "$(grep -c 'dead letter:' "$T_DIR/status.out")"
check_match "an endless loop: the instruction budget" \
    "1 attempts, .*instruction budget exceeded \(max_instructions = 2000000\)" "$st"
dl=$(grep 'dead letter:' "$T_DIR/status.out")
check_eq "the loop, the pcall loop and the coroutine loop all hit it" 3 \
    "$(echo "$dl" | grep -c 'instruction budget exceeded')"
check_eq "string.rep and a growing table: the memory cap" 2 \
    "$(echo "$dl" | grep -c 'memory limit exceeded (max_memory = 100663296 bytes)')"
check_eq "a slow loop: the time limit" 1 \
    "$(echo "$dl" | grep -c 'time limit exceeded (timeout = 3000 ms)')"
check "the CA still answers" sh -c "curl -fsS '$URL/health' >/dev/null"

# A returned table with a metatable whose __index errs, or loops: its
# fields are read outside any call and its limits, so they are read raw.
# Edited in place and reloaded (docs/lua.md), or tried with exit test.
for how in 'error("boom")' 'while true do end'; do
	cat >"$T_DIR/meta.lua" <<EOF
return setmetatable({ name = "LuaEscape.Exit", notify = function() end },
    { __index = function(t, k) $how end })
EOF
	check "exit test of a table whose __index does $how" timeout 30 \
	    "$CERTMINT" exit test "$T_DIR/meta.lua" --event CERTISSUED
	cp "$T_DIR/meta.lua" "$(dirname "$CONF")/modules/LuaEscape.Exit.lua"
	check "reloaded in place of a module" timeout 30 \
	    "$CERTMINT" -c "$CONF" reload
	check "the CA still answers" sh -c "curl -fsS -m 10 '$URL/health' >/dev/null"
done
# A script that no longer compiles: the running version stays, and the
# reload says which module did not reload.
echo 'this is not Lua' >"$(dirname "$CONF")/modules/LuaEscape.Exit.lua"
check_refused "certmint reload names the script that did not reload" 30 \
    "but exit modules not \(re\)loaded, see certmint exit list: LuaEscape\.Exit: " \
    "$CERTMINT" -c "$CONF" reload

# Opt-in capabilities: off unless allowed.
caps() { "$CERTMINT" exit test "$LD/caps.lua" --event CERTISSUED "$@" 2>&1; }
check_match "exec is off by default" "exec is not allowed" "$(caps)"
check_match "append_file is off by default" "append_file is not allowed" \
    "$(caps --set try=file)"
check_match "allow = exec runs the command" "exec said: exec ran" \
    "$(caps --set allow=exec)"
check_match "exec is killed at the call's deadline, not its own timeout" \
    "slow exec: timeout=true" \
    "$(caps --set allow=exec --set try=slow --set timeout=1)"
check_match "allow = exec does not allow files" "append_file is not allowed" \
    "$(caps --set allow=exec --set try=file)"
check_match "allow = file needs allow_dir" "allow = file needs allow_dir" \
    "$(caps --set allow=file --set try=file)"
check_match "allow = file with allow_dir appends" "append_file ok" \
    "$(caps --set allow=file --set allow_dir="$OUT" --set try=file)"
check_match "an unknown capability is refused" "allow = \"ftp\": ftp is not one of" \
    "$(caps --set allow=ftp)"

# The memory cap hit inside json.decode (halfway through building its
# tables): the call fails with the cap's message and, under LeakSanitizer,
# nothing that decode allocated is left behind.
jm=$("$CERTMINT" exit test "$LD/jsonmem.lua" --event CERTISSUED \
    --set max_memory=16M 2>&1)
check_match "json.decode runs into the memory cap" \
    "memory limit exceeded \(max_memory = 16777216 bytes\)" "$jm"
check_eq "and leaks nothing" "" "$(echo "$jm" | sanitizer_reports /dev/stdin)"
finish
