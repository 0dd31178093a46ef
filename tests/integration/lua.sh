#!/bin/sh
# Exit modules in Lua (docs/lua.md) in the real daemon: a script reads
# every event and property as a C module does (tests/modules/lua/record.lua
# against Recording.Exit, line for line), several scripts at once with
# their own masks and threading, inline and isolated, the examples of
# examples/lua, failures (traceback, retry, permanent) and dead letters,
# `exit test` with a traceback, and reload of a broken script.
. "$LIB"

LD=$(dirname "$LIB")/../modules/lua
EX=$(dirname "$LIB")/../../examples/lua
ca_init
OUT=$T_DIR/out
mkdir -p "$OUT"
chmod 1777 "$OUT"	# the isolated script runs as nobody
REC=$T_DIR/rec.log
LREC=$OUT/lrec.log

# A webhook receiver: each POST body a line of hook.log.
HPORT=$(free_port)
python3 - "$HPORT" "$T_DIR/hook.log" >/dev/null 2>&1 <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
HPID=$!
# An SMTP server: each message a file mail.N.
SMPORT=$(free_port)
/usr/bin/python3 - "$SMPORT" "$T_DIR" >"$T_DIR/smtpd.log" 2>&1 <<'PY' &
import os, signal, sys
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
class H:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        H.n += 1
        with open(os.path.join(out, ".mail.tmp"), "wb") as f:
            f.write(envelope.original_content)
        os.rename(os.path.join(out, ".mail.tmp"),
                  os.path.join(out, "mail.%d" % H.n))
        return "250 OK"
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
c = Controller(H(), hostname="127.0.0.1", port=port)
c.start()
open(os.path.join(out, "smtpd.ready"), "w").close()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
PY
SMPID=$!
wait_until 30 test -f "$T_DIR/smtpd.ready" ||
    echo "# the SMTP server did not start: $(cat "$T_DIR/smtpd.log")"

reg() {	# reg DESCRIPTION FILE
	check "$1" "$CERTMINT" -c "$CONF" exit register "$2"
}
register_modules recording
conf_set Recording.Exit output "$REC"
reg "register record.lua" "$LD/record.lua"
check "installed as LuaRecord.Exit.lua" test -f "$T_DIR/ca/modules/LuaRecord.Exit.lua"
conf_set LuaRecord.Exit output lrec.log
conf_set LuaRecord.Exit allow file
conf_set LuaRecord.Exit allow_dir "$OUT"
reg "register count-requesters.lua" "$EX/count-requesters.lua"
conf_set RequesterCount.Exit allow file
conf_set RequesterCount.Exit allow_dir "$OUT"
reg "register chat-webhook.lua" "$EX/chat-webhook.lua"
conf_set ChatWebhook.Exit allow http
conf_set ChatWebhook.Exit url "http://127.0.0.1:$HPORT/hook"
reg "register codesign-mail.lua" "$EX/codesign-mail.lua"
conf_set CodeSignMail.Exit allow smtp
conf_set CodeSignMail.Exit to security@example.com
conf_set CodeSignMail.Exit server 127.0.0.1
conf_set CodeSignMail.Exit port "$SMPORT"
conf_set CodeSignMail.Exit tls none
reg "register serials-to-file.lua" "$EX/serials-to-file.lua"
conf_set SerialLog.Exit allow file
conf_set SerialLog.Exit allow_dir "$OUT"
conf_set exit.SerialLog.Exit isolation process
reg "register fail.lua" "$LD/fail.lua"
# A description that would drive the terminal and forge a log line.
cat >"$T_DIR/Ansi.Exit.lua" <<'LUA'
return {
	name = "Ansi.Exit",
	description = "ok\27[31mRED\n2026-12-02T00:00:00Z certmintd[1]: info: forged\226\128\174",
	events = { "SHUTDOWN" },
	notify = function() return true end,
}
LUA
reg "register a script with control characters in its description" \
    "$T_DIR/Ansi.Exit.lua"
check_fails "a second script of the same name is refused" \
    "$CERTMINT" -c "$CONF" exit register "$LD/record.lua"
# Its section [Exit.Exit] would be read as [exit.NAME], a module's hosting
# section, and an `exit set` would leave a file certmintd cannot load.
for n in Exit.Exit acme.Exit Profile.Exit; do
	cat >"$T_DIR/$n.lua" <<LUA
return { name = "$n", notify = function() return true end }
LUA
	check_refused "a module named $n is refused" 30 \
	    "module name \"$n\" must look like MyApp.Exit \(and not begin with" \
	    "$CERTMINT" -c "$CONF" exit register "$T_DIR/$n.lua"
done
conf_set exit max_attempts 3
conf_set exit backoff_initial_ms 20
conf_set exit backoff_max_ms 100

daemon_start
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
mf() { module_field "$T_DIR/list.json" "$1" "$2"; }
check_eq "LuaRecord.Exit: every event, serial, inline" \
    "CERTISSUED|CERTPENDING|CERTDENIED|CERTREVOKED|CERTRETRIEVEPENDING|CRLISSUED|SHUTDOWN|STARTUP|CERTUNREVOKED|CERTIMPORTED serial inline" \
    "$(mf LuaRecord.Exit events) $(mf LuaRecord.Exit threading) $(mf LuaRecord.Exit isolation)"
check_eq "RequesterCount.Exit: its two events, serial" \
    "CERTISSUED|CERTDENIED serial" \
    "$(mf RequesterCount.Exit events) $(mf RequesterCount.Exit threading)"
check_eq "ChatWebhook.Exit: its three events, concurrent" \
    "CERTISSUED|CERTDENIED|CERTREVOKED concurrent" \
    "$(mf ChatWebhook.Exit events) $(mf ChatWebhook.Exit threading)"
check_eq "SerialLog.Exit runs isolated as configured" "process" \
    "$(mf SerialLog.Exit isolation)"
check_eq "the description comes from the script" \
    "counts issued and denied requests per requester" \
    "$(mf RequesterCount.Exit description)"
check "STARTUP reaches the script" wait_lines "$LREC" "^event=0x80 context=0 " 1
"$CERTMINT" -c "$CONF" exit list >"$T_DIR/list.txt"
check_match "exit list escapes a module's control characters" \
    'description:  ok\\x1b\[31mRED\\x0a2026-12-02T00:00:00Z certmintd\[1\]: info: forged\\u202e$' \
    "$(cat "$T_DIR/list.txt")"
check_eq "no raw escape, no forged line, no bidi control" "0 0 0" \
    "$(grep -c "$(printf '\033')" "$T_DIR/list.txt") $(grep -c '^2026-12-02T00:00:00Z' "$T_DIR/list.txt") $(grep -c "$(printf '\342\200\256')" "$T_DIR/list.txt")"

# Every event, as exits.sh raises them.
new_csr one -addext "subjectAltName=DNS:one.test"
submit_http "$T_DIR/one.csr" "CertFile:yes" "CertificateTemplate:tls-client" >/dev/null
id1=$(json "$T_DIR/resp.json" 'j["request_id"]')
serial1=$(json "$T_DIR/resp.json" 'j["serial"]')
conf_set policy request_disposition pending
"$CERTMINT" -c "$CONF" reload >/dev/null
submit_http "$T_DIR/one.csr" >/dev/null
id2=$(json "$T_DIR/resp.json" 'j["request_id"]')
"$CERTMINT" -c "$CONF" resubmit "$id2" >/dev/null
"$CERTMINT" -c "$CONF" retrieve "$id2" >/dev/null
submit_http "$T_DIR/one.csr" >/dev/null
id3=$(json "$T_DIR/resp.json" 'j["request_id"]')
"$CERTMINT" -c "$CONF" deny "$id3" >/dev/null
conf_set policy request_disposition issue
"$CERTMINT" -c "$CONF" reload >/dev/null
"$CERTMINT" -c "$CONF" revoke "$serial1" certificateHold >/dev/null
"$CERTMINT" -c "$CONF" unrevoke "$serial1" >/dev/null
"$CERTMINT" -c "$CONF" crl >/dev/null
new_csr signer
submit_http "$T_DIR/signer.csr" "CertificateTemplate:code-signing" >/dev/null
idc=$(json "$T_DIR/resp.json" 'j["request_id"]')
new_csr imp
openssl x509 -req -in "$T_DIR/imp.csr" -CA "$T_DIR/ca/ca.crt" \
    -CAkey "$T_DIR/ca/ca.key" -set_serial 0x1234567890 -days 30 \
    -out "$T_DIR/imp.crt" 2>/dev/null
"$CERTMINT" -c "$CONF" --json import "$T_DIR/imp.crt" >"$T_DIR/imp.json"
idi=$(json "$T_DIR/imp.json" 'j["request_id"]')
check "the C module got every event" wait_lines "$REC" "^event=0x200 context=$idi " 1
check "the script got every event" wait_lines "$LREC" "^event=0x200 context=$idi " 1
n=$(wc -l <"$REC")
check_eq "the script read what the C module read, event for event" \
    "$(cat "$REC")" "$(head -n "$n" "$LREC")"
check_match "including a CRL's properties at context 0" \
    "^event=0x20 context=0 .*catype=3 crlindex=0 rawcrl_len=[1-9]" "$(cat "$LREC")"
check_match "and a request attribute" "context=$id1 .*attr_certfile=yes" \
    "$(cat "$LREC")"

# The examples.
check "count-requesters: a line per issued or denied request" \
    wait_lines "$OUT/requesters.jsonl" '"seq"' 4
check_eq "count-requesters: 3 issued and 1 denied in all" "3 1" \
    "$(tail -1 "$OUT/requesters.jsonl" | python3 -c 'import json, sys
c = json.load(sys.stdin)["counts"]
print(sum(v["issued"] for v in c.values()), sum(v["denied"] for v in c.values()))')"
check "chat-webhook: a post per issued, denied or revoked certificate" \
    wait_lines "$T_DIR/hook.log" '"text"' 6
check_match "chat-webhook: the post says what happened" \
    "certificate denied: CN=one \(request $id3 " "$(cat "$T_DIR/hook.log")"
mail_sent() { ls "$T_DIR"/mail.* >/dev/null 2>&1; }
check "codesign-mail: a mail for the code-signing certificate" \
    wait_until 30 mail_sent
check_eq "codesign-mail: only that one" 1 "$(ls "$T_DIR"/mail.* | wc -l)"
check_match "codesign-mail: to the team, with the certificate" \
    "To: security@example.com.*Subject: code-signing certificate issued: CN=signer.*BEGIN CERTIFICATE" \
    "$(cat "$T_DIR"/mail.* | tr -d '\r' | tr '\n' ' ')"
check "serials-to-file (isolated): a line per issued or imported certificate" \
    wait_lines "$OUT/issued.tsv" "CN=" 4
check_match "serials-to-file: serial, subject and date" \
    "^$serial1	CN=one	20[0-9-]+T" "$(cat "$OUT/issued.tsv")"

# Failures: error() with a traceback, nil + why (retried), permanent.
new_csr bad
submit_http "$T_DIR/bad.csr" "How:error" >/dev/null
ide=$(json "$T_DIR/resp.json" 'j["request_id"]')
submit_http "$T_DIR/bad.csr" "How:retry" >/dev/null
submit_http "$T_DIR/bad.csr" "How:permanent" >/dev/null
dead() {
	"$CERTMINT" -c "$CONF" exit status LuaFail.Exit >"$T_DIR/status.out" 2>&1 &&
	    [ "$(grep -c 'dead letter:' "$T_DIR/status.out")" -ge 3 ]
}
check "three dead letters for LuaFail.Exit" wait_until 60 dead
check_match "error(): the message with file:line, after 3 attempts" \
    "context $ide, 3 attempts, .*LuaFail.Exit.lua:5: refusing error" "$(cat "$T_DIR/status.out")"
check_match "nil, why: retried, why recorded" "3 attempts, .*: try again later" \
    "$(cat "$T_DIR/status.out")"
check_match "permanent: dead at once" "1 attempts, .*: never deliverable" \
    "$(cat "$T_DIR/status.out")"
check_match "the daemon log has the traceback" "stack traceback:" "$(cat "$T_LOG")"
check "exit test shows the traceback" sh -c "'$CERTMINT' exit test '$LD/fail.lua' \
    --event CERTISSUED --attrib How:error 2>&1 | tr '\n' ' ' | \
    grep -q 'fail.lua:5: refusing error.*stack traceback:.*fail.lua:20: in function'"

# A CA property under a request's context is NOCONTEXT, as documented
# (docs/exit-modules.md), not an unknown name.
cat >"$T_DIR/NoCtx.Exit.lua" <<'LUA'
return {
	name = "NoCtx.Exit",
	notify = function(event, context, srv)
		local v, why = srv:certificate_property("CAType")
		local w, why2 = srv:certificate_property("CRLIndex.0")
		srv:log("catype " .. tostring(v) .. " " .. tostring(why) ..
		    " " .. tostring(w) .. " " .. tostring(why2))
		return true
	end,
}
LUA
check_match "CAType under a request context: NOCONTEXT" \
    "catype +nil +NOCONTEXT +nil +NOCONTEXT" \
    "$("$CERTMINT" exit test "$T_DIR/NoCtx.Exit.lua" --event CERTISSUED 2>&1)"

# Reload: a broken script keeps the old version running, with the error.
INST=$T_DIR/ca/modules/RequesterCount.Exit.lua
cp "$INST" "$T_DIR/good.lua"
printf 'return {\n\tname = "RequesterCount.Exit",\n\tnotify = function(\n}\n' >"$INST"
check_refused "reload with a script that does not compile names it, and fails" \
    30 "not \(re\)loaded.*RequesterCount\.Exit: RequesterCount\.Exit\.lua:[0-9]+:" \
    "$CERTMINT" -c "$CONF" reload
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
check_match "exit list: the error with file:line" \
    "RequesterCount.Exit.lua:4: " "$(mf RequesterCount.Exit reload_error)"
check_eq "and the module is still loaded" "True" "$(mf RequesterCount.Exit loaded)"
check_match "the log says so" "RequesterCount.Exit: reload refused.*RequesterCount.Exit.lua:4:" \
    "$(cat "$T_LOG")"
check_match "exit list in text says so" "reload error: .*RequesterCount.Exit.lua:4:" \
    "$("$CERTMINT" -c "$CONF" exit list)"
new_csr two
n=$(count_lines "$OUT/requesters.jsonl" '"seq"')
submit_http "$T_DIR/two.csr" >/dev/null
check "the old version still counts" wait_lines "$OUT/requesters.jsonl" '"seq"' $((n + 1))
sed 's/return certmint.append_file(file, certmint.json.encode({/return certmint.append_file(file, "v2 " .. certmint.json.encode({/' \
    "$T_DIR/good.lua" >"$INST"
sed 's/file = srv:config("file") or "requesters.jsonl"/return nil, "v3 refuses"/' \
    "$T_DIR/good.lua" >"$T_DIR/v3.lua"
check "reload with a fixed script" "$CERTMINT" -c "$CONF" reload
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
check_eq "the reload error is gone" "" "$(mf RequesterCount.Exit reload_error)"
submit_http "$T_DIR/two.csr" >/dev/null
check "the new version runs" wait_lines "$OUT/requesters.jsonl" '^v2 ' 1
cp "$T_DIR/v3.lua" "$INST"
check_refused "reload with a script whose initialize refuses says why" 30 \
    "not \(re\)loaded.*RequesterCount\.Exit: initialize refused: v3 refuses" \
    "$CERTMINT" -c "$CONF" reload
"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json"
check_match "exit list: initialize's reason" "initialize refused: v3 refuses" \
    "$(mf RequesterCount.Exit reload_error)"
submit_http "$T_DIR/two.csr" >/dev/null
check "v2 still runs" wait_lines "$OUT/requesters.jsonl" '^v2 ' 2

check "the CA still issues" sh -c "curl -fsS '$URL/health' >/dev/null"
kill "$HPID" 2>/dev/null
kill -TERM "$SMPID" 2>/dev/null
wait "$SMPID" 2>/dev/null
finish
