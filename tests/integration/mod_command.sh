#!/bin/sh
# CertMint_Command.Exit (issue 12, docs/modules/command.md) in the real
# daemon, running a real command (a sh script using openssl): every event,
# with the certificate, CRL or request DER on stdin (openssl parses it) or
# in a temporary file; the CERTMINT_* environment and nothing of the
# daemon's; argv words expanded without a shell; exit 0 done, 75 retried,
# another status a dead letter at once (replay --dead delivers it); a
# timeout that SIGTERMs then SIGKILLs the command's process group; output
# drained and logged bounded; the concurrency limit; an executable others
# may change suspends the module until `exit resume`; configure checks;
# kill -9 of certmintd during delivery loses nothing (duplicates dropped by
# the command by CERTMINT_EVENT_SEQUENCE); replay --from; isolated (the
# default for a registered copy) and inline.
. "$LIB"

M=CertMint_Command.Exit
# The build puts each module in modules/NAME/; `exit register command`
# looks in $CERTMINT_MODULES_PATH.
[ -f "${CERTMINT_MODULES_PATH:-}/command.so" ] ||
    export CERTMINT_MODULES_PATH="${CERTMINT_MODULES_PATH:-}/command"
ca_init
sed -i '/^nice = 0$/d' "$CONF"	# the default: deliveries at nice 19
OUT=$T_DIR/out		# the command writes here as nobody (isolation)
CTL=$OUT/ctl		# files that tell the command how to behave
mkdir -p "$OUT/seen" "$OUT/env" "$OUT/running" "$CTL" "$T_DIR/bin"
chmod 0777 "$OUT" "$OUT/seen" "$OUT/env" "$OUT/running" "$CTL"
chmod o+x "$T_DIR"
REC=$OUT/rec.log
PUB=$T_DIR/bin/publish

# The command. One line per run in rec.log; per event the environment and
# argv in env/SEQ; what openssl read from stdin (or the input file). A run
# that succeeds marks seen/SEQ: a second success of the same event (a
# duplicate after a crash or a replay) is recorded as dup, as a receiver
# would drop it.
cat >"$PUB" <<EOF
#!/bin/sh
OUT=$OUT
CTL=$CTL
EOF
cat >>"$PUB" <<'EOF'
seq=$CERTMINT_EVENT_SEQUENCE
cn=${CERTMINT_COMMON_NAME:-}
in=$(mktemp "$OUT/in.XXXXXX")
cat >"$in"
src=stdin
if [ -n "${CERTMINT_INPUT_FILE:-}" ]; then
	src=file
	[ -s "$in" ] && src=both
	cp "$CERTMINT_INPUT_FILE" "$in"
fi
fmt=$CERTMINT_INPUT_FORMAT
case $CERTMINT_INPUT in
certificate) parsed=$(openssl x509 -inform "$fmt" -in "$in" -noout -serial | sed 's/^serial=//') ;;
crl) parsed=$(openssl crl -inform "$fmt" -in "$in" -noout -crlnumber | sed 's/^crlNumber=//; s/^0x//') ;;
request) parsed=$(openssl req -inform "$fmt" -in "$in" -noout -subject | sed 's/^subject=//; s/ //g') ;;
*) parsed=none; [ -s "$in" ] && parsed=unexpected ;;
esac
rm -f "$in"
{ env | grep '^CERTMINT_' | sort; printf 'ARGV='; printf '%s|' "$@"; echo
  echo "NICENESS=$(nice)"
  env | grep -v '^CERTMINT_' | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_=' | sort | sed 's/^/OTHER_/'
  echo "CWD=$(pwd)"; } >"$OUT/env/$seq"
code=0
if [ -f "$CTL/hang.$cn" ]; then
	rm -f "$CTL/hang.$cn"
	trap '' TERM
	sleep 300 &
	echo $! >"$OUT/bgpid"
	echo "hanging" >&2
	while :; do sleep 1; done
fi
if [ -f "$CTL/loud.$cn" ]; then
	head -c 300000 /dev/zero | tr '\0' x
	echo "first stdout line"
	echo "a line on stderr for $cn" >&2
fi
if [ -f "$CTL/conc" ]; then
	: >"$OUT/running/$$"
	i=0
	while [ "$(ls "$OUT/running" | wc -l)" -lt 2 ] && [ $i -lt 20 ]; do
		sleep 0.05; i=$((i + 1))
	done
	echo "running=$(ls "$OUT/running" | wc -l)" >>"$OUT/conc.log"
	sleep 0.3
	echo "running=$(ls "$OUT/running" | wc -l)" >>"$OUT/conc.log"
	rm -f "$OUT/running/$$"
fi
[ -f "$CTL/slow" ] && sleep 0.1
if [ -f "$CTL/once.$cn" ]; then
	code=$(cat "$CTL/once.$cn")
	rm -f "$CTL/once.$cn"
elif [ -f "$CTL/always.$cn" ]; then
	code=$(cat "$CTL/always.$cn")
fi
dup=-
if [ "$code" = 0 ]; then
	dup=new
	mkdir "$OUT/seen/$seq" 2>/dev/null || dup=dup
	[ "$(ls "$OUT/seen" | wc -l)" -ge 1 ]
fi
echo "seq=$seq event=$CERTMINT_EVENT req=${CERTMINT_REQUEST_ID:--} serial=${CERTMINT_SERIAL:--} input=$CERTMINT_INPUT src=$src parsed=$parsed cn=$cn code=$code $dup" >>"$OUT/rec.log"
echo "done $seq"
[ "$code" = 0 ] || echo "failing with $code for $cn" >&2
exit "$code"
EOF
chmod 0755 "$PUB"

check "register the bundled module by its short name (command)" \
    "$CERTMINT" -c "$CONF" exit register command
conf_set "$M" command "$PUB --seq %{EventSequence} 'cn=%{Subject.CommonName}' --empty=%{Subject.EMail} lit%%{x}"
conf_set "$M" directory "$OUT"
conf_set "$M" timeout 1500ms
conf_set "$M" kill_after 500ms
conf_set "$M" properties "Attribute.Owner, Request.RequestType"
conf_set exit max_attempts 3
conf_set exit backoff_initial_ms 100
conf_set exit backoff_max_ms 200
conf_set exit deadline_ms 4000
daemon_start

# rec_has PATTERN [N]: rec.log has N (1) lines matching PATTERN.
rec_has() {
	has_lines "$REC" "$1" "${2:-1}"
}
wait_rec() {
	wait_until 60 rec_has "$1" "${2:-1}"
}
# issue CN [ATTRS...]: submit; ID, SERIAL of the request.
issue() {
	_cn=$1
	shift
	[ -f "$T_DIR/$_cn.csr" ] || new_csr "$_cn"
	submit_http "$T_DIR/$_cn.csr" "$@" >"$T_DIR/submit.out"
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]' 2>/dev/null)
	SERIAL=$(json "$T_DIR/resp.json" 'j.get("serial", "")' 2>/dev/null)
}
# seq_of EVENT ID: the sequence of EVENT (issued...) of request ID.
seq_of() {
	sed -n "s/^seq=\([0-9]*\) event=$1 req=$2 .*/\1/p" "$REC" | head -1
}
envvar() {	# envvar SEQ NAME
	sed -n "s/^$2=//p" "$OUT/env/$1"
}
list_json() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1
}
field() {
	list_json && module_field "$T_DIR/list.json" "$M" "$1"
}
field_is() {
	[ "$(field "$1")" = "$2" ]
}

# --- configure -----------------------------------------------------------
check_match "exit configure checks the executable and the directory" \
    "command $PUB: OK .*directory $OUT: OK" \
    "$("$CERTMINT" -c "$CONF" exit configure "$M" 2>&1)"
check_match "exit list: concurrent, the module's description" \
    "threading: +concurrent" "$("$CERTMINT" -c "$CONF" exit list 2>&1)"
check_refused "exit set refuses a bad value" 30 "refused timeout" \
    "$CERTMINT" -c "$CONF" exit set "$M" timeout soon
check_refused "exit set refuses an unknown key" 30 "does not take" \
    "$CERTMINT" -c "$CONF" exit set "$M" colour blue
conf_set "$M" exit_ok "0 75"
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "exit configure names the key and what is wrong" 30 \
    'exit_retry = "75": exit status 75 is also in exit_ok' \
    "$CERTMINT" -c "$CONF" exit configure "$M"
conf_set "$M" exit_ok 0
"$CERTMINT" -c "$CONF" reload >/dev/null

# --- every event -----------------------------------------------------------
check "STARTUP ran the command (no input)" \
    wait_rec "event=startup req=- serial=- input=none src=stdin parsed=none "
issue "a b;touch pwned" "Owner:ops team" "CertificateTemplate:tls-client"
ida=$ID
sa=$SERIAL
check "CERTISSUED ran the command" wait_rec "event=issued req=$ida "
line=$(grep "event=issued req=$ida " "$REC" | head -1)
check_match "the certificate's DER was on stdin (openssl read its serial)" \
    "serial=$sa input=certificate src=stdin parsed=$(echo "$sa" | tr a-f A-F) " \
    "$line"
sq=$(seq_of issued "$ida")
check_eq "CERTMINT_EVENT" issued "$(envvar "$sq" CERTMINT_EVENT)"
check_eq "the command runs below issuance ([exit] nice 19)" 19 \
    "$(envvar "$sq" NICENESS)"
check_eq "CERTMINT_REQUEST_ID" "$ida" "$(envvar "$sq" CERTMINT_REQUEST_ID)"
check_eq "CERTMINT_SERIAL" "$sa" "$(envvar "$sq" CERTMINT_SERIAL)"
check_match "CERTMINT_SUBJECT" '^CN=a b\\?;touch pwned$' "$(envvar "$sq" CERTMINT_SUBJECT)"
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/a.crt"
check_eq "CERTMINT_NOT_AFTER is the certificate's notAfter (RFC 3339)" \
    "$(python3 -c 'import sys, datetime
d = datetime.datetime.strptime(sys.argv[1], "notAfter=%b %d %H:%M:%S %Y GMT")
print(d.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$(openssl x509 -in "$T_DIR/a.crt" -noout -enddate)")" \
    "$(envvar "$sq" CERTMINT_NOT_AFTER)"
check_eq "CERTMINT_EVENT_SEQUENCE is the event's" "$sq" \
    "$(db_query "SELECT max(seq) FROM events WHERE event = 1")"
check_eq "CERTMINT_CERT_SHA256 is the certificate's SHA-256" \
    "$(openssl x509 -in "$T_DIR/a.crt" -outform der | openssl dgst -sha256 -r | cut -d' ' -f1)" \
    "$(envvar "$sq" CERTMINT_CERT_SHA256)"
check_eq "properties: CERTMINT_PROP_ATTRIBUTE_OWNER" "ops team" \
    "$(envvar "$sq" CERTMINT_PROP_ATTRIBUTE_OWNER)"
check_eq "argv: each word expanded on its own, no shell, %% is %" \
    "--seq|$sq|cn=a b;touch pwned|--empty=|lit%{x}|" "$(envvar "$sq" ARGV)"
check "no shell ran the subject's ';touch pwned'" test ! -e "$OUT/pwned"
check_eq "nothing of the daemon's environment, only PATH and TMPDIR" \
    "OTHER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin OTHER_TMPDIR=/tmp" \
    "$(grep '^OTHER_' "$OUT/env/$sq" | tr '\n' ' ' | sed 's/ $//')"
check_eq "it ran in directory" "$OUT" "$(envvar "$sq" CWD)"

conf_set policy request_disposition pending
"$CERTMINT" -c "$CONF" reload >/dev/null
issue pend
idp=$ID
check "CERTPENDING: the request's DER on stdin" \
    wait_rec "event=pending req=$idp serial=- input=request src=stdin parsed=CN=pend "
"$CERTMINT" -c "$CONF" resubmit "$idp" >/dev/null
check "resubmit: CERTISSUED" wait_rec "event=issued req=$idp "
"$CERTMINT" -c "$CONF" retrieve "$idp" >/dev/null
check "retrieve: CERTRETRIEVEPENDING with the certificate" \
    wait_rec "event=retrieved req=$idp serial=[0-9a-f]+ input=certificate "
issue deny
idd=$ID
"$CERTMINT" -c "$CONF" deny "$idd" >/dev/null
check "CERTDENIED: the request on stdin" \
    wait_rec "event=denied req=$idd serial=- input=request src=stdin parsed=CN=deny "
check_eq "CERTDENIED: CERTMINT_DISPOSITION 31" 31 \
    "$(envvar "$(seq_of denied "$idd")" CERTMINT_DISPOSITION)"
conf_set policy request_disposition issue
"$CERTMINT" -c "$CONF" reload >/dev/null
"$CERTMINT" -c "$CONF" revoke "$sa" certificateHold >/dev/null
check "CERTREVOKED" wait_rec "event=revoked req=$ida serial=$sa input=certificate "
check_eq "CERTREVOKED: CERTMINT_REVOKED_REASON 6 (certificateHold)" 6 \
    "$(envvar "$(seq_of revoked "$ida")" CERTMINT_REVOKED_REASON)"
"$CERTMINT" -c "$CONF" unrevoke "$sa" >/dev/null
check "CERTUNREVOKED" wait_rec "event=unrevoked req=$ida serial=$sa input=certificate "
"$CERTMINT" -c "$CONF" crl >/dev/null
check "CRLISSUED: the CRL's DER on stdin (openssl read its number)" \
    wait_rec "event=crl_issued req=- serial=- input=crl src=stdin parsed=[0-9A-F]+ "
sc=$(sed -n 's/^seq=\([0-9]*\) event=crl_issued .*/\1/p' "$REC" | tail -1)
hex=$(grep "^seq=$sc " "$REC" | sed 's/.*parsed=\([0-9A-F]*\) .*/\1/')
check_eq "CRLISSUED: CERTMINT_CRL_NUMBER is the number openssl read" \
    "$(printf '%d' "0x${hex:-0}")" \
    "$(envvar "$sc" CERTMINT_CRL_NUMBER)"
new_csr imp
openssl x509 -req -in "$T_DIR/imp.csr" -CA "$T_DIR/ca/ca.crt" \
    -CAkey "$T_DIR/ca/ca.key" -set_serial 0x1234567890 -days 30 \
    -out "$T_DIR/imp.crt" 2>/dev/null
"$CERTMINT" -c "$CONF" --json import "$T_DIR/imp.crt" >"$T_DIR/imp.json"
idi=$(json "$T_DIR/imp.json" 'j["request_id"]')
check "CERTIMPORTED" wait_rec "event=imported req=$idi serial=1234567890 input=certificate src=stdin parsed=1234567890 "

# --- failures --------------------------------------------------------------
echo 75 >"$CTL/once.retry"
issue retry
check "exit 75: retried, then delivered" wait_rec "event=issued req=$ID .* code=0 new"
check_eq "exit 75: two runs (one retry)" 2 "$(count_lines "$REC" "event=issued req=$ID ")"
idr=$ID
echo 3 >"$CTL/always.perm"
issue perm
idx=$ID
check "exit 3: a dead letter" wait_until 30 field_is dead_letters 1
check_eq "exit 3: one run, not retried" 1 "$(count_lines "$REC" "event=issued req=$idx ")"
"$CERTMINT" -c "$CONF" exit status "$M" >"$T_DIR/status.out" 2>&1
check_match "exit status: the dead letter's cause, with the command's stderr" \
    "dead letter: seq [0-9]+ CERTISSUED context $idx, 1 attempts, .*publish exited with 3 \(permanent, not retried\): failing with 3 for perm" \
    "$(cat "$T_DIR/status.out")"
check_match "exit list: last error names the command and status" \
    "last error: .*event [0-9]+ issued: publish exited with 3 \(permanent" \
    "$("$CERTMINT" -c "$CONF" exit list 2>&1)"
rm -f "$CTL/always.perm"
check_match "replay --dead" "1 events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay "$M" --dead 2>&1)"
check "the replayed dead letter is delivered" wait_rec "event=issued req=$idx .* code=0 new"
check "and no dead letter is left" wait_until 30 field_is dead_letters 0

# Timeout: the command ignores SIGTERM and leaves a child in its group.
: >"$CTL/hang.hang"
issue hang
check "a hanging command is killed and the event retried, then delivered" \
    wait_rec "event=issued req=$ID .* code=0 new"
bg=$(cat "$OUT/bgpid" 2>/dev/null)
check "SIGKILL reached the process group (its background child too)" \
    wait_until 10 sh -c "! kill -0 ${bg:-1} 2>/dev/null"
check "the log says the timeout and SIGKILL" grep -q \
    "issued: publish killed after the 1500 ms timeout (SIGTERM, then SIGKILL; retry): hanging" "$T_LOG"

# Output: 300 kB on stdout neither blocks it nor floods the log.
: >"$CTL/loud.loud"
issue loud
check "a command writing 300 kB is drained and succeeds" \
    wait_rec "event=issued req=$ID .* code=0 new"
check "its stderr is logged" wait_lines "$T_LOG" "stderr: a line on stderr for loud" 1
check "beyond log_output the rest is counted, not logged" grep -Eq \
    "stdout: [0-9]+ more bytes not logged" "$T_LOG"
check_eq "at most log_output (4096) bytes of it logged" 1 \
    "$(grep -c 'stdout: xxxxx' "$T_LOG")"

# Suspension: an executable others may change is never run.
chmod 0777 "$PUB"
check_refused "exit configure refuses an executable others may write" 30 \
    "mode 777: group or others may change it" \
    "$CERTMINT" -c "$CONF" exit configure "$M"
issue susp
ids=$ID
check "the module is suspended, saying why" wait_until 30 sh -c \
    "'$CERTMINT' -c '$CONF' exit list | grep -q 'suspended: .*mode 777'"
check_eq "and the command did not run" 0 "$(count_lines "$REC" "req=$ids ")"
chmod 0755 "$PUB"
check "exit resume" "$CERTMINT" -c "$CONF" exit resume "$M"
check "the queued event is delivered after resume" wait_rec "event=issued req=$ids .* code=0 new"

# --- kill -9 during delivery, replay --from ---------------------------------
: >"$CTL/slow"
first=
for i in 1 2 3 4 5 6 7 8; do
	issue "k$i"
	first=${first:-$ID}
	last=$ID
done
wait_rec "event=issued req=$first " 1
daemon_kill
# The runs under way when certmintd dies: the module runs isolated here,
# so its host's keeper kills them (docs/modules/command.md; inline, they
# would run to their end). Either way none may still run below.
no_runs() { ! pgrep -f "^/bin/sh $PUB" >/dev/null; }
check "no run the crash left goes on" wait_until 30 no_runs
daemon_start
for i in $(seq "$first" "$last"); do
	wait_rec "event=issued req=$i .* code=0 (new|dup)" 1 || break
done
# What the receiver committed is its seen/SEQ marker (mkdir, atomic): a
# run killed by the crash between its mkdir and its line in rec.log
# committed the event without saying "new", and the redelivery is then
# rightly a "dup". So each event must have its marker, and none may be
# counted new twice.
missing=
for i in $(seq "$first" "$last"); do
	_seq=$(grep -E "event=issued req=$i .* code=0 (new|dup)$" "$REC" |
	    head -1 | sed 's/^seq=\([0-9]*\) .*/\1/')
	[ -n "$_seq" ] && [ -d "$OUT/seen/$_seq" ] || missing="$missing $i"
done
check_eq "after kill -9, every event was received once (its seen marker)" \
    "" "$missing"
check_eq "no event counted new twice" "" \
    "$(grep ' new$' "$REC" | sed 's/^seq=\([0-9]*\) .*/\1/' | sort | uniq -d)"
rm -f "$CTL/slow"
wait_rec "event=startup .* new" 2
from=$(seq_of issued "$first")
news=$(count_lines "$REC" " new$")
check_match "replay --from SEQ" "events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay "$M" --from "$from" 2>&1)"
check "the replayed events run again, dropped as duplicates" \
    wait_rec "event=issued req=$last .* code=0 dup"
check_eq "and nothing new was counted" "$news" "$(count_lines "$REC" " new$")"

# A misspelt key is refused by name, not silently ignored.
conf_set "$M" timout 1
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: a misspelt key (timout), by name" 30 \
    "timout: not a setting of CertMint_" \
    "$CERTMINT" -c "$CONF" exit configure "$M"
sed -i '/^timout = /d' "$CONF"
"$CERTMINT" -c "$CONF" reload >/dev/null

# --- concurrency limit, input file, inline ---------------------------------
daemon_stop
check "SHUTDOWN ran the command" rec_has "event=shutdown req=- serial=- input=none "
conf_set "exit.$M" isolation inline
conf_set "$M" concurrency 2
conf_set "$M" timeout 10s
conf_set "$M" input file
conf_set "$M" input_format pem
conf_set "$M" command "$PUB %{InputFile}"
: >"$CTL/conc"
daemon_start
check "first run: the daemon loaded it isolated (a registered copy)" \
    grep -q "exit module $M loaded .*isolated" "$T_LOG"
check "then inline, as [exit.$M] isolation = inline says" \
    grep -q "exit module $M loaded .*inline" "$T_LOG"
pids=
for i in 1 2 3 4 5 6; do
	new_csr "c$i"
	curl -sS -m 60 -o /dev/null -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$T_DIR/c$i.csr" "$URL/api/v1/requests" &
	pids="$pids $!"
done
wait $pids
check "inline, input = file: the six certificates are delivered" \
    wait_rec "event=issued .*input=certificate src=file parsed=[0-9A-F]+ cn=c[1-6] code=0 new" 6
check_eq "at most concurrency (2) commands ran at once" "" \
    "$(grep -v '^running=[12]$' "$OUT/conc.log")"
check "and 2 did" grep -q '^running=2$' "$OUT/conc.log"
rm -f "$CTL/conc"
sf=$(sed -n 's/^seq=\([0-9]*\) event=issued .*cn=c1 .*/\1/p' "$REC" | head -1)
f=$(envvar "$sf" CERTMINT_INPUT_FILE)
check_match "the input file is named in argv (%{InputFile})" "^$f\|$" \
    "$(envvar "$sf" ARGV)"
check "and removed after the run" test -n "$f" -a ! -e "$f"
finish
