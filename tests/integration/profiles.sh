#!/bin/sh
# Certificate profiles (AD CS templates, docs/profiles.md): every built-in
# issues what it says (keyUsage, EKU, basicConstraints, SANs, validity);
# operator-defined profiles ([profile.NAME]: base, domains, policies,
# CDP/AIA with AD CS's %-tokens, revocation reasons, cn = drop,
# cn_pattern, requested EKU, key types, ca_expiry) and a changed
# built-in; a policy module picks a profile and its rules still hold;
# `certmint profile list | show` and config errors.
. "$LIB"

ca_init
conf_set ca machine_dns_name pki.corp.example
conf_set crl delta true
cat >>"$CONF" <<'EOF'

[profile.Intranet]
base = WebServer
description = intranet web servers
domains = corp.example
validity_days = 30
max_validity_days = 90
policies = 1.3.6.1.4.1.55555.7.1, 2.23.140.1.2.1
cdp = http://%1/crl/%3%8%9.crl
aia = http://%1/ca/%2_%3%4.crt
revocation_reasons = keyCompromise, superseded

[profile.Device]
description = devices named by URN
key_types = ec-p256
key_usage = digitalSignature, keyAgreement
eku = clientAuth, 1.3.6.1.4.1.55555.9
san_types = uri
san_required = true
cn = drop
cn_pattern = dev-*
request_extensions = subjectAltName, extendedKeyUsage

[profile.Strict]
base = ClientAuth
validity_days = 36000
max_validity_days = 36600
ca_expiry = refuse

[profile.Transport]
description = key transport only
key_usage = keyEncipherment
request_extensions = subjectAltName, keyUsage

[profile.Long]
base = ClientAuth
validity_days = 36000
max_validity_days = 36600

[profile.CodeSigning]
max_validity_days = 30
validity_days = 30
EOF
daemon_start
curl -fsS -m 60 -o "$T_DIR/ca.pem" "$URL/ca.pem"

# issue NAME CSR [ATTR...]: submit; the certificate in $T_DIR/NAME.crt and
# its text in $T_DIR/NAME.txt; prints the HTTP status and the message.
issue() {
	_n=$1 _c=$2
	shift 2
	_code=$(submit_http "$_c" "$@" | head -1)
	json "$T_DIR/resp.json" 'j.get("certificate", "")' >"$T_DIR/$_n.crt"
	openssl x509 -in "$T_DIR/$_n.crt" -noout -text >"$T_DIR/$_n.txt" 2>&1
	echo "$_code $(json "$T_DIR/resp.json" 'j.get("message", j.get("error", ""))')"
}
days() {
	python3 -c 'import sys, datetime
f = lambda s: datetime.datetime.strptime(s.split("=", 1)[1].strip(), "%b %d %H:%M:%S %Y %Z")
a, b = sys.argv[1].splitlines()
print(round((f(b) - f(a)).total_seconds() / 86400))' \
	    "$(openssl x509 -in "$1" -noout -startdate -enddate)"
}
txt() { tr '\n' ' ' <"$T_DIR/$1.txt"; }

# --- the built-ins --------------------------------------------------------
new_csr www.example.com -addext "subjectAltName=DNS:www.example.com"
out=$(issue web "$T_DIR/www.example.com.csr" CertificateTemplate:WebServer)
check_match "WebServer: issued" "^201" "$out"
check_match "WebServer: serverAuth only" \
    "Extended Key Usage: *TLS Web Server Authentication  " "$(txt web)"
check_match "WebServer with an EC key: digitalSignature, no keyEncipherment" \
    "Key Usage: critical *Digital Signature  " "$(txt web)"
check "WebServer: verifies for sslserver" openssl verify -purpose sslserver \
    -CAfile "$T_DIR/ca.pem" "$T_DIR/web.crt"
check_match "the AD CS display name \"Web Server\" is the same profile" "^201" \
    "$(issue web2 "$T_DIR/www.example.com.csr" "CertificateTemplate:Web Server")"
check_eq "the request records the profile's name" WebServer \
    "$(json "$T_DIR/resp.json" 'j["profile"]')"

openssl req -new -newkey rsa:2048 -nodes -keyout "$T_DIR/rsa.key" \
    -out "$T_DIR/rsa.csr" -subj "/CN=rsa.example.com" 2>/dev/null
issue webrsa "$T_DIR/rsa.csr" >/dev/null
check_match "WebServer with an RSA key: and keyEncipherment" \
    "Digital Signature, Key Encipherment" "$(txt webrsa)"

new_csr alice
out=$(issue client "$T_DIR/alice.csr" CertificateTemplate:ClientAuth)
check_match "ClientAuth: clientAuth" \
    "Extended Key Usage: *TLS Web Client Authentication  " "$(txt client)"

new_csr bob -addext "subjectAltName=email:bob@corp.example"
out=$(issue user "$T_DIR/bob.csr" CertificateTemplate:User)
check_match "User: clientAuth, emailProtection and EFS" \
    "TLS Web Client Authentication, E-mail Protection, Microsoft Encrypted File System" \
    "$(txt user)"

new_csr host1.corp.example
out=$(issue machine "$T_DIR/host1.corp.example.csr" CertificateTemplate:Computer)
check_match "Machine (AD CS \"Computer\"): issued" "^201" "$out"
check_match "Machine: serverAuth and clientAuth" \
    "TLS Web Client Authentication, TLS Web Server Authentication" \
    "$(txt machine)"
check_match "Machine: its CN became a DNS name" "DNS:host1.corp.example" \
    "$(txt machine)"

new_csr signer
out=$(issue code "$T_DIR/signer.csr" CertificateTemplate:CodeSigning)
check_match "CodeSigning: codeSigning" "Code Signing" "$(txt code)"
check_eq "a changed built-in: CodeSigning lives 30 days" 30 \
    "$(days "$T_DIR/code.crt")"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T_DIR/anon.key" -out "$T_DIR/anon.csr" -subj "/" \
    -addext "subjectAltName=URI:urn:anon" 2>/dev/null
check_match "CodeSigning without a subject: refused, saying why" \
    "^403 .*CodeSigning needs a subject" \
    "$(issue x "$T_DIR/anon.csr" CertificateTemplate:CodeSigning)"

out=$(issue smime0 "$T_DIR/alice.csr" CertificateTemplate:SMIME)
check_match "SMIME without an e-mail address: refused" \
    "^403 .*SMIME needs a subjectAltName" "$out"
out=$(issue smime "$T_DIR/bob.csr" CertificateTemplate:email)
check_match "SMIME (old name email): emailProtection" "E-mail Protection" \
    "$(txt smime)"
check_match "SMIME with an EC key: keyAgreement, no keyEncipherment" \
    "Digital Signature, Non Repudiation, Key Agreement  " "$(txt smime)"

new_csr sub -subj "/CN=Sub CA/O=Test"
check_match "SubCA is not allowed by default" \
    "^403 .*profile \"SubCA\" is not allowed" \
    "$(issue x "$T_DIR/sub.csr" CertificateTemplate:SubCA)"
check_match "nor OCSPSigning" "^403 .*not allowed" \
    "$(issue x "$T_DIR/alice.csr" CertificateTemplate:OCSPResponseSigning)"
conf_set policy profiles all
conf_set profile.SubCA path_len 2
conf_set profile.SubCA eku "serverAuth, clientAuth"
check "reload: every profile allowed, SubCA's path_len 2 and EKUs" \
    "$CERTMINT" -c "$CONF" reload
out=$(issue subca "$T_DIR/sub.csr" CertificateTemplate:SubCA)
check_match "SubCA: issued" "^201" "$out"
check_match "SubCA: CA:TRUE, pathlen:2" "CA:TRUE, pathlen:2" "$(txt subca)"
check_match "SubCA: keyCertSign and cRLSign" "Certificate Sign, CRL Sign" \
    "$(txt subca)"
check_match "SubCA: the EKUs its section gives" \
    "Extended Key Usage: *TLS Web Server Authentication, TLS Web Client Authentication" \
    "$(txt subca)"
check_eq "SubCA: 5 years, not the leaves' limit" 1825 "$(days "$T_DIR/subca.crt")"
check "SubCA: verifies as a CA" openssl verify -CAfile "$T_DIR/ca.pem" \
    -purpose crlsign "$T_DIR/subca.crt"

new_csr ocsp -subj "/CN=Test CA OCSP"
out=$(issue ocsp "$T_DIR/ocsp.csr" CertificateTemplate:OCSPSigning)
check_match "OCSPSigning: OCSP signing EKU" "OCSP Signing" "$(txt ocsp)"
check_match "OCSPSigning: id-pkix-ocsp-nocheck" "OCSP No Check" "$(txt ocsp)"
check_eq "OCSPSigning: 14 days" 14 "$(days "$T_DIR/ocsp.crt")"

# --- operator-defined -----------------------------------------------------
new_csr www.corp.example -addext "subjectAltName=DNS:www.corp.example"
out=$(issue intra "$T_DIR/www.corp.example.csr" CertificateTemplate:Intranet)
check_match "Intranet (base WebServer): issued" "^201" "$out"
check_match "Intranet: serverAuth from its base" "TLS Web Server Authentication" \
    "$(txt intra)"
check_match "Intranet: its certificatePolicies" \
    "Policy: 1.3.6.1.4.1.55555.7.1 *Policy: 2.23.140.1.2.1" "$(txt intra)"
check_match "Intranet: CDP from %1 %3 %8 %9" \
    "URI:http://pki.corp.example/crl/Test%20CA.crl" "$(txt intra)"
check_match "Intranet: freshest CRL with %9 = +" \
    "Freshest CRL: *Full Name: *URI:http://pki.corp.example/crl/Test%20CA\+.crl" \
    "$(txt intra)"
check_match "Intranet: AIA from %2 and %4" \
    "CA Issuers - URI:http://pki.corp.example/ca/pki_Test%20CA.crt" "$(txt intra)"
check_eq "Intranet: 30 days" 30 "$(days "$T_DIR/intra.crt")"
out=$(issue intra90 "$T_DIR/www.corp.example.csr" CertificateTemplate:Intranet \
    ValidityPeriod:Days ValidityPeriodUnits:200)
check_match "Intranet: 200 days asked: issued" "^201" "$out"
check_eq "with Intranet's maximum, 90 days" 90 "$(days "$T_DIR/intra90.crt")"
new_csr www.other.example -addext "subjectAltName=DNS:www.other.example"
check_match "Intranet: a name outside its domains is refused" \
    "^403 .*www.other.example.*not within its domains" \
    "$(issue x "$T_DIR/www.other.example.csr" CertificateTemplate:Intranet)"
new_csr evilcorp.example -addext "subjectAltName=DNS:evilcorp.example"
check_match "Intranet: evilcorp.example is not within corp.example" \
    "^403 .*not within its domains" \
    "$(issue x "$T_DIR/evilcorp.example.csr" CertificateTemplate:Intranet)"
serial=$(openssl x509 -in "$T_DIR/intra.crt" -noout -serial | cut -d= -f2)
check_refused "Intranet: certificateHold is not among its reasons" 30 \
    "certificateHold is not a revocation reason for certificates of profile Intranet" \
    "$CERTMINT" -c "$CONF" revoke "$serial" certificateHold
check "Intranet: superseded is" "$CERTMINT" -c "$CONF" revoke "$serial" superseded

new_csr dev-42 -addext "subjectAltName=URI:urn:dev:42" \
    -addext "extendedKeyUsage=clientAuth"
out=$(issue dev "$T_DIR/dev-42.csr" CertificateTemplate:Device)
check_match "Device: issued, saying the CN was dropped" \
    "^201 Issued; CN dropped from the subject" "$out"
check_eq "Device: an empty subject" "subject=" \
    "$(openssl x509 -in "$T_DIR/dev.crt" -noout -subject)"
check_match "Device: the SAN is critical, as RFC 5280 asks" \
    "Subject Alternative Name: critical *URI:urn:dev:42" "$(txt dev)"
check_match "Device: only the requested EKU of its two" \
    "Extended Key Usage: *TLS Web Client Authentication  " "$(txt dev)"
check_match "Device: keyAgreement from its key_usage" \
    "Digital Signature, Key Agreement" "$(txt dev)"
new_csr lamp -addext "subjectAltName=URI:urn:dev:43"
check_match "Device: a CN outside cn_pattern is refused" \
    "^403 .*does not match profile Device's cn_pattern" \
    "$(issue x "$T_DIR/lamp.csr" CertificateTemplate:Device)"
new_csr dev-44 -addext "subjectAltName=URI:urn:dev:44" \
    -addext "extendedKeyUsage=serverAuth"
check_match "Device: an EKU beyond the profile's is refused" \
    "^403 .*does not give the extendedKeyUsage serverAuth" \
    "$(issue x "$T_DIR/dev-44.csr" CertificateTemplate:Device)"
new_csr dev-45 -addext "subjectAltName=DNS:dev45.corp.example"
check_match "Device: a SAN type it does not allow is refused" \
    "^403 .*does not allow the subjectAltName dns" \
    "$(issue x "$T_DIR/dev-45.csr" CertificateTemplate:Device)"
check_match "Device: an RSA key is refused" \
    "^403 .*does not allow key type rsa-2048" \
    "$(issue x "$T_DIR/rsa.csr" CertificateTemplate:Device)"

check_match "keyEncipherment only: an EC key is refused, saying why" \
    "^403 .*Transport gives no key usage to a ec-p256 key" \
    "$(issue x "$T_DIR/alice.csr" CertificateTemplate:Transport)"
check_match "an RSA key gets it" "^201" \
    "$(issue transport "$T_DIR/rsa.csr" CertificateTemplate:Transport)"
check_match "and nothing else" "Key Usage: critical *Key Encipherment  " \
    "$(txt transport)"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T_DIR/rsa2.key" \
    -out "$T_DIR/rsa2.csr" -subj "/CN=rsa2" \
    -addext "keyUsage=digitalSignature" 2>/dev/null
check_match "a requested keyUsage beyond the profile's is refused" \
    "^403 .*asks for more than profile Transport gives" \
    "$(issue x "$T_DIR/rsa2.csr" CertificateTemplate:Transport)"

check_match "ca_expiry = refuse: outliving the CA is refused" \
    "^403 .*would outlive the CA certificate" \
    "$(issue x "$T_DIR/alice.csr" CertificateTemplate:Strict)"
check_match "ca_expiry = cap (the default): cut, and the message says so" \
    "^201 .*validity capped to the CA certificate's notAfter" \
    "$(issue long "$T_DIR/alice.csr" CertificateTemplate:Long)"
check_eq "its notAfter is the CA's" \
    "$(openssl x509 -in "$T_DIR/ca.pem" -noout -enddate)" \
    "$(openssl x509 -in "$T_DIR/long.crt" -noout -enddate)"

# --- profile list and show ------------------------------------------------
out=$("$CERTMINT" -c "$CONF" profile list)
check_match "profile list: the built-ins and the config's" \
    "WebServer.*ClientAuth.*SMIME.*CodeSigning.*SubCA.*User.*Machine.*OCSPSigning.*Intranet.*Device" \
    "$(echo $out)"
out=$("$CERTMINT" -c "$CONF" profile show Intranet)
check_match "profile show: a section to copy" \
    "^# defined in the config.*\[profile.Intranet\].*domains = corp.example" \
    "$(echo $out)"
echo "$out" | sed 's/^\[profile.Intranet\]/[profile.Copy]/' >>"$CONF"
"$CERTMINT" -c "$CONF" --json profile show Intranet >"$T_DIR/a.json"
"$CERTMINT" -c "$CONF" --json profile show Copy >"$T_DIR/b.json"
check "a shown section pasted back is the same profile" python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("name", "builtin"):
    a.pop(k); b.pop(k)
sys.exit(a != b)' "$T_DIR/a.json" "$T_DIR/b.json"
check_refused "profile show of an unknown name" 30 "no profile \"Nope\"" \
    "$CERTMINT" -c "$CONF" profile show Nope

# --- errors in the config -------------------------------------------------
cp "$CONF" "$T_DIR/good.conf"
conf_set profile.Intranet max_valdity_days 10
check_refused "a misspelt profile key is an error" 30 \
    "unknown key \"max_valdity_days\" in section \[profile.Intranet\]" \
    "$CERTMINT" -c "$CONF" profile list
check_refused "reload refuses it too" 30 "max_valdity_days" \
    "$CERTMINT" -c "$CONF" reload
cp "$T_DIR/good.conf" "$CONF"
conf_set profile.Intranet cdp "http://%5.example/x.crl"
check_refused "an unknown %-token is an error, named" 30 "unknown token \"%5\" \(" \
    "$CERTMINT" -c "$CONF" profile list
cp "$T_DIR/good.conf" "$CONF"
conf_set profile.Bad base NoSuch
check_refused "a base that does not exist is an error" 30 \
    "base = \"NoSuch\": no such profile" "$CERTMINT" -c "$CONF" profile list
cp "$T_DIR/good.conf" "$CONF"
conf_set profile.Bad2 path_len 1
check_refused "path_len without ca = true is an error" 30 \
    "path_len needs ca = true" "$CERTMINT" -c "$CONF" profile list
cp "$T_DIR/good.conf" "$CONF"
conf_set profile.Bad3 key_usage "digitalSignature, encipherOnly"
check_refused "encipherOnly without keyAgreement is an error" 30 \
    "encipherOnly and decipherOnly need keyAgreement" \
    "$CERTMINT" -c "$CONF" profile list
cp "$T_DIR/good.conf" "$CONF"
check_match "the CA still issues under the config it had" "^201" \
    "$(issue x "$T_DIR/alice.csr" CertificateTemplate:ClientAuth)"
# keyAgreement is EC's: for another key it goes, and encipherOnly with it.
conf_set profile.KeyAg base ClientAuth
conf_set profile.KeyAg key_usage "digitalSignature, keyAgreement, encipherOnly"
check "reload with a keyAgreement profile" "$CERTMINT" -c "$CONF" reload
check_match "an RSA key gets it" "^201" \
    "$(issue keyag "$T_DIR/rsa.csr" CertificateTemplate:KeyAg)"
check_match "with digitalSignature alone" "Key Usage: critical *Digital Signature *X509v3" \
    "$(txt keyag)"
cp "$T_DIR/good.conf" "$CONF"
# cdp = none: no CRL pointer, and no delta pointer either (delta is on).
conf_set profile.NoCdp base ClientAuth
conf_set profile.NoCdp cdp none
check "reload with a profile without CDP" "$CERTMINT" -c "$CONF" reload
check_match "it issues" "^201" \
    "$(issue nocdp "$T_DIR/alice.csr" CertificateTemplate:NoCdp)"
check_eq "without CRL Distribution Points nor Freshest CRL" 0 \
    "$(grep -cE "CRL Distribution Points|Freshest CRL" "$T_DIR/nocdp.txt")"
cp "$T_DIR/good.conf" "$CONF"
check "reload back" "$CERTMINT" -c "$CONF" reload

# --- a policy module picks the profile ------------------------------------
mkdir -p "$T_DIR/ca/modules"
cp "$MODULES_DIR/policy.so" "$T_DIR/ca/modules/Test.Policy.so"
chmod 644 "$T_DIR/ca/modules/Test.Policy.so"
conf_set policy module Test.Policy
check "reload with a policy module" "$CERTMINT" -c "$CONF" reload
out=$(issue picked "$T_DIR/www.corp.example.csr" PickProfile:Intranet)
check_match "the module picks Intranet: issued" "^201" "$out"
check_eq "the request records Intranet as its CertificateTemplate" Intranet \
    "$(json "$T_DIR/resp.json" 'j["profile"]')"
check_match "the certificate has Intranet's policies" "1.3.6.1.4.1.55555.7.1" \
    "$(txt picked)"
check_match "and the module's 3 days (within Intranet's 90)" "^3$" \
    "$(days "$T_DIR/picked.crt")"
check_match "the profile's rules hold over the module's verdict" \
    "^403 .*not within its domains" \
    "$(issue x "$T_DIR/www.other.example.csr" PickProfile:Intranet)"
check_match "a profile the module names that does not exist: its answer" \
    "^403 Test.Policy: no profile Nope" \
    "$(issue x "$T_DIR/alice.csr" PickProfile:Nope)"
daemon_stop
finish
