#!/bin/sh
# bench/modules: the bundled exit modules (issue 12) against their real
# targets on loopback: events per second delivered through each module from
# a backlog of N CERTISSUED events (bench/events/fillevents), next to the
# target's own limit measured in the same run without certmint, and
# issuance with all of them registered against issuance without modules.
#
#   files    a directory here              limit: modlimit files (the same
#            (fsync on, as by default)     writes, sizes and concurrency)
#   command  /bin/true, DER on stdin       limit: modlimit spawn (the same
#                                          program, input and concurrency)
#   webhook  hookrecv.py over HTTP         limit: loadgen posting the body
#            (keep-alive, signatures)      the module sent, same concurrency
#   ldap     slapd (mdb), an entry created limit: one ldapadd of N entries
#            per certificate               with the same certificate
#   mail     aiosmtpd (smtprecv.py)        limit: smtplib sending the message
#                                          the module sent, one connection
#
# A module is measured when its .so is in the bench build and loads; any
# other is skipped with a line saying why. Modules run inline, as an
# installed bundled module does by default (ISOLATION=process: in their
# host processes). The rate is the delivered count of `certmint --json exit
# list` over time (polled 5 times a second), between the first poll that
# sees deliveries and the last that still sees a queue, until the queue is
# empty or MODS_TIME (60) seconds pass; failures and dead letters are
# printed beside it. Issuance: two CAs on one port, without modules and
# with all measured modules (each to its running target), three
# alternating runs, medians, as bench/events. Both print the CPU time
# certmintd (with its children: the command's runs) and the targets spent.
# Files and slapd fsync each write (the module's and slapd's defaults), so
# on a slow disk both the module and its limit measure the disk; NOSYNC=1
# turns that off for both (files: sync = false; slapd: dbnosync).
# FILES_ON=DIR: files and its limit write under DIR (/dev/shm: the module,
# not the disk). EXIT_NICE=N: [exit] nice (default 19). PERF=PREFIX: a
# perf profile of certmintd during each module's delivery, PREFIX.NAME.
# The targets (slapd, the webhook receiver, the SMTP server) run at nice
# TARGET_NICE (19): they stand for other machines, which on a deployment
# do not take the CA's CPU; here they share its 2 cores, and at nice 0
# they would take it from issuance. What they did not do during an
# issuance run is left queued in the modules: printed beside the rate.
# Usage: [NOSYNC=1] [FILES_ON=DIR] [EXIT_NICE=N] [TARGET_NICE=N]
#     [PERF=PREFIX] [ISOLATION=process] [MODULES=...]
#     bench/modules/run.sh [N] [ISSUE_COUNT]
. "$(dirname "$0")/../lib.sh"
N=${1:-20000}
ISSUE=${2:-15000}
MAXT=${MODS_TIME:-60}
THREADS=4		# [exit] threads' default: a concurrent module's calls
ISOLATION=${ISOLATION:-inline}
NOSYNC=${NOSYNC:-}
SYNC=$([ -n "$NOSYNC" ] && echo nosync || echo sync)
WARM=$((ISSUE < 1000 ? ISSUE : 1000))
PY=/usr/bin/python3	# Debian's, with python3-aiosmtpd
HERE=$ROOT/bench/modules
MODLIMIT=$BB/bench/modules/modlimit
MODULES=${MODULES:-files command webhook ldap mail}	# a subset: MODULES="ldap mail"
TNICE="nice -n ${TARGET_NICE:-19}"
bench_need slapd slapd
bench_need ldapadd ldap-utils
"$PY" -c 'import aiosmtpd' 2>/dev/null ||
    bench_need aiosmtpd python3-aiosmtpd

# The targets run for the whole script; stopped before lib.sh's cleanup.
TPIDS=
targets_stop() {
	for p in $TPIDS; do
		kill "$p" 2>/dev/null || continue
		{ wait "$p"; } 2>/dev/null || true	# no "Terminated"
	done
	TPIDS=
}
TPIDS_CLEAN=
trap 'targets_stop; [ -z "$TPIDS_CLEAN" ] || rm -rf "$TPIDS_CLEAN"; cleanup' EXIT INT TERM
# started NAME FILE: wait (at most 10 s) until target NAME made FILE.
started() {
	i=0
	until [ -e "$2" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "bench/modules: $1 did not start"; exit 1; }
		sleep 0.05
	done
}

HPORT=$(free_port)
mkdir -p "$W/hook" "$W/smtp" "$W/ldap/db"
# FILES_ON=DIR: the files module and its limit write under DIR (a tmpfs
# such as /dev/shm measures the module without the disk).
if [ -n "${FILES_ON:-}" ]; then
	OUT=$(mktemp -d "$FILES_ON/certmint-bench-out.XXXXXX")
	ln -s "$OUT" "$W/out"
	TPIDS_CLEAN="$OUT"
else
	mkdir -p "$W/out"
fi
echo "whsec_$(openssl rand -base64 32)" >"$W/hook/secret"
chmod 600 "$W/hook/secret"
$TNICE "$PY" "$HERE/hookrecv.py" "$HPORT" "$W/hook/secret" "$W/hook" \
    >"$W/hook/log" 2>&1 &
HOOK_PID=$!
TPIDS="$TPIDS $!"
started "the webhook receiver" "$W/hook/ready"

SPORT=$(free_port)
$TNICE "$PY" "$HERE/smtprecv.py" serve "$SPORT" "$W/smtp" >"$W/smtp/log" 2>&1 &
SMTP_PID=$!
TPIDS="$TPIDS $!"
started "the SMTP server" "$W/smtp/ready"

LPORT=$(free_port)
LURL=ldap://127.0.0.1:$LPORT
LPW=bench-$$
echo "$LPW" >"$W/ldap/pw"
chmod 600 "$W/ldap/pw"
cat >"$W/ldap/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $W/ldap/slapd.pid
database mdb
maxsize 1073741824
suffix "dc=bench"
rootdn "cn=manager,dc=bench"
rootpw $LPW
directory $W/ldap/db
EOF
[ -z "$NOSYNC" ] || echo dbnosync >>"$W/ldap/slapd.conf"
printf 'dn: dc=bench\nobjectClass: dcObject\nobjectClass: organization\no: Bench\ndc: bench\n' >"$W/ldap/base.ldif"
for ou in people all limit; do
	printf '\ndn: ou=%s,dc=bench\nobjectClass: organizationalUnit\nou: %s\n' \
	    $ou $ou >>"$W/ldap/base.ldif"
done
slapadd -f "$W/ldap/slapd.conf" -l "$W/ldap/base.ldif" >"$W/ldap/log" 2>&1
$TNICE slapd -f "$W/ldap/slapd.conf" -h "$LURL/" -d 0 >>"$W/ldap/log" 2>&1 &
SLAPD_PID=$!
TPIDS="$TPIDS $!"
i=0
until ldapsearch -x -H "$LURL" -b dc=bench -s base dn >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "bench/modules: slapd did not start"; cat "$W/ldap/log"; exit 1; }
	sleep 0.05
done

# conf_NAME TAG: module NAME's section in $CONF, to its target; TAG keeps
# the files and entries of one CA apart from another's.
conf_files() {
	mkdir -p "$W/out/$1"
	printf '\n[CertMint_Files.Exit]\ndir = %s\ncert_name = %%{RequestID}\nsync = %s\n' \
	    "$W/out/$1" "$([ -n "$NOSYNC" ] && echo false || echo true)" >>"$CONF"
}
conf_command() {
	printf '\n[CertMint_Command.Exit]\ncommand = /bin/true\n' >>"$CONF"
}
conf_webhook() {
	printf '\n[CertMint_Webhook.Exit]\nurl = http://127.0.0.1:%s/%s\nsecret_file = %s\n' \
	    "$HPORT" "$1" "$W/hook/secret" >>"$CONF"
}
conf_ldap() {
	printf '\n[CertMint_LDAP.Exit]\nurl = %s\nbind_dn = cn=manager,dc=bench\npassword_file = %s\nuser_dn = cn=%s%%{RequestID},ou=%s,dc=bench\ncreate_entries = true\n' \
	    "$LURL" "$W/ldap/pw" "$1" "$([ "$1" = all ] && echo all || echo people)" >>"$CONF"
}
conf_mail() {
	printf '\n[CertMint_Mail.Exit]\nSMTPServer = 127.0.0.1\nport = %s\ntls = none\nEventFilter = Issued\nFrom = CertMint CA <ca@example.com>\nTo = ops@example.com\n' \
	    "$SPORT" >>"$CONF"
}
modname() {
	case $1 in
	ldap)	echo CertMint_LDAP.Exit ;;
	*)	echo "CertMint_$(echo "$1" | sed 's/^./\U&/').Exit" ;;
	esac
}

# register NAME TAG: register module NAME in $CONF, configured for its
# target. 0, or 1 with why in $W/NAME.skip.
register() {
	_so=$BB/modules/$1/$1.so
	[ -f "$_so" ] || _so=$BB/modules/$1.so
	if [ ! -f "$_so" ]; then
		echo "no $1.so in the bench build" >"$W/$1.skip"
		return 1
	fi
	CERTMINT_MODULES_PATH=$(dirname "$_so") "$CERTMINT" -c "$CONF" exit \
	    register "$1" >"$W/$1.reg" 2>&1 ||
	    { echo "exit register: $(tail -1 "$W/$1.reg")" >"$W/$1.skip"; return 1; }
	"conf_$1" "$2"
	printf '\n[exit.%s]\nisolation = %s\nuser = root\n' "$(modname "$1")" \
	    "$ISOLATION" >>"$CONF"
}

# [exit] of $CONF: THREADS calls at once; a stop waits 1 s, not 10, for
# the modules' queues (a slow module's backlog is left for the next start).
exit_settings() {
	sed -i "s/^\[exit\]\$/[exit]\nthreads = $THREADS\nstop_deadline_ms = 1000${EXIT_NICE:+\\nnice = $EXIT_NICE}/" \
	    "$CONF"
}

# delivery MOD BOUND [START]: poll `exit list` until MOD's queue is empty
# or BOUND seconds passed; prints "delivered=.. failures=.. dead=..
# seconds=.. rate=.. coarse=0|1" and, after a tab, the module's last error
# or why it is not loaded. START: when certmintd was started (date +%s.%N).
delivery() {
	"$PY" - "$CERTMINT" "$CONF" "$1" "$2" "${3:-}" <<'PY'
import json, subprocess, sys, time
certmint, conf, mod, bound = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s, t0 = [], time.time()
start = float(sys.argv[5]) if sys.argv[5] else t0
while True:
    out = subprocess.run([certmint, "-c", conf, "--json", "exit", "list"],
                         capture_output=True, text=True).stdout
    try:
        m = next((x for x in json.loads(out) if x.get("name") == mod), {})
    except ValueError:	# certmintd not answering: the bound ends it
        m = {"loaded": True, "queue": -1}
    t = time.time() - t0
    s.append((t, m.get("delivered", 0), m.get("queue", -1)))
    if not m.get("loaded") or m["queue"] == 0 or t > bound:
        break
    time.sleep(0.2)
# Between the first poll that saw deliveries and the last that saw a queue:
# neither the start nor the poll after the end counts. Under a second, a
# poll's own jitter (a CLI call) is too much of it: all of it then.
a = next((i for i, x in enumerate(s) if x[1] > 0), None)
b = max((i for i, x in enumerate(s) if x[2] > 0), default=None)
# Coarse: from certmintd's start, startup included (a lower bound).
coarse = not (a is not None and b is not None and s[b][0] - s[a][0] >= 1)
if not coarse:
    rate = (s[b][1] - s[a][1]) / (s[b][0] - s[a][0])
else:
    rate = s[-1][1] / (t0 + s[-1][0] - start)
why = m.get("last_error", "") if m.get("loaded") else "not loaded: " + m.get("error", "?")
print(f"delivered={s[-1][1]} failures={m.get('failures', 0)} "
      f"dead={m.get('dead_letters', 0)} queue={s[-1][2]} seconds={t:.2f} "
      f"rate={rate:.0f} coarse={int(coarse)}\t{why}")
PY
}

# cpu PID...: CPU ticks of the processes and of their reaped children.
cpu() {
	_t=0
	for _p; do
		_t=$((_t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$_p/stat")))
	done
	echo $_t
}
# The target's process of each module (none: the kernel's, in certmintd's).
TPID_files= TPID_command= TPID_webhook=$HOOK_PID TPID_ldap=$SLAPD_PID
TPID_mail=$SMTP_PID

# A request to copy, and its certificate (DER) for the limits: from the
# CA without modules, which the issuance runs use later.
"$TOOLS/gencsr" "$ISSUE" "$W/csrs.bin"
bench_init
PLAIN=$CONF
bench_start
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 4 10 >/dev/null
"$CERTMINT" -c "$CONF" retrieve 10 --out "$W/cert.pem" >/dev/null
bench_stop
openssl x509 -in "$W/cert.pem" -outform DER -out "$W/cert.der"

# limit_NAME: the target alone, doing N times what the module does per
# event; prints loadgen's "ok=.. rate=.." line.
limit_files() {
	mkdir -p "$W/out/limit"
	"$MODLIMIT" files "$W/out/limit" "$N" "$W/cert.der" "$THREADS" "$SYNC"
}
limit_command() {
	"$MODLIMIT" spawn "$N" "$THREADS" "$W/cert.der" /bin/true
}
limit_webhook() {
	"$PY" -c 'import struct, sys
b = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(struct.pack(">I", len(b)) + b)' \
	    "$W/hook/body" "$W/hook/body.bin" &&
	    "$TOOLS/loadgen" "http://127.0.0.1:$HPORT" "$W/hook/body.bin" \
	    "$THREADS" "$N"
}
limit_ldap() {
	awk -v n="$N" -v c="$(base64 -w0 "$W/cert.der")" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "dn: cn=l%d,ou=limit,dc=bench\nobjectClass: " \
			    "inetOrgPerson\nobjectClass: pkiUser\ncn: l%d\n" \
			    "sn: l%d\nuserCertificate;binary:: %s\n\n", i, i, i, c
	}' >"$W/ldap/limit.ldif"
	_t0=$(date +%s.%N)
	ldapadd -x -H "$LURL" -D cn=manager,dc=bench -w "$LPW" \
	    -f "$W/ldap/limit.ldif" >/dev/null 2>"$W/ldap/limit.err"
	_rc=$?
	_t1=$(date +%s.%N)
	"$PY" -c "import sys; n, s = $N, $_t1 - $_t0; ok = n if $_rc == 0 else 0
print(f'ok={ok} failed={n - ok} seconds={s:.3f} rate={ok / s:.0f}')"
}
limit_mail() {
	"$PY" "$HERE/smtprecv.py" send "$SPORT" "$N" "$W/smtp/msg"
}

# Each module alone on a CA of its own: a few events first (the module's
# cursor begins, its target sees it once), then the backlog of N.
WITHMODS=
for name in $MODULES; do
	mod=$(modname $name)
	CONF=$W/$name/certmint.conf
	bench_init
	register $name $name || { echo "$mod: skipped ($(cat "$W/$name.skip"))"; continue; }
	exit_settings
	bench_start
	"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 4 10 >/dev/null
	r=$(delivery "$mod" 30)
	bench_stop
	case $r in
	*"	not loaded:"*)
		echo "${r#*	}" >"$W/$name.skip"
		echo "$mod: skipped ($(cat "$W/$name.skip"))"
		continue ;;
	esac
	"$BB/bench/events/fillevents" "$W/$name/certmint.db" "$N" >/dev/null
	start=$(date +%s.%N)
	bench_start
	eval "tp=\$TPID_$name"
	[ -z "${PERF:-}" ] || perf record -F 999 -g -p $PID -o "$PERF.$name" -- sleep 2 >/dev/null 2>&1 &
	c0=$(cpu $PID) t0=$(cpu $tp)
	delivery "$mod" "$MAXT" "$start" >"$W/$name.rate"
	echo "$(($(cpu $PID) - c0)) $(($(cpu $tp) - t0))" >"$W/$name.cpu"
	bench_stop
	echo "  $mod: $(cat "$W/$name.rate")" >&2
	t0=$(cpu $tp)
	limit_$name >"$W/$name.limit" 2>&1 || true
	echo "$(($(cpu $tp) - t0))" >>"$W/$name.cpu"
	echo "  $mod, target alone: $(cat "$W/$name.limit")" >&2
	WITHMODS="$WITHMODS $name"
done

# Issuance: without modules (PLAIN) and with every module measured above
# registered on another CA on the same port, each to its target.
CONF=$W/all/certmint.conf
bench_init
WITH=$CONF
for name in $WITHMODS; do
	register $name all || echo "$(modname $name): not registered for issuance ($(cat "$W/$name.skip"))"
done
exit_settings
for round in 1 2 3; do
	for run in without with; do
		CONF=$PLAIN
		[ $run = with ] && CONF=$WITH
		bench_start
		"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$WARM" >/dev/null	# warm up
		c0=$(cpu $PID) t0=$(cpu $TPIDS)
		r=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$ISSUE")
		c=$(($(cpu $PID) - c0)) t=$(($(cpu $TPIDS) - t0))
		"$CERTMINT" -c "$CONF" --json exit list 2>/dev/null |
		    "$PY" -c 'import json, sys; print(sum(m.get("queue", 0) for m in json.load(sys.stdin)))' \
		    >>"$W/queue.$run" || echo 0 >>"$W/queue.$run"
		bench_stop
		echo "$r" >>"$W/rates.$run"
		echo "$c $t" >>"$W/cpu.$run"
		echo "  round $round, $run: $r (CPU ticks: certmintd $c, targets $t)" >&2
	done
done
without=$(sort -t= -k5 -n "$W/rates.without" | sed -n 2p)
with=$(sort -t= -k5 -n "$W/rates.with" | sed -n 2p)
"$CERTMINT" -c "$WITH" --json exit list >"$W/all.json" 2>/dev/null || true
targets_stop
load=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - "$W" "$N" "$without" "$with" "$MODULES" "$WITHMODS" "$load" \
    "$(getconf CLK_TCK)" "$SYNC" "$ISSUE" <<'PY'
import json, os, sys
w, n, without, with_, mods, measured, load, hz, sync, issue = sys.argv[1:11]
us = lambda ticks, count: ticks / float(hz) / max(count, 1) * 1e6
TARGET = {"files": 20000, "webhook": 5000, "ldap": 2000, "command": 500}
NAMES = {"ldap": "CertMint_LDAP.Exit"}
kv = lambda s: dict(x.split("=", 1) for x in s.split("\t")[0].split())
read = lambda f: open(os.path.join(w, f)).read().strip()
figs = []
print(f"bench/modules ({n} CERTISSUED events per module, {sync}; load "
      f"average {load} at the end: on a busy machine the rates are not "
      "comparable)")
for m in mods.split():
    name = NAMES.get(m, f"CertMint_{m.capitalize()}.Exit")
    tgt = f"target >= {TARGET[m]:,}/s" if m in TARGET else "no target"
    if m not in measured.split():
        why = read(f"{m}.skip")
        print(f"  {name}: skipped ({why})")
        figs += [(f"{m}_rate", f"none (skipped: {why})"),
                 (f"{m}_target_limit", "none (skipped)")]
        continue
    line = read(f"{m}.rate")
    d, err = kv(line), (line.split("\t", 1) + [""])[1]
    lim = read(f"{m}.limit")
    lk = kv(lim.splitlines()[-1]) if "rate=" in lim else {}
    ok = int(d["delivered"]) >= int(n) and d["failures"] == "0" and d["dead"] == "0"
    rate = float(d["rate"])
    lrate = float(lk["rate"]) if lk and lk.get("failed") == "0" else None
    print(f"  {name}: {rate:.0f} events/s ({d['delivered']} delivered in "
          f"{d['seconds']} s, {d['failures']} failures, {d['dead']} dead "
          f"letters, queue {d['queue']}; {tgt})")
    if err:
        print(f"    last error: {err}")
    cd, ct, cl = map(int, read(f"{m}.cpu").split())
    print(f"    CPU per event: certmintd {us(cd, int(d['delivered'])):.0f} us "
          f"(with its children), the target {us(ct, int(d['delivered'])):.0f} us")
    print(f"    its target alone: " + (f"{lrate:.0f}/s" if lrate is not None
          else f"not measured ({lim.splitlines()[-1] if lim else 'no output'})")
          + (f"; the module reaches {rate / lrate:.0%} of it" if lrate else "")
          + (f"; target CPU {us(cl, int(n)):.0f} us per operation" if cl else ""))
    note = "" if ok else f", {d['delivered']} of {n} delivered, {d['failures']} failures, {d['dead']} dead letters"
    if d["coarse"] == "1":
        note += "; at least: delivered in under a second, N too small"
        print("    (delivered in under a second: a lower bound, startup included; use a larger N)")
    figs += [(f"{m}_rate", f"{rate:.0f} events/s ({n} events{note}; {tgt})"),
             (f"{m}_target_limit", f"{lrate:.0f}/s" if lrate is not None else "none (see the log)")]
rate = lambda s: float(s.split("rate=")[1].split()[0])
wo, wi = rate(without), rate(with_)
print(f"  issuance without modules: {wo:.0f} certs/s (median of 3 runs, alternating)")
cpu = {r: [tuple(map(int, l.split())) for l in open(f"{w}/cpu.{r}")]
       for r in ("without", "with")}
per = lambda r, i: us(sum(x[i] for x in cpu[r]), 3 * int(issue))
print(f"    CPU per certificate: certmintd {per('without', 0):.0f} us")
print(f"  with {len(measured.split())} modules registered ({', '.join(measured.split()) or 'none'}): "
      f"{wi:.0f} certs/s ({wi / wo:.1%}; target >= 85%)")
print(f"    CPU per certificate: certmintd {per('with', 0):.0f} us (with its "
      f"children), the targets {per('with', 1):.0f} us (deliveries during "
      "the runs, backlog included)")
left = [int(x) for x in open(f"{w}/queue.with").read().split()]
print(f"    events queued in the modules at the end of each run: "
      f"{', '.join(map(str, left))} (delivered after it, at nice 19)")
figs += [("issue_without_modules", f"{wo:.0f} certs/s"),
         ("issue_with_all", f"{wi:.0f} certs/s ({len(measured.split())} modules)"),
         ("issue_with_all_vs_without", f"{wi / wo:.1%} ({len(measured.split())} of 5 modules)")]
print()
for k, v in figs:
    print(f"FIGURE modules.{k}: {v}")
PY
# Issuance rates count issued certificates only (as bench/issue).
if grep -qv 'failed=0 ' "$W/rates.without" "$W/rates.with"; then
	echo "bench/modules: issuance requests failed:" >&2
	cat "$W/rates.without" "$W/rates.with" >&2
	exit 1
fi
