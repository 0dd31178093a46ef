#!/bin/sh
# What a module reads is what happened (docs/exit-modules.md, Snapshots):
# Snapshot.Exit is held back while a request goes pending, is retrieved,
# resubmitted, retrieved, held, released, revoked, while CRLs are published
# and a certificate with a UPN is imported. Each event's line must show the
# state at that event, not today's: at first delivery, after a failed
# attempt and a replay, after kill -9, and in `certmint exit test`. Also:
# AD CS's "Request." names, CertificateHash (SHA-1, as AD CS), UPN, names AD
# CS knows without a value, the CA-certificate index, and release from hold
# for a module whose mask lacks CERTUNREVOKED (SnapRev.Exit).
. "$LIB"

ca_init
SNAP=$T_DIR/snap.log
REV=$T_DIR/rev.log
GATE=$T_DIR/gate
register_modules snapshot snaprev
conf_set Snapshot.Exit output "$SNAP"
conf_set Snapshot.Exit gate "$GATE"
conf_set SnapRev.Exit output "$REV"
conf_set SnapRev.Exit mask 0xff
conf_set policy request_disposition attribute
conf_set crl delta true
# The held module must not be taken for a hung one.
conf_set exit deadline_ms 300000
conf_set exit backoff_initial_ms 50
conf_set exit backoff_max_ms 100
daemon_start

# ev_seq EVENT CONTEXT [N]: the N-th (default 1st) event row of that kind.
ev_seq() {
	db_query "SELECT seq FROM events WHERE event = $1 AND context = $2
	    ORDER BY seq LIMIT 1 OFFSET $(( ${3:-1} - 1 ))"
}

# line FILE SEQ: the first line FILE has for event SEQ.
line() {
	grep -m1 "^seq=$2 " "$1"
}

# field FILE SEQ KEY: a field of that line.
field() {
	line "$1" "$2" | tr ' ' '\n' | sed -n "s/^$3=//p" | head -1
}

# A, under hold: pending, issued, retrieved (CERTRETRIEVEPENDING), CRL,
# held, CRL, released, revoked for good.
new_csr snapa
submit_http "$T_DIR/snapa.csr" Disposition:pending CertFile:yes \
    CertificateTemplate:tls-client >/dev/null
A=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "resubmit A" "$CERTMINT" -c "$CONF" resubmit "$A"
"$CERTMINT" -c "$CONF" retrieve "$A" --out "$T_DIR/a.crt" >/dev/null 2>&1
SERIAL=$(openssl x509 -in "$T_DIR/a.crt" -noout -serial 2>/dev/null | sed 's/.*=//')
check "A's certificate retrieved" test -n "$SERIAL"
check "CRL" "$CERTMINT" -c "$CONF" crl
check "hold A" "$CERTMINT" -c "$CONF" revoke "$SERIAL" certificateHold
check "delta CRL" "$CERTMINT" -c "$CONF" crl --delta
check "release A" "$CERTMINT" -c "$CONF" unrevoke "$SERIAL"
check "revoke A" "$CERTMINT" -c "$CONF" revoke "$SERIAL" keyCompromise
# C: pending, denied.
submit_http "$T_DIR/snapa.csr" Disposition:pending >/dev/null
C=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "deny C" "$CERTMINT" -c "$CONF" deny "$C"
# I: a certificate with a UPN, signed with the CA's key and imported.
new_csr upn
printf 'subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.com, DNS:upn.example\n' \
    >"$T_DIR/upn.ext"
openssl x509 -req -in "$T_DIR/upn.csr" -CA "$T_DIR/ca/ca.crt" \
    -CAkey "$T_DIR/ca/ca.key" -set_serial 0x7a7a -days 30 \
    -extfile "$T_DIR/upn.ext" -out "$T_DIR/upn.crt" 2>/dev/null
check "import a certificate with a UPN" \
    "$CERTMINT" -c "$CONF" --json import "$T_DIR/upn.crt"
I=$(db_query "SELECT request_id FROM certs WHERE serial = '7a7a'")
check "CRL again" "$CERTMINT" -c "$CONF" crl

LAST=$(db_query "SELECT MAX(seq) FROM events")
check_eq "A is now revoked for key compromise" "21|1" \
    "$(db_query "SELECT disposition, revoked_reason FROM requests WHERE id = $A")"
check_eq "Snapshot.Exit has written nothing yet (held)" 0 \
    "$(count_lines "$SNAP" .)"
: >"$GATE"
check "Snapshot.Exit catches up" wait_lines "$SNAP" "^seq=$LAST " 1
cp "$SNAP" "$T_DIR/first.log"

P=$(ev_seq 2 "$A")
ISS=$(ev_seq 1 "$A")
R=$(ev_seq 16 "$A")
H=$(ev_seq 8 "$A" 1)
U=$(ev_seq 256 "$A")
K=$(ev_seq 8 "$A" 2)
D=$(ev_seq 4 "$C")
IMP=$(ev_seq 512 "$I")

# expect DESC SEQ KEY=VALUE...: the fields of Snapshot.Exit's first line
# for SEQ.
expect() {
	_d=$1 _s=$2
	shift 2
	_got=
	_want=
	for _kv in "$@"; do
		_want="$_want $_kv"
		_got="$_got ${_kv%%=*}=$(field "$T_DIR/first.log" "$_s" "${_kv%%=*}")"
	done
	check_eq "$_d" "$_want" "$_got"
}

expect "CERTPENDING: pending, no certificate, as submitted" "$P" \
    event=0x2 disp=9 r.disp=9 status=0 cert=- serial=- hash=- reason=- \
    certfile=yes r.id="$A" c.r.id="$A"
check_match "CERTPENDING: the pending message" "Under_Submission" \
    "$(field "$T_DIR/first.log" "$P" msg)"
expect "CERTISSUED: issued, with its certificate, not revoked" "$ISS" \
    event=0x1 disp=20 r.disp=20 serial="$(echo "$SERIAL" | tr A-F a-f)" \
    reason=- revwhen=-
check_match "CERTISSUED: the resubmission message" "^Resubmitted_by_" \
    "$(field "$T_DIR/first.log" "$ISS" msg)"
expect "CERTRETRIEVEPENDING (retrieved once issued): issued" "$R" \
    event=0x10 disp=20 serial="$(echo "$SERIAL" | tr A-F a-f)"
expect "CERTREVOKED (hold): revoked, reason 6" "$H" event=0x8 disp=21 reason=6
expect "CERTUNREVOKED: valid again" "$U" event=0x100 disp=20 reason=-
expect "CERTREVOKED (key compromise): reason 1" "$K" event=0x8 disp=21 \
    reason=1
expect "CERTDENIED: denied, no certificate" "$D" event=0x4 disp=31 cert=-
expect "CERTIMPORTED: the UPN of its subjectAltName" "$IMP" event=0x200 \
    upn=alice@example.com disp=20
check_match "the pending event's extensions are the requested ones" \
    "^(|[0-9.]+/1[0-9a-f]{4}(,[0-9.]+/1[0-9a-f]{4})*):" \
    "$(field "$T_DIR/first.log" "$P" exts)"
check "the issued event's extensions are the certificate's (policy, server)" \
    test "$(field "$T_DIR/first.log" "$ISS" exts)" != \
    "$(field "$T_DIR/first.log" "$P" exts)"

# CertificateHash is the SHA-1 thumbprint, as AD CS shows it; the SHA-256
# one has its own name.
sha1=$(openssl x509 -in "$T_DIR/a.crt" -noout -fingerprint -sha1 |
    sed 's/.*=//; s/:/_/g' | tr A-F a-f)
sha256=$(openssl x509 -in "$T_DIR/a.crt" -noout -fingerprint -sha256 |
    sed 's/.*=//; s/:/_/g' | tr A-F a-f)
expect "CertificateHash (SHA-1) and CertificateHashSHA256" "$ISS" \
    hash="$sha1" hash256="$sha256"

# AD CS names: Request.* columns, names without a value, unknown names.
expect "Request.* names give the request's columns" "$ISS" \
    r.id="$A" r.status=0 r.requester="$(field "$T_DIR/first.log" "$ISS" requester)" \
    r.submitted="$(field "$T_DIR/first.log" "$ISS" submitted)" \
    r.cn=snapa c.r.id="$A"
check_match "Request.RequesterName is set" "^r.requester=[^-!]" \
    "r.requester=$(field "$T_DIR/first.log" "$ISS" r.requester)"
expect "names AD CS knows without a value here are empty, unknown ones an error" \
    "$ISS" archived=- enrollflags=- nosuch=!-4 configdn=- upgraded=0

# CA properties: one CA certificate, index 1 does not exist.
expect "CA certificate index 0 only" "$ISS" certcount=1 certstate0=3 \
    crlindex0=0 crlstate0=3 certsuffix0= cacert1=!-4 \
    certstate1=!-4
openssl x509 -in "$T_DIR/ca/ca.crt" -outform DER -out "$T_DIR/ca.der"
cacert=$(python3 -c 'import sys
h = 1469598103934665603
d = open(sys.argv[1], "rb").read()
for b in d:
    h = ((h ^ b) * 1099511628211) & 0xffffffffffffffff
print("%d:%016x" % (len(d), h))' "$T_DIR/ca.der")
expect "RawCACertificate is the CA's certificate" "$P" cacert="$cacert"

# CRLs: every line shows the base and delta CRLs published by its event
# (none before the first), computed here from the database.
crl_check() {
	python3 - "$1" "$T_DIR/ca/certmint.db" <<'PY'
import sqlite3, sys
def fnv(d):
    h = 1469598103934665603
    for b in d:
        h = ((h ^ b) * 1099511628211) & 0xffffffffffffffff
    return "%d:%016x" % (len(d), h)
db = sqlite3.connect(sys.argv[2])
crls = db.execute("SELECT e.seq, c.base_number, c.raw FROM events e "
                  "JOIN crls c ON c.row_id = e.crl_row_id ORDER BY e.seq").fetchall()
bad = 0
n = 0
for ln in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in ln.split()[1:] if "=" in kv)
    seq = int(ln.split()[0][4:])
    base = [fnv(r) for s, b, r in crls if s <= seq and b < 0]
    delta = [fnv(r) for s, b, r in crls if s <= seq and b >= 0]
    want = (base[-1] if base else "-", delta[-1] if delta else "-")
    got = (f.get("crl"), f.get("delta"))
    n += 1
    if got != want:
        bad += 1
        print("seq %d: got %s want %s" % (seq, got, want))
print("%d lines" % n)
sys.exit(1 if bad or n == 0 else 0)
PY
}
check "each event reads the CRLs of its time" crl_check "$T_DIR/first.log"
check "a CRL was published between the events (the check can fail)" \
    test "$(field "$T_DIR/first.log" "$P" crl)" != \
    "$(field "$T_DIR/first.log" "$LAST" crl)"

# Release from hold: SnapRev.Exit (mask 0xff, no CERTUNREVOKED) gets it as
# CERTREVOKED, showing the certificate valid again.
check "SnapRev.Exit has caught up" wait_lines "$REV" "^seq=$LAST " 1
check_eq "SnapRev.Exit: the release arrives as CERTREVOKED, valid again" \
    "event=0x8 type=8 disp=20 reason=-" \
    "event=$(field "$REV" "$U" event) type=$(field "$REV" "$U" type) disp=$(field "$REV" "$U" disp) reason=$(field "$REV" "$U" reason)"
check_eq "SnapRev.Exit: no CERTUNREVOKED, no CERTIMPORTED (not in its mask)" \
    0 "$(count_lines "$REV" " event=0x(100|200) ")"
check_eq "Snapshot.Exit (mask with CERTUNREVOKED) gets CERTUNREVOKED" \
    "0x100 256" "$(field "$SNAP" "$U" event) $(field "$SNAP" "$U" type)"

# Retry after a failure, and replay: every line equals the first delivery's,
# though the denied request C has been approved since.
check "approve C after its denial" "$CERTMINT" -c "$CONF" resubmit "$C"
daemon_stop
conf_set Snapshot.Exit fail_once yes
daemon_start
FIRST=$(sed -n '1s/^seq=\([0-9]*\) .*/\1/p' "$T_DIR/first.log")
: >"$SNAP"
check_match "replay from the first event" "events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay Snapshot.Exit --from "$FIRST" 2>&1)"
check "the replay is delivered (each event after one failure)" \
    wait_lines "$SNAP" "^seq=$LAST " 1
check "each replayed event failed once first (so was retried)" test \
    "$(count_lines "$T_LOG" "Snapshot.Exit: the notify method returned an error")" \
    -ge "$(count_lines "$T_DIR/first.log" .)"
sed -n "/^seq=$FIRST /,/^seq=$LAST /p" "$SNAP" | awk '!seen[$1]++' \
    >"$T_DIR/replay.log"
check_eq "retried and replayed lines equal the first delivery's" \
    "$(cat "$T_DIR/first.log")" "$(cat "$T_DIR/replay.log")"

# kill -9 while Snapshot.Exit lags behind a request that changes: after
# the restart each event still reads the state of its time.
daemon_stop
conf_set Snapshot.Exit fail_once no
rm -f "$GATE"
: >"$SNAP"
daemon_start
submit_http "$T_DIR/snapa.csr" Disposition:pending >/dev/null
B=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "resubmit B" "$CERTMINT" -c "$CONF" resubmit "$B"
"$CERTMINT" -c "$CONF" retrieve "$B" --out "$T_DIR/b.crt" >/dev/null 2>&1
BSERIAL=$(openssl x509 -in "$T_DIR/b.crt" -noout -serial 2>/dev/null | sed 's/.*=//')
check "revoke B" "$CERTMINT" -c "$CONF" revoke "$BSERIAL" superseded
BLAST=$(db_query "SELECT MAX(seq) FROM events")
daemon_kill
check_eq "nothing of B was delivered before the crash" 0 \
    "$(count_lines "$SNAP" "ctx=$B ")"
: >"$GATE"
daemon_start
check "B's events are delivered after the restart" \
    wait_lines "$SNAP" "^seq=$BLAST " 1
check_eq "after kill -9: pending, issued, revoked as at each event" \
    "9 20 21|- - 4" \
    "$(field "$SNAP" "$(ev_seq 2 "$B")" disp) $(field "$SNAP" "$(ev_seq 1 "$B")" disp) $(field "$SNAP" "$(ev_seq 8 "$B")" disp)|$(field "$SNAP" "$(ev_seq 2 "$B")" reason) $(field "$SNAP" "$(ev_seq 1 "$B")" reason) $(field "$SNAP" "$(ev_seq 8 "$B")" reason)"
daemon_stop

# A backlog of 2,600 CERTISSUED events (bench/events/fillevents), three
# batches: the requests of a batch are read at once, and the next batch
# with its requests while the module works on this one (dispatch.c,
# reqs_read_ahead, reader_main). Three requests, one in each batch, are
# revoked after their CERTISSUED was read but before it is delivered: each
# CERTISSUED still reads issued, each CERTREVOKED revoked. Every event
# arrives once, in order, with its own request.
: >"$SNAP"
FIRST=$(( $(db_query "SELECT MAX(seq) FROM events") + 1 ))
"$FILLEVENTS" "$T_DIR/ca/certmint.db" 2600 >"$T_DIR/fill.out" 2>&1 ||
    not_ok "fillevents: $(cat "$T_DIR/fill.out")"
rm -f "$GATE"
daemon_start
# The module now waits at the backlog's first event, the first batch read
# (and, most likely, the second).
sleep 1
REVOKED=
for k in 10 1500 2500; do
	ctx=$(db_query "SELECT context FROM events WHERE seq = $((FIRST + k))")
	serial=$(db_query "SELECT serial FROM certs WHERE request_id = $ctx")
	"$CERTMINT" -c "$CONF" revoke "$serial" keyCompromise >/dev/null 2>&1 ||
	    not_ok "revoke request $ctx"
	REVOKED="$REVOKED $ctx"
done
BLAST=$(db_query "SELECT MAX(seq) FROM events")
: >"$GATE"
check "the backlog and the revocations are delivered" \
    wait_lines "$SNAP" "^seq=$BLAST " 1
check_eq "each of the 2,600 events once, in order" \
    "$(seq "$FIRST" $((FIRST + 2599)) | tr '\n' ' ')" \
    "$(sed -n 's/^seq=\([0-9]*\) .*/\1/p' "$SNAP" |
    awk -v a="$FIRST" -v b=$((FIRST + 2599)) '$1 >= a && $1 <= b' |
    tr '\n' ' ')"
check_eq "each with its own request" "" \
    "$(awk -v a="$FIRST" -v b=$((FIRST + 2599)) '{
	split($1, s, "="); if (s[2] < a || s[2] > b) next
	ctx = ""; id = ""
	for (i = 2; i <= NF; i++) {
		if ($i ~ /^ctx=/) ctx = substr($i, 5)
		if ($i ~ /^r\.id=/) id = substr($i, 6)
	}
	if (ctx == "" || ctx != id) print }' "$SNAP" | head -3)"
issued= revoked=
for r in $REVOKED; do
	issued="$issued $(field "$SNAP" "$(ev_seq 1 "$r")" disp)"
	revoked="$revoked $(field "$SNAP" "$(ev_seq 8 "$r")" disp)"
done
check_eq "revoked before delivery: CERTISSUED reads issued in each batch" \
    " 20 20 20" "$issued"
check_eq "and CERTREVOKED reads revoked" " 21 21 21" "$revoked"
daemon_stop

# certmint exit test delivers after every action: the same rule.
"$CERTMINT" exit test "$MODULES_DIR/snapshot.so" \
    --set "output=$T_DIR/harness.log" >"$T_DIR/harness.out" 2>&1
check "exit test runs Snapshot.Exit" test -s "$T_DIR/harness.log"
check_eq "exit test: every CERTPENDING reads pending, without certificate" "" \
    "$(grep ' event=0x2 ' "$T_DIR/harness.log" | grep -v ' disp=9 .* cert=- ')"
check_eq "exit test: every CERTREVOKED reads revoked" "" \
    "$(grep ' event=0x8 ' "$T_DIR/harness.log" | grep -v ' disp=21 ')"
check_eq "exit test: every CERTUNREVOKED reads issued" "" \
    "$(grep ' event=0x100 ' "$T_DIR/harness.log" | grep -v ' disp=20 ')"
check "exit test delivered pending, revoked and released events" sh -c \
    "grep -q ' event=0x2 ' '$T_DIR/harness.log' && grep -q ' event=0x8 ' '$T_DIR/harness.log' && grep -q ' event=0x100 ' '$T_DIR/harness.log'"
finish
