#!/bin/sh
# The sample exit module builds out of tree with pkg-config, passes
# `certmint exit test`, and in the daemon behaves as Microsoft's certxsam:
# events 0x27F, concurrent; with PublishCertFlags unset no certificate is
# written; with EXITPUB_FILE (1) a request with a non-empty CertFile gives
# <RequestID>.cer equal to the certificate issued, one without CertFile or
# with an empty one gives nothing, and an existing file is never
# overwritten (the notify fails); on CRLISSUED the base and delta CRLs are
# written, parse as DER CRLs and equal the ones the CA publishes.
. "$LIB"

cp -r "$SAMPLE_DIR" "$T_DIR/sample"
rm -f "$T_DIR/sample/sample_exit.so"
check "sample builds out of tree with pkg-config certmint-exit" \
    make -C "$T_DIR/sample"
SO=$T_DIR/sample/sample_exit.so
chmod 755 "$SO"

mkdir -p "$T_DIR/harness"
"$CERTMINT" exit test "$SO" --event CERTISSUED --event CRLISSUED \
    --attrib CertFile:yes --set "directory=$T_DIR/harness" \
    --set PublishCertFlags=1 >"$T_DIR/test.out" 2>&1
check_eq "certmint exit test passes on it" 0 $?
out=$(cat "$T_DIR/test.out")
check_match "the harness shows RawCertificate read" 'RawCertificate' "$out"
check_match "the harness shows the attribute read" 'get_request_attribute\("CertFile"\)' "$out"
check_match "the harness shows CertCount read" 'CertCount' "$out"
check_match "the harness shows CRLState.0 read" 'CRLState\.0' "$out"
check_match "the harness shows RawCRL read by index" 'RawCRL\.0' "$out"
check "the harness run wrote a certificate" sh -c "ls '$T_DIR/harness'/*.cer"
check "the harness run wrote a CRL" test -f "$T_DIR/harness/crl-0.crl"

ca_init
OUT=$T_DIR/out
mkdir -p "$OUT"
check "register Sample.Exit" "$CERTMINT" -c "$CONF" exit register "$SO"
conf_set Sample.Exit directory "$OUT"
# In the daemon's process: it writes into the test's directory as we do.
conf_set exit.Sample.Exit isolation inline
conf_set crl delta true
# The existing-file failure below is dead-lettered quickly.
conf_set exit max_attempts 2
conf_set exit backoff_initial_ms 100
daemon_start

"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1
check_eq "exit list: event mask 0x27F, as certxsam" 639 \
    "$(module_field "$T_DIR/list.json" Sample.Exit event_mask)"
check_eq "exit list: threading concurrent (certxsam: THREADFLAGS_BOTH)" \
    concurrent "$(module_field "$T_DIR/list.json" Sample.Exit threading)"
show=$("$CERTMINT" -c "$CONF" exit show Sample.Exit)
check_match "exit show: the manage module's Name, as certxsam" \
    "Name +Sample/Test Exit Module" "$show"
check_match "exit show: its Description" "Description +Sample Exit Module" "$show"
check "exit configure: the directory is writable" \
    "$CERTMINT" -c "$CONF" exit configure Sample.Exit

# delivered: Sample.Exit's cursor has reached the newest event.
delivered() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1 &&
	[ "$(module_field "$T_DIR/list.json" Sample.Exit cursor)" -ge \
	    "$(db_query 'SELECT MAX(seq) FROM events')" ]
}

# issue NAME [ATTRIB...]: an issued certificate; sets ID, NAME.der.
issue() {
	_n=$1
	shift
	new_csr "$_n"
	submit_http "$T_DIR/$_n.csr" "$@" >"$T_DIR/submit.out"
	[ "$(head -1 "$T_DIR/submit.out")" = 201 ] || not_ok "issue $_n"
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]')
	json "$T_DIR/resp.json" 'j["certificate"]' |
	    openssl x509 -outform DER -out "$T_DIR/$_n.der"
}

# --- PublishCertFlags unset: no certificate written ------------------------
issue s0 CertFile:yes
check "PublishCertFlags unset: the event is delivered" wait_until 60 delivered
check_fails "and no certificate is written" sh -c "ls '$OUT'/*.cer"

# --- EXITPUB_FILE ----------------------------------------------------------
check "exit set Sample.Exit PublishCertFlags 1" \
    "$CERTMINT" -c "$CONF" exit set Sample.Exit PublishCertFlags 1
check_match "saved in its config section" "^PublishCertFlags = 1" "$(cat "$CONF")"
issue s1 CertFile:yes
ID1=$ID
check "CertFile:yes: <RequestID>.cer is written" \
    wait_until 60 test -f "$OUT/$ID1.cer"
check "and equals the certificate issued" cmp "$OUT/$ID1.cer" "$T_DIR/s1.der"
issue s2
ID2=$ID
issue s3 CertFile:
ID3=$ID
check "both delivered" wait_until 60 delivered
check_fails "without CertFile nothing is written" test -e "$OUT/$ID2.cer"
check_fails "with an empty CertFile nothing is written" test -e "$OUT/$ID3.cer"
check_eq "and their notifies succeeded" 0 \
    "$(module_field "$T_DIR/list.json" Sample.Exit failures)"

# An existing file is never overwritten: the next request id is known.
ID4=$((ID3 + 1))
printf 'not a certificate\n' >"$OUT/$ID4.cer"
cp "$OUT/$ID4.cer" "$T_DIR/other"
issue s4 CertFile:yes
check_eq "the next request got the id whose file exists" "$ID4" "$ID"
dead() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1 &&
	[ "$(module_field "$T_DIR/list.json" Sample.Exit dead_letters)" = 1 ]
}
check "an existing <RequestID>.cer: the notify fails (dead-lettered)" \
    wait_until 60 dead
check_match "the failure is logged with the file" "$ID4\.cer: File exists" \
    "$(cat "$T_LOG")"
check "the existing file is unchanged" cmp "$OUT/$ID4.cer" "$T_DIR/other"

# --- CRLISSUED: base and delta ----------------------------------------------
check "everything before the CRL delivered" wait_until 60 delivered
rm -f "$OUT"/crl-*
"$CERTMINT" -c "$CONF" crl >"$T_DIR/crl.out" 2>&1
check_match "the CA publishes a base and a delta CRL" "delta CRL" \
    "$(cat "$T_DIR/crl.out")"
check "the CRL event is delivered" wait_until 60 delivered
check "the base CRL is written as crl-0.crl" test -f "$OUT/crl-0.crl"
check "the delta CRL is written as crl-0+.crl" test -f "$OUT/crl-0+.crl"
check "openssl parses the base as a DER CRL" \
    openssl crl -inform DER -in "$OUT/crl-0.crl" -noout
check_match "openssl parses the delta as a delta CRL" "Delta CRL Indicator" \
    "$(openssl crl -inform DER -in "$OUT/crl-0+.crl" -noout -text 2>&1)"
curl -fsS -m 60 -o "$T_DIR/served.crl" "$URL/ca.crl"
curl -fsS -m 60 -o "$T_DIR/served-delta.crl" "$URL/delta.crl"
check "the base CRL written is the one the CA serves" \
    cmp "$OUT/crl-0.crl" "$T_DIR/served.crl"
check "the delta CRL written is the one the CA serves" \
    cmp "$OUT/crl-0+.crl" "$T_DIR/served-delta.crl"
check_eq "no temporary file is left" "" \
    "$(ls "$OUT" | grep -v -e '\.cer$' -e '^crl-0+\{0,1\}\.crl$')"

# --- A changed setting: reload keeps the module, --refresh rereads ----------
# (as docs/exit-modules.md says: a module that stays loaded across a
# reload keeps the settings it read; exit configure --refresh rereads.)
OUT2=$T_DIR/out2
mkdir -p "$OUT2"
conf_set Sample.Exit directory "$OUT2"
check "reload with a new directory" "$CERTMINT" -c "$CONF" reload
issue s5 CertFile:yes
check "after the reload the module still writes where it did" \
    wait_until 60 test -f "$OUT/$ID.cer"
check_match "exit configure --refresh rereads its section" "directory: $OUT2" \
    "$("$CERTMINT" -c "$CONF" exit configure Sample.Exit --refresh 2>&1)"
issue s6 CertFile:yes
check "then it writes to the new directory" \
    wait_until 60 test -f "$OUT2/$ID.cer"
finish
