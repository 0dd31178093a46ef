#!/bin/sh
# Faults that must never lose history (issue 11 §1): certmintd never
# creates a database (a missing, renamed or empty one is refused, saying
# what is missing, and nothing is created); another program's SQLite file
# is refused and left as it was (not switched to WAL); another CA's
# database, an old copy of this one and a damaged one are refused at
# start (the CA directory's marker ca.dbid, the CA certificates the
# database served, PRAGMA quick_check); a base CRL that would drop
# revoked certificates is not signed; a misspelt section is an error at
# start and on reload, not defaults.
. "$LIB"

ca_init
daemon_start
new_csr one
check_eq "a request is issued" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
daemon_stop
DB=$T_DIR/ca/certmint.db

# refused_start WHAT PATTERN: certmintd must exit non-zero within 60 s,
# saying PATTERN, and leave no database behind it did not find.
refused_start() {
	check_refused "$1" 60 "$2" "$CERTMINTD" -c "$CONF"
}

mv "$DB" "$T_DIR/saved.db"
for f in "$DB-wal" "$DB-shm"; do [ -f "$f" ] && mv "$f" "$T_DIR/saved.${f##*-}"; done
refused_start "a missing database stops certmintd, saying so" \
    "database is missing.*restore it from a backup"
check "and no database was created in its place" test ! -e "$DB"
: >"$DB"
refused_start "an empty (0-byte) database is refused, pointing at the backup" \
    "empty database: .*restore it from a backup"
check_eq "and left empty" 0 "$(wc -c <"$DB")"
rm -f "$DB"
sqlite3 "$DB" "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine');"
refused_start "another program's SQLite file is refused" "not a certmint database"
check_eq "and left in its journal mode" delete \
    "$(sqlite3 "$DB" 'PRAGMA journal_mode')"
check_eq "with its data" mine "$(sqlite3 "$DB" 'SELECT x FROM notes')"
rm -f "$DB"
mv "$T_DIR/saved.db" "$DB"
for s in wal shm; do [ -f "$T_DIR/saved.$s" ] && mv "$T_DIR/saved.$s" "$DB-$s"; done

mv "$T_DIR/ca/ca.key" "$T_DIR/ca.key.saved"
mkdir -m 700 "$T_DIR/ca/ca.key"
refused_start "a CA key that is a directory is refused, saying so" \
    "ca.key: the CA key is not a regular file"
rmdir "$T_DIR/ca/ca.key"
mv "$T_DIR/ca.key.saved" "$T_DIR/ca/ca.key"

cp "$CONF" "$T_DIR/good.conf"
conf_set polcy request_disposition deny
refused_start "a misspelt section stops certmintd at start" \
    "unknown section \[polcy\]"
cp "$T_DIR/good.conf" "$CONF"

# Another CA's database, with and without the marker.
check_match "init wrote the marker naming its database" \
    "^database = [0-9a-f]{32}$" "$(grep '^database' "$T_DIR/ca/ca.dbid")"
"$CERTMINT" -c "$T_DIR/other/certmint.conf" init --name "Other CA" \
    >"$T_DIR/other.out" 2>&1 || cat "$T_DIR/other.out"
cp "$DB" "$T_DIR/mine.db"
cp "$T_DIR/other/certmint.db" "$DB"
refused_start "another CA's database is refused (the marker names another)" \
    "is not this CA's database: .*ca.dbid names database"
mv "$T_DIR/ca/ca.dbid" "$T_DIR/dbid.saved"
refused_start "without the marker too (none of its CA certificates is ours)" \
    "is not this CA's database: its CA certificate 0 is not"
mv "$T_DIR/dbid.saved" "$T_DIR/ca/ca.dbid"
cp "$T_DIR/mine.db" "$DB"

# Another database's WAL beside ours (copied over, restored beside the
# wrong file): the first read-write close would apply it for good. One
# that holds the whole other database (after a VACUUM) reads fine, and is
# told by its database_id; one of a few pages makes ours unreadable.
# Either way nothing is written: the file, and the WAL, stay as they were.
# (Each time on a fresh copy of the other CA's database, laid out as ours.)
other_wal() {
	cp "$T_DIR/other/certmint.db" "$T_DIR/other-copy.db"
	python3 - "$T_DIR/other-copy.db" "$DB-wal" "$1" <<'PY'
import shutil, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode = WAL")
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute(sys.argv[3])
c.commit()
shutil.copy(sys.argv[1] + "-wal", sys.argv[2])
c.close()
PY
}
other_wal VACUUM
refused_start "another database's whole WAL beside ours is refused, by its id" \
    "the WAL beside it \\(.*certmint.db-wal\\) is another database's \\(database_id [0-9a-f]{32}, not [0-9a-f]{32}\\). Nothing was changed"
check "the database file is as it was" cmp -s "$DB" "$T_DIR/mine.db"
check "and the WAL still there" test -s "$DB-wal"
check_refused "certmint's read-write commands refuse it too" 30 \
    "is another database's" "$CERTMINT" -c "$CONF" token list
check "the database file still as it was" cmp -s "$DB" "$T_DIR/mine.db"
rm -f "$DB-wal" "$DB-shm"
other_wal "INSERT INTO meta VALUES ('note', 'x')"
refused_start "a page of another database's WAL: refused, by its id" \
    "is another database's \\(database_id"
check "the database file is as it was" cmp -s "$DB" "$T_DIR/mine.db"
rm -f "$DB-wal" "$DB-shm"
# An empty marker (a full disk, a careless edit) is a damaged one.
cp "$T_DIR/ca/ca.dbid" "$T_DIR/dbid.saved"
: >"$T_DIR/ca/ca.dbid"
refused_start "an empty marker is refused, naming it" "ca.dbid: names no database"
mv "$T_DIR/dbid.saved" "$T_DIR/ca/ca.dbid"

# An old copy: taken now, then the CA moves on (a request, a CRL).
daemon_start
daemon_stop
cp "$DB" "$T_DIR/old.db"
daemon_start
check_eq "a second request" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check "and a CRL" "$CERTMINT" -c "$CONF" crl
daemon_stop
check_match "the marker follows the CRL numbers" "^crl_number = 2$" \
    "$(grep '^crl_number' "$T_DIR/ca/ca.dbid")"
cp "$DB" "$T_DIR/new.db"
cp "$T_DIR/old.db" "$DB"
refused_start "an old copy of the database is refused, saying why" \
    "is older than this CA: it reaches request 1 and CRL number 1, the CA had reached request 2 and CRL number 2"
cp "$T_DIR/new.db" "$DB"

# The marker follows the requests too (within 2 s), not only the CRLs:
# a WAL deleted after a crash takes the requests not yet copied back with
# it, and their ids would be handed out again. (A reader's snapshot keeps
# them in the WAL here, as a busy CA's newest are.)
daemon_start
python3 - "$DB" "$T_DIR/reader.ready" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM requests").fetchall()
open(sys.argv[2], "w").close()
time.sleep(60)
PY
reader=$!
wait_until 30 test -f "$T_DIR/reader.ready"
check_eq "a third request" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check_eq "a fourth" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
check "the marker follows the requests while certmintd runs" \
    wait_until 30 grep -q '^request_id = 4$' "$T_DIR/ca/ca.dbid"
daemon_kill
kill "$reader"
wait "$reader" 2>/dev/null
cp "$DB" "$T_DIR/crashed.db"
cp "$DB-wal" "$T_DIR/crashed.db-wal"
rm -f "$DB-wal" "$DB-shm"
refused_start "the WAL deleted after kill -9: refused, not ids reused" \
    "is older than this CA: it reaches request 2 .*, the CA had reached request 4"
cp "$T_DIR/crashed.db" "$DB"
cp "$T_DIR/crashed.db-wal" "$DB-wal"
daemon_start
check_eq "with its WAL, all four are there" 4 \
    "$(db_query "SELECT max(id) FROM requests")"
# A clean stop writes the marker with the last request, however recent.
sqlite3 "$DB" ".backup '$T_DIR/four.db'"
check_eq "a fifth request" 201 "$(submit_http "$T_DIR/one.csr" | head -1)"
daemon_stop
check_match "the clean stop wrote the marker at request 5" \
    "^request_id = 5$" "$(grep '^request_id' "$T_DIR/ca/ca.dbid")"
cp "$DB" "$T_DIR/five.db"
cp "$T_DIR/four.db" "$DB"
refused_start "a copy from before it is refused" \
    "is older than this CA: it reaches request 4 .*, the CA had reached request 5"
cp "$T_DIR/five.db" "$DB"

# Damage: page 2, the root of the requests table, overwritten.
cp "$DB" "$T_DIR/good.db"
check_eq "(pages of 4 KiB)" 4096 "$(sqlite3 "$DB" 'PRAGMA page_size')"
dd if=/dev/urandom of="$DB" bs=4096 seek=1 count=1 conv=notrunc 2>/dev/null
refused_start "a damaged database is refused" \
    "damaged|malformed|not a certmint database"
cp "$T_DIR/good.db" "$DB"

# A big database is checked while serving ([ca] startup_check = background
# stands for one over 256 MiB): damage in a page the start does not read
# (a leaf in the middle of 2,000 requests) is found after the start, the
# daemon stops with status 1 and records it in ca.dbid, and the next
# start checks first and refuses it, whatever startup_check says.
cp "$T_DIR/ca/ca.dbid" "$T_DIR/good.dbid"
check "2,000 requests more" "$FILLEVENTS" "$DB" 2000
cp "$DB" "$T_DIR/big.db"
page=$(sqlite3 "$DB" "SELECT pageno FROM dbstat WHERE name = 'requests' AND
    pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 20")
check_match "(a leaf page of the requests)" "^[0-9]+$" "$page"
dd if=/dev/urandom of="$DB" bs=4096 seek=$((page - 1)) count=1 \
    conv=notrunc 2>/dev/null
conf_set ca startup_check background
timeout -k 5 60 "$CERTMINTD" -c "$CONF" >"$T_DIR/bg.out" 2>&1
check_eq "found while serving: certmintd stops with status 1" 1 "$?"
check_match "saying so" "the database is damaged \(PRAGMA quick_check: .+\); stopping: restore it from a backup" \
    "$(cat "$T_DIR/bg.out")"
check_match "after it had started serving" "ready: .*
.*checking the database while serving" "$(cat "$T_DIR/bg.out")"
check_match "the marker records the damage" "^damaged = .+" \
    "$(grep '^damaged' "$T_DIR/ca/ca.dbid")"
refused_start "the next start checks first and refuses it" \
    "the database is damaged \(PRAGMA quick_check"
check "without having served" sh -c "! grep -q 'ready:' '$T_DIR/check.out'"
cp "$T_DIR/big.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
daemon_start
check_match "a restored database passes, the start says so" \
    "passes PRAGMA quick_check now: the damage" "$(cat "$T_LOG")"
check_eq "the marker no longer records damage" "" \
    "$(grep '^damaged' "$T_DIR/ca/ca.dbid")"
daemon_stop
daemon_start
wait_lines "$T_LOG" "quick_check found nothing" 1
check_match "the next start checks it while serving, finding nothing" \
    "quick_check found nothing \\([0-9.]+ s, while serving\\)" \
    "$(cat "$T_LOG")"
daemon_stop
conf_set ca startup_check bogus
refused_start "a startup_check it does not know is refused" \
    "startup_check = \"bogus\": expected auto, full or background"
conf_set ca startup_check auto
cp "$T_DIR/good.db" "$DB"
cp "$T_DIR/good.dbid" "$T_DIR/ca/ca.dbid"
rm -f "$DB-wal" "$DB-shm"

# A database that lost a revocation (whole, but wrong): no shrunk CRL.
nbg=$(count_lines "$T_LOG" "checking the database while serving")
daemon_start
check_eq "a small database is checked before serving (auto)" "$nbg" \
    "$(count_lines "$T_LOG" "checking the database while serving")"
serial=$(db_query "SELECT serial FROM certs ORDER BY request_id LIMIT 1")
check "revoke one" "$CERTMINT" -c "$CONF" revoke "$serial" keyCompromise
check "publish a CRL listing it" "$CERTMINT" -c "$CONF" crl
daemon_stop
cp "$DB" "$T_DIR/revoked.db"
sqlite3 "$DB" "UPDATE requests SET disposition = 20, revoked_when = 0, \
    revoked_reason = -1"
daemon_start
check_refused "a base CRL that would drop it is not signed" 30 \
    "refusing to sign a CRL that drops revoked certificates: 0 listed, 1 in CRL" \
    "$CERTMINT" -c "$CONF" crl
check "and the log says so" grep -q "refusing to sign base CRL" "$T_LOG"
daemon_stop
cp "$T_DIR/revoked.db" "$DB"
rm -f "$DB-wal" "$DB-shm"

daemon_start
conf_set sever port 1
check_refused "and is refused on reload" 30 "unknown section \[sever\]" \
    "$CERTMINT" -c "$CONF" reload
check "which the daemon's log records" grep -q "unknown section \[sever\]" "$T_LOG"
out=$("$CERTMINT" -c "$CONF" status 2>&1)
check_eq "certmint status works all the same" 0 "$?"
check_match "saying it asks the daemon all the same" \
    "asking certmintd at .*admin.sock all the same" "$out"
check_eq "the CA still issues, under the config it had" 201 \
    "$(submit_http "$T_DIR/one.csr" | head -1)"
check_eq "request ids go on from the database's" 6 \
    "$(json "$T_DIR/resp.json" 'j["request_id"]')"

# The database moved away (deleted, as far as the daemon can tell) while
# certmintd runs: a change would go to a file nobody opens again.
for f in "$DB" "$DB-wal" "$DB-shm"; do
	[ -e "$f" ] && mv "$f" "$f.away"
done
check_eq "a submission is refused" 500 \
    "$(submit_http "$T_DIR/one.csr" | head -1)"
check "and the log says the database file is gone" \
    grep -q "database file was deleted or replaced while open" "$T_LOG"
daemon_kill
for f in "$DB" "$DB-wal" "$DB-shm"; do
	[ -e "$f.away" ] && mv "$f.away" "$f"
done
conf_del sever port
sed -i '/^\[sever\]$/d' "$CONF"
daemon_start
check_eq "put back, it has every request, and issues on" "201 7" \
    "$(submit_http "$T_DIR/one.csr" | head -1) $(json "$T_DIR/resp.json" \
    'j["request_id"]')"

# A certificate whose stored bytes were damaged (8 of them overwritten)
# is not handed out as one: its SHA-256 is not the one recorded.
check "retrieve 6 before" "$CERTMINT" -c "$CONF" retrieve 6 --out "$T_DIR/r6.pem"
daemon_stop
raw6=$(sqlite3 "$DB" "SELECT hex(raw) FROM certs WHERE request_id = 6")
sqlite3 "$DB" "UPDATE certs SET raw = substr(raw, 1, 100) ||
    x'0000000000000000' || substr(raw, 109) WHERE request_id = 6"
daemon_start
check_refused "retrieve of a damaged certificate: refused, saying so" 30 \
    "the certificate of request 6 is damaged in the database" \
    "$CERTMINT" -c "$CONF" retrieve 6 --out "$T_DIR/r6-bad.pem"
check_fails "and nothing written" test -s "$T_DIR/r6-bad.pem"
check "logged" wait_lines "$T_LOG" "request 6: the certificate stored is damaged" 1
daemon_stop
sqlite3 "$DB" "UPDATE certs SET raw = x'$raw6' WHERE request_id = 6"
finish
