#!/bin/sh
# bench/hostile: good issuance while 4 connections send worst-case requests
# (genhostile: 64 extensions of 900 octets, 3,500 extensions, a 3070-bit
# RSA exponent, 3,000 attributes, 5,000 SANs, a 60 KiB extension, 64
# maximal CNs, each as big as max_body allows), against the same load
# without them, alternately three times; the medians are compared.
# Target: >= 90 %.
# Usage: bench/hostile/run.sh [COUNT] [CONCURRENCY]
. "$(dirname "$0")/../lib.sh"
COUNT=${1:-15000}
CONC=${2:-60}
WARM=$((COUNT < 1000 ? COUNT : 1000))

"$TOOLS/gencsr" "$COUNT" "$W/good.bin"
"$TOOLS/genhostile" 700 "$W/hostile.bin"
bench_init
bench_start
"$TOOLS/loadgen" "$URL" "$W/good.bin" "$CONC" "$WARM" >/dev/null
# One hostile pass alone: what it costs per request, and that the CA
# answers each (issued or refused) without falling over.
h=$("$TOOLS/loadgen" "$URL" "$W/hostile.bin" 4 700)
echo "  hostile requests alone: $h" >&2
for round in 1 2 3; do
	r=$("$TOOLS/loadgen" "$URL" "$W/good.bin" "$CONC" "$COUNT")
	echo "$r" >>"$W/rates.without"
	echo "  round $round, without: $r" >&2
	"$TOOLS/loadgen" "$URL" "$W/hostile.bin" 4 100000000 \
	    >"$W/hostile.out" 2>&1 &
	HPID=$!
	sleep 0.5
	r=$("$TOOLS/loadgen" "$URL" "$W/good.bin" "$CONC" "$COUNT")
	kill "$HPID" 2>/dev/null
	wait "$HPID" 2>/dev/null || true
	echo "$r" >>"$W/rates.with"
	echo "  round $round, with 4 hostile connections: $r" >&2
done
bench_stop
python3 - "$W/rates.without" "$W/rates.with" "$h" <<'PY'
import sys
rate = lambda s: float(s.split("rate=")[1].split()[0])
med = lambda p: sorted(rate(l) for l in open(p) if "rate=" in l)[1]
wo, wi = med(sys.argv[1]), med(sys.argv[2])
f = dict(kv.split("=") for kv in sys.argv[3].split())
hostile = (int(f["ok"]) + int(f["failed"])) / float(f["seconds"])
print("bench/hostile")
print(f"  good issuance alone:              {wo:.0f} certs/s (median of 3)")
print(f"  with 4 hostile connections:       {wi:.0f} certs/s ({wi / wo:.1%}; target >= 90%)")
print(f"  hostile requests answered alone:  {hostile:.0f}/s")
print()
print(f"FIGURE hostile.good_alone: {wo:.0f} certs/s")
print(f"FIGURE hostile.good_under_attack: {wi:.0f} certs/s")
print(f"FIGURE hostile.ratio: {wi / wo:.1%}")
PY
