#!/bin/sh
# CertMint_Mail.Exit (docs/modules/mail.md) against a real SMTP server
# (aiosmtpd, started here on loopback): STARTTLS with a certificate this
# CA issued, AUTH PLAIN and LOGIN, implicit TLS; every event's message
# received and parsed (subject and body templates with %N and "???",
# recipients from the SAN, Date, Message-ID, UTF-8 MIME, PEM attachment);
# configure's checks; a transient (451) and a permanent (550) failure, a
# suspension (AUTH refused); replay --dead and --from; kill -9 of certmintd
# while mail is being sent, inline and in a host process.
. "$LIB"

PY=/usr/bin/python3		# Debian's, with python3-aiosmtpd
M=CertMint_Mail.Exit
OUT=$T_DIR/smtp
mkdir -p "$OUT"
SMTPD_PID=

cat >"$T_DIR/smtpd.py" <<'EOF'
# STARTTLS and AUTH required on one port, implicit TLS on another; each
# message saved as msg-N.eml, its envelope in msg-N.json. Control files in
# the output directory: fail_rcpt (the reply to every RCPT), delay
# (seconds before answering DATA).
import asyncio, json, os, signal, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out, port, tls_port, cert, key, pwfile = sys.argv[1:7]
lock = threading.Lock()
count = [len([f for f in os.listdir(out) if f.endswith(".eml")])]

def ctl(name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read().strip()
    except OSError:
        return None

class Handler:
    def __init__(self, port):
        self.port = port

    async def handle_RCPT(self, server, session, envelope, address, opts):
        r = ctl("fail_rcpt")
        if r:
            return r
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        d = ctl("delay")
        if d:
            await asyncio.sleep(float(d))
        with lock:
            count[0] += 1
            n = count[0]
        meta = {"port": self.port, "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "login": (session.auth_data.login.decode()
                          if isinstance(session.auth_data, LoginPassword)
                          else None)}
        base = os.path.join(out, "msg-%05d" % n)
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 Message accepted"

def authenticator(server, session, envelope, mechanism, data):
    with open(pwfile) as f:
        pw = f.read().strip().encode()
    ok = (isinstance(data, LoginPassword) and data.login == b"certmint"
          and data.password == pw)
    return AuthResult(success=ok, handled=False, auth_data=data)

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
starttls = Controller(Handler(int(port)), hostname="127.0.0.1",
                      port=int(port), tls_context=ctx, require_starttls=True,
                      authenticator=authenticator, auth_required=True,
                      auth_require_tls=True)
implicit = Controller(Handler(int(tls_port)), hostname="127.0.0.1",
                      port=int(tls_port), ssl_context=ctx,
                      server_hostname="localhost")
starttls.start()
implicit.start()
open(os.path.join(out, "ready"), "w").close()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
starttls.stop()
implicit.stop()
EOF

# mails.py EXPR: evaluate EXPR over the received messages, "m" a list of
# (email.message.EmailMessage, envelope dict) in arrival order; prints
# the value (lists one item a line).
cat >"$T_DIR/mails.py" <<'EOF'
import email, email.policy, glob, json, os, sys
m = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "msg-*.eml"))):
    with open(f, "rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    with open(f[:-4] + ".json") as fh:
        m.append((msg, json.load(fh)))
def ev(name, rid=None):
    return [x for x in m if x[0]["X-Certmint-Event"] == name and
            (rid is None or x[0]["X-Certmint-Request-ID"] == str(rid))]
def body(x):
    return x[0].get_body(("plain",)).get_content()
v = eval(sys.argv[2])
print("\n".join(str(i) for i in v) if isinstance(v, list) else v)
EOF

mails() {
	"$PY" "$T_DIR/mails.py" "$OUT" "$1"
}

# mail_count EVENT [RID]: messages received for that event (and request).
mail_count() {
	mails "len(ev('$1'${2:+, $2}))"
}

# has_mail EVENT N [RID]: at least N such messages arrived.
has_mail() {
	[ "$(mail_count "$1" ${3:-})" -ge "$2" ]
}

smtpd_start() {
	rm -f "$OUT/ready"
	"$PY" "$T_DIR/smtpd.py" "$OUT" "$SPORT" "$TPORT" "$T_DIR/smtp.crt" \
	    "$T_DIR/smtp.key" "$T_DIR/smtp.pw" >>"$T_DIR/smtpd.log" 2>&1 &
	SMTPD_PID=$!
	wait_until 30 test -f "$OUT/ready" || {
		echo "Bail out! the SMTP server did not start"
		sed 's/^/# /' "$T_DIR/smtpd.log"
		exit 1
	}
}

smtpd_stop() {
	[ -n "$SMTPD_PID" ] || return 0
	kill -TERM "$SMTPD_PID" 2>/dev/null
	wait "$SMTPD_PID" 2>/dev/null
	SMTPD_PID=
}
trap 'smtpd_stop; daemon_kill; rm -rf "$T_DIR"' INT TERM
trap 'smtpd_stop' EXIT

# issue CN [openssl req options]: submit a CSR (profile tls-client, which
# takes an e-mail SAN); ID is its request id, SERIAL the serial.
issue() {
	_cn=$1
	shift
	new_csr "$_cn" "$@"
	submit_http "$T_DIR/$_cn.csr" CertificateTemplate:tls-client \
	    >"$T_DIR/submit.out"
	ID=$(json "$T_DIR/resp.json" 'j["request_id"]' 2>/dev/null)
	SERIAL=$(json "$T_DIR/resp.json" 'j["serial"]' 2>/dev/null)
}

list_json() {
	"$CERTMINT" -c "$CONF" --json exit list >"$T_DIR/list.json" 2>&1
}

field() {
	list_json && module_field "$T_DIR/list.json" "$M" "$1"
}

dead_is() {
	[ "$(field dead_letters)" = "$1" ]
}

status_has() {
	"$CERTMINT" -c "$CONF" exit status "$M" >"$T_DIR/status.out" 2>&1 &&
	    grep -Eq -- "$1" "$T_DIR/status.out"
}

list_has() {
	list_json && grep -Eq -- "$1" "$T_DIR/list.json"
}

# The CA, then the SMTP server with a certificate it issued.
ca_init
# Enough attempts that a transient failure is seen before it is cured.
conf_set exit max_attempts 40
conf_set exit backoff_initial_ms 100
conf_set exit backoff_max_ms 500
daemon_start
new_csr smtp -addext "subjectAltName=IP:127.0.0.1,DNS:localhost"
submit_http "$T_DIR/smtp.csr" >/dev/null
json "$T_DIR/resp.json" 'j["certificate"]' >"$T_DIR/smtp.crt"
check "the CA issued the SMTP server's certificate" \
    openssl verify -CAfile "$T_DIR/ca/ca.crt" "$T_DIR/smtp.crt"
SPORT=$(free_port)
TPORT=$(free_port)
echo 's3cret-Pässword' >"$T_DIR/smtp.pw"
smtpd_start
install -m 600 "$T_DIR/smtp.pw" "$T_DIR/pw"

conf_set "$M" SMTPServer 127.0.0.1
conf_set "$M" port "$SPORT"
conf_set "$M" tls starttls
conf_set "$M" ca_file "$T_DIR/ca/ca.crt"
conf_set "$M" SMTPAuthenticate plain
conf_set "$M" user certmint
conf_set "$M" password_file "$T_DIR/pw"
conf_set "$M" EventFilter all
conf_set "$M" From 'CertMint CA <ca@example.com>'
conf_set "$M" To 'ops@example.com'
conf_set "$M" Issued.To 'RequesterEmail, ops@example.com'
conf_set "$M" Issued.Cc 'Audit Désk <audit@example.com>'
conf_set "$M" Issued.TitleFormat 'Zertifikat für %1 (Anfrage %2)'
conf_set "$M" Issued.TitleArg 'Subject.CommonName, Request.RequestID'
conf_set "$M" Issued.BodyFormat 'Serial: %1\nNot after: %2\nOld: %3\nCN: %{Subject.CommonName}\n100%%'
conf_set "$M" Issued.BodyFormat.2 'Request: %4 (BodyFormat.2, a second line)'
conf_set "$M" Issued.BodyArg 'SerialNumber, NotAfter, RawOldCertificate'
conf_set "$M" Issued.BodyArg.2 'Request.RequestID'
conf_set "$M" Issued.Attach true
conf_set exit.$M isolation inline
check_match "certmint exit register mail (the bundled module by name)" \
    "$M" "$("$CERTMINT" -c "$CONF" exit register mail 2>&1)"
check "the module is loaded" wait_until 30 list_has '"name": "CertMint_Mail.Exit"'
check_eq "it says it is serial" serial "$(field threading)"

# configure: the server tested (EHLO, STARTTLS, AUTH), each wrong setting
# refused with its key and reason.
check_match "exit configure: EHLO, STARTTLS and AUTH work" \
    "connected, STARTTLS, certificate verified, EHLO accepted, AUTH plain accepted" \
    "$("$CERTMINT" -c "$CONF" exit configure "$M" 2>&1)"
check_refused "exit set refuses SMTPAuthenticate = ntlm" 30 "refused SMTPAuthenticate" \
    "$CERTMINT" -c "$CONF" exit set "$M" SMTPAuthenticate ntlm
check_refused "exit set refuses an unknown key" 30 "does not take property" \
    "$CERTMINT" -c "$CONF" exit set "$M" SMTPServr x
check_refused "exit set refuses a %3 the argument list lacks" 30 "refused Issued.TitleFormat" \
    "$CERTMINT" -c "$CONF" exit set "$M" Issued.TitleFormat 'x %1 %3 %100'
cp "$T_DIR/pw" "$T_DIR/pw644"
chmod 644 "$T_DIR/pw644"
conf_set "$M" password_file "$T_DIR/pw644"
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: a password file others can read, by key and reason" 30 \
    "password_file = .*pw644: mode 644" \
    "$CERTMINT" -c "$CONF" exit configure "$M"
conf_set "$M" password_file "$T_DIR/pw"
conf_set "$M" tls none
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: AUTH without TLS is refused" 30 \
    "SMTPAuthenticate = plain: the password would cross the network in clear" \
    "$CERTMINT" -c "$CONF" exit configure "$M"
conf_set "$M" tls starttls
conf_set "$M" ca_file /etc/ssl/certs/ca-certificates.crt
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: a server certificate the CA file does not trust" 30 \
    "SMTP 127.0.0.1:$SPORT: .*(certificate|SSL)" \
    "$CERTMINT" -c "$CONF" exit configure "$M"
conf_set "$M" ca_file "$T_DIR/ca/ca.crt"
echo wrong >"$T_DIR/pwbad"
chmod 600 "$T_DIR/pwbad"
conf_set "$M" password_file "$T_DIR/pwbad"
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: AUTH refused by the server" 30 "535" \
    "$CERTMINT" -c "$CONF" exit configure "$M"
conf_set "$M" password_file "$T_DIR/pw"
conf_set "$M" Isued.TitleFormat "typo"
"$CERTMINT" -c "$CONF" reload >/dev/null
check_refused "configure: a misspelt key in the section, by name" 30 \
    "Isued.TitleFormat: not a setting of CertMint_Mail.Exit" \
    "$CERTMINT" -c "$CONF" exit configure "$M"
check_refused "configure --refresh refuses it too (the settings in use stay)" 30 \
    "Isued.TitleFormat: not a setting" \
    "$CERTMINT" -c "$CONF" exit configure "$M" --refresh
sed -i '/^Isued.TitleFormat = /d' "$CONF"
conf_set "$M" SMTPAuthenticate login
"$CERTMINT" -c "$CONF" reload >/dev/null
check_match "configure: AUTH LOGIN works too" "AUTH login accepted" \
    "$("$CERTMINT" -c "$CONF" exit configure "$M" 2>&1)"
check "configure --refresh applies the section" \
    "$CERTMINT" -c "$CONF" exit configure "$M" --refresh

# Issued: the requester's SAN e-mail, templates, MIME, the attachment.
issue alice -addext "subjectAltName=email:alice@example.org,DNS:alice.test"
ida=$ID
sera=$SERIAL
check "CERTISSUED: a message arrives" wait_until 30 has_mail Issued 1 "$ida"
X="ev('Issued', $ida)[0]"
check_eq "envelope: AUTH as certmint, from ca@, to the SAN e-mail, ops@ and Cc" \
    "certmint ca@example.com alice@example.org,audit@example.com,ops@example.com" \
    "$(mails "' '.join([$X[1]['login'], $X[1]['mail_from'], ','.join(sorted($X[1]['rcpt_tos']))])")"
check_eq "Subject: the UTF-8 template with %1 %2" "Zertifikat für alice (Anfrage $ida)" \
    "$(mails "$X[0]['Subject']")"
check_eq "To and Cc headers (the Cc's name encoded)" \
    "alice@example.org, ops@example.com | Audit Désk <audit@example.com>" \
    "$(mails "str($X[0]['To']) + ' | ' + str($X[0]['Cc'])")"
check_eq "From header" "CertMint CA <ca@example.com>" "$(mails "$X[0]['From']")"
check_match "Date header (RFC 5322)" \
    "^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000$" \
    "$(mails "$X[0]['Date']")"
check_match "Message-ID names the event" "^<[0-9]+\.issued\.[0-9a-f]{16}@[A-Za-z0-9.-]+>$" \
    "$(mails "$X[0]['Message-ID']")"
check_eq "MIME: multipart with a UTF-8 text part" "multipart/mixed text/plain utf-8" \
    "$(mails "$X[0].get_content_type() + ' ' + $X[0].get_body().get_content_type() + ' ' + $X[0].get_body().get_content_charset()")"
body=$(mails "body($X)")
check_match "body: %1 is the serial" "Serial: $sera" "$body"
check_match "body: %2 the NotAfter date" "Not after: [0-9]{4}-[0-9]{2}-[0-9]{2}T" "$body"
check_match "body: an empty property prints ???" "Old: \?\?\?" "$body"
check_match "body: %{Subject.CommonName} and %%" "CN: alice.*100%" "$(echo $body)"
check_match "body: BodyFormat.2 and BodyArg.2 continue the multi-strings" \
    "^Request: $ida \(BodyFormat.2, a second line\)" "$body"
mails "[a.get_payload(decode=True).decode() for a in $X[0].iter_attachments()][0]" \
    >"$T_DIR/att.pem"
check_eq "the PEM attachment is the certificate" \
    "$(openssl x509 -in "$T_DIR/smtp.crt" -noout -issuer)" \
    "$(openssl x509 -in "$T_DIR/att.pem" -noout -issuer)"
check_eq "... with the certificate's serial" "$(echo "$sera" | tr a-f A-F)" \
    "$(openssl x509 -in "$T_DIR/att.pem" -noout -serial | sed 's/serial=//')"

# Every other event, with the default templates.
conf_set policy request_disposition pending
"$CERTMINT" -c "$CONF" reload >/dev/null
issue bob -subj "/CN=bob/emailAddress=bob@example.org"
idb=$ID
check "CERTPENDING: a message" wait_until 30 has_mail Pending 1 "$idb"
check_match "Pending: default subject" "Certificate request pending: bob \(request $idb\)" \
    "$(mails "ev('Pending', $idb)[0][0]['Subject']")"
"$CERTMINT" -c "$CONF" resubmit "$idb" >/dev/null
"$CERTMINT" -c "$CONF" retrieve "$idb" >/dev/null
check "CERTRETRIEVEPENDING: a message" wait_until 30 has_mail RetrievePending 1 "$idb"
issue carol
idc=$ID
"$CERTMINT" -c "$CONF" deny "$idc" >/dev/null
check "CERTDENIED: a message" wait_until 30 has_mail Denied 1 "$idc"
check_match "Denied: the default body names the request" "denied request $idc" \
    "$(mails "body(ev('Denied', $idc)[0])")"
conf_set policy request_disposition issue
"$CERTMINT" -c "$CONF" reload >/dev/null
"$CERTMINT" -c "$CONF" revoke "$sera" certificateHold >/dev/null
check "CERTREVOKED: a message" wait_until 30 has_mail Revoked 1 "$ida"
check_match "Revoked: reason code 6 (certificateHold)" "Reason code: +6" \
    "$(mails "body(ev('Revoked', $ida)[0])")"
"$CERTMINT" -c "$CONF" unrevoke "$sera" >/dev/null
check "CERTUNREVOKED: a message" wait_until 30 has_mail Unrevoked 1 "$ida"
"$CERTMINT" -c "$CONF" crl >/dev/null
check "CRLISSUED: a message" wait_until 30 has_mail CRLIssued 1
check_match "CRLIssued: the CA's name (a CA property)" "CRL published by Test CA" \
    "$(mails "ev('CRLIssued')[0][0]['Subject']")"
new_csr imp
openssl x509 -req -in "$T_DIR/imp.csr" -CA "$T_DIR/ca/ca.crt" \
    -CAkey "$T_DIR/ca/ca.key" -set_serial 0x7777 -days 30 \
    -out "$T_DIR/imp.crt" 2>/dev/null
"$CERTMINT" -c "$CONF" --json import "$T_DIR/imp.crt" >"$T_DIR/imp.json"
idi=$(json "$T_DIR/imp.json" 'j["request_id"]')
check "CERTIMPORTED: a message" wait_until 30 has_mail Imported 1 "$idi"
check_eq "the default recipient of the other events (To)" "ops@example.com" \
    "$(mails "sorted(set(','.join(x[1]['rcpt_tos']) for x in m if x[0]['X-Certmint-Event'] != 'Issued'))")"
check_eq "every message: Date, Message-ID, MIME-Version, UTF-8" 0 \
    "$(mails "len([x for x in m if not (x[0]['Date'] and x[0]['Message-ID'] and x[0]['MIME-Version'] == '1.0' and x[0].get_body().get_content_charset() == 'utf-8')])")"

# A transient failure (451): retried with the host's backoff, then sent.
echo '451 4.3.0 try again later' >"$OUT/fail_rcpt"
issue dave
idd=$ID
check "451: exit list shows the failure and its cause" \
    wait_until 30 list_has 'SMTP 127.0.0.1:[0-9]+: .*451 4.3.0 try again later'
rm -f "$OUT/fail_rcpt"
check "... and the message goes once the server accepts" \
    wait_until 30 has_mail Issued 1 "$idd"
check_eq "no dead letter for a transient failure" 0 "$(field dead_letters)"

# A permanent failure (550): a dead letter at once, with the cause.
echo '550 5.1.1 no such user' >"$OUT/fail_rcpt"
issue erin
ide=$ID
check "550: a dead letter after one attempt, showing the server's reply" \
    wait_until 30 status_has "context $ide, 1 attempts.*550 5.1.1 no such user"
rm -f "$OUT/fail_rcpt"
check_eq "nothing was sent for it" 0 "$(mail_count Issued "$ide")"
check_match "replay --dead queues it" "1 events queued" \
    "$("$CERTMINT" -c "$CONF" exit replay "$M" --dead 2>&1)"
check "the replayed dead letter is sent" wait_until 30 has_mail Issued 1 "$ide"
check "and is no longer a dead letter" wait_until 30 dead_is 0

# AUTH refused while running (the server's password changed; a refresh
# drops the open connection): the module suspends itself, nothing lost.
echo wrong-now >"$T_DIR/smtp.pw"
"$CERTMINT" -c "$CONF" exit configure "$M" --refresh >/dev/null
issue frank
idf=$ID
check "535: the module is suspended, saying why" \
    wait_until 30 list_has 'suspended.*535'
issue gina
idg=$ID
cp "$T_DIR/pw" "$T_DIR/smtp.pw"
check "exit resume" "$CERTMINT" -c "$CONF" exit resume "$M"
check "after resume both queued events are sent" \
    wait_until 30 has_mail Issued 1 "$idg"
check_eq "... the refused one too" 1 "$(mail_count Issued "$idf")"

# replay --from SEQ: the same event again, with the same Message-ID.
mid=$(mails "ev('Issued', $ida)[0][0]['Message-ID']")
seq=$(mails "ev('Issued', $ida)[0][0]['X-Certmint-Event-Sequence']")
"$CERTMINT" -c "$CONF" exit replay "$M" --from "$seq" >/dev/null
check "replay --from SEQ sends the event again" wait_until 30 has_mail Issued 2 "$ida"
check_eq "with the same Message-ID (receivers drop it)" "$mid" \
    "$(mails "ev('Issued', $ida)[1][0]['Message-ID']")"
check "the events after it follow" wait_until 30 has_mail Issued 2 "$idg"

# kill -9 of certmintd while mail is being sent; the module then runs in
# a host process, over implicit TLS. Nothing is lost; duplicates carry the
# same Message-ID.
echo 0.3 >"$OUT/delay"
ids=
for i in 1 2 3 4 5 6 7 8; do
	issue "k$i"
	ids="${ids:+$ids }$ID"
done
check "mail is being sent when certmintd is killed" \
    wait_until 30 has_mail Issued 1 "${ids%% *}"
daemon_kill
rm -f "$OUT/delay"
# The host process runs as nobody: what it reads must be readable by it.
install -m 644 "$T_DIR/ca/ca.crt" "$T_DIR/ca-pub.crt"
conf_set "$M" ca_file "$T_DIR/ca-pub.crt"
conf_set exit.$M isolation process
conf_set "$M" tls implicit
conf_set "$M" port "$TPORT"
conf_set "$M" SMTPAuthenticate none
daemon_start
check_eq "after restart the module runs in a host process" process "$(field isolation)"
missing() {
	for _i in $ids; do
		has_mail Issued 1 "$_i" || return 1
	done
}
check "every event sent before the kill arrives after it" wait_until 60 missing
check_eq "one Message-ID per event (duplicates are redeliveries)" 8 \
    "$(mails "len(set(x[0]['Message-ID'] for x in ev('Issued') if int(x[0]['X-Certmint-Request-ID']) in ($(echo $ids | tr ' ' ','),)))")"
check "STARTUP: a message" wait_until 30 has_mail Startup 1
check_match "later mail goes over implicit TLS (port $TPORT)" "$TPORT" \
    "$(mails "[x[1]['port'] for x in ev('Startup')][-1]")"
issue hank
check "isolated: an event is sent" wait_until 30 has_mail Issued 1 "$ID"

daemon_stop
check_eq "daemon stops cleanly" 0 $?
check "SHUTDOWN: a message at the stop" has_mail Shutdown 1

# Inline once more, to a clean stop: LeakSanitizer sees the module's
# shutdown in certmintd itself.
conf_set exit.$M isolation inline
daemon_start
issue ivy
check "inline again: an event is sent" wait_until 30 has_mail Issued 1 "$ID"
daemon_stop
check "... and a second SHUTDOWN message" has_mail Shutdown 2
# A module that refuses its settings at load says why in exit list, inline
# and isolated (the cause it logged, with initialize's code).
conf_set "$M" SMTPServer "bad host!"
for iso in inline process; do
	conf_set exit.$M isolation $iso
	daemon_start
	check_match "$iso: a bad SMTPServer: exit list names the key" \
	    "NOT LOADED: initialize returned -?[0-9]+: .*SMTPServer" \
	    "$("$CERTMINT" -c "$CONF" exit list 2>&1)"
	daemon_stop
done
check_eq "the password never reaches the log" 0 \
    "$(grep -c -e 's3cret' -e 'wrong-now' "$T_LOG" || true)"
smtpd_stop
finish
