#!/bin/sh
# CertMint_LDAP.Exit (docs/modules/ldap.md) against a real slapd started
# here on loopback (a temporary slapd.conf, an mdb database in the test
# directory), checked with ldapsearch: certificates to userCertificate;binary
# of the entry a DN template names (created when missing), a revocation
# removing only that certificate's value, a release putting it back, an
# import, CA certificate and base and delta CRLs on the CDP entry;
# configure's checks; a permanent failure (dead letter with its cause, then
# replay --dead), a transient one (slapd down, slapd silent: retried, the CA
# not delayed), a bind refused (suspended until resume); replay --from that
# never republishes a revoked certificate; kill -9 of certmintd during
# delivery; StartTLS and ldaps with a certificate this CA issued. Runs
# isolated (a host process as nobody), then inline.
. "$LIB"

# Meson builds a bundled module in its own directory of the build's
# modules/ (build/modules/ldap/ldap.so), which is where `exit register
# ldap` must look in a build tree.
[ -f "$CERTMINT_MODULES_PATH/ldap.so" ] ||
	CERTMINT_MODULES_PATH=$CERTMINT_MODULES_PATH/ldap
export CERTMINT_MODULES_PATH

SL=$T_DIR/slapd
LPORT=$(free_port)
LSPORT=$(free_port)
LURL=ldap://127.0.0.1:$LPORT
BASE=dc=example,dc=com
PEOPLE=ou=people,$BASE
MGR=cn=manager,$BASE
LPW=ldap-secret-$$
SLAPD_PID=
SAN=
MOD=CertMint_LDAP.Exit

# slapd_conf [TLS]: write slapd.conf (with TLS: the server certificate
# localhost.crt this CA issued).
slapd_conf() {
	{
		for s in core cosine inetorgperson; do
			echo "include /etc/ldap/schema/$s.schema"
		done
		echo "modulepath /usr/lib/ldap"
		echo "moduleload back_mdb"
		echo "pidfile $SL/slapd.pid"
		if [ -n "${1:-}" ]; then
			echo "TLSCertificateFile $T_DIR/localhost.crt"
			echo "TLSCertificateKeyFile $T_DIR/localhost.key"
		fi
		echo "database mdb"
		echo "maxsize 104857600"
		echo "suffix \"$BASE\""
		echo "rootdn \"$MGR\""
		echo "rootpw $LPW"
		echo "directory $SL/db"
	} >"$SL/slapd.conf"
}

ldap_up() {
	ldapsearch -x -H "$LURL" -D "$MGR" -w "$LPW" -b "$BASE" -s base \
	    dn >/dev/null 2>&1
}

# slapd_start [URLS]: start slapd and wait until it answers.
slapd_start() {
	slapd -f "$SL/slapd.conf" -h "${1:-$LURL/}" -d 0 >>"$SL/log" 2>&1 &
	SLAPD_PID=$!
	wait_until 30 ldap_up || echo "Bail out! slapd did not start"
}

slapd_stop() {
	[ -n "$SLAPD_PID" ] || return 0
	kill -CONT "$SLAPD_PID" 2>/dev/null
	kill -TERM "$SLAPD_PID" 2>/dev/null
	wait "$SLAPD_PID" 2>/dev/null
	SLAPD_PID=
}
trap 'slapd_stop' EXIT

mkdir -p "$SL/db"
slapd_conf
cat >"$SL/base.ldif" <<EOF
dn: $BASE
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: $PEOPLE
objectClass: organizationalUnit
ou: people

dn: ou=cdp,$BASE
objectClass: organizationalUnit
ou: cdp

dn: cn=alice,$PEOPLE
objectClass: inetOrgPerson
cn: alice
sn: Liddell
mail: alice@example.com
EOF
slapadd -f "$SL/slapd.conf" -l "$SL/base.ldif" >"$SL/slapadd.out" 2>&1 ||
	echo "Bail out! slapadd failed"
slapd_start

# certs DN ATTR: the values of ATTR (;binary) of DN, base64, one a line.
certs() {
	ldapsearch -LLL -o ldif-wrap=no -x -H "$LURL" -D "$MGR" -w "$LPW" \
	    -b "$1" -s base "${2:-userCertificate;binary}" 2>/dev/null |
	    sed -n "s/^${2:-userCertificate;binary}:: //Ip" | sort
}

# b64 FILE [crl]: a PEM certificate (or CRL) as base64 DER on one line.
b64() {
	openssl "${2:-x509}" -in "$1" -outform DER 2>/dev/null | base64 -w0
}

has_certs() {
	[ "$(certs "$1" "${3:-}" | tr '\n' ' ' | sed 's/ $//')" = "$2" ]
}

# issue CN [FILE]: submit a CSR for CN; sets ID, SERIAL, writes FILE
# (default $T_DIR/CN.crt).
issue() {
	# shellcheck disable=SC2086
	new_csr "$1" ${SAN:+-addext} ${SAN:+subjectAltName=$SAN}
	# User: a person's profile, which allows a hold.
	_p=User
	[ -z "$SAN" ] || _p=WebServer
	submit_http "$T_DIR/$1.csr" "CertificateTemplate:$_p" >"$T_DIR/submit.out"
	[ "$(head -1 "$T_DIR/submit.out")" = 201 ] || {
		not_ok "issue $1"
		sed 's/^/# /' "$T_DIR/submit.out"
	}
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]')
	SERIAL=$(json "$T_DIR/resp.json" 'j["serial"]')
	json "$T_DIR/resp.json" 'j["certificate"]' >"${2:-$T_DIR/$1.crt}"
}

list_json() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1
}

list_has() {
	list_json && grep -Eq -- "$1" "$T_DIR/list.json"
}

field_is() {
	list_json && [ "$(module_field "$T_DIR/list.json" "$MOD" "$1")" = "$2" ]
}

# configure [--refresh]: after a reload, so that the module's section
# is the file's.
configure() {
	"$CERTMINT" -c "$CONF" reload >/dev/null 2>&1
	"$CERTMINT" -c "$CONF" exit configure "$MOD" "$@" 2>&1
}

ca_init
printf '%s\n' "$LPW" >"$T_DIR/ldap.pw"
chmod 600 "$T_DIR/ldap.pw"
chown nobody "$T_DIR/ldap.pw"	# the isolated host runs as nobody
conf_set crl delta true
conf_set exit max_attempts 100
conf_set exit backoff_initial_ms 100
conf_set exit backoff_max_ms 300
check "certmint exit register ldap" "$CERTMINT" -c "$CONF" exit register ldap
conf_set exit.$MOD isolation process
conf_set $MOD url "$LURL"
conf_set $MOD bind_dn "$MGR"
conf_set $MOD password_file "$T_DIR/ldap.pw"
conf_set $MOD user_dn "cn=%{Subject.CommonName},$PEOPLE"
conf_set $MOD create_entries true
conf_set $MOD crl_dn "cn=%{SanitizedCAName}%{CRLSuffix},ou=cdp,$BASE"
conf_set $MOD connect_timeout 2s
conf_set $MOD timeout 2s
conf_set $MOD state_file "$T_DIR/ldap.state"
daemon_start
check "the module runs isolated" field_is isolation process

# 1. configure: the connection and bind, each key's problem by name.
check_match "configure binds" "connected to $LURL, bound as $MGR" \
    "$(configure)"
conf_set $MOD timeout soon
conf_set $MOD url "http://127.0.0.1:$LPORT"
chmod 644 "$T_DIR/ldap.pw"
out=$(configure)
check_match "configure names a bad duration" 'timeout = "soon": expected a duration' "$out"
check_match "configure names a bad URL" 'url = "http://[^"]*": not an ldap' "$out"
check_match "configure refuses a readable password file" "password_file: .*mode 644" "$out"
chmod 600 "$T_DIR/ldap.pw"
conf_set $MOD timeout 2s
conf_set $MOD url "$LURL"
printf 'wrong\n' >"$T_DIR/bad.pw"
chmod 600 "$T_DIR/bad.pw"
chown nobody "$T_DIR/bad.pw"
conf_set $MOD password_file "$T_DIR/bad.pw"
check_match "configure reports a refused bind" \
    "url = \"$LURL\": bind: Invalid credentials" "$(configure)"
conf_set $MOD password_file "$T_DIR/ldap.pw"

# 2. Every event: STARTUP (CA certificate and CRLs), issued, a second
# certificate of the same person, revoke (only its value goes), hold and
# release, import, base and delta CRLs.
CDP="cn=Test CA,ou=cdp,$BASE"
openssl x509 -in "$T_DIR/ca/ca.crt" -outform DER | base64 -w0 >"$T_DIR/ca.b64"
check "STARTUP publishes the CA certificate to cACertificate;binary" \
    wait_until 30 has_certs "$CDP" "$(cat "$T_DIR/ca.b64")" "cACertificate;binary"
issue alice "$T_DIR/alice1.crt"
a1=$(b64 "$T_DIR/alice1.crt")
s1=$SERIAL
check "CERTISSUED adds the certificate to the existing entry" \
    wait_until 30 has_certs "cn=alice,$PEOPLE" "$a1"
issue bob
check "a missing entry is created with it" \
    wait_until 30 has_certs "cn=bob,$PEOPLE" "$(b64 "$T_DIR/bob.crt")"
check_match "... as inetOrgPerson and pkiUser" \
    "objectClass: inetOrgPerson.*objectClass: pkiUser|objectClass: pkiUser.*objectClass: inetOrgPerson" \
    "$(ldapsearch -LLL -x -H "$LURL" -D "$MGR" -w "$LPW" -b "cn=bob,$PEOPLE" -s base objectClass | tr '\n' ' ')"
issue alice "$T_DIR/alice2.crt"
a2=$(b64 "$T_DIR/alice2.crt")
s2=$SERIAL
both=$(printf '%s\n%s\n' "$a1" "$a2" | sort | tr '\n' ' ' | sed 's/ $//')
check "a second certificate joins the first" \
    wait_until 30 has_certs "cn=alice,$PEOPLE" "$both"
check "revoke the first" "$CERTMINT" -c "$CONF" revoke "$s1" keyCompromise
check "CERTREVOKED removes only that certificate's value" \
    wait_until 30 has_certs "cn=alice,$PEOPLE" "$a2"
check "hold the second" "$CERTMINT" -c "$CONF" revoke "$s2" certificateHold
check "a hold removes it" wait_until 30 has_certs "cn=alice,$PEOPLE" ""
check "release it" "$CERTMINT" -c "$CONF" unrevoke "$s2"
check "CERTUNREVOKED puts it back" \
    wait_until 30 has_certs "cn=alice,$PEOPLE" "$a2"
new_csr imp
openssl x509 -req -in "$T_DIR/imp.csr" -CA "$T_DIR/ca/ca.crt" \
    -CAkey "$T_DIR/ca/ca.key" -set_serial 0x1234567890 -days 30 \
    -out "$T_DIR/imp.crt" 2>/dev/null
"$CERTMINT" -c "$CONF" import "$T_DIR/imp.crt" >/dev/null
check "CERTIMPORTED publishes the imported certificate" \
    wait_until 30 has_certs "cn=imp,$PEOPLE" "$(b64 "$T_DIR/imp.crt")"
"$CERTMINT" -c "$CONF" crl >/dev/null
curl -fsS -m 10 "$URL/ca.crl" -o "$T_DIR/base.crl"
base=$(base64 -w0 <"$T_DIR/base.crl")
check "CRLISSUED puts the base CRL in certificateRevocationList;binary" \
    wait_until 30 has_certs "$CDP" "$base" "certificateRevocationList;binary"
check "... and in authorityRevocationList;binary" \
    has_certs "$CDP" "$base" "authorityRevocationList;binary"
"$CERTMINT" -c "$CONF" crl --delta >/dev/null
curl -fsS -m 10 "$URL/delta.crl" -o "$T_DIR/delta.crl"
check "a delta CRL goes to deltaRevocationList;binary" \
    wait_until 30 has_certs "$CDP" "$(base64 -w0 <"$T_DIR/delta.crl")" \
    "deltaRevocationList;binary"
check "the base CRL stays" \
    has_certs "$CDP" "$base" "certificateRevocationList;binary"

# 3. Permanent failure: no entry and create_entries off is a dead letter
# at once, with the cause; replay --dead publishes it once the entry is
# there.
conf_set $MOD create_entries false
configure --refresh >/dev/null
issue carol
check "a missing entry without create_entries is a dead letter" \
    wait_until 30 field_is dead_letters 1
"$CERTMINT" -c "$CONF" exit status "$MOD" >"$T_DIR/status.out" 2>&1
check_match "exit status shows the cause" \
    "context $ID, 1 attempts.*cn=carol,$PEOPLE: no such entry" \
    "$(cat "$T_DIR/status.out")"
ldapadd -x -H "$LURL" -D "$MGR" -w "$LPW" >/dev/null 2>&1 <<EOF
dn: cn=carol,$PEOPLE
objectClass: inetOrgPerson
cn: carol
sn: Carol
EOF
"$CERTMINT" -c "$CONF" exit replay "$MOD" --dead >/dev/null
check "replay --dead publishes it" \
    wait_until 30 has_certs "cn=carol,$PEOPLE" "$(b64 "$T_DIR/carol.crt")"
check "no dead letter left" wait_until 30 field_is dead_letters 0
conf_set $MOD create_entries true
configure --refresh >/dev/null

# 4. Transient failures: slapd down, then silent (stopped: the operation
# times out). The CA issues meanwhile; the event is delivered after.
slapd_stop
issue dave
check "issuance goes on with the directory down" test -n "$ID"
check "exit list shows the failure and its cause" wait_until 30 list_has \
    "Can't contact LDAP server"
slapd_start
check "the event is delivered once slapd is back" \
    wait_until 30 has_certs "cn=dave,$PEOPLE" "$(b64 "$T_DIR/dave.crt")"
kill -STOP "$SLAPD_PID"
issue erin
check "issuance goes on with the directory silent" test -n "$ID"
check "a silent directory times out (exit list)" wait_until 30 list_has \
    "Timed out|timeout"
issue erin2
check "and the CA still issues while the module waits" test -n "$ID"
kill -CONT "$SLAPD_PID"
check "delivered once it answers" \
    wait_until 30 has_certs "cn=erin2,$PEOPLE" "$(b64 "$T_DIR/erin2.crt")"
check "the earlier one too" \
    has_certs "cn=erin,$PEOPLE" "$(b64 "$T_DIR/erin.crt")"

# 5. A refused bind suspends the module (no event can pass) until resume.
printf 'wrong\n' >"$T_DIR/ldap.pw"
configure --refresh >/dev/null
issue frank
check "a refused bind suspends the module, saying why" wait_until 30 \
    list_has "suspended.*Invalid credentials"
printf '%s\n' "$LPW" >"$T_DIR/ldap.pw"
configure --refresh >/dev/null
check "certmint exit resume" "$CERTMINT" -c "$CONF" exit resume "$MOD"
check "the queued event is delivered" \
    wait_until 30 has_certs "cn=frank,$PEOPLE" "$(b64 "$T_DIR/frank.crt")"

# 6. replay --from reconciles: with alice's and bob's certificates wiped,
# replaying every event puts back what is valid and never alice's first
# certificate, revoked since.
first=$(db_query "SELECT min(seq) FROM events" 2>/dev/null)
ldapmodify -x -H "$LURL" -D "$MGR" -w "$LPW" >/dev/null 2>&1 <<EOF
dn: cn=alice,$PEOPLE
changetype: modify
delete: userCertificate;binary

dn: cn=bob,$PEOPLE
changetype: modify
delete: userCertificate;binary
EOF
check "replay --from the first event" \
    "$CERTMINT" -c "$CONF" exit replay "$MOD" --from "${first:-1}"
issue gina
check "the replay is delivered" \
    wait_until 30 has_certs "cn=gina,$PEOPLE" "$(b64 "$T_DIR/gina.crt")"
check "alice has her valid certificate, not the revoked one" \
    has_certs "cn=alice,$PEOPLE" "$a2"
check "bob has his back" has_certs "cn=bob,$PEOPLE" "$(b64 "$T_DIR/bob.crt")"

# 7. kill -9 of certmintd while the module is stuck on a silent slapd:
# after the restart (inline now) every event arrives, duplicates harmless.
kill -STOP "$SLAPD_PID"
for k in k1 k2 k3 k4 k5; do
	issue $k
done
check "the module is inside a notify" wait_until 30 list_has "Timed out|timeout"
daemon_kill
kill -CONT "$SLAPD_PID"
conf_set exit.$MOD isolation inline
daemon_start
check "now inline" field_is isolation inline
for k in k1 k2 k3 k4 k5; do
	check "after kill -9: $k published once" \
	    wait_until 30 has_certs "cn=$k,$PEOPLE" "$(b64 "$T_DIR/$k.crt")"
done

# 8. StartTLS and ldaps with a server certificate of this CA.
SAN=DNS:localhost,IP:127.0.0.1
issue localhost
SAN=
slapd_stop
slapd_conf tls
slapd_start "$LURL/ ldaps://127.0.0.1:$LSPORT/"
cp "$T_DIR/ca/ca.crt" "$T_DIR/ldap-ca.pem"
chmod 644 "$T_DIR/ldap-ca.pem"
conf_set $MOD ca_file "$T_DIR/ldap-ca.pem"
conf_set $MOD starttls true
check_match "configure with StartTLS" "with StartTLS, bound as" "$(configure)"
configure --refresh >/dev/null
issue tls1
check "published over StartTLS" \
    wait_until 30 has_certs "cn=tls1,$PEOPLE" "$(b64 "$T_DIR/tls1.crt")"
conf_set $MOD starttls false
conf_set $MOD url "ldaps://127.0.0.1:$LSPORT"
check_match "configure over ldaps" "connected to ldaps://" "$(configure)"
configure --refresh >/dev/null
issue tls2
check "published over ldaps" \
    wait_until 30 has_certs "cn=tls2,$PEOPLE" "$(b64 "$T_DIR/tls2.crt")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T_DIR/other.key" -out "$T_DIR/other.pem" -subj "/CN=Other" \
    -days 2 2>/dev/null
conf_set $MOD ca_file "$T_DIR/other.pem"
out=$(configure)
check_match "a server certificate of another CA fails configure" \
    "url = \"ldaps://[^\"]*\": bind: Can't contact LDAP server" "$out"
check_fails "... and is not bound" sh -c "echo '$out' | grep -q 'bound as'"

# 9. user_filter: the entry found by a search under user_base, the value
# escaped (a name cannot widen the filter); nothing found and no user_dn
# is a dead letter with the cause.
conf_set $MOD ca_file "$T_DIR/ldap-ca.pem"
conf_set $MOD user_filter "(mail=%{Subject.CommonName}@example.com)"
conf_set $MOD user_base "$PEOPLE"
sed -i '/^user_dn = /d' "$CONF"
configure --refresh >/dev/null
ldapadd -x -H "$LURL" -D "$MGR" -w "$LPW" >/dev/null 2>&1 <<EOF
dn: cn=Dana Smith,$PEOPLE
objectClass: inetOrgPerson
cn: Dana Smith
sn: Smith
mail: dana@example.com
EOF
issue dana
check "user_filter: the certificate goes to the entry whose mail matches" \
    wait_until 30 has_certs "cn=Dana Smith,$PEOPLE" "$(b64 "$T_DIR/dana.crt")"
check_eq "no entry named after the CN was created" "" \
    "$(certs "cn=dana,$PEOPLE")"
dead0=$(list_json && module_field "$T_DIR/list.json" "$MOD" dead_letters)
issue '*)(mail=*'
check "a CN with filter characters matches nothing: a dead letter" \
    wait_until 30 field_is dead_letters $((dead0 + 1))
"$CERTMINT" -c "$CONF" exit status "$MOD" >"$T_DIR/status.out" 2>&1
check_match "... the cause names the filter" \
    "no entry under $PEOPLE matches user_filter" "$(cat "$T_DIR/status.out")"
check "... and alice's entry did not get it" \
    has_certs "cn=alice,$PEOPLE" "$a2"

# 10. CA renewal with a new key: its CRLs and certificate to the entry of
# its CRL suffix (%{CRLSuffix} = "(1)"); the old key's entry keeps its own.
check "ca renew --new-key" "$CERTMINT" -c "$CONF" ca renew --new-key
CDP1="cn=Test CA(1),ou=cdp,$BASE"
check "the new CA certificate to its CDP entry" wait_until 30 has_certs \
    "$CDP1" "$(openssl x509 -in "$T_DIR/ca/ca(1).crt" -outform DER | base64 -w0)" \
    "cACertificate;binary"
curl -fsS -m 10 "$URL/ca(1).crl" -o "$T_DIR/base1.crl"
check "the new key's base CRL to certificateRevocationList;binary" \
    wait_until 30 has_certs "$CDP1" "$(base64 -w0 <"$T_DIR/base1.crl")" \
    "certificateRevocationList;binary"
check_fails "the old key's entry does not get the new key's CRL" \
    has_certs "$CDP" "$(base64 -w0 <"$T_DIR/base1.crl")" \
    "certificateRevocationList;binary"

check_eq "the password never reaches the log" 0 \
    "$(grep -c -- "$LPW" "$T_LOG" || true)"
# A misspelt key is refused by name, not silently ignored.
conf_set $MOD user_fliter 1
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: a misspelt key (user_fliter), by name" 30 \
    "user_fliter: not a setting of CertMint_" \
    "$CERTMINT" -c "$CONF" exit configure $MOD
sed -i '/^user_fliter = /d' "$CONF"
"$CERTMINT" -c "$CONF" reload >/dev/null

daemon_stop
check_eq "daemon stops cleanly" 0 $?
slapd_stop
finish
