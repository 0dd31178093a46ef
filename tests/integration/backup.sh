#!/bin/sh
# certmint backup and restore (issue 11 §3, AD CS's certutil -backup and
# -restore): a backup taken while certmintd issues; restored on a fresh
# directory, the CA goes on issuing, revoking and publishing a CRL that
# lists every certificate ever revoked. A restore refuses a running CA, a
# newer one, another CA's key and a damaged backup.
. "$LIB"

ca_init
daemon_start
for n in a b c; do
	new_csr "$n"
	check_eq "issue $n" 201 "$(submit_http "$T_DIR/$n.csr" \
	    CertificateTemplate:ClientAuth | head -1)"
done
s1=$(db_query "SELECT serial FROM certs ORDER BY request_id LIMIT 1")
s2=$(db_query "SELECT serial FROM certs ORDER BY request_id LIMIT 1 OFFSET 1")
check "revoke one" "$CERTMINT" -c "$CONF" revoke "$s1" keyCompromise
check "hold another" "$CERTMINT" -c "$CONF" revoke "$s2" certificateHold
check "publish a CRL" "$CERTMINT" -c "$CONF" crl

# Online: submissions go on while the backup is taken.
new_csr busy
( i=0; while [ $i -lt 30 ]; do submit_http "$T_DIR/busy.csr" >/dev/null; \
    i=$((i + 1)); done ) &
BUSY=$!
check "certmint backup while certmintd issues" \
    "$CERTMINT" -c "$CONF" backup "$T_DIR/bk"
wait "$BUSY"
check "the backup has its manifest" test -s "$T_DIR/bk/MANIFEST"
check_eq "the key is kept private" 600 "$(stat -c %a "$T_DIR/bk/ca.key")"
check_refused "a backup never writes into an existing directory" 30 \
    "a backup goes into a new directory" \
    "$CERTMINT" -c "$CONF" backup "$T_DIR/bk"
check_refused "restore refuses a running CA" 30 "certmintd is running" \
    "$CERTMINT" -c "$CONF" restore "$T_DIR/bk"
bk_max=$(sqlite3 "$T_DIR/bk/certmint.db" "SELECT MAX(id) FROM requests")
daemon_stop

# Restore on a fresh directory; the CA goes on from the backup.
NEW=$T_DIR/new/certmint.conf
check "restore on a fresh directory" "$CERTMINT" -c "$NEW" restore "$T_DIR/bk"
check "the key is restored 0600" test "$(stat -c %a "$T_DIR/new/ca.key")" = 600
check "the marker names the restored database" \
    grep -q "^database = $(sqlite3 "$T_DIR/bk/certmint.db" \
    "SELECT value FROM meta WHERE key = 'database_id'")" "$T_DIR/new/ca.dbid"
OLDCONF=$CONF
CONF=$NEW
daemon_start
new_csr d
check_eq "the restored CA issues" 201 "$(submit_http "$T_DIR/d.csr" | head -1)"
check "with the next request id after the backup's" test \
    "$(json "$T_DIR/resp.json" 'j["request_id"]')" -gt "$bk_max"
s3=$(sqlite3 -cmd ".timeout 10000" "$T_DIR/new/certmint.db" \
    "SELECT serial FROM certs ORDER BY request_id DESC LIMIT 1")
check "and revokes" "$CERTMINT" -c "$CONF" revoke "$s3" superseded
check "and publishes a CRL" "$CERTMINT" -c "$CONF" crl
curl -fsS -m 60 -o "$T_DIR/new.crl" "$URL/ca.crl"
crl=$(openssl crl -inform DER -in "$T_DIR/new.crl" -noout -text 2>&1)
check "the CRL verifies with the CA certificate" openssl crl -inform DER \
    -in "$T_DIR/new.crl" -CAfile "$T_DIR/new/ca.crt" -noout
for s in "$s1" "$s2" "$s3"; do
	check_match "it lists $s" "$(echo "$s" | tr a-f A-F)" "$crl"
done
daemon_stop

check_refused "a restore never goes back over a newer CA" 30 \
    "newer than the backup" "$CERTMINT" -c "$NEW" restore "$T_DIR/bk"
# The database lost, the marker says how far the CA came: an older backup
# is refused unless --force, saying what would be given again.
mv "$T_DIR/new/certmint.db" "$T_DIR/new-db.saved"
check_refused "the database lost: an older backup is refused, saying why" \
    30 "the CA had reached request [0-9]+ and CRL [0-9]+, the backup only request [0-9]+ and CRL [0-9]+: .*would be given again; --force" \
    "$CERTMINT" -c "$NEW" restore "$T_DIR/bk"
check_fails "and nothing was restored" test -e "$T_DIR/new/certmint.db"
check_match "--force restores it all the same, saying so" \
    "--force: restoring all the same" \
    "$("$CERTMINT" -c "$NEW" restore "$T_DIR/bk" --force 2>&1)"
check "there it is" test -s "$T_DIR/new/certmint.db"
cp "$T_DIR/new-db.saved" "$T_DIR/new/certmint.db"

# A damaged backup, and one of another CA.
cp -r "$T_DIR/bk" "$T_DIR/bad"
printf 'X' | dd of="$T_DIR/bad/ca.crt" bs=1 seek=100 conv=notrunc 2>/dev/null
check_refused "a damaged backup is refused" 30 "does not match the manifest" \
    "$CERTMINT" -c "$T_DIR/other/certmint.conf" restore "$T_DIR/bad"
check "and nothing was written" test ! -e "$T_DIR/other"
rm -rf "$T_DIR/bad"
# A database damaged before the backup hashed it: the manifest agrees, the
# database does not read. Refused before anything is written.
cp -r "$T_DIR/bk" "$T_DIR/bad"
python3 - "$T_DIR/bad" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
db = os.path.join(d, "certmint.db")
b = bytearray(open(db, "rb").read())
b[4096:4096 + 512] = b"\xa5" * 512          # page 2: a B-tree's root
open(db, "wb").write(b)
m = os.path.join(d, "MANIFEST")
lines = open(m).read().split("\n")
for i, ln in enumerate(lines):
    if ln.startswith("file certmint.db "):
        lines[i] = "file certmint.db %s %d" % (hashlib.sha256(b).hexdigest(),
                                               len(b))
open(m, "w").write("\n".join(lines))
PY
check_refused "a backup whose database does not read is refused" 30 \
    "the backup's database does not read" \
    "$CERTMINT" -c "$T_DIR/other/certmint.conf" restore "$T_DIR/bad"
check_eq "and nothing was written" "" "$(ls -A "$T_DIR/other" 2>/dev/null)"
rm -rf "$T_DIR/bad" "$T_DIR/other"
"$CERTMINT" -c "$T_DIR/third/certmint.conf" init --name Third >/dev/null 2>&1
rm -f "$T_DIR/third/certmint.db"
cp "$T_DIR/third/certmint.conf" "$T_DIR/third.conf"
check_refused "a restore over another CA's key is refused" 30 \
    "ca.key exists and differs" \
    "$CERTMINT" -c "$T_DIR/third/certmint.conf" restore "$T_DIR/bk" --force
check "and changed nothing, not even the config" \
    cmp "$T_DIR/third/certmint.conf" "$T_DIR/third.conf"
check_eq "nor left a temporary file" "" \
    "$(ls "$T_DIR/third" | grep restore || true)"
CONF=$OLDCONF
finish
