#!/bin/sh
# REST authentication (issue 14 §1): an anonymous submission is refused
# by default (401), and so is one with bad credentials: neither recorded
# nor an event (anyone could fill the database and make every exit module
# fire), but logged with the address, repeats counted, and counted by
# certmint status; a refusal of an authenticated requester (403) is
# recorded with its event. API tokens (certmint token
# create|list|revoke, kept as SHA-256 only) authenticate and name the
# requester; a token's scope (profiles, name patterns for every CN and
# subjectAltName) is enforced; an expired or revoked token is refused; a
# TLS client certificate of this CA authenticates (curl --cert), one
# revoked, not for clientAuth or from another CA does not; a request is
# readable by its requester only; [rest] anonymous = pending and issue.
. "$LIB"

ca_init_secure
CA=$T_DIR/ca/ca.crt
daemon_start

# post CSR-NAME [CURL ARGS]: POST $T_DIR/NAME.csr over HTTPS (query $Q);
# prints the status, the body is in resp.json, headers in headers.txt.
post() {
	_f=$T_DIR/$1.csr
	shift
	curl -s -m 60 --cacert "$CA" -o "$T_DIR/resp.json" -D "$T_DIR/headers.txt" \
	    -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$_f" "$@" "$SURL/api/v1/requests${Q:+?$Q}"
}
get() {
	_u=$1
	shift
	curl -s -m 60 --cacert "$CA" -o "$T_DIR/resp.json" -w '%{http_code}' \
	    "$@" "$SURL$_u"
}
resp() {
	json "$T_DIR/resp.json" "$1"
}
# row ID: disposition|status_code|requester of request ID.
row() {
	db_query "SELECT disposition, status_code, requester_name FROM requests \
	    WHERE id = $1"
}
# rows: the numbers of request rows and of events, "requests|events".
rows() {
	db_query "SELECT (SELECT count(*) FROM requests) || '|' ||
	    (SELECT count(*) FROM events)"
}
# refused_401: certmint status's count of unauthenticated submissions.
refused_401() {
	"$CERTMINT" -c "$CONF" --json status | python3 -c \
	    'import json, sys; print(json.load(sys.stdin)["unauthenticated"])'
}
# logged_401 WHY: lines of the log refusing a submission for WHY.
logged_401() {
	count_lines "$T_LOG" "info: http: a submission from 127\.0\.0\.1 refused \(401, not recorded\): $1"
}
# keep_cert FILE: the certificate of resp.json into FILE.
keep_cert() {
	json "$T_DIR/resp.json" "j['certificate']" >"$1"
}
ACCESSDENIED=-2147024891	# E_ACCESSDENIED, failed (30)

new_csr www.example.com -addext subjectAltName=DNS:www.example.com
before=$(rows)
check_eq "an anonymous submission is refused: 401" 401 "$(post www.example.com)"
check_match "with a clear message" "authentication required.*token" \
    "$(resp "j['error']")"
check "and WWW-Authenticate: Bearer realm=\"certmint\"" grep -qi \
    '^WWW-Authenticate: Bearer realm="certmint"' "$T_DIR/headers.txt"
check_eq "nothing is recorded: no request row, no event" "$before" "$(rows)"
check_eq "so the answer names no request" None "$(resp "j.get('request_id')")"
check "certmintd logs it at info, with the address and why" \
    wait_lines "$T_LOG" "info: http: a submission from 127\.0\.0\.1 refused \(401, not recorded\): no credentials$" 1
check_eq "certmint status counts it" 1 "$(refused_401)"
check_match "and says so" "refused: +1 unauthenticated submissions \\(401\\), 0 unproven renewals since start" \
    "$("$CERTMINT" -c "$CONF" status)"
# A flood: every one refused and counted, the log line repeated at most
# LOG_BURST (5) times a 10 s window (two windows allowed for a slow run).
lines=$(logged_401 "no credentials")
_urls=
for _i in $(seq 30); do
	_urls="$_urls $SURL/api/v1/requests"
done
# shellcheck disable=SC2086
curl -s -m 60 --cacert "$CA" -Z \
    -H 'Content-Type: application/pkcs10' \
    --data-binary "@$T_DIR/www.example.com.csr" $_urls >/dev/null 2>&1
check_eq "30 more anonymous submissions: counted, none recorded" \
    "31 $before" "$(refused_401) $(rows)"
check "their log lines are rate-limited" \
    test "$(($(logged_401 "no credentials") - lines))" -le 10
# The same from 30 addresses (127.0.0.2-31, loopback all): the lines
# differ by address, and are still counted as one kind.
lines=$(count_lines "$T_LOG" "info: http: a submission from 127\.0\.0\.[0-9]+ refused")
for _i in $(seq 2 31); do
	curl -s -m 10 --cacert "$CA" --interface "127.0.0.$_i" -o /dev/null \
	    -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$T_DIR/www.example.com.csr" "$SURL/api/v1/requests"
done
check_eq "30 more from 30 addresses: counted, none recorded" \
    "61 $before" "$(refused_401) $(rows)"
check "their log lines are rate-limited as one kind" test "$(($(count_lines \
    "$T_LOG" "info: http: a submission from 127\.0\.0\.[0-9]+ refused") - \
    lines))" -le 10

# Tokens.
TOK=$("$CERTMINT" -c "$CONF" token create --name web --profiles WebServer \
    --names '*.example.com, host.example.org' 2>"$T_DIR/create.err")
check_match "token create prints the token" '^cmt_[0-9a-f]{64}$' "$TOK"
check_match "and says it is shown once" "shown only now" \
    "$(cat "$T_DIR/create.err")"
check_eq "the database keeps its SHA-256, not the token" \
    "$(python3 -c 'import hashlib, sys
print(hashlib.sha256(bytes.fromhex(sys.argv[1][4:])).hexdigest())' "$TOK")" \
    "$(db_query "SELECT lower(hex(hash)) FROM api_tokens WHERE name = 'web'")"
check_eq "nor anything of its secret" 0 \
    "$(sqlite3 "$T_DIR/ca/certmint.db" .dump | grep -c "${TOK#cmt_}")"
check_refused "a second token of that name is refused, saying so" 30 \
    '^certmint: a token named "web" exists .*choose another --name$' \
    "$CERTMINT" -c "$CONF" token create --name web
check_eq "without SQLite's words" 0 "$(grep -ci constraint "$T_DIR/check.out")"
check_fails "a token for an unknown profile is refused" "$CERTMINT" -c \
    "$CONF" token create --name x --profiles NoSuch
check_match "token list shows it, active, with its scope" \
    "web +active.*profiles: WebServer.*names: \*\.example\.com, host\.example\.org" \
    "$("$CERTMINT" -c "$CONF" token list | tr '\n' ' ')"

AUTH="Authorization: Bearer $TOK"
check_eq "with the token: 201" 201 "$(post www.example.com -H "$AUTH")"
WWW_ID=$(resp "j['request_id']")
check_eq "RequesterName is the token's name" "20|0|web" "$(row "$WWW_ID")"
keep_cert "$T_DIR/www.crt"
check "the certificate verifies" openssl verify -CAfile "$CA" "$T_DIR/www.crt"
new_csr host.example.org -addext subjectAltName=DNS:host.example.org
check_eq "an exact pattern: 201" 201 "$(post host.example.org -H "$AUTH")"
new_csr deep.a.example.com
check_eq "*.example.com covers names deeper under it" 201 \
    "$(post deep.a.example.com -H "$AUTH")"

# Scope.
new_csr evil.test
before=$(rows)
check_eq "a CN outside the patterns: 403" 403 "$(post evil.test -H "$AUTH")"
check_match "says which name" 'may not request the name \\"evil.test\\"' \
    "$(cat "$T_DIR/resp.json")"
check_eq "recorded as refused, by web" "30|$ACCESSDENIED|web" \
    "$(row "$(resp "j['request_id']")")"
check_eq "with its event: the requester is known" \
    "$((${before%|*} + 1))|$((${before#*|} + 1))" "$(rows)"
new_csr ok.example.com -addext subjectAltName=DNS:ok.example.com,DNS:example.com.evil.test
check_eq "a subjectAltName outside the patterns: 403" 403 \
    "$(post ok.example.com -H "$AUTH")"
check_match "says which" "example.com.evil.test" "$(resp "j['error']")"
new_csr uri.example.com -addext \
    "subjectAltName=DNS:uri.example.com,URI:https://evil.test/a.example.com"
check_eq "a URI that merely ends like a pattern: 403 (patterns are DNS names)" \
    403 "$(post uri.example.com -H "$AUTH")"
new_csr mail.example.com -addext \
    "subjectAltName=DNS:mail.example.com,email:boss@x.example.com"
check_eq "an e-mail address under the pattern's domain: 403 (exact only)" \
    403 "$(post mail.example.com -H "$AUTH")"
new_csr example.com
check_eq "*.example.com does not cover example.com" 403 \
    "$(post example.com -H "$AUTH")"
# The subject's e-mail address is a name of the scope too: modules take it
# for the requester's (mail's RequesterEmail, an LDAP search by mail).
new_csr laptop7 -subj /CN=laptop7.example.com/emailAddress=ceo@example.com \
    -addext subjectAltName=DNS:laptop7.example.com
check_eq "a subject e-mail address outside the patterns: 403" 403 \
    "$(post laptop7 -H "$AUTH")"
check_match "says which" 'may not request the name \\"ceo@example.com\\"' \
    "$(cat "$T_DIR/resp.json")"
new_csr commas -subj '/CN=x,cn=ceo,ou=admins.example.com'
check_eq "a CN that only ends like a pattern, not DNS labels: 403" 403 \
    "$(post commas -H "$AUTH")"
new_csr star -subj '/CN=*.a.example.com' -addext subjectAltName=DNS:*.a.example.com
check_eq "a wildcard under the pattern is still covered" 201 \
    "$(post star -H "$AUTH")"
MTOK=$("$CERTMINT" -c "$CONF" token create --name mailer \
    --names '*.example.com,alice@example.com' 2>/dev/null)
new_csr alice -subj /CN=alice.example.com/emailAddress=alice@example.com \
    -addext subjectAltName=DNS:alice.example.com
check_eq "a subject e-mail address the token names: 201" 201 \
    "$(post alice -H "Authorization: Bearer $MTOK")"
ALICE_ID=$(resp "j['request_id']")
check_eq "a profile the token may not request: 403" 403 \
    "$(Q=attrib=CertificateTemplate:ClientAuth post www.example.com -H "$AUTH")"
check_match "says which" 'may not request profile \\"ClientAuth\\"' \
    "$(cat "$T_DIR/resp.json")"

# Bad tokens: refused like no token at all, nothing recorded.
before=$(rows)
check_eq "an unknown token: 401" 401 "$(post www.example.com -H \
    "Authorization: Bearer cmt_$(printf '%064d' 0)")"
check_match "says so" "unknown API token" "$(resp "j['error']")"
check "with WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' \
    "$T_DIR/headers.txt"
check "logged: unknown API token" wait_lines "$T_LOG" \
    "refused \(401, not recorded\): unknown API token$" 1
check_eq "not a token: 401" 401 "$(post www.example.com -H \
    "Authorization: Bearer nonsense")"
check_eq "Basic: 401" 401 "$(post www.example.com -H \
    "Authorization: Basic d2ViOndlYg==")"
check_eq "no bad token left a request row or an event" "$before" "$(rows)"
OLD=$("$CERTMINT" -c "$CONF" token create --name old --expires 1 2>/dev/null)
check_eq "a token before it expires: 201" 201 "$(post www.example.com -H \
    "Authorization: Bearer $OLD")"
db_query "UPDATE api_tokens SET expires = 1000 WHERE name = 'old'"
before=$(rows)
check_eq "an expired token: 401" 401 "$(post www.example.com -H \
    "Authorization: Bearer $OLD")"
check_match "says so" 'API token "old" has expired' "$(resp "j['error']")"
check_eq "nor did the expired token" "$before" "$(rows)"
check "logged: the token's name, expired" wait_lines "$T_LOG" \
    'refused \(401, not recorded\): API token "old" has expired$' 1
check_eq "the log never holds a token" 0 "$(grep -c cmt_ "$T_LOG")"
check_match "token list shows it expired" "old +expired" \
    "$("$CERTMINT" -c "$CONF" token list)"

# Reading requests: the requester's own only.
check_eq "the token reads its own request" 200 \
    "$(get "/api/v1/requests/$WWW_ID" -H "$AUTH")"
check_eq "and its certificate" 200 \
    "$(get "/api/v1/requests/$WWW_ID/certificate" -H "$AUTH")"
check_eq "not another's (404)" 404 "$(get "/api/v1/requests/$ALICE_ID" -H "$AUTH")"
check_eq "nor anything without authentication (401)" 401 \
    "$(get "/api/v1/requests/$WWW_ID")"
check_eq "CA information stays public" 200 "$(get /api/v1/ca)"

# Client certificates: a ClientAuth certificate got with a token.
CTOK=$("$CERTMINT" -c "$CONF" token create --name clients --profiles ClientAuth \
    --names client1.example.com 2>/dev/null)
new_csr client1.example.com
check_eq "a client certificate, with a token" 201 "$(Q=attrib=CertificateTemplate:ClientAuth \
    post client1.example.com -H "Authorization: Bearer $CTOK")"
keep_cert "$T_DIR/c1.crt"
C1="--cert $T_DIR/c1.crt --key $T_DIR/client1.example.com.key"
new_csr client1b -subj /CN=client1.example.com
# shellcheck disable=SC2086
check_eq "the client certificate authenticates (curl --cert): 201" 201 \
    "$(post client1b $C1)"
check_eq "RequesterName is its subject" "20|0|CN=client1.example.com" \
    "$(row "$(resp "j['request_id']")")"
# shellcheck disable=SC2086
check_eq "for its own names only by default: 403" 403 "$(post www.example.com $C1)"
# shellcheck disable=SC2086
check_eq "and the default profile only: 403" 403 \
    "$(Q=attrib=CertificateTemplate:ClientAuth post client1b $C1)"
conf_set rest client_profiles "WebServer, ClientAuth"
conf_set rest client_names "*.example.com"
"$CERTMINT" -c "$CONF" reload >/dev/null
# shellcheck disable=SC2086
check_eq "[rest] client_names and client_profiles widen it" 201 \
    "$(Q=attrib=CertificateTemplate:ClientAuth post www.example.com $C1)"
before=$(rows)
check_eq "a server certificate (no clientAuth) does not authenticate: 401" 401 \
    "$(post client1b --cert "$T_DIR/www.crt" --key "$T_DIR/www.example.com.key")"
check_match "says why" "not for client authentication" "$(resp "j['error']")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T_DIR/self.key" -out "$T_DIR/self.crt" -subj /CN=client1.example.com \
    -addext extendedKeyUsage=clientAuth 2>/dev/null
check_eq "a certificate of another CA: 401" 401 \
    "$(post client1b --cert "$T_DIR/self.crt" --key "$T_DIR/self.key")"
check_match "says why" "not issued by this CA" "$(resp "j['error']")"
check_eq "no bad client certificate left a request row or an event" \
    "$before" "$(rows)"
check "revoke the client certificate" "$CERTMINT" -c "$CONF" revoke \
    "$(openssl x509 -in "$T_DIR/c1.crt" -noout -serial | cut -d= -f2)"
before=$(rows)
# shellcheck disable=SC2086
check_eq "a revoked client certificate: 401" 401 "$(post client1b $C1)"
check_match "says why" "revoked" "$(resp "j['error']")"
check_eq "nor did the revoked one" "$before" "$(rows)"
check "logged: not issued by this CA" wait_lines "$T_LOG" \
    "refused \(401, not recorded\): the TLS client certificate was not issued by this CA$" 1

check "token revoke" "$CERTMINT" -c "$CONF" token revoke web
before=$(rows)
check_eq "a revoked token: 401 at once" 401 "$(post www.example.com -H "$AUTH")"
check_match "says so" 'API token "web" is revoked' "$(resp "j['error']")"
# A renewal needs no token, but one sent must be good.
check_eq "a renewal with a revoked token: 401" 401 "$(curl -s -m 60 \
    --cacert "$CA" -o "$T_DIR/resp.json" -w '%{http_code}' -H "$AUTH" \
    -H 'Content-Type: application/pkcs10' \
    --data-binary "@$T_DIR/www.example.com.csr" \
    "$SURL/api/v1/certificates/$(openssl x509 -in "$T_DIR/www.crt" -noout \
    -serial | cut -d= -f2)/renew")"
check_eq "neither recorded" "$before" "$(rows)"
check_match "token list shows it revoked" "web +revoked" \
    "$("$CERTMINT" -c "$CONF" token list)"
check_fails "revoking it again fails" "$CERTMINT" -c "$CONF" token revoke web
check_eq "token list --json" "['clients', 'mailer', 'old', 'web']" \
    "$("$CERTMINT" -c "$CONF" --json token list | python3 -c \
    'import json, sys; print([t["name"] for t in json.load(sys.stdin)])')"

# [rest] anonymous = pending: taken, always pending (the policy issues).
conf_set rest anonymous pending
"$CERTMINT" -c "$CONF" reload >/dev/null
check_eq "anonymous = pending: 202" 202 "$(post www.example.com)"
PEND_ID=$(resp "j['request_id']")
check_eq "pending, from the client's address" "9|0|127.0.0.1" "$(row "$PEND_ID")"
check_eq "its requester reads it by id (202: pending)" 202 \
    "$(get "/api/v1/requests/$PEND_ID")"
check "an officer approves it" "$CERTMINT" -c "$CONF" resubmit "$PEND_ID"
check_eq "a token's submission is not held" 201 \
    "$(Q=attrib=CertificateTemplate:ClientAuth post client1b -H "Authorization: Bearer $CTOK")"
conf_set rest anonymous issue
"$CERTMINT" -c "$CONF" reload >/dev/null
check_eq "anonymous = issue: 201" 201 "$(post www.example.com)"
check "and certmintd says so loudly" \
    wait_lines "$T_LOG" "WARNING: \[rest\] anonymous = issue" 1
check_refused "[rest] anonymous = maybe is refused" 30 \
    "anonymous = \"maybe\": expected no, pending or issue" \
    sh -c "sed -i 's/^anonymous = issue/anonymous = maybe/' '$CONF' && \
    '$CERTMINT' -c '$CONF' reload"
finish
