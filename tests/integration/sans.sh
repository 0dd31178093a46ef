#!/bin/sh
# Every SAN form is issued end to end or refused with a reason, never
# dropped (docs/user-guide.md, What the CA refuses): a tls-client request
# with a UPN, a directoryName, a registeredID and an email SAN is issued
# with exactly those names, the directoryName re-encoded by the CA, and
# exit modules read the issued UPN as the UPN property. The default
# [policy] san_types leaves UPN, directoryName and registeredID out; a
# profile's domains bound a UPN's domain; a WebServer (tls-server)
# certificate never carries them; an otherName of another type is refused
# naming its OID. finish() checks every certificate issued with openssl
# -x509_strict, certtool and pyca/cryptography.
. "$LIB"

UPN_OID=1.3.6.1.4.1.311.20.2.3

ca_init
SNAP=$T_DIR/snap.log
register_modules snapshot
conf_set Snapshot.Exit output "$SNAP"
daemon_start

cat >"$T_DIR/req.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[dir_sect]
C = DE
O = Corp Ltd
CN = Alice Example
EOF
new_csr alice -config "$T_DIR/req.cnf" -addext "subjectAltName=otherName:$UPN_OID;UTF8:alice@corp.example,dirName:dir_sect,RID:1.2.3.4,email:alice@corp.example"
check "openssl made the request" test -s "$T_DIR/alice.csr"

# The default san_types: dns, ip, email, uri.
out=$(submit_http "$T_DIR/alice.csr" CertificateTemplate:tls-client)
check_eq "default san_types: a UPN is denied (403)" 403 \
    "$(echo "$out" | head -1)"
check_match "default san_types: the message names the type and what is allowed" \
    'subjectAltName type upn \(alice@corp.example\) is not allowed \(allowed: dns, ip, email, uri\)' \
    "$out"

daemon_stop
conf_set policy san_types "dns, ip, email, uri, upn, dirname, rid"
conf_set profile.ClientAuth domains corp.example
daemon_start

out=$(submit_http "$T_DIR/alice.csr" CertificateTemplate:tls-client)
check_eq "tls-client with UPN, dirName, RID and email: issued (201)" 201 \
    "$(echo "$out" | head -1)"
ID=$(json "$T_DIR/resp.json" 'j["request_id"]')
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/alice.crt"
sans=$(openssl x509 -in "$T_DIR/alice.crt" -noout -ext subjectAltName 2>&1 |
    sed -n '2,$s/^ *//p')
check_eq "the certificate carries exactly the requested names" \
    "othername: UPN::alice@corp.example, DirName:/C=DE/O=Corp Ltd/CN=Alice Example, Registered ID:1.2.3.4, email:alice@corp.example" \
    "$sans"
# openssl wrote O as a UTF8String; the CA signs it as a PrintableString.
check "the directoryName is the CA's re-encoding, not the request's bytes" \
    /usr/bin/python3 - "$T_DIR/alice.crt" "$T_DIR/alice.csr" <<'PY'
import base64, sys
def der(path):
    b64 = "".join(l for l in open(path) if not l.startswith("-----"))
    return base64.b64decode(b64)
cert, req = der(sys.argv[1]), der(sys.argv[2])
sys.exit(not (b"\x0c\x08Corp Ltd" in req and b"\x13\x08Corp Ltd" in cert
              and b"\x0c\x08Corp Ltd" not in cert))
PY

# The UPN exit property is read from the issued certificate.
check "Snapshot.Exit saw the issue" \
    wait_lines "$SNAP" "^seq=[0-9]+ event=0x1 ctx=$ID " 1
upn=$(grep -m1 -E "^seq=[0-9]+ event=0x1 ctx=$ID " "$SNAP" | tr ' ' '\n' |
    sed -n 's/^upn=//p')
check_eq "the UPN exit property is the issued UPN" alice@corp.example "$upn"

# A profile's domains bound a UPN's domain as they do an e-mail's.
new_csr bob -addext "subjectAltName=otherName:$UPN_OID;UTF8:bob@other.example"
out=$(submit_http "$T_DIR/bob.csr" CertificateTemplate:tls-client)
check_eq "a UPN outside ClientAuth's domains: denied (403)" 403 \
    "$(echo "$out" | head -1)"
check_match "a UPN outside ClientAuth's domains: the message says so" \
    'bob@other\.example.*not within its domains' "$out"

# A WebServer certificate names hosts only, whatever san_types allows.
new_csr srv -config "$T_DIR/req.cnf" -addext "subjectAltName=DNS:srv.corp.example,otherName:$UPN_OID;UTF8:alice@corp.example"
out=$(submit_http "$T_DIR/srv.csr" CertificateTemplate:tls-server)
check_eq "tls-server with a UPN: denied (403)" 403 "$(echo "$out" | head -1)"
SID=$(json "$T_DIR/resp.json" 'j["request_id"]')
check_match "tls-server with a UPN: the reason is in DispositionMessage" \
    '(WebServer|tls-server).* subjectAltName upn \(alice@corp\.example\)' \
    "$(db_query "SELECT disposition_message FROM requests WHERE id = $SID")"

# An otherName of another type: refused, naming its OID.
new_csr other -config "$T_DIR/req.cnf" -addext "subjectAltName=otherName:1.2.3.4;UTF8:alice"
out=$(submit_http "$T_DIR/other.csr" CertificateTemplate:tls-client)
check_eq "otherName 1.2.3.4: refused (400)" 400 "$(echo "$out" | head -1)"
check_match "otherName 1.2.3.4: the message names the OID" \
    'subjectAltName otherName 1.2.3.4 is not supported' "$out"
OID_ID=$(json "$T_DIR/resp.json" 'j.get("request_id", "")')
check_match "otherName 1.2.3.4: recorded with the reason" \
    'subjectAltName otherName 1.2.3.4 is not supported' \
    "$(db_query "SELECT disposition_message FROM requests WHERE id = $OID_ID")"

check_eq "one certificate issued" 1 "$(db_query "SELECT count(*) FROM certs")"
finish
