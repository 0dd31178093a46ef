#!/bin/sh
# bench/events: issuance with and without a no-op exit module subscribed to
# every event, the module inline and in its host process ([exit.NAME]
# isolation); events per second delivered to a serial and to a concurrent
# module (inline) and to a serial module in its host process, from a
# backlog of N CERTISSUED events of N issued requests (the module reads
# RequestID and Disposition of each, so the daemon loads each request as
# for a real module); commit-to-notify latency (p50/p99); the same backlog
# to a trivial serial Lua script (bench/events/noop.lua) beside the C one.
# Usage: bench/events/run.sh [N] [ISSUE_COUNT]
. "$(dirname "$0")/../lib.sh"
N=${1:-200000}
ISSUE=${2:-15000}
MODS=$BB/bench/events
WARM=$((ISSUE < 1000 ? ISSUE : 1000))

"$TOOLS/gencsr" "$ISSUE" "$W/csrs.bin"
# Two CAs on the same port, one without modules and one with the no-op
# module, measured alternately three times: the median of each is
# compared (one run of each differs by +-10 % from run to run here).
bench_init
PLAIN=$CONF
CONF=$W/ca2/certmint.conf
bench_init
"$CERTMINT" -c "$CONF" exit register "$MODS/BenchSerial.Exit.so" >/dev/null
printf '\n[BenchSerial.Exit]\noutput = %s\n' "$W/serial.out" >>"$CONF"
# The figures of the no-op module inline (as before isolation existed),
# then in its host process (as root: it writes into $W at its shutdown).
printf '\n[exit.BenchSerial.Exit]\nisolation = inline\nuser = root\n' >>"$CONF"
WITH=$CONF
# isolation MODE: run the module inline or in its process from now on.
isolation() {
	sed -i "s/^isolation = .*/isolation = $1/" "$WITH"
}
for round in 1 2 3; do
	for run in without inline process; do
		if [ $run = without ]; then
			CONF=$PLAIN
		else
			CONF=$WITH
			isolation $run
		fi
		bench_start
		"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$WARM" >/dev/null	# warm up
		r=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$ISSUE")
		[ $run = inline ] &&
		    "$CERTMINT" -c "$CONF" --json exit list >"$W/list.json"
		bench_stop
		echo "$r" >>"$W/rates.$run"
		echo "  round $round, $run: $r" >&2
	done
done
isolation inline
without=$(sort -t= -k5 -n "$W/rates.without" | sed -n 2p)
with=$(sort -t= -k5 -n "$W/rates.inline" | sed -n 2p)
withproc=$(sort -t= -k5 -n "$W/rates.process" | sed -n 2p)

# drained NAME: wait (at most 120 s) until module NAME has no queue left.
# Polls twice a second with grep: a poll costs CPU the delivery would use.
drained() {
	i=0
	while [ $i -lt 240 ]; do
		sleep 0.5
		"$CERTMINT" -c "$CONF" --json exit list | tr -d ' \n' |
		    grep -q "\"name\":\"$1\"[^}]*\"queue\":0[,}]" && return 0
		i=$((i + 1))
	done
	echo "bench/events: $1 did not drain its queue" >&2
}

# A backlog of N events for the serial module: copies of the last request
# issued above, each with its certificate and CERTISSUED event.
"$BB/bench/events/fillevents" "$W/ca2/certmint.db" "$N"
bench_start
drained BenchSerial.Exit
bench_stop	# the module writes its count and times at shutdown

# The same for the concurrent one.
"$CERTMINT" -c "$CONF" exit unregister BenchSerial.Exit >/dev/null
"$CERTMINT" -c "$CONF" exit register "$MODS/BenchConcurrent.Exit.so" >/dev/null
printf '\n[BenchConcurrent.Exit]\noutput = %s\n' "$W/conc.out" >>"$CONF"
printf '\n[exit.BenchConcurrent.Exit]\nisolation = inline\n' >>"$CONF"
bench_start	# first start: the module's cursor begins here
bench_stop
"$BB/bench/events/fillevents" "$W/ca2/certmint.db" "$N"
bench_start
drained BenchConcurrent.Exit
bench_stop

# The serial module in its host process: every notify is a message to
# its host and back. On a CA of its own, like the inline serial module's
# first backlog: on ca2, after two backlogs, the database is three times
# as big and the same module drains a third slower.
CONF=$W/ca3/certmint.conf
bench_init
"$CERTMINT" -c "$CONF" exit register "$MODS/BenchSerial.Exit.so" >/dev/null
printf '\n[BenchSerial.Exit]\noutput = %s\n' "$W/serial-process.out" >>"$CONF"
printf '\n[exit.BenchSerial.Exit]\nisolation = process\nuser = root\n' >>"$CONF"
bench_start
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 4 10 >/dev/null	# a request to copy
drained BenchSerial.Exit
bench_stop
"$BB/bench/events/fillevents" "$W/ca3/certmint.db" "$N"
bench_start
drained BenchSerial.Exit
bench_stop

# A trivial serial Lua script (docs/lua.md), inline, on a CA of its own
# as the isolated module above.
CONF=$W/ca4/certmint.conf
bench_init
"$CERTMINT" -c "$CONF" exit register "$ROOT/bench/events/noop.lua" >/dev/null
printf '\n[BenchLua.Exit]\noutput = lua.out\nallow = file\nallow_dir = %s\n' \
    "$W" >>"$CONF"
bench_start
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 4 10 >/dev/null	# a request to copy
drained BenchLua.Exit
bench_stop
rm -f "$W/lua.out"
"$BB/bench/events/fillevents" "$W/ca4/certmint.db" "$N"
bench_start
drained BenchLua.Exit
bench_stop

python3 - "$without" "$with" "$W/serial.out" "$W/conc.out" "$W/list.json" "$N" \
    "$withproc" "$W/serial-process.out" "$W/lua.out" <<'PY'
import json, sys
rate = lambda s: float(s.split("rate=")[1].split()[0])
def evs(path, name):
    # A rate only when every event of the backlog was delivered and the
    # module read its request properties from each.
    try:
        n, a, b, unread = map(int, open(path).read().split())
    except Exception:
        print(f"  {name}: no count written", file=sys.stderr)
        return None
    if n < int(sys.argv[6]) or unread > 0:
        print(f"  {name}: {n} events delivered, {unread} without a readable "
              "request property: no rate", file=sys.stderr)
        return None
    return n / ((b - a) / 1e9)
fmt = lambda r: f"{r:.0f} events/s" if r is not None else "none (see the log)"
wo, wi, wp = rate(sys.argv[1]), rate(sys.argv[2]), rate(sys.argv[7])
ser, conc = evs(sys.argv[3], "serial"), evs(sys.argv[4], "concurrent")
serp = evs(sys.argv[8], "serial, isolated")
lua = evs(sys.argv[9], "Lua serial script")
mods = json.load(open(sys.argv[5]))
lat = next((m.get("latency_us", {}) for m in mods if m.get("name") == "BenchSerial.Exit"), {})
print("bench/events")
print(f"  issuance without modules:   {wo:.0f} certs/s (median of 3 runs, alternating)")
print(f"  with a no-op serial module: {wi:.0f} certs/s ({wi / wo:.1%}; target >= 90%)")
print(f"  the same, isolated:         {wp:.0f} certs/s ({wp / wo:.1%}; target >= 85%)")
print(f"  serial module:              {fmt(ser)} (target >= 100000; "
      f"{sys.argv[6]} CERTISSUED events, RequestID and Disposition read from each)")
print(f"  concurrent module:          {fmt(conc)}")
print(f"  serial module, isolated:    {fmt(serp)} (target >= 50000)")
print(f"  serial Lua script:          {fmt(lua)} (target >= 200000)"
      + (f"; {lua / ser:.0%} of the C module's rate" if lua and ser else ""))
print(f"  commit-to-notify latency:   p50 {lat.get('p50', '?')} us, p99 {lat.get('p99', '?')} us "
      f"({lat.get('samples', 0)} samples)")
print()
print(f"FIGURE events.issue_without_module: {wo:.0f} certs/s")
print(f"FIGURE events.issue_with_module: {wi:.0f} certs/s")
print(f"FIGURE events.with_vs_without: {wi / wo:.1%}")
print(f"FIGURE events.issue_with_isolated_module: {wp:.0f} certs/s")
print(f"FIGURE events.isolated_vs_without: {wp / wo:.1%}")
print(f"FIGURE events.serial_isolated_delivery: {fmt(serp)} ({sys.argv[6]} events)")
print(f"FIGURE events.serial_delivery: {fmt(ser)} ({sys.argv[6]} events)")
print(f"FIGURE events.concurrent_delivery: {fmt(conc)} ({sys.argv[6]} events)")
print(f"FIGURE events.lua_serial_delivery: {fmt(lua)} ({sys.argv[6]} events)")
if lua and ser:
    print(f"FIGURE events.lua_vs_c_serial: {lua / ser:.1%}")
us = lambda k: f"{lat[k] / 1000:.2f} ms" if isinstance(lat.get(k), (int, float)) else "?"
print(f"FIGURE events.notify_p50: {us('p50')}")
print(f"FIGURE events.notify_p99: {us('p99')}")
sys.exit(1 if ser is None or conc is None or serp is None or lua is None
    else 0)
PY
