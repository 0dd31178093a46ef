#!/bin/sh
# ACME with certbot (Debian's 2.1.0, unmodified) on loopback, over HTTPS:
# register; http-01 with the standalone responder; every certificate
# verifies against the CA, carries the profile's extensions and is a
# certmint request whose RequesterName is the account; renew; revoke by
# the account key and by the certificate key; a wildcard by dns-01 with
# manual hooks against pebble-challtestsrv; External Account Binding on a
# second directory ([acme.eab]); `certmint acme accounts|orders`.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

acme_need certbot
acme_setup
conf_set acme.eab eab required
daemon_start

# cb DIR ARGS...: certbot with its state under $T_DIR/DIR.
cb() {
	_cbd=$T_DIR/$1
	shift
	REQUESTS_CA_BUNDLE=$CA_PEM certbot --non-interactive \
	    --config-dir "$_cbd/etc" --work-dir "$_cbd/work" --logs-dir "$_cbd/log" \
	    "$@"
}
H01="--standalone --preferred-challenges http --http-01-address 127.0.0.1 --http-01-port $H01_PORT"

check "certbot registers an account" cb cb register --server "$ACME_DIR" \
    --agree-tos -m admin@certmint.test --no-eff-email
check_match "the account is listed with its contact" \
    "mailto:admin@certmint.test" "$("$CERTMINT" -c "$CONF" acme accounts)"
check_eq "--limit 0 lists them all, as view's" \
    "$("$CERTMINT" -c "$CONF" acme accounts | wc -l)" \
    "$("$CERTMINT" -c "$CONF" acme accounts --limit 0 | wc -l)"
check_eq "under the columns docs/cli.md names" \
    "id directory status contact eab_kid created orders" \
    "$("$CERTMINT" -c "$CONF" acme accounts | head -1 | tr '\t' ' ')"
"$CERTMINT" -c "$CONF" acme accounts >"$T_DIR/accounts.txt"
check_match "created in RFC 3339, as the rest of the CLI" \
    "	[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z	[0-9]+$" \
    "$(sed -n 2p "$T_DIR/accounts.txt")"
check_eq "the rows counted" "(1 row)" "$(tail -1 "$T_DIR/accounts.txt")"
check_eq "and in JSON with its id a number" "int mailto:admin@certmint.test" \
    "$("$CERTMINT" -c "$CONF" --json acme accounts | python3 -c 'import json, sys
a = json.load(sys.stdin)[0]
print(type(a["id"]).__name__, a["contact"][0])')"

# shellcheck disable=SC2086
check "certbot http-01 (standalone) gets a certificate for two names" \
    cb cb certonly --server "$ACME_DIR" $H01 -d www.certmint.test \
    -d api.certmint.test
LIVE=$T_DIR/cb/etc/live/www.certmint.test
acme_verify "it verifies against the CA" "$LIVE/cert.pem" "$LIVE/chain.pem"
check "the chain sent after the leaf is the issuing CA" \
    cmp "$LIVE/chain.pem" "$CA_PEM"
TEXT=$(openssl x509 -in "$LIVE/cert.pem" -noout -text)
check_match "it names both identifiers" \
    "DNS:www.certmint.test, DNS:api.certmint.test|DNS:api.certmint.test, DNS:www.certmint.test" \
    "$TEXT"
check_match "it has the WebServer profile's extended key usage" \
    "TLS Web Server Authentication" "$TEXT"
S1=$(acme_serial "$LIVE/cert.pem")
check_eq "it is a certmint request of the account, issued" \
    "20|$SURL/acme/acct/1|acme|WebServer" \
    "$(db_query "SELECT r.disposition, r.requester_name, r.caller_name,
	r.profile FROM requests r JOIN certs c ON c.request_id = r.id
	WHERE c.serial = '$S1'")"
check_eq "the request carries the ACME attributes" \
    "AcmeAccount|AcmeIdentifiers|AcmeOrder" \
    "$(db_query "SELECT group_concat(name, '|') FROM (SELECT a.name FROM
	request_attrs a JOIN certs c ON c.request_id = a.request_id WHERE
	c.serial = '$S1' AND a.name LIKE 'Acme%' ORDER BY a.name)")"

check "certbot renew (forced) gets a new certificate" \
    cb cb renew --force-renewal --no-random-sleep-on-renew \
    --cert-name www.certmint.test
S2=$(acme_serial "$LIVE/cert.pem")
check "the renewed certificate is another one" test "$S1" != "$S2"
acme_verify "the renewed certificate verifies" "$LIVE/cert.pem" \
    "$LIVE/chain.pem"

check "certbot revokes with the account key" cb cb revoke --server \
    "$ACME_DIR" --cert-path "$LIVE/cert.pem" --reason keycompromise \
    --no-delete-after-revoke
check_eq "the certificate is revoked (keyCompromise)" "21|1" \
    "$(db_query "SELECT r.disposition, r.revoked_reason FROM requests r
	JOIN certs c ON c.request_id = r.id WHERE c.serial = '$S2'")"

# shellcheck disable=SC2086
check "another certificate for revocation by its own key" \
    cb cb certonly --server "$ACME_DIR" $H01 -d key.certmint.test
KLIVE=$T_DIR/cb/etc/live/key.certmint.test
S3=$(acme_serial "$KLIVE/cert.pem")
# A certbot without the account: only the certificate's key signs.
check "certbot revokes with the certificate key (no account)" \
    cb nobody revoke --server "$ACME_DIR" --cert-path "$KLIVE/cert.pem" \
    --key-path "$KLIVE/privkey.pem" --no-delete-after-revoke
check_eq "that certificate is revoked" "21" "$(acme_disposition "$S3")"

check "certbot dns-01 (manual hooks) gets a wildcard certificate" \
    cb cb certonly --server "$ACME_DIR" --manual \
    --preferred-challenges dns --manual-auth-hook "$T_DIR/dns-hook present" \
    --manual-cleanup-hook "$T_DIR/dns-hook cleanup" \
    -d '*.wild.certmint.test'
WLIVE=$T_DIR/cb/etc/live/wild.certmint.test
acme_verify "the wildcard certificate verifies" "$WLIVE/cert.pem" \
    "$WLIVE/chain.pem"
check_match "it names the wildcard" "DNS:\*\.wild\.certmint\.test" \
    "$(openssl x509 -in "$WLIVE/cert.pem" -noout -ext subjectAltName)"

# External Account Binding: required on [acme.eab], never on lookups.
EABDIR=$SURL/acme/eab/directory
check_fails "without EAB, the eab directory refuses to register" \
    cb eab0 register --server "$EABDIR" --agree-tos \
    --register-unsafely-without-email
check_match "certbot says EAB is required" "xternal account" \
    "$(cat "$T_DIR/check.out")"
# No key text starts with '-': a client would take it for an option (the
# odds were 1 in 64 a key; of 150 keys, 1 - (63/64)^150 = 90 %).
for i in $(seq 1 150); do
	"$CERTMINT" -c "$CONF" acme eab create --directory eab
done >"$T_DIR/eabs.out" 2>&1
check_eq "150 EAB keys made, none beginning with '-'" "150 0" \
    "$(grep -c '^hmac_key: ' "$T_DIR/eabs.out") $(grep -c '^hmac_key: -' "$T_DIR/eabs.out")"
"$CERTMINT" -c "$CONF" acme eab create --directory eab >"$T_DIR/eab.out"
KID=$(sed -n 's/^kid: //p' "$T_DIR/eab.out")
HMAC=$(sed -n 's/^hmac_key: //p' "$T_DIR/eab.out")
check "certbot registers with the EAB key" cb eab register --server \
    "$EABDIR" --agree-tos --register-unsafely-without-email \
    --eab-kid="$KID" --eab-hmac-key="$HMAC"
check_fails "the key binds no second account" cb eab2 register --server \
    "$EABDIR" --agree-tos --register-unsafely-without-email \
    --eab-kid="$KID" --eab-hmac-key="$HMAC"
check_match "certbot says it is bound" "bound to another account" \
    "$(cat "$T_DIR/check.out")"
# Whether a key is bound is said only to its holder: the MAC comes first.
OTHER=$(sed -n 's/^hmac_key: //p' "$T_DIR/eabs.out" | head -1)
check_fails "nor one that signs with another key" cb eab3 register --server \
    "$EABDIR" --agree-tos --register-unsafely-without-email \
    --eab-kid="$KID" --eab-hmac-key="$OTHER"
check_match "which is told only that the MAC does not verify" \
    "MAC does not verify" "$(cat "$T_DIR/check.out")"
# shellcheck disable=SC2086
check "and gets a certificate from the eab directory" \
    cb eab certonly --server "$EABDIR" $H01 -d eab.certmint.test
acme_verify "that certificate verifies" \
    "$T_DIR/eab/etc/live/eab.certmint.test/cert.pem"
check_fails "the EAB key binds one account only" cb eab2 register \
    --server "$EABDIR" --agree-tos --register-unsafely-without-email \
    --eab-kid="$KID" --eab-hmac-key="$HMAC"
check_eq "the account records its EAB key" "$KID" \
    "$(db_query "SELECT eab_kid FROM acme_accounts WHERE endpoint = 'eab'")"

check_match "certmint acme orders lists the orders" \
    "valid.*dns.*key.certmint.test" "$("$CERTMINT" -c "$CONF" acme orders)"
check_eq "its JSON lists each order's identifiers" True \
    "$("$CERTMINT" -c "$CONF" --json acme orders | python3 -c 'import json, sys
print(any(i == {"type": "dns", "value": "key.certmint.test"}
    for o in json.load(sys.stdin) for i in o["identifiers"]))')"
acme_finish
