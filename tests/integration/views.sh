#!/bin/sh
# Expiry housekeeping in certmint view (issue 11 §3): an issued
# certificate past its notAfter shows as expired, not issued; views
# issued and expired split them; --expiring, --profile and a serial
# prefix written as OpenSSL prints it (colons, any case) filter.
. "$LIB"

ca_init
daemon_start
new_csr short
new_csr soon
new_csr long
check_eq "a certificate valid for a second" 201 "$(submit_http \
    "$T_DIR/short.csr" ValidityPeriod:Seconds ValidityPeriodUnits:1 | head -1)"
short_id=$(json "$T_DIR/resp.json" 'j["request_id"]')
check_eq "one for 10 days" 201 "$(submit_http "$T_DIR/soon.csr" \
    CertificateTemplate:ClientAuth ValidityPeriod:Days \
    ValidityPeriodUnits:10 | head -1)"
soon_id=$(json "$T_DIR/resp.json" 'j["request_id"]')
check_eq "one for a year" 201 "$(submit_http "$T_DIR/long.csr" | head -1)"
long_id=$(json "$T_DIR/resp.json" 'j["request_id"]')
expired() {
	"$CERTMINT" -c "$CONF" view expired | grep -q "^$short_id "
}
check "the one-second certificate shows in view expired" wait_until 30 expired
check_match "as expired, with its expiry" \
    "^$short_id +expired +[0-9TZ:-]+ +[0-9TZ:-]+ " \
    "$("$CERTMINT" -c "$CONF" view all | grep "^$short_id ")"
out=$("$CERTMINT" -c "$CONF" view issued)
check "view issued no longer lists it" sh -c "! echo '$out' | grep -q '^$short_id '"
check_match "but lists the others" "^$long_id " "$out"
check_eq "--json says its state" expired "$("$CERTMINT" -c "$CONF" --json \
    view all --id "$short_id" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)[0]["state"])')"
out=$("$CERTMINT" -c "$CONF" view all --expiring 30d)
check_match "--expiring 30d lists the 10-day certificate" "^$soon_id " "$out"
check "and not the year-long one, nor the expired one" sh -c \
    "! echo '$out' | grep -qE '^($long_id|$short_id) '"
out=$("$CERTMINT" -c "$CONF" view all --profile clientauth)
check_match "--profile filters by the request's profile" "^$soon_id " "$out"
check_match "(one row)" "\(1 row\)" "$out"
serial=$(db_query "SELECT serial FROM certs WHERE request_id = $long_id")
pfx=$(echo "$serial" | cut -c1-12 | tr a-f A-F | sed 's/../&:/g; s/:$//')
out=$("$CERTMINT" -c "$CONF" view all --serial "$pfx")
check_match "--serial takes a prefix as OpenSSL prints it ($pfx)" \
    "^$long_id " "$out"
check_refused "--serial with a non-hex character is a usage error" 30 \
    "usage" "$CERTMINT" -c "$CONF" view all --serial "0x12"
daemon_stop

# On a read-only file system (a backup's medium): view reads the file as
# it is after a clean stop; with a WAL that may hold commits it refuses.
mkdir "$T_DIR/ro"
mount --bind -o ro "$T_DIR/ca" "$T_DIR/ro" || not_ok "mount --bind -o ro"
ro_out=$("$CERTMINT" -c "$T_DIR/ro/certmint.conf" view all --id "$long_id" 2>&1)
ro_rc=$?
printf 'not empty' >"$T_DIR/ca/certmint.db-wal"
wal_out=$("$CERTMINT" -c "$T_DIR/ro/certmint.conf" view all 2>&1)
wal_rc=$?
rm -f "$T_DIR/ca/certmint.db-wal"
umount "$T_DIR/ro"
check_eq "view on a read-only mount after a clean stop works" 0 "$ro_rc"
check_match "and lists the request" "^$long_id " "$ro_out"
check_eq "with a WAL there, it refuses" 1 "$wal_rc"
check_match "and says why" "read-only file system, and its WAL .* may hold commits" \
    "$wal_out"
finish
