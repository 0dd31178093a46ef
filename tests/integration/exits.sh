#!/bin/sh
# Exit modules in the real daemon: registration and its refusals, every
# event with its context and readable properties, retry, dead letters,
# replay, a hanging module, and serial versus concurrent threading.
. "$LIB"

M=$MODULES_DIR
ca_init
REC=$T_DIR/recording.log

# Registration refusals: each names what is wrong.
refused() {	# refused DESCRIPTION PATTERN FILE
	if "$CERTMINT" -c "$CONF" exit register "$3" >"$T_DIR/reg.out" 2>&1; then
		not_ok "$1 (accepted)"
	elif grep -qiE "$2" "$T_DIR/reg.out"; then
		ok "$1"
	else
		not_ok "$1"
		sed 's/^/# /' "$T_DIR/reg.out"
	fi
}
refused "wrong ABI major refused" "ABI" "$M/wrongabi.so"
refused "bad magic refused" "magic" "$M/badmagic.so"
refused "name without .Exit refused" "MyApp.Exit" "$M/wrongname.so"
refused "file without the entry function refused" "cm_exit_module_entry" "$M/nosymbol.so"
refused "missing notify refused" "entry point" "$M/missingentry.so"
cp "$M/recording.so" "$T_DIR/writable.so"
chmod 666 "$T_DIR/writable.so"
refused "group/world-writable file refused" "writable" "$T_DIR/writable.so"
refused "a file that is not a module refused" "cannot load" "$T_DIR/ca/ca.crt"
check_eq "refusals leave [exit] active empty" "" \
    "$(sed -n 's/^active *= *//p' "$CONF")"

check "register Recording.Exit" "$CERTMINT" -c "$CONF" exit register "$M/recording.so"
refused "registering the same name twice refused" "already registered" "$M/recording.so"
check "installed as Recording.Exit.so" test -f "$T_DIR/ca/modules/Recording.Exit.so"
check "register Flaky.Exit" "$CERTMINT" -c "$CONF" exit register "$M/flaky.so"
check "register Fail.Exit" "$CERTMINT" -c "$CONF" exit register "$M/fail.so"
check_match "active list in order" "Recording.Exit, Flaky.Exit, Fail.Exit" \
    "$(grep '^active' "$CONF")"
conf_set Recording.Exit output "$REC"
conf_set Flaky.Exit output "$T_DIR/flaky.log"
conf_set Flaky.Exit fail_times 2
conf_set exit max_attempts 3
conf_set exit backoff_initial_ms 20
conf_set exit backoff_max_ms 100

daemon_start
check "STARTUP arrives with context 0" wait_lines "$REC" "^event=0x80 context=0 " 1

# Issue, with a CertFile attribute.
new_csr one -addext "subjectAltName=DNS:one.test"
submit_http "$T_DIR/one.csr" "CertFile:yes" "CertificateTemplate:tls-client" >/dev/null
id1=$(json "$T_DIR/resp.json" 'j["request_id"]')
serial1=$(json "$T_DIR/resp.json" 'j["serial"]')
check "CERTISSUED arrives" wait_lines "$REC" "^event=0x1 context=$id1 " 1
line=$(grep -E "^event=0x1 context=$id1 " "$REC" | head -1)
check_match "CERTISSUED: Disposition 20 and RequestID" "disp=20 reqid=$id1 " "$line"
check_match "CERTISSUED: SerialNumber" "serial=$serial1 " "$line"
check_match "CERTISSUED: Subject.CommonName" "cn=one " "$line"
check_match "CERTISSUED: request attribute CertFile" "attr_certfile=yes" "$line"

# Pending, then resubmit (issued), then retrieve.
conf_set policy request_disposition pending
"$CERTMINT" -c "$CONF" reload >/dev/null
submit_http "$T_DIR/one.csr" >/dev/null
id2=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "CERTPENDING arrives" wait_lines "$REC" "^event=0x2 context=$id2 " 1
check_match "CERTPENDING: Disposition 9, no certificate" "disp=9 reqid=$id2 serial=- " \
    "$(grep -E "^event=0x2 context=$id2 " "$REC")"
"$CERTMINT" -c "$CONF" resubmit "$id2" >/dev/null
check "resubmit raises CERTISSUED" wait_lines "$REC" "^event=0x1 context=$id2 " 1
"$CERTMINT" -c "$CONF" retrieve "$id2" >/dev/null
check "retrieve of a formerly pending request raises CERTRETRIEVEPENDING" \
    wait_lines "$REC" "^event=0x10 context=$id2 " 1

# Pending, then deny.
submit_http "$T_DIR/one.csr" >/dev/null
id3=$(json "$T_DIR/resp.json" 'j["request_id"]')
"$CERTMINT" -c "$CONF" deny "$id3" >/dev/null
check "deny raises CERTDENIED" wait_lines "$REC" "^event=0x4 context=$id3 " 1
check_match "CERTDENIED: Disposition 31" "disp=31" \
    "$(grep -E "^event=0x4 context=$id3 " "$REC")"
conf_set policy request_disposition issue
"$CERTMINT" -c "$CONF" reload >/dev/null

# Hold, release, revoke.
"$CERTMINT" -c "$CONF" revoke "$serial1" certificateHold >/dev/null
check "revoke raises CERTREVOKED" wait_lines "$REC" "^event=0x8 context=$id1 " 1
check_match "CERTREVOKED: Disposition 21" "disp=21" \
    "$(grep -E "^event=0x8 context=$id1 " "$REC" | head -1)"
"$CERTMINT" -c "$CONF" unrevoke "$serial1" >/dev/null
check "unrevoke raises CERTUNREVOKED" wait_lines "$REC" "^event=0x100 context=$id1 " 1

# CRL.
"$CERTMINT" -c "$CONF" crl >/dev/null
check "CRLISSUED arrives with context 0" wait_lines "$REC" "^event=0x20 context=0 " 1
line=$(grep -E "^event=0x20 context=0 " "$REC" | head -1)
check_match "CRLISSUED: CAType of a root (3)" "catype=3" "$line"
check_match "CRLISSUED: CRLIndex and RawCRL readable" "crlindex=[0-9]+ rawcrl_len=[1-9]" "$line"

# Import a certificate this CA signed elsewhere.
new_csr imp
openssl x509 -req -in "$T_DIR/imp.csr" -CA "$T_DIR/ca/ca.crt" \
    -CAkey "$T_DIR/ca/ca.key" -set_serial 0x1234567890 -days 30 \
    -out "$T_DIR/imp.crt" 2>/dev/null
"$CERTMINT" -c "$CONF" --json import "$T_DIR/imp.crt" >"$T_DIR/imp.json"
idi=$(json "$T_DIR/imp.json" 'j["request_id"]')
check "import raises CERTIMPORTED" wait_lines "$REC" "^event=0x200 context=$idi " 1

check_eq "every property came back with the type asked for" 0 \
    "$(grep -vc ' types=ok' "$REC" || true)"
seqs=$(sed -n 's/.* seq=\([0-9]*\) .*/\1/p' "$REC")
check_eq "EventSequence increases" "$(echo "$seqs" | sort -n)" "$seqs"

# Flaky.Exit fails twice per event, then succeeds: every event arrives once.
check "a failing-then-succeeding module gets the events" \
    wait_lines "$T_DIR/flaky.log" "context=$idi" 1
check_eq "after retries, no duplicates at Flaky.Exit" \
    "$(sed -n 's/^seq=\([0-9]*\) .*/\1/p' "$T_DIR/flaky.log" | sort | uniq -d)" ""
# Read once its queue is empty: a later event's failure is not counted
# before that event is delivered.
flaky_idle() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" &&
	    [ "$(module_field "$T_DIR/list.json" Flaky.Exit queue)" = 0 ]
}
wait_until 60 flaky_idle
check_eq "exit list counts Flaky.Exit's two failures per event" \
    "$(( 2 * $(count_lines "$T_DIR/flaky.log" "^seq=") ))" \
    "$(module_field "$T_DIR/list.json" Flaky.Exit failures)"
check_eq "and no dead letter for Flaky.Exit" 0 \
    "$(module_field "$T_DIR/list.json" Flaky.Exit dead_letters)"

# Fail.Exit always fails: its events are dead-lettered after 3 attempts.
# Fail.Exit gets the CERTISSUED events (ids 1, 2 and the imported one is
# CERTIMPORTED, not in its mask): wait until both are dead-lettered.
fail_dead() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/fl.json" &&
	    [ "$(module_field "$T_DIR/fl.json" Fail.Exit dead_letters)" -ge "$1" ]
}
wait_until 60 fail_dead 2
"$CERTMINT" -c "$CONF" exit status Fail.Exit >"$T_DIR/st.out" 2>&1
check_match "exit status shows Fail.Exit's dead letters" \
    "dead letter: seq [0-9]+ CERTISSUED context $id1, 3 attempts" "$(cat "$T_DIR/st.out")"
dead=$(module_field "$T_DIR/fl.json" Fail.Exit dead_letters)
fails=$(module_field "$T_DIR/fl.json" Fail.Exit failures)
check_eq "3 failures counted per dead letter" "$((3 * dead))" "$fails"
check "replay --dead" "$CERTMINT" -c "$CONF" exit replay Fail.Exit --dead
fail_again() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/fl.json" &&
	    [ "$(module_field "$T_DIR/fl.json" Fail.Exit failures)" -ge "$1" ]
}
check "replayed dead letters are attempted 3 times each again" \
    wait_until 60 fail_again "$((fails + 3 * dead))"
check_fails "replay of an unknown module is refused" \
    "$CERTMINT" -c "$CONF" exit replay No.Exit --dead

# Replay from a sequence: Recording.Exit sees its events again.
before=$(count_lines "$REC" "^event=0x1 context=$id1 ")
check "exit replay --from 1" "$CERTMINT" -c "$CONF" exit replay Recording.Exit --from 1
check "replayed events arrive again" wait_lines "$REC" "^event=0x1 context=$id1 " $((before + 1))

# Manage module: show, set, configure.
show=$("$CERTMINT" -c "$CONF" exit show Recording.Exit)
check_match "exit show: the module's own Copyright property" \
    "Copyright +certmint tests" "$show"
check_match "exit show: the module's own Description property" \
    "Description +Records every event" "$show"
check "exit set Recording.Exit output" \
    "$CERTMINT" -c "$CONF" exit set Recording.Exit output "$T_DIR/rec2.log"
"$CERTMINT" -c "$CONF" crl >/dev/null
check "after exit set, events go to the new output" \
    wait_lines "$T_DIR/rec2.log" "^event=0x20 context=0 " 1
check "exit set back" \
    "$CERTMINT" -c "$CONF" exit set Recording.Exit output "$REC"
check_match "exit configure runs the module's check" "output $REC: OK" \
    "$("$CERTMINT" -c "$CONF" exit configure Recording.Exit 2>&1)"
"$CERTMINT" -c "$CONF" exit set Recording.Exit output "$T_DIR" >/dev/null
check_refused "exit configure reports the module's refusal" 30 \
    "output $T_DIR: Is a directory" \
    "$CERTMINT" -c "$CONF" exit configure Recording.Exit
"$CERTMINT" -c "$CONF" exit set Recording.Exit output "$REC" >/dev/null
list=$("$CERTMINT" -c "$CONF" exit list)
check_match "exit list: Recording.Exit's description" \
    "description: +Recording exit module: one line per event" "$list"
check_eq "exit list: threading of each module" "serial serial serial" \
    "$(echo "$list" | sed -n 's/^  threading: *//p' | paste -sd ' ')"

# Unregister: the module is no longer called.
check "exit unregister Fail.Exit" "$CERTMINT" -c "$CONF" exit unregister Fail.Exit
check_fails "unregister of an unknown module" \
    "$CERTMINT" -c "$CONF" exit unregister Fail.Exit
check_match "Fail.Exit left the active list" "^active = Recording.Exit, Flaky.Exit$" \
    "$(grep '^active' "$CONF")"

# SHUTDOWN once at a clean stop.
daemon_stop
check_eq "daemon stops cleanly" 0 $?
check_eq "SHUTDOWN delivered once" 1 "$(count_lines "$REC" "^event=0x40 context=0 ")"
finish
