#!/bin/sh
# The command line as an operator first meets it: `certmint CMD --help`
# (or -h, anywhere among the arguments) prints CMD's usage on stdout,
# exits 0 and does nothing else, whatever the command: `backup --help`
# used to copy the CA key into a directory named "--help", `restore
# --help` to restore from it. After "--" it is an argument again. A value
# `view` cannot read says which option and why; `exit unregister` takes a
# bundled module by its short name, as `exit register` does.
. "$LIB"

ca_init
cd "$T_DIR" || exit 1

for cmd in init install-ca-cert ca submit resubmit deny retrieve renew \
    revoke unrevoke crl import purge status reload shutdown view exit \
    policy profile token tls acme backup restore; do
	"$CERTMINT" -c "$CONF" $cmd --help >"$T_DIR/help.out" 2>"$T_DIR/help.err"
	rc=$?
	check_eq "$cmd --help: exit 0, nothing on stderr" "0 " \
	    "$rc $(cat "$T_DIR/help.err")"
	check_match "$cmd --help: its usage on stdout" \
	    "usage: certmint.* $cmd|^  $cmd |\\| $cmd( |$)" \
	    "$(cat "$T_DIR/help.out")"
done
check_eq "nothing made by any of them" "" "$(ls -A "$T_DIR" | grep -- '^-')"
check_eq "the CA is as it was: no request, no CRL but the first" "0" \
    "$(db_query "SELECT count(*) FROM requests")"
check "-h anywhere: backup DIR -h" "$CERTMINT" -c "$CONF" backup "$T_DIR/b" -h
check_fails "made no backup" test -e "$T_DIR/b"
check_match "restore X --help shows the usage" "restore DIR \\[--force\\]" \
    "$("$CERTMINT" -c "$CONF" restore "$T_DIR/b" --help)"
check_match "after --, --help is a name again" "unknown view \"--help\"" \
    "$("$CERTMINT" -c "$CONF" view -- --help 2>&1)"
check_match "certmint --help still lists every command" "token create" \
    "$("$CERTMINT" --help)"

# view: a bad value says which option and why.
check_refused "view --since yesterday: not a date, said" 30 \
    'view --since "yesterday" is not a date' \
    "$CERTMINT" -c "$CONF" view --since yesterday
check_refused "view --id 3-2: a range that ends before it starts" 30 \
    'view --id "3-2" ends before it starts' \
    "$CERTMINT" -c "$CONF" view --id 3-2
check_refused "view --expiring soon: not a duration" 30 \
    'view --expiring "soon" is not a duration' \
    "$CERTMINT" -c "$CONF" view --expiring soon
check_refused "view --limit -1" 30 'view --limit "-1" is not a number' \
    "$CERTMINT" -c "$CONF" view --limit -1
check "view --id 2-3 is a range" "$CERTMINT" -c "$CONF" view --id 2-3

# exit unregister takes what exit register took.
check "exit register files" "$CERTMINT" -c "$CONF" exit register files
check_refused "exit unregister of a name not registered lists those that are" \
    30 "nothing is not registered \\(registered: CertMint_Files.Exit\\)" \
    "$CERTMINT" -c "$CONF" exit unregister nothing
check_match "exit unregister files: the bundled module by its short name" \
    "unregistered CertMint_Files.Exit" \
    "$("$CERTMINT" -c "$CONF" exit unregister files 2>&1)"
check_refused "then it is not registered" 30 \
    "files is not registered \\(registered: none\\)" \
    "$CERTMINT" -c "$CONF" exit unregister files
finish
