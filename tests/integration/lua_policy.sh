#!/bin/sh
# Policy modules in Lua (docs/lua.md "Policy modules"): `certmint policy
# set` of examples/lua/allowed-domains.lua, its decisions (issue with its
# validity, pend, deny with its reason), reload of a broken script (the
# old one decides on), and a script over its budget (the request fails,
# the CA goes on).
. "$LIB"

LD=$(dirname "$LIB")/../modules/lua
EX=$(dirname "$LIB")/../../examples/lua
ca_init
openssl x509 -in "$T_DIR/ca/ca.crt" -out "$T_DIR/ca.pem" 2>/dev/null
conf_set AllowedDomains.Policy domains "example.com, example.org"
conf_set AllowedDomains.Policy days 10
check "policy set allowed-domains.lua" "$CERTMINT" -c "$CONF" policy set \
    "$EX/allowed-domains.lua"
check "installed as AllowedDomains.Policy.lua" \
    test -f "$T_DIR/ca/modules/AllowedDomains.Policy.lua"
check_match "named in [policy] module" "AllowedDomains.Policy" \
    "$(grep '^module' "$CONF")"
daemon_start
check_match "policy show names the script" \
    "^AllowedDomains.Policy names only in the allowed domains" \
    "$(echo $("$CERTMINT" -c "$CONF" policy show))"

new_csr a.example.com -addext "subjectAltName=DNS:a.example.com,DNS:b.example.org"
check_eq "names in the allowed domains: issued (201)" 201 \
    "$(submit_http "$T_DIR/a.example.com.csr" | head -1)"
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/a.crt"
check "it verifies" openssl verify -CAfile "$T_DIR/ca.pem" "$T_DIR/a.crt"
days=$(python3 - "$T_DIR/a.crt" <<'PY'
import subprocess, sys
from datetime import datetime
def d(opt):
    s = subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-noout", opt],
        capture_output=True, text=True).stdout.split("=", 1)[1].strip()
    return datetime.strptime(s, "%b %d %H:%M:%S %Y %Z")
print(round((d("-enddate") - d("-startdate")).total_seconds() / 86400))
PY
)
check_eq "valid for the script's 10 days" 10 "$days"
new_csr c.example.com -addext "subjectAltName=DNS:c.example.com,DNS:evil.test"
check_eq "a SAN outside: denied (403)" 403 \
    "$(submit_http "$T_DIR/c.example.com.csr" | head -1)"
check_eq "with the script's reason" "evil.test is outside the allowed domains" \
    "$(json "$T_DIR/resp.json" 'j["message"]')"
new_csr evil.test
check_eq "a CN outside: denied" 403 "$(submit_http "$T_DIR/evil.test.csr" | head -1)"
check_eq "pend on Review:yes (202)" 202 \
    "$(submit_http "$T_DIR/a.example.com.csr" Review:yes | head -1)"
check_eq "with the script's message" "held for an officer's review" \
    "$(json "$T_DIR/resp.json" 'j["message"]')"
pid=$(json "$T_DIR/resp.json" 'j["request_id"]')
"$CERTMINT" -c "$CONF" --json resubmit "$pid" >"$T_DIR/resub.json"
check_eq "an officer's resubmit: issued (new_request is false)" issued \
    "$(json "$T_DIR/resub.json" 'j["disposition"]')"

# The profile's rules hold whatever the script sets: 500 days is capped.
conf_set AllowedDomains.Policy days 500
check "reload (the script reads its settings again)" "$CERTMINT" -c "$CONF" reload
check_match "500 days from the script: capped to the profile's 398" \
    "^201 .*validity capped to 398 days" \
    "$(submit_http "$T_DIR/a.example.com.csr" | tr '\n' ' ')"
conf_set AllowedDomains.Policy days 10
check "reload" "$CERTMINT" -c "$CONF" reload

# Reload with a broken script: refused with file:line, the old one decides.
INST=$T_DIR/ca/modules/AllowedDomains.Policy.lua
cp "$INST" "$T_DIR/good.lua"
printf 'return {\n\tname = "AllowedDomains.Policy",\n\tverify_request = 42 +\n}\n' >"$INST"
check_fails "reload with a broken policy script fails" "$CERTMINT" -c "$CONF" reload
check_match "saying file:line" "AllowedDomains.Policy.lua:4:" "$(cat "$T_DIR/check.out")"
check_eq "the old script still issues" 201 \
    "$(submit_http "$T_DIR/a.example.com.csr" | head -1)"
check_eq "and still denies" 403 "$(submit_http "$T_DIR/evil.test.csr" | head -1)"
cp "$T_DIR/good.lua" "$INST"
check "reload with the script fixed" "$CERTMINT" -c "$CONF" reload

# A script over its instruction budget: the request fails, the CA goes on.
check "policy set policy_loop.lua" "$CERTMINT" -c "$CONF" policy set "$LD/policy_loop.lua"
conf_set LuaLoop.Policy max_instructions 100000
check "reload" "$CERTMINT" -c "$CONF" reload
check_eq "a looping verify_request: the request fails (500)" 500 \
    "$(submit_http "$T_DIR/evil.test.csr" Loop:yes | head -1)"
check_match "the log says which limit" \
    "LuaLoop.Policy: instruction budget exceeded \(max_instructions = 100000\)" \
    "$(cat "$T_LOG")"
check_eq "the next request is issued" 201 "$(submit_http "$T_DIR/evil.test.csr" | head -1)"
check "back to the built-in policy" "$CERTMINT" -c "$CONF" policy set CertMint_Default.Policy
check_match "policy show: built in" "CertMint_Default.Policy \(built in\)" \
    "$("$CERTMINT" -c "$CONF" policy show)"
finish
