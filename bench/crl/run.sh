#!/bin/sh
# bench/crl: publish a CRL with N revoked entries (default 1,000,000) and
# report its time and certmintd's peak memory; and issuance speed on an
# empty database against the same database holding N certificates.
# Usage: bench/crl/run.sh [N] [ISSUE_COUNT]
. "$(dirname "$0")/../lib.sh"
N=${1:-1000000}
ISSUE=${2:-5000}

"$TOOLS/gencsr" "$ISSUE" "$W/csrs.bin"
bench_init
bench_start
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 1000 >/dev/null	# warm up
empty=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$ISSUE")
bench_stop

echo "filling the database with $N revoked certificates..."
t0=$(date +%s.%N)
"$TOOLS/fillstore" "$W/ca/certmint.db" "$N" 1
t1=$(date +%s.%N)

bench_start
t2=$(date +%s.%N)
"$CERTMINT" -c "$CONF" crl >"$W/crl.out"
t3=$(date +%s.%N)
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$PID/status")
curl -fsS -o "$W/ca.crl" "$URL/ca.crl"
entries=$(openssl crl -inform DER -in "$W/ca.crl" -noout -text | grep -c "Serial Number")
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 1000 >/dev/null	# warm up
full=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$ISSUE")
bench_stop

python3 - "$N" "$t0" "$t1" "$t2" "$t3" "$hwm" "$entries" "$empty" "$full" \
    "$(stat -c %s "$W/ca.crl")" <<'PY'
import sys
n, t0, t1, t2, t3, hwm, entries = sys.argv[1:8]
empty, full, size = sys.argv[8], sys.argv[9], int(sys.argv[10])
rate = lambda s: float(s.split("rate=")[1].split()[0])
print(f"bench/crl ({n} revoked certificates)")
print(f"  fill (bench tool, not the CA):  {float(t1) - float(t0):.1f} s")
print(f"  certmint crl:                   {float(t3) - float(t2):.2f} s "
      f"(target < 5 s), {entries} entries, {size / 1e6:.1f} MB")
print(f"  certmintd peak RSS:             {int(hwm) / 1024:.0f} MiB (target < 1024 MiB)")
print(f"  issuance, empty database:       {empty}")
print(f"  issuance, {n} certificates:  {full}")
print(f"  ratio full/empty:               {rate(full) / rate(empty):.2f}")
PY
