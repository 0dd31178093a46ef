#!/bin/sh
# Running a CA for years (issue 11): a CA renewed twice while certmintd
# runs (`certmint ca renew` with the same key, then --new-key), base and
# delta CRLs published on a schedule of seconds across periods for every
# key, a backup restored elsewhere; OpenSSL then checks that every
# certificate ever issued still verifies, fetching the CRL its own CRL
# distribution point names, and that each revoked one is on its key's
# CRL and on no other. docs/ca-renewal.md.
. "$LIB"

# crl_get NAME: fetch /NAME (e.g. "ca(2).crl") into $T_DIR/NAME.der.
crl_get() {
	curl -fsS -m 10 -o "$T_DIR/$1.der" "$URL/$1" 2>/dev/null
}

# crl_info FILE: "number base entry..." of a DER CRL (serials lowercase
# hex, 40 digits), base "-" for a base CRL.
crl_info() {
	python3 - "$1" <<'PY'
import sys
from cryptography import x509
c = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
try:
    base = str(c.extensions.get_extension_for_class(
        x509.DeltaCRLIndicator).value.crl_number)
except x509.ExtensionNotFound:
    base = "-"
num = c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
print(" ".join([str(num), base] + ["%040x" % e.serial_number for e in c]))
PY
}

# crl_signed_by DER CA: openssl verifies CRL DER with CA certificate CA
# (openssl crl exits 0 either way: its verdict is in what it prints).
crl_signed_by() {
	openssl crl -inform DER -in "$1" -CAfile "$2" -noout 2>&1 |
	    grep -q '^verify OK$'
}

# crl_number NAME: the number of the CRL /NAME now served.
crl_number() {
	crl_get "$1" && crl_info "$T_DIR/$1.der" | cut -d' ' -f1
}

# crl_newer NAME N: /NAME serves a CRL numbered above N.
crl_newer() {
	_n=$(crl_number "$1") && [ "${_n:-0}" -gt "$2" ]
}

# crl_has NAME SERIAL: /NAME lists SERIAL.
crl_has() {
	crl_get "$1" && crl_info "$T_DIR/$1.der" | grep -q " $2\( \|$\)"
}

# urls CERT: the URLs of CERT's CDP and AIA, "cdp aia".
urls() {
	python3 - "$1" <<'PY'
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
cdp = c.extensions.get_extension_for_class(x509.CRLDistributionPoints)
aia = c.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
print(cdp.value[0].full_name[0].value, aia.value[0].access_location.value)
PY
}

# issue NAME: a certificate for NAME into $T_DIR/NAME.crt; prints its serial.
issue() {
	new_csr "$1" -addext "subjectAltName=DNS:$1.test"
	submit_http "$T_DIR/$1.csr" >/dev/null
	json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/$1.crt"
	json "$T_DIR/resp.json" 'j["serial"]'
}

# verify_all CAFILE CRL...: openssl verify -crl_check of every certificate
# issued so far against CAFILE and the CRLs; prints "name:result" for each.
verify_all() {
	_ca=$1
	shift
	_crls=
	for _c in "$@"; do
		openssl crl -inform DER -in "$_c" -out "$_c.pem" 2>/dev/null
		_crls="$_crls -CRLfile $_c.pem"
	done
	for _n in $ALL; do
		# shellcheck disable=SC2086
		if openssl verify -x509_strict -crl_check $_crls -CAfile "$_ca" \
		    "$T_DIR/$_n.crt" >/dev/null 2>"$T_DIR/verify.err"; then
			printf '%s:ok ' "$_n"
		elif grep -q "certificate revoked" "$T_DIR/verify.err"; then
			printf '%s:revoked ' "$_n"
		else
			printf '%s:error ' "$_n"
		fi
	done
}

ca_init
SNAP=$T_DIR/snap.log
register_modules snapshot
conf_set Snapshot.Exit output "$SNAP"
conf_set crl delta yes
conf_set crl period 8s
conf_set crl overlap 4s
conf_set crl delta_period 4s
conf_set crl delta_overlap 2s
daemon_start
ALL=

# --- Year 1: the first CA certificate ------------------------------------
a0=$(issue a0)
b0=$(issue b0)
ALL="a0 b0"
"$CERTMINT" -c "$CONF" revoke "$b0" keyCompromise >/dev/null
check_eq "year 1: CDP and AIA name ca.crl and ca.crt" \
    "$URL/ca.crl $URL/ca.crt" "$(urls "$T_DIR/a0.crt")"
n=$(crl_number ca.crl)
check "the base CRL is published again on schedule (period 8 s)" \
    wait_until 30 crl_newer ca.crl "$n"
check "and lists the revoked certificate" crl_has ca.crl "$b0"
n=$(crl_number delta.crl)
check "delta CRLs follow on their own schedule (4 s)" \
    wait_until 20 crl_newer delta.crl "$n"

# --- Year 2: renewed with the same key -------------------------------------
check "certmint ca renew (same key) while certmintd runs" \
    "$CERTMINT" -c "$CONF" ca renew --days 3000
check "ca(1).crt is written" test -s "$T_DIR/ca/ca(1).crt"
check "no new key" test ! -e "$T_DIR/ca/ca(1).key"
"$CERTMINT" -c "$CONF" --json ca list >"$T_DIR/list.json"
check_eq "ca list: two certificates, one CRL index, the newest signs" \
    "0:0:False 1:0:True" \
    "$(json "$T_DIR/list.json" '" ".join("%d:%d:%s" % (c["index"], c["crl_index"], c["signing"]) for c in j)')"
a1=$(issue a1)
b1=$(issue b1)
ALL="$ALL a1 b1"
"$CERTMINT" -c "$CONF" revoke "$b1" superseded >/dev/null
check_eq "year 2: AIA names ca(1).crt, CDP still ca.crl (same key)" \
    "$URL/ca.crl $URL/ca(1).crt" "$(urls "$T_DIR/a1.crt")"
check "a1 is signed by CA certificate 1" openssl verify -partial_chain \
    -CAfile "$T_DIR/ca/ca(1).crt" "$T_DIR/a1.crt"
curl -fsS -m 10 -o "$T_DIR/served1.crt" "$URL/ca(1).crt"
openssl x509 -in "$T_DIR/ca/ca(1).crt" -outform DER -out "$T_DIR/ca1.der"
check "GET /ca(1).crt serves it" cmp "$T_DIR/served1.crt" "$T_DIR/ca1.der"
curl -fsS -m 10 -o "$T_DIR/served0.crt" "$URL/ca.crt"
openssl x509 -in "$T_DIR/ca/ca.crt" -outform DER -out "$T_DIR/ca0.der"
check "GET /ca.crt still serves certificate 0 (what year 1's AIA names)" \
    cmp "$T_DIR/served0.crt" "$T_DIR/ca0.der"
both_listed() {
	crl_has ca.crl "$b0" && crl_has ca.crl "$b1"
}
check "the CRL of key 0 lists b0 and b1" wait_until 20 both_listed
cp "$T_DIR/ca.crl.der" "$T_DIR/k0.der"
check "it is signed by the newest certificate of the key" crl_signed_by \
    "$T_DIR/k0.der" "$T_DIR/ca/ca(1).crt"

# --- Year 3: renewed with a new key ----------------------------------------
check "certmint ca renew --new-key while certmintd runs" \
    "$CERTMINT" -c "$CONF" ca renew --new-key
check "ca(2).key is 0600" test "$(stat -c %a "$T_DIR/ca/ca(2).key")" = 600
check "GET /ca(2).crl: the new key's CRL is published at once" crl_get "ca(2).crl"
check "GET /delta(2).crl too" crl_get "delta(2).crl"
a2=$(issue a2)
b2=$(issue b2)
ALL="$ALL a2 b2"
"$CERTMINT" -c "$CONF" revoke "$b2" keyCompromise >/dev/null
# An old key's certificate revoked after the renewal: its key's CRL.
"$CERTMINT" -c "$CONF" revoke "$a0" cessationOfOperation >/dev/null
# What an exit module reads of the CA at a2's CERTISSUED (adcs-reference:
# CA_DISP_ERROR 1 for an index whose key's CRLs a newer one signs, VALID 3).
a2_id=$(db_query "SELECT request_id FROM certs WHERE serial = '$a2'")
a2_seq=$(db_query "SELECT seq FROM events WHERE event = 1 AND context = $a2_id")
snap_line() {
	grep -m1 "^seq=$a2_seq " "$SNAP"
}
check "Snapshot.Exit saw a2's CERTISSUED" wait_until 30 snap_line
snap=$(snap_line | tr ' ' '\n')
check_eq "CertCount 3; CRLIndex.0/1/2 = 0 0 2; CRLSuffix.2 (2); CertSuffix.1 (1)" \
    "certcount=3 crlindex0=0 crlindex1=0 crlindex2=2 crlsuffix2=(2) certsuffix1=(1)" \
    "$(echo "$snap" | grep -E '^(certcount|crlindex[012]|crlsuffix2|certsuffix1)=' |
    tr '\n' ' ' | sed 's/ $//')"
check_eq "CRLState.0 ERROR (certificate 1 signs key 0's CRLs), .1 and .2 VALID" \
    "crlstate0=1 crlstate1=3 crlstate2=3" \
    "$(echo "$snap" | grep -E '^crlstate[012]=' | tr '\n' ' ' | sed 's/ $//')"
check_match "RawCRL.1 and RawCRL.2: each key's CRL; RawCRL.0 empty" \
    "^crl=- crl1=[0-9]+:[0-9a-f]+ crl2=[0-9]+:[0-9a-f]+$" \
    "$(echo "$snap" | grep -E '^crl[12]?=' | tr '\n' ' ' | sed 's/ $//')"
check_eq "year 3: CDP and AIA name ca(2).crl and ca(2).crt" \
    "$URL/ca(2).crl $URL/ca(2).crt" "$(urls "$T_DIR/a2.crt")"
"$CERTMINT" -c "$CONF" crl >/dev/null
crl_get "ca.crl"
crl_get "ca(2).crl"
check_eq "the old key's CRL: a0 b0 b1, not b2" "$(echo "$a0 $b0 $b1" |
    tr ' ' '\n' | sort | tr '\n' ' ')" "$(crl_info "$T_DIR/ca.crl.der" |
    cut -d' ' -f3- | tr ' ' '\n' | sort | tr '\n' ' ')"
check_eq "the new key's CRL: b2 only" "$b2" \
    "$(crl_info "$T_DIR/ca(2).crl.der" | cut -d' ' -f3-)"
check "the new key's CRL is signed by the new key" crl_signed_by \
    "$T_DIR/ca(2).crl.der" "$T_DIR/ca/ca(2).crt"
check_fails "and not by the old one" crl_signed_by \
    "$T_DIR/ca(2).crl.der" "$T_DIR/ca/ca.crt"
check "the old key's CRL by the old key" crl_signed_by \
    "$T_DIR/ca.crl.der" "$T_DIR/ca/ca(1).crt"
n0=$(crl_number ca.crl)
n2=$(crl_number "ca(2).crl")
both_newer() {
	crl_newer ca.crl "$n0" && crl_newer "ca(2).crl" "$n2"
}
check "both keys' CRLs are republished on schedule" wait_until 30 both_newer
status_json() {
	"$CERTMINT" -c "$CONF" --json status >"$T_DIR/status.json" 2>&1 &&
	    json "$T_DIR/status.json" "$1"
}
check_eq "status: the signing key's base CRL is ok" ok \
    "$(status_json 'j["crl"]["base"]["state"]')"

# A CA certificate file lost: certmintd keeps what it runs and says so.
mv "$T_DIR/ca/ca(1).crt" "$T_DIR/ca1.moved"
check_refused "reload refuses a CA directory that lost ca(1).crt" 30 \
    "ca\(1\)\.crt is missing: the database has recorded 3 CA certificates" \
    "$CERTMINT" -c "$CONF" reload
check_refused "and a start too" 30 "ca\(1\)\.crt is missing" \
    "$CERTMINTD" -c "$CONF"
mv "$T_DIR/ca1.moved" "$T_DIR/ca/ca(1).crt"
check "certmintd runs on" "$CERTMINT" -c "$CONF" status

# Every certificate ever issued: each verifies against /ca.pem (every CA
# certificate) with the CRLs its own CDP names; the revoked ones do not.
curl -fsS -m 10 -o "$T_DIR/bundle.pem" "$URL/ca.pem"
check_eq "/ca.pem holds the three CA certificates" 3 \
    "$(grep -c 'BEGIN CERTIFICATE' "$T_DIR/bundle.pem")"
for n in $ALL; do
	set -- $(urls "$T_DIR/$n.crt")
	curl -fsS -m 10 -o "$T_DIR/$n.cdp.der" "$1"
done
check_eq "every certificate verifies with its CDP's CRL; revoked ones are revoked" \
    "a0:revoked b0:revoked a1:ok b1:revoked a2:ok b2:revoked " \
    "$(verify_all "$T_DIR/bundle.pem" "$T_DIR/a0.cdp.der" "$T_DIR/a2.cdp.der")"
for n in $ALL; do
	case $n in
	a1|a2)	want=": OK" ;;
	*)	want="certificate revoked" ;;
	esac
	# -extended_crl: without it OpenSSL 3.0 takes a delta CRL that
	# -crl_download fetched (freshestCRL) for a complete one, and a newer
	# delta with no entry hides every revocation of its base.
	check_match "openssl verify -crl_download: $n, with its own CDP's CRL" \
	    "$want" "$(openssl verify -x509_strict -crl_check -crl_download \
	    -extended_crl -use_deltas -CAfile "$T_DIR/bundle.pem" \
	    "$T_DIR/$n.crt" 2>&1)"
done

# --- Backup, restore elsewhere, go on --------------------------------------
check "certmint backup while certmintd runs" \
    "$CERTMINT" -c "$CONF" backup "$T_DIR/bk"
daemon_stop
OLD=$CONF
CONF=$T_DIR/elsewhere/certmint.conf
check "restore on a fresh directory" "$CERTMINT" -c "$CONF" restore "$T_DIR/bk"
check "the renewed certificates and the new key are restored" \
    test -s "$T_DIR/elsewhere/ca(1).crt" -a -s "$T_DIR/elsewhere/ca(2).crt" \
    -a "$(stat -c %a "$T_DIR/elsewhere/ca(2).key" 2>/dev/null)" = 600
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
conf_set server port "$PORT"
daemon_start
a3=$(issue a3)
ALL="$ALL a3"
"$CERTMINT" -c "$CONF" revoke "$a3" keyCompromise >/dev/null
"$CERTMINT" -c "$CONF" revoke "$a1" affiliationChanged >/dev/null
"$CERTMINT" -c "$CONF" crl >/dev/null
crl_get "ca.crl"
crl_get "ca(2).crl"
check_eq "restored: the old key's CRL still lists every revocation of its certificates" \
    "$(echo "$a0 $a1 $b0 $b1" | tr ' ' '\n' | sort | tr '\n' ' ')" \
    "$(crl_info "$T_DIR/ca.crl.der" | cut -d' ' -f3- | tr ' ' '\n' | sort |
    tr '\n' ' ')"
check_eq "restored: the new key's CRL lists b2 and a3" \
    "$(echo "$b2 $a3" | tr ' ' '\n' | sort | tr '\n' ' ')" \
    "$(crl_info "$T_DIR/ca(2).crl.der" | cut -d' ' -f3- | tr ' ' '\n' |
    sort | tr '\n' ' ')"
check_eq "restored: every certificate ever issued verifies, the revoked ones revoked" \
    "a0:revoked b0:revoked a1:revoked b1:revoked a2:ok b2:revoked a3:revoked " \
    "$(verify_all "$T_DIR/bundle.pem" "$T_DIR/ca.crl.der" "$T_DIR/ca(2).crl.der")"
daemon_stop
finish
