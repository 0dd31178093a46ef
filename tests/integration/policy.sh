#!/bin/sh
# A loadable policy module (AD CS's ICertPolicy, MyApp.Policy naming):
# tests/modules/policy.c decides from the request attribute "Decision",
# reads request properties, and shapes the certificate with the setters
# (profile, validity, an extension). Also: pending -> resubmit reaches the
# module as new_request = 0; a module error is a recorded failure; a
# missing or misnamed module stops the daemon with a clear message; reload
# back to the built-in policy.
. "$LIB"

ca_init
mkdir -p "$T_DIR/ca/modules"
cp "$MODULES_DIR/policy.so" "$T_DIR/ca/modules/Test.Policy.so"
chmod 644 "$T_DIR/ca/modules/Test.Policy.so"
conf_set policy module Test.Policy
conf_set Test.Policy tag lab
daemon_start
openssl x509 -in "$T_DIR/ca/ca.pem" -out "$T_DIR/ca.pem" 2>/dev/null ||
    curl -fsS -m 60 -o "$T_DIR/ca.pem" "$URL/ca.pem"

out=$("$CERTMINT" -c "$CONF" policy show)
check_match "policy show names the module and its description" \
    "Test.Policy.*certmint test policy module" "$(echo $out)"

# Issue: the module's setters shape the certificate.
new_csr alpha
code=$(submit_http "$T_DIR/alpha.csr" | head -1)
check_eq "issued by the module: 201" 201 "$code"
check_eq "its message" "Issued by Test.Policy" "$(json "$T_DIR/resp.json" 'j["message"]')"
id=$(json "$T_DIR/resp.json" 'j["request_id"]')
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/alpha.crt"
check "the certificate verifies, as a TLS client" \
    openssl verify -purpose sslclient -CAfile "$T_DIR/ca.pem" "$T_DIR/alpha.crt"
text=$(openssl x509 -in "$T_DIR/alpha.crt" -noout -text)
check_match "profile tls-client, set by the module" "TLS Web Client Authentication" "$text"
check_match "the module's extension, with its config and the RequestID" \
    "1\.3\.6\.1\.4\.1\.55555\.1\.1:.*lab/$id" "$(echo $text)"
days=$(python3 - "$T_DIR/alpha.crt" <<'PY'
import subprocess, sys
from datetime import datetime
def d(opt):
    s = subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-noout", opt],
        capture_output=True, text=True).stdout.split("=", 1)[1].strip()
    return datetime.strptime(s, "%b %d %H:%M:%S %Y %Z")
print(round((d("-enddate") - d("-startdate")).total_seconds() / 86400, 2))
PY
)
check_eq "validity set by the module: 3 days (and a minute)" "3.0" "$days"

# Deny: with the subject's CN read through get_request_property.
new_csr bravo
code=$(submit_http "$T_DIR/bravo.csr" Decision:deny | head -1)
check_eq "denied by the module: 403" 403 "$code"
check_eq "with the module's message" "Test.Policy denies bravo" \
    "$(json "$T_DIR/resp.json" 'j["message"]')"
check_eq "recorded as denied" denied "$(json "$T_DIR/resp.json" 'j["disposition"]')"

# Pending, then an officer's resubmit: the module sees new_request = 0.
new_csr charlie
code=$(submit_http "$T_DIR/charlie.csr" Decision:pending | head -1)
check_eq "pending by the module: 202" 202 "$code"
pid=$(json "$T_DIR/resp.json" 'j["request_id"]')
check_eq "with its message" "Test.Policy: waiting for an officer" \
    "$(json "$T_DIR/resp.json" 'j["message"]')"
"$CERTMINT" -c "$CONF" --json resubmit "$pid" >"$T_DIR/resub.json"
check_eq "resubmit: issued (the module approves)" issued \
    "$(json "$T_DIR/resub.json" 'j["disposition"]')"
check_match "with AD CS's message for a resubmission" "^Resubmitted by " \
    "$(json "$T_DIR/resub.json" 'j["message"]')"
json "$T_DIR/resub.json" 'j["certificate"]' >"$T_DIR/charlie.crt"
check_match "shaped by the module too" "55555\.1\.1:.*lab/$pid" \
    "$(echo $(openssl x509 -in "$T_DIR/charlie.crt" -noout -text))"

# A module error: the request is recorded as failed, the daemon serves on.
new_csr delta
code=$(submit_http "$T_DIR/delta.csr" Decision:error | head -1)
check_eq "a module error: 500" 500 "$code"
did=$(json "$T_DIR/resp.json" 'j["request_id"]')
check_eq "recorded as failed" failed \
    "$(curl -fsS -m 60 "$URL/api/v1/requests/$did" | python3 -c 'import json,sys; print(json.load(sys.stdin)["disposition"])')"
code=$(submit_http "$T_DIR/alpha.csr" | head -1)
check_eq "and the next request is issued" 201 "$code"

# Back to the built-in policy on reload.
conf_set policy module CertMint_Default.Policy
check "reload to the built-in policy" "$CERTMINT" -c "$CONF" reload
check_match "policy show: built in" "CertMint_Default.Policy \(built in\)" \
    "$("$CERTMINT" -c "$CONF" policy show)"
code=$(submit_http "$T_DIR/bravo.csr" Decision:deny | head -1)
check_eq "the built-in policy ignores Decision: 201" 201 "$code"

# The tls-server profile's rules hold whatever the policy says.
new_csr www.example.com
code=$(submit_http "$T_DIR/www.example.com.csr" | head -1)
check_eq "tls-server without a SAN: issued" 201 "$code"
wid=$(json "$T_DIR/resp.json" 'j["request_id"]')
curl -fsS -m 60 -o "$T_DIR/www.crt" "$URL/api/v1/requests/$wid/certificate"
check_match "its CN became its subjectAltName" "DNS:www.example.com" \
    "$(openssl x509 -in "$T_DIR/www.crt" -noout -ext subjectAltName 2>&1)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T_DIR/zoe.key" -out "$T_DIR/zoe.csr" -utf8 \
    -subj "/CN=Zo$(printf '\303\253') Smith" 2>/dev/null
out=$(submit_http "$T_DIR/zoe.csr" | tr '\n' ' ')
check_match "tls-server whose CN is not a host name: refused, saying why" \
    "^403 .*must be a host name" "$out"
new_csr mailto -addext "subjectAltName=email:a@example.com"
out=$(submit_http "$T_DIR/mailto.csr" | tr '\n' ' ')
check_match "tls-server with an email SAN: refused" "^403 .*email" "$out"
out=$(submit_http "$T_DIR/www.example.com.csr" ValidityPeriod:Days \
    ValidityPeriodUnits:700 | tr '\n' ' ')
check_match "tls-server for 700 days: capped to 398, and the message says so" \
    "^201 .*validity capped to 398 days" "$out"
wid=$(json "$T_DIR/resp.json" 'j["request_id"]')
curl -fsS -m 60 -o "$T_DIR/w2.crt" "$URL/api/v1/requests/$wid/certificate"
check "notAfter - notBefore is 398 days" python3 -c 'import sys, datetime
f = lambda s: datetime.datetime.strptime(s.split("=", 1)[1].strip(), "%b %d %H:%M:%S %Y %Z")
a, b = sys.argv[1].splitlines()
sys.exit(int((f(b) - f(a)).total_seconds() != 398 * 86400))' \
    "$(openssl x509 -in "$T_DIR/w2.crt" -noout -startdate -enddate)"
wserial=$(openssl x509 -in "$T_DIR/w2.crt" -noout -serial | cut -d= -f2)
check_refused "certificateHold of a tls-server certificate is refused" 30 \
    "certificateHold is not a revocation reason for certificates of profile WebServer" \
    "$CERTMINT" -c "$CONF" revoke "$wserial" certificateHold
check_refused "so is aACompromise" 30 "aACompromise is not a revocation" \
    "$CERTMINT" -c "$CONF" revoke "$wserial" aACompromise
check "keyCompromise is accepted" "$CERTMINT" -c "$CONF" revoke "$wserial" keyCompromise
daemon_stop

# A missing module, and one whose file declares another name.
conf_set policy module Missing.Policy
out=$(timeout 20 "$CERTMINTD" -c "$CONF" 2>&1)
check_eq "a missing policy module: certmintd exits 1" 1 "$?"
check_match "naming the file it looked for" "Missing\.Policy\.so" "$out"
cp "$T_DIR/ca/modules/Test.Policy.so" "$T_DIR/ca/modules/Other.Policy.so"
conf_set policy module Other.Policy
out=$(timeout 20 "$CERTMINTD" -c "$CONF" 2>&1)
check_eq "a misnamed policy module: certmintd exits 1" 1 "$?"
check_match "and says which name it declares" "declares the name \"Test.Policy\"" "$out"
finish
