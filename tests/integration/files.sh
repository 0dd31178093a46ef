#!/bin/sh
# File handling (issue 11 §1, "other file-handling findings"):
#  - certmintd refuses, as OpenSSH does, a CA key others may read, a config
#    or database others may write or another user owns, and an admin
#    socket in a directory anyone may write without the sticky bit (with
#    it: a warning); a good CA still starts;
#  - a FIFO or a directory at the database or at the files SQLite keeps
#    beside it (-wal, -shm, -journal) is named, with what it is, by
#    certmintd and the CLI, never waited on, and nothing is lost;
#  - a CA certificate, chain or CA directory others may write is warned
#    about at start and reload; an exit or policy module in a directory
#    others may write (sticky or not) or own is not loaded, nor registered;
#  - `certmint init` follows no link planted at a name it writes, never
#    writes over a CA (or what is left of one), and leaves nothing it made
#    when a late step fails;
#  - a listen address or port that cannot be bound stops certmintd before
#    STARTUP is recorded (no STARTUP or SHUTDOWN event);
#  - a database on a read-only mount or a full disk is said to be so, not
#    "not a certmint database" (private mount namespaces; skipped where
#    mounting is not allowed).
# The log's limit on repeated lines is tested in tests/unit/common.
. "$LIB"

ca_init
CA=$T_DIR/ca
DB=$CA/certmint.db

# refused_start WHAT PATTERN: certmintd exits non-zero by itself, saying
# PATTERN.
refused_start() {
	check_refused "$1" 60 "$2" "$CERTMINTD" -c "$CONF"
}

# --- Permissions at start ----------------------------------------------
chmod 644 "$CA/ca.key"
refused_start "a CA key readable by others (0644) is refused, saying the mode and the fix" \
    "ca.key: the CA key has mode 0644: it must not be readable or writable by group or others \(chmod 600 .*ca.key\)"
chmod 640 "$CA/ca.key"
refused_start "one readable by its group (0640) too" "the CA key has mode 0640"
chmod 600 "$CA/ca.key"
chmod 666 "$CONF"
refused_start "a config file anyone may write (0666) is refused" \
    "certmint.conf: the config file has mode 0666: it must not be writable by group or others \(chmod go-w"
chmod 620 "$CONF"
refused_start "one its group may write (0620) too" "the config file has mode 0620"
chmod 640 "$CONF"
chown 4242 "$CONF"
refused_start "a config file owned by another user is refused" \
    "the config file is owned by uid 4242, neither root nor this user"
chown 0 "$CONF"
chmod 666 "$DB"
refused_start "a database anyone may write (0666) is refused" \
    "certmint.db: the database has mode 0666: it must not be writable by group or others"
chmod 600 "$DB"
chown 4242 "$DB"
refused_start "a database owned by another user is refused" \
    "the database is owned by uid 4242"
chown 0 "$DB"
mkdir "$T_DIR/pub"
chmod 0777 "$T_DIR/pub"
conf_set server admin_socket "$T_DIR/pub/admin.sock"
refused_start "an admin socket in a directory anyone may write (0777) is refused" \
    "admin socket directory .*/pub has mode 0777: anyone could replace the socket"
check "and nothing was bound there" test ! -e "$T_DIR/pub/admin.sock"
chmod 1777 "$T_DIR/pub"
daemon_start
check "with the sticky bit (1777) certmintd starts" test -S "$T_DIR/pub/admin.sock"
check "and warns" grep -q "admin socket directory .*/pub has mode 1777: the sticky bit" "$T_LOG"
daemon_stop
conf_set server admin_socket admin.sock
check "the refusals recorded no STARTUP or SHUTDOWN event" test \
    "$(db_query "SELECT count(*) FROM events WHERE event IN (64, 128)")" -eq 2

daemon_start
new_csr good
check_eq "a good CA starts and issues" 201 \
    "$(submit_http "$T_DIR/good.csr" | head -1)"
chmod 644 "$CA/ca.key"
check_refused "a reload with the key made 0644 is refused" 30 \
    "the CA key has mode 0644" "$CERTMINT" -c "$CONF" reload
chmod 600 "$CA/ca.key"
check "and the CA still answers" curl -fsS -m 10 -o /dev/null "$URL/health"
daemon_stop

# since N: the lines of the daemons' log after its first N.
since() {
	tail -n "+$(($1 + 1))" "$T_LOG"
}

# --- SQLite's files beside the database --------------------------------
# Each a FIFO (or a directory): named, with what it is, before SQLite
# opens it (it said "disk I/O error"), by certmintd and the CLI alike, and
# never waited on (a FIFO opened for reading waits for a writer).
nreq=$(db_query "SELECT count(*) FROM requests")
for side in certmint.db-wal certmint.db-shm certmint.db-journal; do
	mkfifo "$CA/$side"
	refused_start "a FIFO at $side: certmintd names it and what it is" 	    "$side: not a regular file \(a FIFO\), where SQLite keeps the database's"
	check_refused "  certmint view says so too" 60 	    "$side: not a regular file \(a FIFO\)" "$CERTMINT" -c "$CONF" view
	rm "$CA/$side"
done
mkdir "$CA/certmint.db-wal"
refused_start "a directory at certmint.db-wal is refused, named" \
    "certmint.db-wal: not a regular file \(a directory\)"
rmdir "$CA/certmint.db-wal"
: >"$CA/certmint.db-wal"
chmod 666 "$CA/certmint.db-wal"
refused_start "a WAL anyone may write (0666) is refused, as the database is" \
    "certmint.db-wal: the database's WAL has mode 0666: it must not be writable by group or others \(chmod go-w"
rm "$CA/certmint.db-wal"
mv "$DB" "$T_DIR/db.saved"
mkfifo "$DB"
refused_start "a FIFO in place of the database is refused, named" \
    "certmint.db: not a regular file \(a FIFO\)"
rm "$DB"
mv "$T_DIR/db.saved" "$DB"
mv "$CA/ca.crt" "$T_DIR/crt.saved"
mkfifo "$CA/ca.crt"
refused_start "a FIFO in place of ca.crt: said so (it was \"Invalid argument\")" \
    "ca.crt: not a regular file"
rm "$CA/ca.crt"
mv "$T_DIR/crt.saved" "$CA/ca.crt"
daemon_start
check_eq "with them gone, the CA starts with every request it had" "$nreq" \
    "$(db_query "SELECT count(*) FROM requests")"
daemon_stop

# --- CA certificate, chain and directories others may write: warned ----
# Not refused (the key, config and database are): the CA certificate is
# checked against the key; but what the CA serves, or its files' names,
# are then in others' hands.
chmod 666 "$CA/ca.crt"
chmod 775 "$CA"
n=$(wc -l <"$T_LOG")
daemon_start
check_match "a CA certificate anyone may write (0666) is warned about at start" \
    "warning: .*/ca.crt: a CA certificate has mode 0666: it must not be writable by group or others \(chmod go-w .*ca.crt\)" \
    "$(since "$n")"
check_match "  and a CA directory its group may write (0775)" \
    "warning: .*/ca: the CA's directory has mode 0775: .*\(chmod go-w .*/ca\); anyone who can write it" \
    "$(since "$n")"
chmod 644 "$CA/ca.crt"
chmod 700 "$CA"
cp "$CA/ca.crt" "$CA/chain.pem"
chmod 664 "$CA/chain.pem"
"$CERTMINT" -c "$CONF" reload >"$T_DIR/reload.out" 2>&1
check_match "a reload warns about a chain its group may write (0664)" \
    "note: .*chain.pem: the CA's chain has mode 0664" "$(cat "$T_DIR/reload.out")"
check_fails "  not about the files made safe" grep -qE "ca.crt:|/ca:" \
    "$T_DIR/reload.out"
rm "$CA/chain.pem"
daemon_stop

# --- Exit and policy modules in a directory others may write: refused --
# Anyone who can write the modules directory can put their code there,
# to run inside the CA. sshd's StrictModes, for the directory as for the
# file: the sticky bit does not make it right.
REC=$T_DIR/files-rec.log
check "register Recording.Exit" "$CERTMINT" -c "$CONF" exit register \
    "$MODULES_DIR/recording.so"
conf_set Recording.Exit output "$REC"
chmod 777 "$CA/modules"
n=$(wc -l <"$T_LOG")
daemon_start
check_match "a modules directory anyone may write (0777): the module is not loaded, saying why and the fix" \
    "exit module Recording.Exit not loaded: .*/modules: the modules directory has mode 0777: it must not be writable by group or others \(chmod go-w .*/modules\); anyone who can write it can have their code run in the CA" \
    "$(since "$n")"
check_refused "  and no module is registered into it" 60 \
    "refused: .*/modules: the modules directory has mode 0777" \
    "$CERTMINT" -c "$CONF" exit register "$MODULES_DIR/flaky.so"
check "  (Flaky.Exit is not there)" test ! -e "$CA/modules/Flaky.Exit.so"
chmod 1777 "$CA/modules"
"$CERTMINT" -c "$CONF" reload >/dev/null 2>&1
check_match "with the sticky bit (1777) too" \
    "Recording.Exit not loaded: .*/modules: the modules directory has mode 1777" \
    "$(since "$n")"
check "  it recorded nothing" test ! -e "$REC"
chmod 755 "$CA/modules"
"$CERTMINT" -c "$CONF" reload >/dev/null 2>&1
daemon_stop
check "with chmod go-w it loads again (SHUTDOWN recorded)" \
    grep -q "^event=0x40 " "$REC"
chown 4242 "$CA/modules"
n=$(wc -l <"$T_LOG")
daemon_start
check_match "a modules directory owned by another user: not loaded" \
    "Recording.Exit not loaded: .*/modules: the modules directory is owned by uid 4242, neither root nor this user" \
    "$(since "$n")"
daemon_stop
chown 0 "$CA/modules"
# The module host opened its file before checking it: a FIFO held it
# until the daemon gave up waiting for its hello (30 s).
mv "$CA/modules/Recording.Exit.so" "$T_DIR/rec.saved"
mkfifo "$CA/modules/Recording.Exit.so"
daemon_start
check "a FIFO as the module file: not loaded, said at once" wait_until 10 \
    grep -q "Recording.Exit not loaded: .*/Recording.Exit.so: not a regular file" "$T_LOG"
daemon_stop
rm "$CA/modules/Recording.Exit.so"
mv "$T_DIR/rec.saved" "$CA/modules/Recording.Exit.so"
"$CERTMINT" -c "$CONF" exit unregister Recording.Exit >/dev/null 2>&1
cp "$MODULES_DIR/policy.so" "$CA/modules/Test.Policy.so"
chmod 644 "$CA/modules/Test.Policy.so"
conf_set policy module Test.Policy
chmod 777 "$CA/modules"
refused_start "a policy module there: certmintd does not start, saying why" \
    "policy module: .*/modules: the modules directory has mode 0777"
chmod 755 "$CA/modules"
conf_del policy module

# --- certmint init: no link followed, nothing written over -------------
printf 'precious\n' >"$T_DIR/victim"
chmod 644 "$T_DIR/victim"
for name in certmint.conf ca.key ca.crt certmint.db certmint.db-journal \
    certmint.db-wal ca.dbid; do
	d=$T_DIR/planted-$name
	mkdir "$d"
	ln -s ../victim "$d/$name"
	check_refused "init refuses a link planted at $name" 60 "$name exists" \
	    "$CERTMINT" -c "$d/certmint.conf" init --port 1
	check_eq "  the victim is unchanged" precious "$(cat "$T_DIR/victim")"
	check_eq "  and the directory holds only the link" "$name" \
	    "$(ls -A "$d")"
done
check_eq "the victim's mode is unchanged" 644 "$(stat -c %a "$T_DIR/victim")"
d=$T_DIR/dangling
mkdir "$d"
ln -s "$T_DIR/nowhere" "$d/ca.key"
check_refused "init refuses a dangling link at ca.key" 60 "ca.key exists" \
    "$CERTMINT" -c "$d/certmint.conf" init --port 1
check "and creates nothing where it points" test ! -e "$T_DIR/nowhere"

# Over an existing CA: the config, then (config gone) the key.
sums() {
	(cd "$CA" && sha256sum ca.key ca.crt certmint.conf certmint.db ca.dbid)
}
before=$(sums)
check_refused "init over an existing CA is refused" 60 \
    "certmint.conf exists: this CA is already set up" \
    "$CERTMINT" -c "$CONF" init --port 1
mv "$CONF" "$T_DIR/conf.saved"
check_refused "with its config gone, init is refused for the key left" 60 \
    "ca.key exists: a CA \(or what is left of one\) is there; init never writes over it" \
    "$CERTMINT" -c "$CONF" init --port 1
check "and no config was left behind" test ! -e "$CONF"
mv "$T_DIR/conf.saved" "$CONF"
check_eq "the CA's files are unchanged" "$before" "$(sums)"
d=$T_DIR/squat
mkdir -p "$d/certmint.db"
check_refused "a directory squatting on the database path is refused" 60 \
    "certmint.db exists" "$CERTMINT" -c "$d/certmint.conf" init --port 1
check_eq "and the directory is as before" certmint.db "$(ls -A "$d")"

# A late step fails: the database cannot grow past 2 KiB (RLIMIT_FSIZE;
# SIGXFSZ ignored, so a write fails with EFBIG instead of killing).
LATE='trap "" XFSZ; ulimit -f 4; exec "$0" -c "$1" init --port 1'
check_refused "init fails when the database cannot be written" 60 \
    "certmint.db: cannot write the database" \
    sh -c "$LATE" "$CERTMINT" "$T_DIR/late/ca/certmint.conf"
check "it leaves nothing it made, the directories it made included" \
    test ! -e "$T_DIR/late"
mkdir "$T_DIR/late2"
: >"$T_DIR/late2/mine"
check_refused "in a directory that was there" 60 "cannot write the database" \
    sh -c "$LATE" "$CERTMINT" "$T_DIR/late2/certmint.conf"
check_eq "only what was there is left (no key, cert, config, database)" \
    mine "$(ls -A "$T_DIR/late2")"

# --- A listen address or port that cannot be bound ---------------------
events() {
	db_query "SELECT count(*) FROM events WHERE event IN (64, 128)"
}
before=$(events)
python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(120)' "$PORT" &
HOLDER=$!
wait_until 30 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT"
refused_start "a port in use stops certmintd, saying so" \
    "cannot listen on 127.0.0.1 port $PORT \(\[server\] listen and port\): Address already in use"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
check_eq "and records no STARTUP or SHUTDOWN event" "$before" "$(events)"
conf_set server listen 192.0.2.1
refused_start "an address not of this host stops it too" \
    "cannot listen on 192.0.2.1 port $PORT .*not an address of this host"
check_eq "with no STARTUP or SHUTDOWN event" "$before" "$(events)"
conf_set server listen 127.0.0.1

# --- A read-only mount and a full disk ---------------------------------
# $NS SCRIPT sh ARGS...: run SCRIPT in a private mount namespace, so
# that its mounts go with it.
NS="unshare -m --propagation private sh -c"
# not_notadb WHAT: the last refusal did not say "not a certmint database".
not_notadb() {
	cp "$T_DIR/check.out" "$T_DIR/said.out"
	check_fails "$1" grep -q "not a certmint database" "$T_DIR/said.out"
}
mkdir "$T_DIR/probe"
if $NS 'mount --bind -o ro "$1" "$1"' sh "$T_DIR/probe" 2>/dev/null; then
	check_refused "a database on a read-only mount: certmintd says so" 60 \
	    "certmint.db: cannot write the database: a read-only file system" \
	    $NS 'mount --bind -o ro "$1" "$1" && exec "$2" -c "$3"' \
	    sh "$CA" "$CERTMINTD" "$CONF"
	not_notadb "  not that it is not a certmint database"
	# Stopped cleanly (no WAL, no -shm): the file as it is (views.sh
	# has the refusal with a WAL).
	check_match "certmint view there reads the database as it is" \
	    "\(1 row\)" "$($NS 'mount --bind -o ro "$1" "$1" && exec "$2" -c "$3" view' \
	    sh "$CA" "$CERTMINT" "$CONF" 2>&1)"
	mkdir "$T_DIR/full"
	check_refused "a database on a full disk: certmintd says the disk is full" 60 \
	    "certmint.db: cannot .* the database: the disk is full" \
	    $NS 'mount -t tmpfs -o size=4m tmpfs "$1" && cp -a "$2" "$1/ca" &&
		{ dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null; :; } &&
		exec "$3" -c "$1/ca/certmint.conf"' \
	    sh "$T_DIR/full" "$CA" "$CERTMINTD"
	not_notadb "  not that it is not a certmint database"
	# The disk fills while certmintd runs (60 issued, then a file takes
	# the rest), then that file goes: the WAL must not keep the space
	# the database file needs to take its frames back (it grew into it
	# while the space lasted, and no checkpoint could run again: about
	# 80 of the next 100 were issued, then 500s). 4 MiB hold more than 160.
	cat >"$T_DIR/fill.sh" <<'SH'
mnt=$1 ca=$2 certmintd=$3 url=$4 csr=$5 out=$6
mount -t tmpfs -o size=4m tmpfs "$mnt" && cp -a "$ca" "$mnt/ca" || exit 1
"$certmintd" -c "$mnt/ca/certmint.conf" >"$out/full.log" 2>&1 &
pid=$!
i=0
until curl -fsS -m 5 -o /dev/null "$url/health"; do
	i=$((i + 1)); [ $i -lt 200 ] || { kill $pid; exit 1; }; sleep 0.05
done
sub() { curl -sS -m 30 -o /dev/null -w '%{http_code}\n' \
    -H 'Content-Type: application/pkcs10' --data-binary "@$csr" \
    "$url/api/v1/requests"; }
for i in $(seq 1 60); do sub; done >"$out/before.codes"
{ dd if=/dev/zero of="$mnt/fill" bs=4096 2>/dev/null; :; }
for i in 1 2 3; do sub; done >"$out/while-full.codes"
rm -f "$mnt/fill"
for i in $(seq 1 100); do sub; done >"$out/after.codes"
kill $pid
wait $pid
echo "stopped $?" >>"$out/after.codes"
SH
	$NS 'sh "$@"' sh "$T_DIR/fill.sh" "$T_DIR/full" "$CA" "$CERTMINTD" \
	    "$URL" "$T_DIR/good.csr" "$T_DIR" >"$T_DIR/fill.out" 2>&1
	check_eq "60 issued before the disk fills" 60 \
	    "$(grep -c '^201$' "$T_DIR/before.codes")"
	check_eq "disk full while running: submissions answered 500" "500 500 500" \
	    "$(tr '\n' ' ' <"$T_DIR/while-full.codes" | sed 's/ $//')"
	n=$(grep -c '^201$' "$T_DIR/after.codes")
	check_eq "space freed: 100 more are all issued (the WAL did not fill it again)" \
	    100 "$n"
	[ "$n" = 100 ] || { sort "$T_DIR/after.codes" | uniq -c
	    sed 's/^[^ ]* [^ ]* //' "$T_DIR/full.log" | grep -E 'error|warn|WAL' |
	    uniq -c | tail -8; } | sed 's/^/# /'
	check_match "the WAL was emptied, said" \
	    "the WAL is emptied after a lack of space" "$(cat "$T_DIR/full.log")"
	check_eq "and the daemon stopped cleanly" "stopped 0" \
	    "$(tail -1 "$T_DIR/after.codes")"
else
	ok "# SKIP mounting is not allowed here (read-only mount)"
	ok "# SKIP mounting is not allowed here (read-only mount)"
	ok "# SKIP mounting is not allowed here (read-only mount, view)"
	ok "# SKIP mounting is not allowed here (full disk)"
	ok "# SKIP mounting is not allowed here (full disk)"
	for i in 1 2 3 4 5; do
		ok "# SKIP mounting is not allowed here (full disk while running)"
	done
fi

daemon_start
check_eq "after all that, the CA issues" 201 \
    "$(submit_http "$T_DIR/good.csr" | head -1)"
daemon_stop
finish
