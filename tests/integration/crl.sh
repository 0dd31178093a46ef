#!/bin/sh
# CRLs that never lapse (issue 11 section 2): `certmint init` publishes a
# base CRL, so /ca.crl answers from the first start; certmintd publishes
# base and delta CRLs on its schedule ([crl] period, overlap,
# delta_period, delta_overlap) and after each revocation
# (publish_on_revoke); a delta CRL lists only what changed since its base
# (a release from hold as removeFromCRL); a publication that fails is
# retried, shown in `status`, and a CRL that is about to lapse is an
# error in the log and in `status`; a profile's own CDP and delta URL
# agree with the base CRL's Freshest CRL, as a relying party sees them.
. "$LIB"

# crl_get NAME: fetch /NAME.crl into $T_DIR/NAME.der (0 when 200).
crl_get() {
	curl -fsS -m 10 -o "$T_DIR/$1.der" "$URL/$1.crl" 2>/dev/null
}

# crl_info FILE: "number base next_update_in_seconds entry..." of a DER
# CRL, an entry as serial:reason (lowercase hex; the reason as RFC 5280
# names it, e.g. keyCompromise; "-" when absent), base "-" for a base CRL.
crl_info() {
	python3 - "$1" <<'PY'
import calendar, sys, time
from cryptography import x509
c = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
def ext(cls):
    try:
        return c.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None
base = ext(x509.DeltaCRLIndicator)
out = [str(ext(x509.CRLNumber).crl_number),
       str(base.crl_number) if base else "-",
       str(calendar.timegm(c.next_update.timetuple()) - int(time.time()))]
for e in c:
    try:
        r = e.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        r = "-"
    out.append("%040x:%s" % (e.serial_number, r))
print(" ".join(out))
PY
}

# crl_field NAME N: field N (1: number, 2: base, 3: seconds left) of the
# CRL NAME now served.
crl_field() {
	crl_get "$1" && crl_info "$T_DIR/$1.der" | cut -d' ' -f"$2"
}

# crl_lists NAME SERIAL:REASON: the CRL NAME now served lists that entry.
crl_lists() {
	crl_get "$1" && crl_info "$T_DIR/$1.der" | grep -q " $2\( \|$\)"
}

# crl_above NAME N: the CRL NAME now served has a number above N.
crl_above() {
	_n=$(crl_field "$1" 1) && [ "${_n:-0}" -gt "$2" ]
}

# status_json EXPR: a field of `certmint --json status` (python on "j").
status_json() {
	"$CERTMINT" -c "$CONF" --json status >"$T_DIR/status.json" 2>&1 &&
	    json "$T_DIR/status.json" "$1"
}

# status_is EXPR VALUE: status_json EXPR prints VALUE.
status_is() {
	[ "$(status_json "$1")" = "$2" ]
}

# issue NAME [ATTRIB]: issue a certificate for NAME; prints its serial.
issue() {
	new_csr "$1" -addext "subjectAltName=DNS:$1.test"
	submit_http "$T_DIR/$1.csr" ${2:+"$2"} >/dev/null
	json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/$1.crt"
	json "$T_DIR/resp.json" 'j["serial"]'
}

# 1. init publishes base CRL 1, signed by the new key, before any daemon.
ca_init
check_eq "init recorded base CRL 1" "1|-1" \
    "$(db_query 'SELECT number, base_number FROM crls')"
check_match "the marker knows CRL 1" "^crl_number = 1$" \
    "$(grep '^crl_number' "$T_DIR/ca/ca.dbid")"
conf_set crl delta yes
conf_set crl publish_on_revoke yes
conf_set policy profiles all
daemon_start
check "GET /ca.crl answers 200 at the first start" crl_get ca
check "it verifies with the CA certificate" openssl crl -inform DER \
    -in "$T_DIR/ca.der" -CAfile "$T_DIR/ca/ca.crt" -noout
check_eq "it is CRL number 1" 1 "$(crl_info "$T_DIR/ca.der" | cut -d' ' -f1)"
# Deltas were turned on after init: the schedule publishes one at once.
# delta_on N: the delta CRL now served is on base CRL N.
delta_on() {
	[ "$(crl_field delta 2)" = "$1" ]
}
check "a delta CRL follows at once, on base 1" wait_until 30 delta_on 1
status_json 'j["crl"]["base"]["state"]' >/dev/null
check_eq "status: the base CRL is ok" ok \
    "$(json "$T_DIR/status.json" 'j["crl"]["base"]["state"]')"
check_eq "status: its number" 1 \
    "$(json "$T_DIR/status.json" 'j["crl"]["base"]["number"]')"
check "status: its age" \
    json "$T_DIR/status.json" 'int(j["crl"]["base"]["age"]) >= 0 or 1/0'
# Default period 7d and overlap 10% (16.8h): the next in 7 days.
check_eq "status: the next publication in 7 days" 7 \
    "$(json "$T_DIR/status.json" '(j["crl"]["base"]["next_publish_in"] + 60) // 86400')"
check_eq "base CRL valid for period + overlap (7d + 16.8h)" 665280 \
    "$(db_query 'SELECT next_update - this_update FROM crls WHERE number = 1')"
text=$("$CERTMINT" -c "$CONF" status)
check_match "status text: the base CRL's age and next update" \
    "base CRL: +number 1, 0 entries, ok: this update [0-9T:Z-]+ \\(age [0-9]+ s\\), next update" \
    "$text"
check_match "status text: its next publication" "next publication [0-9T:Z-]+ \\(in" \
    "$text"

# A sub CA has its first CRL once its certificate is installed.
SUB=$T_DIR/sub/certmint.conf
"$CERTMINT" -c "$SUB" init --subordinate --name "Sub CA" \
    --port "$(free_port)" >/dev/null
check_eq "a sub CA has no CRL before its certificate" 0 \
    "$(sqlite3 "$T_DIR/sub/certmint.db" 'SELECT count(*) FROM crls')"
submit_http "$T_DIR/sub/ca.csr" CertificateTemplate:sub-ca >/dev/null
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/subca.pem"
check "install-ca-cert" "$CERTMINT" -c "$SUB" install-ca-cert \
    "$T_DIR/subca.pem" --chain "$T_DIR/ca/ca.crt"
check_eq "then the sub CA has base CRL 1" "1|-1" \
    "$(sqlite3 "$T_DIR/sub/certmint.db" 'SELECT number, base_number FROM crls')"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]).execute("SELECT raw FROM crls").fetchone()
open(sys.argv[2], "wb").write(c[0])' "$T_DIR/sub/certmint.db" "$T_DIR/sub.der"
check "signed by the sub CA's key" openssl crl -inform DER \
    -in "$T_DIR/sub.der" -CAfile "$T_DIR/sub/ca.crt" -noout

# 2. Deltas list what changed since their base, nothing more.
www=$(issue www)
cli=$(issue cli CertificateTemplate:tls-client)
d=$(crl_field delta 1)
check "revoke www (keyCompromise)" "$CERTMINT" -c "$CONF" revoke "$www" keyCompromise
check "publish_on_revoke: a delta lists it" \
    wait_until 30 crl_lists delta "$www:keyCompromise"
check "it is a new delta" test "$(crl_field delta 1)" -gt "$d"
# A base right after the revocation, as often in the same second.
check "certmint crl" "$CERTMINT" -c "$CONF" crl
crl_get ca
b=$(crl_info "$T_DIR/ca.der" | cut -d' ' -f1)
check_match "the base lists www" " $www:keyCompromise" "$(crl_info "$T_DIR/ca.der")"
crl_get delta
check_eq "the delta is on that base" "$b" \
    "$(crl_info "$T_DIR/delta.der" | cut -d' ' -f2)"
check_eq "and does not repeat www" "" \
    "$(crl_info "$T_DIR/delta.der" | cut -d' ' -f4-)"
d=$(crl_field delta 1)
check "hold cli" "$CERTMINT" -c "$CONF" revoke "$cli" certificateHold
check "a delta lists the hold" \
    wait_until 30 crl_lists delta "$cli:certificateHold"
check_eq "a later revocation only, not www" "$cli:certificateHold" \
    "$(crl_info "$T_DIR/delta.der" | cut -d' ' -f4-)"
check "certmint crl" "$CERTMINT" -c "$CONF" crl
crl_get ca
check_match "the base lists the hold" " $cli:certificateHold" \
    "$(crl_info "$T_DIR/ca.der")"
cp "$T_DIR/ca.der" "$T_DIR/held-base.der"
check "release cli from hold" "$CERTMINT" -c "$CONF" unrevoke "$cli"
check "a delta lists the release as removeFromCRL" \
    wait_until 30 crl_lists delta "$cli:removeFromCRL"
check_eq "and nothing else" "$cli:removeFromCRL" \
    "$(crl_info "$T_DIR/delta.der" | cut -d' ' -f4-)"
openssl crl -inform DER -in "$T_DIR/held-base.der" -out "$T_DIR/base.pem"
openssl crl -inform DER -in "$T_DIR/delta.der" -out "$T_DIR/delta.pem"
# OpenSSL 3.0 keeps a delta CRL out of the base CRLs only with
# -extended_crl (else it would take the delta for a complete CRL).
check_fails "openssl: by the base alone, the held certificate is revoked" \
    openssl verify -crl_check -CAfile "$T_DIR/ca/ca.crt" \
    -CRLfile "$T_DIR/base.pem" "$T_DIR/cli.crt"
check "openssl: base + delta, the released certificate verifies" \
    openssl verify -crl_check -extended_crl -use_deltas \
    -CAfile "$T_DIR/ca/ca.crt" -CRLfile "$T_DIR/base.pem" \
    -CRLfile "$T_DIR/delta.pem" "$T_DIR/cli.crt"
check_fails "openssl: base + delta, the revoked one does not" \
    openssl verify -crl_check -extended_crl -use_deltas \
    -CAfile "$T_DIR/ca/ca.crt" -CRLfile "$T_DIR/base.pem" \
    -CRLfile "$T_DIR/delta.pem" "$T_DIR/www.crt"
daemon_stop

# 3. The schedule: short periods, CRLs follow one another by themselves.
conf_set crl period 6s
conf_set crl overlap 3s
conf_set crl delta_period 4s
conf_set crl delta_overlap 2s
conf_set crl publish_on_revoke no
daemon_start
b0=$(crl_field ca 1)
check "the schedule publishes a new base CRL" wait_until 30 crl_above ca "$b0"
b1=$(crl_field ca 1)
# The delta published with that base is b1 + 1: one after it.
check "and a delta after it, by itself" \
    wait_until 30 crl_above delta $((b1 + 1))
# Each CRL served over a few publications: numbers only grow, and none
# is ever served past its nextUpdate.
last=0 bad=
for i in 1 2 3 4 5 6 7 8; do
	for k in ca delta; do
		crl_get "$k" || { bad="$bad $k:unavailable"; continue; }
		set -- $(crl_info "$T_DIR/$k.der")
		[ "$3" -gt 0 ] || bad="$bad $k:$1:expired($3)"
		if [ "$k" = ca ]; then
			[ "$1" -ge "$last" ] || bad="$bad $k:$1<$last"
			last=$1
		fi
	done
	sleep 1
done
check_eq "over 8 s: numbers grow, nextUpdate always ahead" "" "$bad"
check "base numbers moved on meanwhile" test "$last" -gt "$b0"
check_eq "a scheduled base is valid for period + overlap" 9 \
    "$(db_query 'SELECT next_update - this_update FROM crls
    WHERE base_number < 0 ORDER BY row_id DESC LIMIT 1')"

# 4. A CRL that cannot be recorded: retried, shown, and loudly lapsing.
# failures KIND: how many scheduled publications of KIND (base, delta)
# failed in a row, as status says.
failures() {
	status_json "j['crl']['$1']['failures']"
}
# failing KIND N: at least N.
failing() {
	_f=$(failures "$1") && [ "${_f:-0}" -ge "$2" ]
}
# lapsing: status says the base CRL is lapsing or expired.
lapsing() {
	_s=$(status_json "j['crl']['base']['state']") &&
	    { [ "$_s" = lapsing ] || [ "$_s" = expired ]; }
}
db_query "CREATE TRIGGER crl_fail BEFORE INSERT ON crls BEGIN
    SELECT RAISE(ABORT, 'crl.sh: no CRL may be recorded'); END;"
check "a failing base publication is retried (status: 2 failures)" \
    wait_until 30 failing base 2
check_match "status: the failure's message" "cannot record the CRL" \
    "$(status_json "j['crl']['base']['last_failure']['message']")"
check "each attempt is in the log" \
    grep -q "cannot publish the scheduled base CRL (attempt 2 in a row)" "$T_LOG"
check "past nextUpdate - overlap/2, status says LAPSING (or EXPIRED)" \
    wait_until 30 lapsing
text=$("$CERTMINT" -c "$CONF" status)
check_match "status text: LAPSING or EXPIRED" "base CRL: .*(LAPSING|EXPIRED)" \
    "$text"
check_match "status text: the last failure, retrying" \
    "last failure [0-9T:Z-]+: cannot record the CRL.*\\(retrying\\)" "$text"
check "the log says so loudly" \
    grep -Eq "error: base CRL number [0-9]+ (is LAPSING|has EXPIRED)" "$T_LOG"
db_query "DROP TRIGGER crl_fail"
check "once CRLs can be recorded again, the next retry publishes" \
    wait_until 30 status_is "j['crl']['base']['failures']" 0
check_eq "status: the base CRL is ok again" ok \
    "$(status_json "j['crl']['base']['state']")"
check_match "status text: the failure is history" \
    "last failure .*\\(published since\\)" "$("$CERTMINT" -c "$CONF" status)"
check "the log says it recovered" \
    grep -Eq "base CRL number [0-9]+ published after [0-9]+ failed attempts" \
    "$T_LOG"

# 5. Expired revoked certificates leave the CRLs when their profile says
# (expired_on_crl), with X.509's expiredCertsOnCRL; the others stay, and
# the base CRL that drops them is signed (the shrink guard counts them).
conf_set profile.WebServer expired_on_crl 0
conf_set crl publish_on_revoke no
"$CERTMINT" -c "$CONF" reload >/dev/null
# short CN [NAME:VALUE]: a certificate valid for 8 s; prints its serial.
short() {
	new_csr "$1" -addext "subjectAltName=DNS:$1.test"
	submit_http "$T_DIR/$1.csr" ValidityPeriod:Seconds \
	    ValidityPeriodUnits:8 ${2:+"$2"} >/dev/null
	json "$T_DIR/resp.json" 'j["serial"]'
}
gone=$(short gone)
kept=$(short kept CertificateTemplate:ClientAuth)
"$CERTMINT" -c "$CONF" revoke "$gone" superseded >/dev/null
"$CERTMINT" -c "$CONF" revoke "$kept" superseded >/dev/null
"$CERTMINT" -c "$CONF" crl >/dev/null
check "while valid, a revoked WebServer certificate is listed" \
    crl_lists ca "$gone:superseded"
both_expired() {
	[ "$(db_query "SELECT COUNT(*) FROM certs c JOIN requests r ON
	    r.id = c.request_id WHERE c.serial IN ('$gone', '$kept') AND
	    c.not_after < CAST(strftime('%s', 'now') AS INTEGER)")" = 2 ]
}
check "both certificates expire" wait_until 30 both_expired
check "the next base CRL is signed" "$CERTMINT" -c "$CONF" crl
check_fails "expired, the WebServer one (expired_on_crl = 0) is off it" \
    crl_lists ca "$gone:superseded"
check "the ClientAuth one (forever) is still on it" \
    crl_lists ca "$kept:superseded"
check "the log says why it left" \
    grep -q "expired longer ago than their profile's expired_on_crl" "$T_LOG"
# Deltas turned off: the last one is no longer served (it would age on a
# base older than the ones published since, which have no Freshest CRL).
check "a delta CRL is served while deltas are on" crl_get delta
conf_set crl delta no
"$CERTMINT" -c "$CONF" reload >/dev/null
check_eq "delta CRLs off: /delta.crl is 404" 404 \
    "$(curl -s -m 10 -o "$T_DIR/delta404.json" -w '%{http_code}' "$URL/delta.crl")"
check_match "saying so" "delta CRLs are off" "$(cat "$T_DIR/delta404.json")"
crl_get ca
check "the CRL carries expiredCertsOnCRL (2.5.29.60), about now" \
    python3 - "$T_DIR/ca.der" <<'PY'
import sys, time
from cryptography import x509
c = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
e = c.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.60"))
v = e.value.value    # UnrecognizedExtension: DER GeneralizedTime
assert v[0] == 0x18, v
t = time.mktime(time.strptime(v[2:2 + v[1]].decode(), "%Y%m%d%H%M%SZ")) \
    - time.timezone
assert abs(t - time.time()) < 120, (t, time.time())
PY

# 6. A profile with a CDP of its own (%9 names its delta), published by
# the files module and served by a web server: what a relying party
# sees. Every delta URL a certificate gets is among those its base CRL
# names (RFC 5280 5.2.6: one delta, wherever it is looked up), each
# serves the delta on that base, and openssl checks base and delta
# fetched from the certificate's own URLs.
PUBD=$T_DIR/pub
mkdir -m 1777 "$PUBD"
NPORT=$(free_port)
NURL=http://127.0.0.1:$NPORT
python3 -m http.server --bind 127.0.0.1 --directory "$PUBD" "$NPORT" \
    >"$T_DIR/http.log" 2>&1 &
HTTP_PID=$!
trap 'kill "$HTTP_PID" 2>/dev/null; daemon_kill; rm -rf "$T_DIR"' INT TERM
[ -f "${CERTMINT_MODULES_PATH:-}/files.so" ] ||
    export CERTMINT_MODULES_PATH="${CERTMINT_MODULES_PATH:-}/files"
for k in period overlap delta_period delta_overlap; do
	conf_del crl "$k"
done
conf_set crl delta yes
conf_set profile.Dmz base WebServer
conf_set profile.Dmz cdp "$NURL/%3%8%9.crl"
conf_set CertMint_Files.Exit crl_dir "$PUBD"
check "register the files module (and reload)" \
    "$CERTMINT" -c "$CONF" exit register files
dmz=$(issue dmz CertificateTemplate:Dmz)
# urls FILE EXT: the URIs of extension EXT (cdp, freshest) of the
# certificate (PEM) or CRL (.der) in FILE, one a line.
urls() {
	python3 - "$1" "$2" <<'PY'
import sys
from cryptography import x509
d = open(sys.argv[1], "rb").read()
o = x509.load_der_x509_crl(d) if sys.argv[1].endswith(".der") else \
    x509.load_pem_x509_certificate(d)
cls = {"cdp": x509.CRLDistributionPoints, "freshest": x509.FreshestCRL}
for dp in o.extensions.get_extension_for_class(cls[sys.argv[2]]).value:
    for n in dp.full_name:
        print(n.value)
PY
}
cdp=$(urls "$T_DIR/dmz.crt" cdp)
fresh=$(urls "$T_DIR/dmz.crt" freshest)
check_eq "the certificate's CDP is the profile's" "$NURL/Test%20CA.crl" "$cdp"
check_eq "its Freshest CRL the profile's, with %9 as +" \
    "$NURL/Test%20CA+.crl" "$fresh"
"$CERTMINT" -c "$CONF" crl >/dev/null
b=$(crl_field ca 1)
check "revoke it (keyCompromise)" "$CERTMINT" -c "$CONF" revoke "$dmz" \
    keyCompromise
"$CERTMINT" -c "$CONF" crl --delta >/dev/null
# fetched URL FILE: FILE is what URL serves: base CRL $b without $dmz,
# or a delta on it listing $dmz.
fetched() {
	curl -fsS -m 10 -o "$2" "$1" && _i=$(crl_info "$2") &&
	    case $_i in
	    "$b - "*) ! echo "$_i" | grep -q " $dmz:" ;;
	    *" $b "*) echo "$_i" | grep -q " $dmz:keyCompromise" ;;
	    *) false ;;
	    esac
}
check "the base CRL at the certificate's CDP" \
    wait_until 30 fetched "$cdp" "$T_DIR/rp-base.der"
check "the delta CRL at its Freshest CRL" \
    wait_until 30 fetched "$fresh" "$T_DIR/rp-delta.der"
check_eq "the base CRL's Freshest CRL: the CA's delta URL, then the profile's" \
    "$URL/delta.crl $fresh" \
    "$(urls "$T_DIR/rp-base.der" freshest | tr '\n' ' ' | sed 's/ $//')"
n=0 bad=
for u in $(urls "$T_DIR/rp-base.der" freshest); do
	n=$((n + 1))
	fetched "$u" "$T_DIR/rp-delta$n.der" || bad="$bad $u"
done
check_eq "each serves the delta on that base, listing the revocation" "" "$bad"
openssl crl -inform DER -in "$T_DIR/rp-base.der" -out "$T_DIR/rp-base.pem"
openssl crl -inform DER -in "$T_DIR/rp-delta.der" -out "$T_DIR/rp-delta.pem"
check "openssl: with the base CRL alone, valid" openssl verify -crl_check \
    -CAfile "$T_DIR/ca/ca.crt" -CRLfile "$T_DIR/rp-base.pem" "$T_DIR/dmz.crt"
check_refused "openssl: with base and delta, revoked" 30 "certificate revoked" \
    openssl verify -crl_check -extended_crl -use_deltas \
    -CAfile "$T_DIR/ca/ca.crt" -CRLfile "$T_DIR/rp-base.pem" \
    -CRLfile "$T_DIR/rp-delta.pem" "$T_DIR/dmz.crt"
# A delta URL that is the CDP's would send relying parties to the base
# for the delta: refused at load, the running configuration kept.
cp "$CONF" "$T_DIR/good.conf"
conf_set profile.Dmz delta_cdp "$NURL/%3%8.crl"
check_refused "a profile's delta_cdp that is its cdp is refused" 30 \
    "\[profile.Dmz\]: its freshest CRL URL is its cdp .*a delta CRL needs a URL of its own" \
    "$CERTMINT" -c "$CONF" profile list
check_refused "reload refuses it too" 30 "needs a URL of its own" \
    "$CERTMINT" -c "$CONF" reload
cp "$T_DIR/good.conf" "$CONF"
conf_set publish delta_url "$URL/ca%8.crl"
check_refused "so is a [publish] delta_url that is cdp_url" 30 \
    "\[publish\] delta_url is cdp_url" "$CERTMINT" -c "$CONF" profile list
cp "$T_DIR/good.conf" "$CONF"
check_match "the CA still issues under the config it had" "^201" \
    "$(submit_http "$T_DIR/dmz.csr" CertificateTemplate:Dmz)"
kill "$HTTP_PID"
wait "$HTTP_PID" 2>/dev/null
finish
