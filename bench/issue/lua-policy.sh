#!/bin/sh
# bench/issue/lua-policy.sh: issuance over HTTP with a trivial Lua policy
# script (bench/issue/policy.lua, docs/lua.md) against the built-in
# policy, on the same CA, alternately three times; the medians compared
# (target >= 85 %).
# Usage: bench/issue/lua-policy.sh [COUNT] [CONCURRENCY]
. "$(dirname "$0")/../lib.sh"
COUNT=${1:-10000}
CONC=${2:-64}
WARM=$((COUNT < 1000 ? COUNT : 1000))

"$TOOLS/gencsr" "$COUNT" "$W/csrs.bin"
bench_init
for round in 1 2 3; do
	for run in builtin lua; do
		if [ $run = lua ]; then
			"$CERTMINT" -c "$CONF" policy set \
			    "$ROOT/bench/issue/policy.lua" >/dev/null
		else
			"$CERTMINT" -c "$CONF" policy set \
			    CertMint_Default.Policy >/dev/null
		fi
		bench_start
		"$TOOLS/loadgen" "$URL" "$W/csrs.bin" "$CONC" "$WARM" >/dev/null
		r=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" "$CONC" "$COUNT")
		bench_stop
		echo "$r" >>"$W/rates.$run"
		echo "  round $round, $run: $r" >&2
	done
done
python3 - "$(sort -t= -k5 -n "$W/rates.builtin" | sed -n 2p)" \
    "$(sort -t= -k5 -n "$W/rates.lua" | sed -n 2p)" <<'PY'
import sys
rate = lambda s: float(s.split("rate=")[1].split()[0])
b, l = rate(sys.argv[1]), rate(sys.argv[2])
print("bench/issue/lua-policy")
print(f"  built-in policy: {b:.0f} certs/s (median of 3 runs, alternating)")
print(f"  Lua policy:      {l:.0f} certs/s ({l / b:.1%}; target >= 85%)")
print()
print(f"FIGURE issue.lua_policy_rate: {l:.0f} certs/s")
print(f"FIGURE issue.lua_policy_vs_builtin: {l / b:.1%}")
PY
