#!/bin/sh
# Renewal over REST (issue 11 §3): POST /api/v1/certificates/SERIAL/renew
# with a PKCS#10 request, authenticated by the old certificate's key and
# nothing else: a request for the same key proves it by its own
# signature; one for a new key needs Certmint-Renewal-Signature, the old
# key's signature over the request's DER. A refusal before the key is
# proven (403 without or with a wrong signature, 404 unknown serial, 409
# revoked or expired, 400 malformed, 413) is neither recorded nor an
# event (anyone could fill the database and make every exit module
# fire), but logged with the address and counted by certmint status,
# unless the sender authenticated with a token; one after (names the old
# certificate did not have) is recorded like a refused submission. Also
# the indexed publication URLs (/ca(N).crt, ...), routed but not served
# yet.
. "$LIB"

ca_init
SNAP=$T_DIR/snap.log
register_modules snapshot
conf_set Snapshot.Exit output "$SNAP"
daemon_start

# renew_http SERIAL CSRFILE [SIGFILE|-] [CURL ARGS...]: POST CSRFILE ("-":
# stdin) to the renewal URL (with the query $Q, as $CT), SIGFILE (binary)
# in base64 in the signature header; prints the HTTP status (the body is
# in $T_DIR/resp.json).
renew_http() {
	_s=$1 _f=$2 _sig=${3:--}
	shift 2
	[ $# -gt 0 ] && shift
	if [ "$_sig" != - ]; then
		set -- "$@" -H "Certmint-Renewal-Signature: $(base64 -w0 "$_sig")"
	fi
	curl -g -s -m 60 -o "$T_DIR/resp.json" -w '%{http_code}\n' \
	    -H "Content-Type: ${CT:-application/pkcs10}" \
	    --data-binary "@$_f" "$@" \
	    "$URL/api/v1/certificates/$_s/renew${Q:+?$Q}"
}
# serial_of CERT: its serial as certmint stores it (lowercase hex).
serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f
}
resp() {
	json "$T_DIR/resp.json" "$1"
}
# newkey NAME ALG: a private key NAME.key (ec: P-256, rsa: 2048 bits,
# ed25519).
newkey() {
	case $2 in
	ec)	set -- "$1" -algorithm EC -pkeyopt ec_paramgen_curve:P-256 ;;
	rsa)	set -- "$1" -algorithm RSA -pkeyopt rsa_keygen_bits:2048 ;;
	*)	set -- "$1" -algorithm "$2" ;;
	esac
	_n=$1
	shift
	openssl genpkey "$@" -out "$T_DIR/$_n.key" 2>/dev/null
}
# issue NAME ALG [NAME:VALUE...]: a key NAME.key and its certificate
# NAME.crt, issued over REST with those attributes.
issue() {
	_n=$1 _a=$2
	shift 2
	newkey "$_n" "$_a"
	openssl req -new -key "$T_DIR/$_n.key" -out "$T_DIR/$_n.csr" \
	    -subj "/CN=$_n" 2>/dev/null
	check_eq "issue $_n ($_a)" 201 "$(submit_http "$T_DIR/$_n.csr" \
	    CertificateTemplate:ClientAuth CertFile:yes "$@" | head -1)"
	resp 'j["certificate"]' >"$T_DIR/$_n.crt"
}
# rekey NAME NEW ALG: a new key NEW.key and a request for it NEW.der (DER,
# subject CN=NAME), signed by NAME.key in NEW.sig as openssl does.
rekey() {
	newkey "$2" "$3"
	openssl req -new -key "$T_DIR/$2.key" -outform DER \
	    -out "$T_DIR/$2.der" -subj "/CN=$1" 2>/dev/null
	sign "$1" "$2.der" "$2.sig"
}
# sign KEYNAME FILE OUT: OUT is KEYNAME.key's signature over FILE, made
# as docs/rest-api.md says (dgst -sha256; pkeyutl -rawin for EdDSA).
sign() {
	if openssl pkey -in "$T_DIR/$1.key" -noout -text 2>/dev/null |
	    grep -q ED25519; then
		openssl pkeyutl -sign -rawin -inkey "$T_DIR/$1.key" \
		    -in "$T_DIR/$2" -out "$T_DIR/$3"
	else
		openssl dgst -sha256 -sign "$T_DIR/$1.key" -out "$T_DIR/$3" \
		    "$T_DIR/$2"
	fi
}
# renewed NAME: the certificate of the last answer into NAME.crt, and
# whether it verifies under the CA.
renewed() {
	resp 'j["certificate"]' >"$T_DIR/$1.crt" &&
	    openssl verify -CAfile "$T_DIR/ca/ca.crt" "$T_DIR/$1.crt"
}
same_key() {
	[ "$(openssl x509 -in "$T_DIR/$1.crt" -noout -pubkey)" = \
	    "$(openssl pkey -in "$T_DIR/$2.key" -pubout)" ]
}
# recorded: the last answer's request row, "disposition|RenewalOf|status"
# (status in hex), "" when none was recorded.
recorded() {
	_id=$(resp 'j.get("request_id", 0)')
	db_query "SELECT r.disposition, coalesce(a.value, '-'),
	    printf('%x', r.status_code & 4294967295) FROM requests r
	    LEFT JOIN request_attrs a ON a.request_id = r.id AND
	    a.name = 'RenewalOf' WHERE r.id = $_id"
}
# rows: the numbers of request rows and of events, "requests|events".
rows() {
	db_query "SELECT (SELECT count(*) FROM requests) || '|' ||
	    (SELECT count(*) FROM events)"
}
# one_more BEFORE: BEFORE ("requests|events") with one more of each.
one_more() {
	echo "$((${1%|*} + 1))|$((${1#*|} + 1))"
}
# unproven: certmint status's count of renewals refused unproven.
unproven() {
	"$CERTMINT" -c "$CONF" --json status | python3 -c \
	    'import json, sys; print(json.load(sys.stdin)["unproven_renewals"])'
}
# refused_unproven WHAT STATUS ARGS...: renew_http ARGS is answered
# STATUS, the answer names no request, no row nor event was added, and
# certmint status counted one more.
refused_unproven() {
	_what=$1 _want=$2
	shift 2
	_before=$(rows) _count=$(unproven)
	check_eq "$_what: $_want" "$_want" "$(renew_http "$@")"
	check_eq "not recorded: no request row, no event, no request_id" \
	    "$_before None" "$(rows) $(resp 'j.get("request_id")')"
	check_eq "counted" "$((_count + 1))" "$(unproven)"
}

# Same key: the request's own signature is the proof (PEM, serial with
# colons in upper case, as OpenSSL prints it).
issue alice ec
old=$(serial_of "$T_DIR/alice.crt")
colons=$(echo "$old" | tr a-f A-F | sed 's/../&:/g; s/:$//')
openssl req -new -key "$T_DIR/alice.key" -subj "/CN=alice" \
    -out "$T_DIR/alice-same.csr" 2>/dev/null
check_eq "same key: 201" 201 "$(renew_http "$colons" "$T_DIR/alice-same.csr")"
check "with a certificate that openssl verify accepts" renewed alice2
check "for the same key" same_key alice2 alice
check "a new serial" test "$(serial_of "$T_DIR/alice2.crt")" != "$old"
check_match "and the chain" "BEGIN CERTIFICATE" "$(resp 'j["chain"]')"
nid=$(resp 'j["request_id"]')
check_eq "the request names the old certificate" "$old" \
    "$(db_query "SELECT value FROM request_attrs WHERE request_id = $nid
    AND name = 'RenewalOf'")"
check_eq "and keeps its attributes" "yes|ClientAuth" \
    "$(db_query "SELECT (SELECT value FROM request_attrs WHERE request_id =
    $nid AND name = 'CertFile'), profile FROM requests WHERE id = $nid")"
seen() { grep -q "event=0x1 ctx=$nid .*oldcert=[0-9]" "$SNAP"; }
check "CERTISSUED reads RawOldCertificate" wait_until 60 seen
len=$(openssl x509 -in "$T_DIR/alice.crt" -outform DER | wc -c)
check_match "which is the old certificate ($len octets)" \
    "ctx=$nid .*oldcert=$len:" "$(cat "$SNAP")"

# A new key, vouched for by the old one: EC, RSA, Ed25519.
rekey alice alice3 ec
check_eq "new EC key with the old key's signature: 201" 201 \
    "$(renew_http "$old" "$T_DIR/alice3.der" "$T_DIR/alice3.sig")"
check "which verifies" renewed alice3
check "and is for the new key" same_key alice3 alice3
check_eq "and names the old certificate" "20|$old|0" "$(recorded)"
issue bob rsa
bold=$(serial_of "$T_DIR/bob.crt")
rekey bob bob2 rsa
check_eq "RSA key rolled over: 201" 201 \
    "$(renew_http "$bold" "$T_DIR/bob2.der" "$T_DIR/bob2.sig")"
check "which verifies" renewed bob2
check "for the new key" same_key bob2 bob2
issue carol ed25519
cold=$(serial_of "$T_DIR/carol.crt")
rekey carol carol2 ec
check_eq "Ed25519 key rolled over (to EC): 201" 201 \
    "$(renew_http "$cold" "$T_DIR/carol2.der" "$T_DIR/carol2.sig")"
check "which verifies" renewed carol2
check "for the new key" same_key carol2 carol2
check_eq "JSON body ({\"csr\": PEM}) for the same key: 201" 201 \
    "$(python3 -c 'import json, sys
print(json.dumps({"csr": open(sys.argv[1]).read()}))' "$T_DIR/alice-same.csr" |
    CT=application/json renew_http "$old" -)"

# Refusals before the key is proven: answered, but neither recorded nor
# an event; logged and counted.
rekey alice alice4 ec
refused_unproven "new key without a signature" 403 "$old" "$T_DIR/alice4.der"
check_match "saying what is missing" "must be signed by the old one" \
    "$(resp 'j["error"]')"
check "certmintd logs it at info, with the address and why" \
    wait_lines "$T_LOG" "info: http: a renewal from 127\.0\.0\.1 refused \(403, not recorded\): no signature by the old key over the request$" 1
newkey mallory ec
sign mallory alice4.der mallory.sig
refused_unproven "signed by another key" 403 "$old" "$T_DIR/alice4.der" \
    "$T_DIR/mallory.sig"
check_match "saying so" "renewal signature is not one by the key" \
    "$(resp 'j["error"]')"
refused_unproven "the old key's signature over other bytes" 403 "$old" \
    "$T_DIR/alice4.der" "$T_DIR/alice3.sig"
refused_unproven "a signature for the same key is checked too" 403 "$old" \
    "$T_DIR/alice-same.csr" "$T_DIR/alice3.sig"
refused_unproven "a signature that is not base64" 400 "$old" \
    "$T_DIR/alice4.der" - -H 'Certmint-Renewal-Signature: not*base64'
check_match "saying so" "is not a signature in base64" "$(resp 'j["error"]')"
head -c 300 /dev/urandom >"$T_DIR/junk"
refused_unproven "a body that is no request" 400 "$old" "$T_DIR/junk"
: >"$T_DIR/empty"
refused_unproven "an empty body (no renewal from the old request by key)" \
    400 "$old" "$T_DIR/empty"
Q=attrib=CertificateTemplate:SubCA refused_unproven \
    "request attributes (the old request's are kept)" 400 "$old" \
    "$T_DIR/alice-same.csr"
head -c 70000 /dev/zero >"$T_DIR/big"
refused_unproven "a body over max_body" 413 "$old" "$T_DIR/big"
refused_unproven "an unknown serial" 404 0123abcd "$T_DIR/alice-same.csr"
NOSUCH="info: http: a renewal from 127\.0\.0\.1 refused \(404, not recorded\): no certificate with that serial$"
check "logged: no such certificate" wait_lines "$T_LOG" "$NOSUCH" 1
check_match "certmint status says so" \
    "refused: +0 unauthenticated submissions \(401\), 10 unproven renewals since start" \
    "$("$CERTMINT" -c "$CONF" status)"
# A flood of serials: each refused and counted, none recorded, and the
# log line, the same whatever the serial, repeated at most LOG_BURST (5)
# times a 10 s window (two windows allowed for a slow run).
before=$(rows) lines=$(count_lines "$T_LOG" "$NOSUCH")
_urls=
for _i in $(seq 30); do
	_urls="$_urls $URL/api/v1/certificates/$(printf '%08x' "$_i")/renew"
done
# shellcheck disable=SC2086
curl -s -m 60 -Z -H 'Content-Type: application/pkcs10' \
    --data-binary "@$T_DIR/alice-same.csr" $_urls >/dev/null 2>&1
check_eq "30 renewals of unknown serials: counted, none recorded" \
    "40 $before" "$(unproven) $(rows)"
check "their log lines are rate-limited" \
    test "$(($(count_lines "$T_LOG" "$NOSUCH") - lines))" -le 10
# A sender with an API token is known: its refusals are recorded.
TOK=$("$CERTMINT" -c "$CONF" token create --name renewer 2>/dev/null)
before=$(rows)
check_eq "an unknown serial, with a token: 404" 404 \
    "$(renew_http 0123abcd "$T_DIR/alice-same.csr" - \
    -H "Authorization: Bearer $TOK")"
check_eq "recorded, naming the serial" "30|0123abcd|80092004" "$(recorded)"
check_eq "with its event" "$(one_more "$before")" "$(rows)"
check_eq "by the token's name" renewer "$(db_query "SELECT requester_name
    FROM requests WHERE id = $(resp 'j["request_id"]')")"
check_eq "a body that is no request, with a token: 400, recorded" \
    "400 30|$old|80093100" "$(renew_http "$old" "$T_DIR/junk" - \
    -H "Authorization: Bearer $TOK") $(recorded)"
check_eq "a serial that is no hex: 404, not 405" 404 \
    "$(renew_http zz "$T_DIR/alice-same.csr")"
check_eq "GET of a renewal URL: 405" 405 "$(curl -sS -m 60 -o /dev/null \
    -w '%{http_code}\n' "$URL/api/v1/certificates/$old/renew")"
# The key proves who holds it, not who owns a name: a renewal by key
# names only what the old certificate did.
newkey erin ec
openssl req -new -key "$T_DIR/erin.key" -out "$T_DIR/erin.csr" \
    -subj /CN=a.example.com \
    -addext subjectAltName=DNS:a.example.com,DNS:b.example.com 2>/dev/null
check_eq "issue erin (two names)" 201 "$(submit_http "$T_DIR/erin.csr" |
    head -1)"
resp 'j["certificate"]' >"$T_DIR/erin.crt"
eold=$(serial_of "$T_DIR/erin.crt")
# erin_csr OUT KEY SUBJECT SANS: a request OUT.der for KEY.key.
erin_csr() {
	openssl req -new -key "$T_DIR/$2.key" -outform DER -out "$T_DIR/$1.der" \
	    -subj "$3" -addext "subjectAltName=$4" 2>/dev/null
}
erin_csr e1 erin /CN=a.example.com DNS:B.EXAMPLE.COM
check_eq "same key, one of its names (in capitals): 201" 201 \
    "$(renew_http "$eold" "$T_DIR/e1.der")"
erin_csr e2 erin /CN=a.example.com DNS:a.example.com,DNS:evil.example.org
# Refusals once the key is proven: recorded, with their event.
before=$(rows)
check_eq "same key, a name it did not have: 403" 403 \
    "$(renew_http "$eold" "$T_DIR/e2.der")"
check_match "saying which" "evil.example.org is not one of its" \
    "$(resp 'j["error"]')"
check_eq "recorded as refused by policy" "30|$eold|80070005" "$(recorded)"
check_eq "with its CERTDENIED event" \
    "$(one_more "$before")|4|$(resp 'j["request_id"]')" \
    "$(rows)|$(db_query "SELECT event, context FROM events
    ORDER BY seq DESC LIMIT 1")"
erin_csr e3 erin /CN=evil.example.org DNS:a.example.com
check_eq "same key, another subject: 403" 403 \
    "$(renew_http "$eold" "$T_DIR/e3.der")"
check_match "saying so" "keeps its subject \\(CN=a.example.com\\)" \
    "$(resp 'j["error"]')"
newkey erin2 ec
erin_csr e4 erin2 /CN=a.example.com DNS:a.example.com,DNS:evil.example.org
sign erin e4.der e4.sig
before=$(rows)
check_eq "a new key vouched for by the old one, a new name: 403" 403 \
    "$(renew_http "$eold" "$T_DIR/e4.der" "$T_DIR/e4.sig")"
check_eq "recorded as refused by policy" "30|$eold|80070005" "$(recorded)"
check_eq "with its event" "$(one_more "$before")" "$(rows)"
# The proof is checked before the names: without it, nothing is recorded.
sign mallory e4.der e4m.sig
refused_unproven "a new key and a new name, signed by another key" 403 \
    "$eold" "$T_DIR/e4.der" "$T_DIR/e4m.sig"
check_match "refused for the signature" "renewal signature is not one by" \
    "$(resp 'j["error"]')"
check_eq "no certificate names it" 0 "$(db_query "SELECT count(*) FROM certs
    WHERE instr(raw, CAST('evil.example.org' AS BLOB)) > 0")"
check "revoke the old certificate" "$CERTMINT" -c "$CONF" revoke "$old" \
    superseded
refused_unproven "a revoked certificate" 409 "$old" "$T_DIR/alice-same.csr"
check_match "saying so" "is revoked: only an issued certificate" \
    "$(resp 'j["error"]')"
issue dave ec ValidityPeriod:Seconds ValidityPeriodUnits:1
dold=$(serial_of "$T_DIR/dave.crt")
openssl req -new -key "$T_DIR/dave.key" -subj "/CN=dave" \
    -out "$T_DIR/dave-same.csr" 2>/dev/null
past() {
	[ "$(date +%s)" -gt "$(date -d "$(openssl x509 -in "$T_DIR/dave.crt" \
	    -noout -enddate | cut -d= -f2)" +%s)" ]
}
check "a certificate valid for a second expires" wait_until 30 past
refused_unproven "an expired certificate" 409 "$dold" "$T_DIR/dave-same.csr"
check_match "saying so" "expired on" "$(resp 'j["error"]')"
check "but an officer still renews it" "$CERTMINT" -c "$CONF" renew "$dold"
openssl req -new -key "$T_DIR/mallory.key" -subj "/CN=bob" \
    -out "$T_DIR/mallory.csr" 2>/dev/null
check_refused "and still not for a new key" 30 \
    "not for the key of certificate" \
    "$CERTMINT" -c "$CONF" renew "$bold" --csr "$T_DIR/mallory.csr"

# The publication URLs of a renewed CA: routed, not served yet.
check_eq "GET /ca.crt still serves the CA certificate" 200 "$(curl -sS -m 60 \
    -o /dev/null -w '%{http_code}\n' "$URL/ca.crt")"
# A CA never renewed has no certificate 1 and no key 1 (years.sh serves them).
for u in '/ca(1).crt' '/ca(12).crl' '/delta(9999).crl' '/ca%281%29.crt'; do
	check_eq "GET $u: 404" 404 "$(curl -g -sS -m 60 -o "$T_DIR/resp.json" \
	    -w '%{http_code}\n' "$URL$u")"
	check_match "it says which" \
	    "^(no such CA certificate|no CRL of that CA key has been published|delta CRLs are off \(\[crl\] delta\): the base CRL is complete)$" \
	    "$(resp 'j["error"]')"
done
for u in '/ca(0).crt' '/ca(01).crt' '/ca(10000).crl' '/ca(+1).crt' \
    '/ca(1).pem' '/delta(1).crt'; do
	curl -g -sS -m 60 -o "$T_DIR/resp.json" "$URL$u"
	check_eq "GET $u: no such resource" "no such resource" \
	    "$(resp 'j["error"]')"
done
finish
