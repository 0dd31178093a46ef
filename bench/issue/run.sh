#!/bin/sh
# bench/issue: durable end-to-end issuance over HTTP against certmintd
# (SQLite WAL, synchronous=FULL), with the crypto bound and openssl ca
# measured in the same run. Usage: bench/issue/run.sh [COUNT] [CONCURRENCY]
. "$(dirname "$0")/../lib.sh"
COUNT=${1:-20000}
CONC=${2:-64}
PEERS=${PEERS:-1000}

echo "generating $COUNT P-256 requests..."
mkdir -p "$W/pem"
"$TOOLS/gencsr" "$COUNT" "$W/csrs.bin"
"$TOOLS/gencsr" "$PEERS" "$W/peer.bin" --pem "$W/pem"

bench_init
bench_start
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" "$CONC" 2000 >/dev/null	# warm up
# Stage timings and the daemon's CPU time, before and after the run.
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
"$CERTMINT" -c "$CONF" --json status >"$W/st0.json"
c0=$(cpu)
res=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" "$CONC" "$COUNT")
c1=$(cpu)
"$CERTMINT" -c "$CONF" --json status >"$W/st1.json"
bench_stop
rate=$(echo "$res" | sed 's/.*rate=\([0-9]*\).*/\1/')

set -- $(crypto_bound)
sign=$1 verify=$2 bound=$3

# openssl ca, one batch call over the same kind of requests.
mkdir -p "$W/oca/new"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$W/oca/ca.key" -out "$W/oca/ca.crt" -subj /CN=oca -days 30 2>/dev/null
: >"$W/oca/index.txt"
cat >"$W/oca/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
dir = $W/oca
database = \$dir/index.txt
new_certs_dir = \$dir/new
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
default_md = sha256
default_days = 365
policy = p
rand_serial = yes
unique_subject = no
copy_extensions = copy
[p]
commonName = supplied
CNF
t0=$(date +%s.%N)
openssl ca -batch -notext -config "$W/oca/ca.cnf" -out "$W/oca/out.pem" \
    -infiles "$W"/pem/*.csr >/dev/null 2>&1
t1=$(date +%s.%N)
oca=$(python3 -c "print(round($PEERS / ($t1 - $t0)))")

# The CPU part alone (parse + verify + build + sign, no HTTP, no database),
# on threads and on processes: which concurrency model the daemon can use.
pt=$("$TOOLS/pipeline" "$W/csrs.bin" "$COUNT" "$(nproc)")
pp=$("$TOOLS/pipeline" "$W/csrs.bin" "$COUNT" "$(nproc)" --processes)
p1=$("$TOOLS/pipeline" "$W/csrs.bin" "$COUNT" 1)

echo
echo "bench/issue ($(nproc) cores, $COUNT requests, $CONC connections)"
echo "  certmint:            $res"
echo "  crypto bound:        $bound certs/s (ECDSA P-256 sign $sign/s, verify $verify/s, all cores)"
echo "  openssl ca (batch):  $oca certs/s ($PEERS requests, one call)"
python3 - "$rate" "$bound" "$oca" "$sign" "$verify" "$(nproc)" \
    "$(($c1 - $c0))" "$(getconf CLK_TCK)" "$W/st0.json" "$W/st1.json" <<'PY'
import json, sys
r, b, o, sign, verify, cores, ticks, hz = map(float, sys.argv[1:9])
print(f"  certmint / crypto bound: {r / b:.1%}   (target >= 40%)")
print(f"  certmint / openssl ca:   {r / o:.1f}x")
t0, t1 = (json.load(open(f))["timing"] for f in sys.argv[9:11])
n = t1["submissions"] - t0["submissions"]
d = {k: (t1["ns"][k] - t0["ns"][k]) / n / 1000 for k in t1["ns"]}
batches = t1["batches"] - t0["batches"]
jobs = t1["jobs"] - t0["jobs"]
print(f"\n  where the time goes, per certificate ({n} submissions):")
print(f"    certmintd CPU, all threads   {ticks / hz / n * 1e6:7.1f} us"
      f"   (crypto alone: {cores / verify * 1e6 + cores / sign * 1e6:.1f} us"
      f" = verify {cores / verify * 1e6:.1f} + sign {cores / sign * 1e6:.1f})")
print(f"    parse + verify request       {d['parse_verify']:7.1f} us")
print(f"    policy                       {d['policy']:7.1f} us")
print(f"    build + sign certificate     {d['build_sign']:7.1f} us")
print(f"    writer CPU (SQLite, fsync)   {d['writer_cpu']:7.1f} us"
      f"   ({jobs / max(batches, 1):.0f} jobs per commit)")
print(f"    wait for the commit (wall)   {d['commit_wait']:7.1f} us")
rest = d['http_total'] - d['parse_verify'] - d['policy'] - d['build_sign'] \
    - d['commit_wait']
print(f"    HTTP handler rest (wall)     {rest:7.1f} us   (JSON, attributes)")
PY
echo
echo "  the same CPU work without HTTP or database (bench/tools/pipeline):"
echo "    1 thread:            $p1"
echo "    $(nproc) threads:           $pt"
echo "    $(nproc) processes:         $pp"
