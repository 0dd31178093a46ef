#!/bin/sh
# Faults that must never lose history (issue 11 §1): certmintd never
# creates a database (a missing, renamed or empty one is refused, saying
# what is missing, and nothing is created); another program's SQLite file
# is refused and left as it was (not switched to WAL); a misspelt section
# is an error at start and on reload, not defaults.
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
refused_start "an empty (0-byte) database is refused" "empty database"
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

cp "$CONF" "$T_DIR/good.conf"
conf_set polcy request_disposition deny
refused_start "a misspelt section stops certmintd at start" \
    "unknown section \[polcy\]"
cp "$T_DIR/good.conf" "$CONF"
daemon_start
conf_set sever port 1
check_refused "and is refused on reload" 30 "unknown section \[sever\]" \
    "$CERTMINT" -c "$CONF" reload
check_eq "the CA still issues, under the config it had" 201 \
    "$(submit_http "$T_DIR/one.csr" | head -1)"
check_eq "request ids go on from the database's" 2 \
    "$(json "$T_DIR/resp.json" 'j["request_id"]')"
daemon_stop
finish
