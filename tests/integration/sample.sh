#!/bin/sh
# The sample exit module builds out of tree with pkg-config, passes
# `certmint exit test`, and works in the daemon.
. "$LIB"

cp -r "$SAMPLE_DIR" "$T_DIR/sample"
check "sample builds out of tree with pkg-config certmint-exit" \
    make -C "$T_DIR/sample"
SO=$T_DIR/sample/sample_exit.so
chmod 755 "$SO"

mkdir -p "$T_DIR/harness"
"$CERTMINT" exit test "$SO" --event CERTISSUED --event CRLISSUED \
    --attrib CertFile:yes --set "directory=$T_DIR/harness" >"$T_DIR/test.out" 2>&1
check_eq "certmint exit test passes on it" 0 $?
out=$(cat "$T_DIR/test.out")
check_match "the harness shows the attribute read" 'get_request_attribute\("CertFile"\)' "$out"
check_match "the harness shows RawCRL read by index" 'RawCRL\.0' "$out"
check "the harness run wrote a certificate" sh -c "ls '$T_DIR/harness'/*.cer"
check "the harness run wrote a CRL" test -f "$T_DIR/harness/crl-0.crl"

ca_init
mkdir -p "$T_DIR/out"
check "register Sample.Exit" "$CERTMINT" -c "$CONF" exit register "$SO"
conf_set Sample.Exit directory "$T_DIR/out"
daemon_start
check_match "exit show: the manage module's Name" "Sample.Exit" \
    "$("$CERTMINT" -c "$CONF" exit show Sample.Exit)"
check "exit configure: the directory is writable" \
    "$CERTMINT" -c "$CONF" exit configure Sample.Exit

new_csr s1
new_csr s2
submit_http "$T_DIR/s1.csr" CertFile:yes >/dev/null
id1=$(json "$T_DIR/resp.json" 'j["request_id"]')
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/s1.pem"
submit_http "$T_DIR/s2.csr" >/dev/null
id2=$(json "$T_DIR/resp.json" 'j["request_id"]')
"$CERTMINT" -c "$CONF" crl >/dev/null
check "CRLISSUED: the module writes the CRL" \
    wait_until 60 test -f "$T_DIR/out/crl-0.crl"
check "CertFile:yes: the certificate is written as <RequestID>.cer" \
    cmp "$T_DIR/out/$id1.cer" "$(openssl x509 -in "$T_DIR/s1.pem" -outform DER -out "$T_DIR/s1.der"; echo "$T_DIR/s1.der")"
check_fails "without CertFile nothing is written" test -f "$T_DIR/out/$id2.cer"
curl -fsS -m 60 -o "$T_DIR/served.crl" "$URL/ca.crl"
check "CRLISSUED: the CRL written is the one served" \
    cmp "$T_DIR/out/crl-0.crl" "$T_DIR/served.crl"
finish
