#!/bin/sh
# ACME with Ruby's acme-client (Debian's ruby-acme-client 2.0.9,
# unmodified; the library of GitLab's Let's Encrypt integration): a whole
# order of two names by http-01 served from a webroot, its CSR (version
# 2, as that version writes it) finalized, the certificate verified,
# revoked by the account, the account updated and deactivated. That
# version fails at once when the directory carries a Replay-Nonce.
. "$LIB"
. "$(dirname "$LIB")/acme_lib.sh"

acme_need ruby pebble-challtestsrv
ruby -e 'require "acme-client"' 2>/dev/null ||
    { echo "1..0 # SKIP ruby-acme-client is not installed (scripts/deps.sh --tests)"
      rm -rf "$T_DIR"; exit 0; }
acme_setup
daemon_start

acme_webroot

OUT=$T_DIR/ruby.out
SSL_CERT_FILE=$CA_PEM timeout 120 ruby "$(dirname "$LIB")/acme_ruby.rb" \
    "$ACME_DIR" "$WEB" "$T_DIR/rb.pem" >"$OUT" 2>&1
rc=$?
check_eq "acme-client runs the whole order" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$OUT"
line() { grep "^$1|" "$OUT" | cut -d'|' -f2; }
check_eq "its account is valid" valid "$(line account)"
check_eq "rb.certmint.test validated" valid "$(line 'authz rb.certmint.test')"
check_eq "rb2.certmint.test validated" valid "$(line 'authz rb2.certmint.test')"
check_eq "its CSR says version 2" 2 "$(line 'csr version')"
check_eq "the order is valid" valid "$(line order)"
openssl x509 -in "$T_DIR/rb.pem" -out "$T_DIR/rb-leaf.pem" 2>/dev/null
check "the certificate verifies against the CA" openssl verify \
    -CAfile "$CA_PEM" -purpose sslserver "$T_DIR/rb-leaf.pem"
check_eq "it names both names" \
    "DNS:rb.certmint.test, DNS:rb2.certmint.test" \
    "$(openssl x509 -in "$T_DIR/rb-leaf.pem" -noout -ext subjectAltName |
    sed -n 's/^ *//; 2p')"
check_eq "it is revoked" "true|21" \
    "$(line revoke)|$(acme_disposition "$(acme_serial "$T_DIR/rb-leaf.pem")")"
check_eq "the account's contact is updated" "mailto:rb2@certmint.test" \
    "$(line update)"
check_eq "and the account deactivated" deactivated "$(line deactivate)"
acme_finish
