#!/bin/sh
# bench/crl: publish a CRL with N revoked entries (default 1,000,000) and
# report its time and certmintd's peak memory; and issuance speed on an
# empty database against the same database holding N certificates.
# With SERIALS=random, the CA and the filler use fully random serials
# (`[ca] serials = random`) instead of time-ordered ones, for the issuance
# ratio docs/design.md compares.
# Usage: [SERIALS=random] bench/crl/run.sh [N] [ISSUE_COUNT]
. "$(dirname "$0")/../lib.sh"
N=${1:-1000000}
ISSUE=${2:-5000}
SERIALS=${SERIALS:-ordered}
case $SERIALS in
ordered)	FILLARG= ;;
random)		FILLARG=random ;;
*)		echo "SERIALS must be ordered or random" >&2; exit 2 ;;
esac

"$TOOLS/gencsr" "$ISSUE" "$W/csrs.bin"
bench_init
sed -i "s/^\[ca\]\$/[ca]\nserials = $SERIALS/" "$CONF"
grep -q "^serials = $SERIALS\$" "$CONF" ||
    { echo "bench/crl: cannot set serials in $CONF" >&2; exit 1; }
bench_start
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 1000 >/dev/null	# warm up
empty=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$ISSUE")
bench_stop

echo "filling the database with $N revoked certificates..."
t0=$(date +%s.%N)
"$TOOLS/fillstore" "$W/ca/certmint.db" "$N" 1 $FILLARG
t1=$(date +%s.%N)

bench_start
t2=$(date +%s.%N)
"$CERTMINT" -c "$CONF" crl >"$W/crl.out"
t3=$(date +%s.%N)
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$PID/status")
curl -fsS -m 60 -o "$W/ca.crl" "$URL/ca.crl"
entries=$(openssl crl -inform DER -in "$W/ca.crl" -noout -text | grep -c "Serial Number")
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 1000 >/dev/null	# warm up
full=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" 64 "$ISSUE")
bench_stop

python3 - "$N" "$t0" "$t1" "$t2" "$t3" "$hwm" "$entries" "$empty" "$full" \
    "$(stat -c %s "$W/ca.crl")" "$SERIALS" <<'PY'
import sys
n, t0, t1, t2, t3, hwm, entries = sys.argv[1:8]
empty, full, size = sys.argv[8], sys.argv[9], int(sys.argv[10])
serials = sys.argv[11]
rate = lambda s: float(s.split("rate=")[1].split()[0])
print(f"bench/crl ({n} revoked certificates, {serials} serials)")
print(f"  fill (bench tool, not the CA):  {float(t1) - float(t0):.1f} s")
print(f"  certmint crl:                   {float(t3) - float(t2):.2f} s "
      f"(target < 5 s), {entries} entries, {size / 1e6:.1f} MB")
print(f"  certmintd peak RSS:             {int(hwm) / 1024:.0f} MiB (target < 1024 MiB)")
print(f"  issuance, empty database:       {empty}")
print(f"  issuance, {n} certificates:  {full}")
print(f"  ratio full/empty:               {rate(full) / rate(empty):.2f}")
print()
if serials == "random":
    print(f"FIGURE crl.issue_full_vs_empty_random_serials: "
          f"{rate(full) / rate(empty):.2f}x ({n} certificates stored)")
    sys.exit(0)
print(f"FIGURE crl.publish_time: {float(t3) - float(t2):.2f} s ({entries} entries)")
print(f"FIGURE crl.size: {size / 1e6:.1f} MB")
print(f"FIGURE crl.peak_rss: {int(hwm) / 1024:.0f} MiB")
print(f"FIGURE crl.issue_full_vs_empty: {rate(full) / rate(empty):.2f}x ({n} certificates stored)")
PY
