#!/bin/sh
# certmint purge --expired-before DATE (issue 11 §3; AD CS: certutil
# -deleterow DATE Cert): the requests whose certificate expired before
# DATE go with their certificate, attributes, history and events, in one
# transaction; kept and counted by reason are the revoked ones (still on
# the CRL) unless --revoked-too, those with an event in a dead letter or
# not yet delivered to every registered module (and the certificate a
# renewal with such an event replaces), and the newest request and serial;
# pending, denied and failed requests and unexpired certificates are not
# in scope. --dry-run removes nothing; a future or malformed date is
# refused. After it the CRL still lists the kept revoked serials (and
# without them, after --revoked-too, the CA still signs its CRL), the
# daemon restarts, and a new request gets a new id and serial.
. "$LIB"

ca_init
REC=$T_DIR/rec.log
PICKY=$T_DIR/picky.log
STUCK=$T_DIR/stuck.log
HOLD=$T_DIR/hold
register_modules recording picky stuck
conf_set Recording.Exit output "$REC"
conf_set Picky.Exit output "$PICKY"
conf_set Picky.Exit fail_cn dead
conf_set Stuck.Exit output "$STUCK"
conf_set Stuck.Exit hold_file "$HOLD"
conf_set exit max_attempts 2
conf_set exit backoff_initial_ms 50
conf_set exit backoff_max_ms 50
daemon_start

# issue CN [NAME:VALUE...]: submit a CSR for CN, valid for 1 s unless
# attributes are given; sets ID and SERIAL.
issue() {
	_cn=$1
	shift
	[ $# -gt 0 ] || set -- ValidityPeriod:Seconds ValidityPeriodUnits:1
	new_csr "$_cn"
	submit_http "$T_DIR/$_cn.csr" "$@" >"$T_DIR/submit.out"
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]' 2>/dev/null)
	SERIAL=$(json "$T_DIR/resp.json" 'j["serial"]' 2>/dev/null)
	[ "$(head -1 "$T_DIR/submit.out")" = 201 ] || not_ok "issue $_cn"
}

# rows TABLE COLUMN ID: how many rows of TABLE have COLUMN = ID.
rows() {
	db_query "SELECT COUNT(*) FROM $1 WHERE $2 = $3"
}

# gone ID: request ID has no row left in any table of a request.
gone() {
	echo "$(rows requests id "$1") $(rows certs request_id "$1")" \
	    "$(rows request_attrs request_id "$1")" \
	    "$(rows request_history request_id "$1")" \
	    "$(rows events context "$1")"
}

# delivered: every module's saved cursor has reached the newest event.
delivered() {
	[ "$(db_query "SELECT COUNT(*) FROM exit_cursors WHERE seq < \
	    (SELECT MAX(seq) FROM events)")" = 0 ]
}

# expired: every certificate but the long one's is past its notAfter.
expired() {
	[ "$(db_query "SELECT COUNT(*) FROM certs WHERE request_id <> $long \
	    AND not_after >= CAST(strftime('%s', 'now') AS INTEGER)")" = 0 ]
}

# purge ARGS...: certmint --json purge ARGS into $T_DIR/purge.json.
purge() {
	"$CERTMINT" -c "$CONF" --json purge "$@" >"$T_DIR/purge.json" \
	    2>"$T_DIR/purge.err"
}

# field EXPR: a field of the last purge's JSON (python on "j").
field() {
	json "$T_DIR/purge.json" "$1"
}

# crl_serials: the serials the base CRL now served lists, one a line.
crl_serials() {
	curl -fsS -m 10 -o "$T_DIR/ca.der" "$URL/ca.crl" &&
	    python3 - "$T_DIR/ca.der" <<'PY'
import sys
from cryptography import x509
for e in x509.load_der_x509_crl(open(sys.argv[1], "rb").read()):
    print("%040x" % e.serial_number)
PY
}

# 1. What there is: a failed request, certificates valid for a second
# (two plain ones, one revoked, one whose event Picky.Exit dead-letters,
# one renewed later) and one valid for a year.
printf 'not a request' >"$T_DIR/garbage"
check_eq "a malformed request is recorded as failed" 400 \
    "$(submit_http "$T_DIR/garbage" | head -1)"
failed=$(json "$T_DIR/resp.json" 'j["request_id"]')
issue plain-a
a=$ID
issue plain-b
b=$ID
issue plain-c
c=$ID
issue revoked
rv=$ID rv_serial=$SERIAL
issue dead-letter
dl=$ID
issue long ValidityPeriod:Days ValidityPeriodUnits:30
long=$ID
check "revoke one" "$CERTMINT" -c "$CONF" revoke "$rv_serial" keyCompromise
check "a base CRL" "$CERTMINT" -c "$CONF" crl
check_match "the CRL lists the revoked certificate" "^$rv_serial$" \
    "$(crl_serials)"
dead() {
	[ "$(db_query "SELECT COUNT(*) FROM dead_letters WHERE context = $dl")" \
	    -ge 1 ]
}
check "Picky.Exit dead-letters the event of dead-letter" wait_until 60 dead
check "every module has saved its cursor at the newest event" \
    wait_until 60 delivered

# 2. Stuck.Exit now holds on the next event: those after it are
# undelivered. A renewal of plain-a with its event held keeps plain-a
# (the module reads it as RawOldCertificate); newest is the last request.
touch "$HOLD"
issue undelivered
und=$ID
und_seq=$(db_query "SELECT MIN(seq) FROM events WHERE context = $und")
check "Stuck.Exit is held on undelivered's event" \
    wait_lines "$STUCK" "^enter seq=$und_seq " 1
a_serial=$(db_query "SELECT serial FROM certs WHERE request_id = $a")
check "renew plain-a" "$CERTMINT" -c "$CONF" renew "$a_serial"
renewal=$(db_query "SELECT request_id FROM request_attrs WHERE \
    name = 'RenewalOf' AND value = '$a_serial'")
issue newest
newest=$ID newest_serial=$SERIAL
check "all but the long certificate expire" wait_until 30 expired
NOW=$(date +%s)
requests_before=$(db_query "SELECT COUNT(*) FROM requests")
events_before=$(db_query "SELECT COUNT(*) FROM events")

# 3. Dates.
check_refused "a date in the future is refused" 30 "in the future" \
    "$CERTMINT" -c "$CONF" purge --expired-before @$((NOW + 86400))
check_refused "a date that is not one is a usage error" 30 \
    '"yesterday" is not a date' \
    "$CERTMINT" -c "$CONF" purge --expired-before yesterday
check_refused "a day the month does not have is refused" 30 \
    '"2026-02-30" is not a date' \
    "$CERTMINT" -c "$CONF" purge --expired-before 2026-02-30
check_refused "--expired-before is required" 30 "usage: certmint purge" \
    "$CERTMINT" -c "$CONF" purge --dry-run
# Half an hour ago, written in UTC+1 (half an hour ahead, in UTC).
check "an RFC 3339 date with an offset is taken" \
    "$CERTMINT" -c "$CONF" purge --dry-run --expired-before \
    "$(date -u -d @$((NOW + 1800)) +%Y-%m-%dT%H:%M:%S.5+01:00)"
check "and a day (UTC midnight)" "$CERTMINT" -c "$CONF" purge --dry-run \
    --expired-before "$(date -u +%Y-%m-%d)"

# ACME orders: one that expired (valid), with its authorization and two
# challenges, goes; one that expired while processing (its request may be
# pending) and one not expired stay.
db_query "INSERT INTO acme_accounts (id, endpoint, thumbprint, jwk, status,
    created) VALUES (1, 'acme', 'tp1', '{}', 'valid', $((NOW - 900000)));
INSERT INTO acme_orders (id, account_id, endpoint, status, expires, created,
    identifiers) VALUES
    (1, 1, 'acme', 'valid', $((NOW - 800000)), $((NOW - 900000)), '[]'),
    (2, 1, 'acme', 'processing', $((NOW - 800000)), $((NOW - 900000)), '[]'),
    (3, 1, 'acme', 'pending', $((NOW + 800000)), $((NOW - 10)), '[]');
INSERT INTO acme_authzs (id, order_id, account_id, type, value, status,
    expires) VALUES (1, 1, 1, 'dns', 'a.test', 'valid', $((NOW - 800000))),
    (2, 2, 1, 'dns', 'b.test', 'valid', $((NOW - 800000))),
    (3, 3, 1, 'dns', 'c.test', 'pending', $((NOW + 800000)));
INSERT INTO acme_challenges (authz_id, type, token, status) VALUES
    (1, 'http-01', 't1', 'valid'), (1, 'dns-01', 't2', 'pending'),
    (2, 'http-01', 't3', 'valid'), (3, 'http-01', 't4', 'pending');"

# 4. --dry-run counts and removes nothing.
check "purge --dry-run" purge --expired-before @"$NOW" --dry-run
check_eq "--dry-run: one ACME order would go, with its authorization and two challenges" \
    "1 1 2" "$(field '" ".join(str(j["removed"][k]) for k in ("acme_orders",
    "acme_authorizations", "acme_challenges"))')"
check_eq "--dry-run: no ACME order removed" 3 \
    "$(db_query "SELECT COUNT(*) FROM acme_orders")"
check_eq "--dry-run: two requests would go (plain-b, plain-c)" 2 \
    "$(field 'j["removed"]["requests"]')"
check_eq "--dry-run: kept six, by reason" "6 1 1 1 3" \
    "$(field '" ".join(str(j["kept"][k]) for k in ("requests", "newest",
    "revoked", "dead_letter", "undelivered"))')"
check_eq "--dry-run: Stuck.Exit is the slowest module" Stuck.Exit \
    "$(field 'j["slowest_module"]')"
check_eq "--dry-run: no request removed" "$requests_before" \
    "$(db_query "SELECT COUNT(*) FROM requests")"
check_eq "--dry-run: no event removed" "$events_before" \
    "$(db_query "SELECT COUNT(*) FROM events")"

# 5. The purge.
events_ctx0=$(db_query "SELECT COUNT(*) FROM events WHERE context = 0")
b_events=$(rows events context "$b")
c_events=$(rows events context "$c")
out=$("$CERTMINT" -c "$CONF" purge --expired-before @"$NOW" 2>&1)
check_match "purge says what it removed" \
    "^purged 2 requests whose certificate expired before" "$out"
check_match "and the ACME orders" \
    "purged 1 ACME orders that expired before then \(not processing\), with 1 authorizations and 2 challenges" \
    "$out"
check_eq "the expired one is gone; the processing and the live one stay" \
    "2,3 2,3 3,4" "$(db_query "SELECT (SELECT group_concat(id) FROM
    acme_orders) || ' ' || (SELECT group_concat(id) FROM acme_authzs) ||
    ' ' || (SELECT group_concat(id) FROM acme_challenges)")"
check_match "and what it kept, and why" \
    "3 with events not yet delivered to every exit module \(Stuck.Exit" \
    "$out"
check_eq "plain-b's rows are gone (request, certificate, attributes, history, events)" \
    "0 0 0 0 0" "$(gone "$b")"
check_eq "plain-c's too" "0 0 0 0 0" "$(gone "$c")"
check_eq "their events, and only theirs, went" \
    $((events_before - b_events - c_events)) \
    "$(db_query "SELECT COUNT(*) FROM events")"
check_eq "CRL, STARTUP and SHUTDOWN events stay" "$events_ctx0" \
    "$(db_query "SELECT COUNT(*) FROM events WHERE context = 0")"
for k in "revoked:$rv" "dead-letter:$dl" "undelivered:$und" \
    "renewed:$a" "renewal:$renewal" "newest:$newest" "long:$long" \
    "failed:$failed"; do
	check_eq "${k%%:*} is kept" 1 "$(rows requests id "${k#*:}")"
done
check_eq "the revoked certificate's row is kept" 1 \
    "$(rows certs request_id "$rv")"
check_match "the daemon logs the purge" \
    "purge by [^ ]+: 2 requests whose certificate expired before .* removed" \
    "$(cat "$T_LOG")"
check "a CRL after the purge" "$CERTMINT" -c "$CONF" crl
check_match "still lists the kept revoked serial" "^$rv_serial$" \
    "$(crl_serials)"

# 6. Once delivered, the held ones go; the dead letter's stays.
rm -f "$HOLD"
check "Stuck.Exit catches up" wait_until 60 delivered
check "purge again" purge --expired-before @"$NOW"
check_eq "undelivered, plain-a and its renewal now go" "3 0 0" \
    "$(field '"%d %d %d" % (j["removed"]["requests"],
    j["kept"]["undelivered"], j["removed"]["revoked"])')"
check_eq "kept: newest, revoked, dead letter" "3 1 1 1" \
    "$(field '" ".join(str(j["kept"][k]) for k in ("requests", "newest",
    "revoked", "dead_letter"))')"
check_eq "undelivered's rows are gone" "0 0 0 0 0" "$(gone "$und")"

# 7. --revoked-too: the revoked certificate and its history go, and the
# next base CRL, without it, is signed (not taken for lost revocations).
check_eq "the revocation left a history row" 1 \
    "$(rows request_history request_id "$rv")"
check "purge --revoked-too" purge --expired-before @"$NOW" --revoked-too
check_eq "--revoked-too: one revoked certificate removed" "1 1" \
    "$(field '"%d %d" % (j["removed"]["requests"], j["removed"]["revoked"])')"
check_eq "its rows are gone, history too" "0 0 0 0 0" "$(gone "$rv")"
check "a base CRL without it is signed" "$CERTMINT" -c "$CONF" crl
out=$(crl_serials)
check "which no longer lists it" sh -c "! echo '$out' | grep -q '^$rv_serial$'"
check_eq "newest and dead-letter are still kept" "1 1" \
    "$(rows requests id "$newest") $(rows requests id "$dl")"

# 8. The newest request is a certificate that expired a day ago but
# whose serial is not the newest (imported): kept for its id, and the one
# of the newest serial for its serial. Once a failed request is newer, it
# goes; the newest serial's stays (the serials' time floor at start).
python3 - "$T_DIR/ca/ca.crt" "$T_DIR/ca/ca.key" "$T_DIR/old.crt" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
cakey = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc)
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
b = (x509.CertificateBuilder()
     .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")]))
     .issuer_name(ca.subject).public_key(key.public_key())
     .serial_number(0x7e5700000000000001)
     .not_valid_before(now - datetime.timedelta(days=2))
     .not_valid_after(now - datetime.timedelta(days=1))
     .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
     .add_extension(x509.KeyUsage(True, False, False, False, False, False,
                                  False, False, False), True)
     .add_extension(x509.SubjectKeyIdentifier.from_public_key(
         key.public_key()), False)
     .add_extension(x509.AuthorityKeyIdentifier
                    .from_issuer_subject_key_identifier(ski), False))
open(sys.argv[3], "wb").write(b.sign(cakey, hashes.SHA256()).public_bytes(
    serialization.Encoding.PEM))
PY
check "import a certificate that expired a day ago" \
    "$CERTMINT" -c "$CONF" import "$T_DIR/old.crt"
imported=$(db_query "SELECT MAX(id) FROM requests")
check "every module has its event" wait_until 60 delivered
check "purge --revoked-too again" purge --expired-before @"$NOW" --revoked-too
check_eq "the newest request and the newest serial's are kept" "0 2" \
    "$(field '"%d %d" % (j["removed"]["requests"], j["kept"]["newest"])')"
check_eq "a malformed request, now the newest" 400 \
    "$(submit_http "$T_DIR/garbage" | head -1)"
failed2=$(json "$T_DIR/resp.json" 'j["request_id"]')
check "purge --revoked-too once more" purge --expired-before @"$NOW" \
    --revoked-too
check_eq "the imported one goes, the newest serial's stays" "1 1" \
    "$(field '"%d %d" % (j["removed"]["requests"], j["kept"]["newest"])')"
check_eq "(the imported one)" "0 0 0 0 0" "$(gone "$imported")"

# 9. A restart starts (the marker's request id and CRL number, and the
# serials' time floor, are where they were), and hands out nothing again.
daemon_stop
daemon_start
check_eq "the daemon restarted after the purges" 1 \
    "$(db_query "SELECT COUNT(*) FROM requests WHERE id = $newest")"
issue after ValidityPeriod:Days ValidityPeriodUnits:1
check_eq "a new request gets the next id" $((failed2 + 1)) "$ID"
check_eq "and a serial above every serial issued before" "$SERIAL" \
    "$(printf '%s\n%s\n' "$newest_serial" "$SERIAL" | sort | tail -1)"
check "Recording.Exit gets its event" \
    wait_lines "$REC" "^event=0x1 context=$ID " 1
daemon_stop
finish
