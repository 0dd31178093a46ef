#!/bin/sh
# bench/run-all.sh: run every benchmark in sequence and print one summary
# table of exactly the figures README.md and bench/README.md quote, with
# the run's date, machine and commit, so that each quoted figure can be
# traced to a run. Each script prints its figures as "FIGURE name: value";
# this collects them. The scripts' whole output goes to a log ($LOG).
#
# Run it on a quiet machine (the figures are CPU-bound and client and
# server share the cores). ROUNDS=N runs every script N times and prints
# each figure's range over the rounds. Sizes (defaults: what the docs
# quote; one round should take some 5 minutes on 2 cores, estimated from
# small runs: the summary says how long it took):
#   ISSUE_COUNT=20000 ISSUE_CONC=64       bench/issue
#   CRL_N=1000000 CRL_ISSUE=5000          bench/crl (ordered, then random serials)
#   EVENTS_N=200000 EVENTS_ISSUE=15000    bench/events
#   HOSTILE_COUNT=15000                   bench/hostile
#   MODS_N=20000 MODS_ISSUE=15000         bench/modules
# Usage: bench/run-all.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-1}
ISSUE_COUNT=${ISSUE_COUNT:-20000}
ISSUE_CONC=${ISSUE_CONC:-64}
CRL_N=${CRL_N:-1000000}
CRL_ISSUE=${CRL_ISSUE:-5000}
EVENTS_N=${EVENTS_N:-200000}
EVENTS_ISSUE=${EVENTS_ISSUE:-15000}
HOSTILE_COUNT=${HOSTILE_COUNT:-15000}
MODS_N=${MODS_N:-20000}
MODS_ISSUE=${MODS_ISSUE:-15000}
STAMP=$(date -u +%Y-%m-%dT%H:%MZ)
LOG=${LOG:-${TMPDIR:-/tmp}/certmint-bench-$(date -u +%Y%m%dT%H%M%SZ).log}
FIGS=$LOG.figures
: >"$LOG"
: >"$FIGS"
failed=

# run NAME CMD...: one benchmark; its FIGURE lines go to $FIGS under NAME.
run() {
	_name=$1
	shift
	echo "== $_name: $* ($(date -u +%H:%M:%S))" | tee -a "$LOG"
	if "$@" >"$LOG.one" 2>&1; then
		grep '^FIGURE ' "$LOG.one" | tee -a "$FIGS" || true
	else
		echo "   FAILED (exit $?): see $LOG" | tee -a "$LOG"
		failed="$failed $_name"
	fi
	cat "$LOG.one" >>"$LOG"
	rm -f "$LOG.one"
}

start=$(date +%s)
r=1
while [ "$r" -le "$ROUNDS" ]; do
	run "issue, round $r" sh "$ROOT/bench/issue/run.sh" "$ISSUE_COUNT" \
	    "$ISSUE_CONC"
	run "crl, round $r" sh "$ROOT/bench/crl/run.sh" "$CRL_N" "$CRL_ISSUE"
	run "crl random serials, round $r" env SERIALS=random \
	    sh "$ROOT/bench/crl/run.sh" "$CRL_N" "$CRL_ISSUE"
	run "events, round $r" sh "$ROOT/bench/events/run.sh" "$EVENTS_N" \
	    "$EVENTS_ISSUE"
	run "hostile, round $r" sh "$ROOT/bench/hostile/run.sh" \
	    "$HOSTILE_COUNT"
	run "modules, round $r" sh "$ROOT/bench/modules/run.sh" "$MODS_N" \
	    "$MODS_ISSUE"
	r=$((r + 1))
done
end=$(date +%s)

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || rev="$rev + uncommitted changes"

python3 - "$FIGS" "$ROUNDS" <<'PY'
import re, sys
# The figures the docs quote, in the order of bench/README.md, with the
# script that prints each. Keep this list and the docs' tables in step.
QUOTED = [
    ("issue.certmint_rate", "bench/issue", "durable issuance over HTTP"),
    ("issue.crypto_bound", "bench/issue", "crypto bound (openssl speed, all cores)"),
    ("issue.certmint_vs_bound", "bench/issue", "issuance / crypto bound (target >= 40 %)"),
    ("issue.openssl_ca_rate", "bench/issue", "openssl ca, one batch call"),
    ("issue.certmint_vs_openssl_ca", "bench/issue", "certmint / openssl ca"),
    ("issue.cfssl_rate", "bench/issue", "cfssl serve, no database"),
    ("issue.certmint_vs_cfssl", "bench/issue", "certmint / cfssl (no database)"),
    ("issue.pipeline_1_thread", "bench/issue", "CPU path alone, 1 thread"),
    ("issue.pipeline_threads", "bench/issue", "CPU path alone, N threads"),
    ("issue.pipeline_processes", "bench/issue", "CPU path alone, N processes"),
    ("issue.pipeline_threads_vs_bound", "bench/issue", "CPU path, threads / crypto bound"),
    ("issue.pipeline_processes_vs_bound", "bench/issue", "CPU path, processes / crypto bound"),
    ("issue.daemon_cpu_us", "bench/issue", "certmintd CPU per certificate"),
    ("issue.crypto_us", "bench/issue", "crypto per certificate (verify + sign)"),
    ("issue.writer_cpu_us", "bench/issue", "writer thread CPU per certificate"),
    ("issue.jobs_per_commit", "bench/issue", "requests per commit (fdatasync)"),
    ("crl.publish_time", "bench/crl", "certmint crl (target < 5 s)"),
    ("crl.size", "bench/crl", "CRL size"),
    ("crl.peak_rss", "bench/crl", "certmintd peak RSS (target < 1 GiB)"),
    ("crl.issue_full_vs_empty", "bench/crl", "issuance, full database / empty"),
    ("crl.issue_full_vs_empty_random_serials", "SERIALS=random bench/crl",
     "the same with random serials"),
    ("events.with_vs_without", "bench/events", "issuance with a no-op module / without (target >= 90 %)"),
    ("events.serial_delivery", "bench/events", "serial module delivery (target >= 100,000/s)"),
    ("events.concurrent_delivery", "bench/events", "concurrent module delivery"),
    ("events.notify_p50", "bench/events", "commit-to-notify latency, median"),
    ("events.notify_p99", "bench/events", "commit-to-notify latency, 99th percentile"),
    ("hostile.good_alone", "bench/hostile", "good issuance, alone"),
    ("hostile.good_under_attack", "bench/hostile", "good issuance while 4 connections send worst-case requests"),
    ("hostile.ratio", "bench/hostile", "under attack / alone (target >= 90 %)"),
    ("modules.files_rate", "bench/modules", "files module delivery (target >= 20,000/s)"),
    ("modules.files_target_limit", "bench/modules", "the same writes alone"),
    ("modules.webhook_rate", "bench/modules", "webhook module delivery (target >= 5,000/s)"),
    ("modules.webhook_target_limit", "bench/modules", "its receiver alone (loadgen)"),
    ("modules.ldap_rate", "bench/modules", "LDAP module delivery (target >= 2,000/s)"),
    ("modules.ldap_target_limit", "bench/modules", "slapd alone (ldapadd)"),
    ("modules.command_rate", "bench/modules", "command module delivery (target >= 500/s)"),
    ("modules.command_target_limit", "bench/modules", "the command alone (C loop)"),
    ("modules.mail_rate", "bench/modules", "mail module delivery"),
    ("modules.mail_target_limit", "bench/modules", "aiosmtpd alone (smtplib)"),
    ("modules.issue_with_all_vs_without", "bench/modules", "issuance with all five modules / without (target >= 85 %)"),
]
vals = {}
for line in open(sys.argv[1]):
    m = re.match(r"FIGURE (\S+): (.*)", line.rstrip("\n"))
    if m:
        vals.setdefault(m.group(1), []).append(m.group(2))

def summary(vs):
    """One value as printed; several: the range of their leading numbers."""
    if len(vs) == 1:
        return vs[0]
    nums, rest = [], set()
    for v in vs:
        m = re.match(r"([0-9.]+)(.*)", v)
        if not m:
            return "; ".join(vs)
        nums.append(float(m.group(1)))
        rest.add(re.sub(r"\(.*\)", "", m.group(2)).strip())
    if len(rest) != 1:
        return "; ".join(vs)
    unit = rest.pop()
    sep = "" if unit in ("%", "x", "") else " "
    fmt = lambda x: f"{x:g}" if x < 1000 else f"{x:,.0f}"
    return f"{fmt(min(nums))}-{fmt(max(nums))}{sep}{unit} ({len(vs)} runs)"

print()
print("| figure | value | printed by |")
print("|---|---|---|")
for name, script, label in QUOTED:
    v = vals.get(name)
    print(f"| {label} (`{name}`) | {summary(v) if v else 'MISSING'} | `{script}` |")
PY

echo
echo "run: bench/run-all.sh, $STAMP, ROUNDS=$ROUNDS, $((end - start)) s"
echo "sizes: issue $ISSUE_COUNT CSRs x $ISSUE_CONC connections; crl $CRL_N" \
    "entries, $CRL_ISSUE issued; events $EVENTS_N events, $EVENTS_ISSUE issued;" \
    "modules $MODS_N events, $MODS_ISSUE issued"
echo "machine: $(uname -srm); $cpu; $(nproc) cores"
echo "commit: $rev"
echo "log: $LOG"
rm -f "$FIGS"
if [ -n "$failed" ]; then
	echo "FAILED:$failed" >&2
	exit 1
fi
