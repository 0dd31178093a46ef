#!/bin/sh
# bench/issue: durable end-to-end issuance over HTTP against certmintd
# (SQLite WAL, synchronous=FULL), with the crypto bound, openssl ca and
# cfssl (`cfssl serve`, Debian's golang-cfssl, which signs without a
# database) measured in the same run; cfssl is driven by the same load
# generator with the same requests, concurrency and count.
# Usage: bench/issue/run.sh [COUNT] [CONCURRENCY]
. "$(dirname "$0")/../lib.sh"
COUNT=${1:-20000}
CONC=${2:-64}
PEERS=${PEERS:-1000}
WARM=$((COUNT < 2000 ? COUNT : 2000))
bench_need cfssl golang-cfssl

echo "generating $COUNT P-256 requests..."
mkdir -p "$W/pem"
"$TOOLS/gencsr" "$COUNT" "$W/csrs.bin"
"$TOOLS/gencsr" "$PEERS" "$W/peer.bin" --pem "$W/pem"

bench_init
bench_start
"$TOOLS/loadgen" "$URL" "$W/csrs.bin" "$CONC" "$WARM" >/dev/null	# warm up
# Stage timings and the daemon's CPU time, before and after the run.
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
"$CERTMINT" -c "$CONF" --json status >"$W/st0.json"
c0=$(cpu)
res=$("$TOOLS/loadgen" "$URL" "$W/csrs.bin" "$CONC" "$COUNT")
c1=$(cpu)
"$CERTMINT" -c "$CONF" --json status >"$W/st1.json"
bench_stop
rate=$(echo "$res" | sed 's/.*rate=\([0-9]*\).*/\1/')

# cfssl: a P-256 CA (as certmint's) and `cfssl serve` on loopback, then the
# same requests, connections and count through loadgen --cfssl. Its log
# level is WARNING, so that it does not log each certificate.
mkdir -p "$W/cfssl"
echo '{"CN": "Bench cfssl CA", "key": {"algo": "ecdsa", "size": 256}}' \
    >"$W/cfssl/ca-csr.json"
cat >"$W/cfssl/config.json" <<'JSON'
{"signing": {"default": {"expiry": "8760h",
 "usages": ["digital signature", "key encipherment", "server auth"]}}}
JSON
cfssl gencert -initca "$W/cfssl/ca-csr.json" 2>"$W/cfssl/gencert.log" |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
open(sys.argv[1] + "/ca.pem", "w").write(d["cert"])
open(sys.argv[1] + "/ca-key.pem", "w").write(d["key"])' "$W/cfssl" ||
    { cat "$W/cfssl/gencert.log"; exit 1; }
CFPORT=$(free_port)
cfssl serve -address 127.0.0.1 -port "$CFPORT" -ca "$W/cfssl/ca.pem" \
    -ca-key "$W/cfssl/ca-key.pem" -config "$W/cfssl/config.json" \
    -loglevel 3 >"$W/cfssl/serve.log" 2>&1 &
PEER_PID=$!
i=0
# Any HTTP answer (a GET of the sign endpoint is refused) means it serves.
until [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$CFPORT/api/v1/cfssl/sign")" != 000 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "cfssl serve did not start"; cat "$W/cfssl/serve.log"; exit 1; }
	sleep 0.05
done
"$TOOLS/loadgen" --cfssl "http://127.0.0.1:$CFPORT" "$W/csrs.bin" "$CONC" \
    "$WARM" >/dev/null	# warm up
cfres=$("$TOOLS/loadgen" --cfssl "http://127.0.0.1:$CFPORT" "$W/csrs.bin" \
    "$CONC" "$COUNT")
kill "$PEER_PID"
{ wait "$PEER_PID"; } 2>/dev/null || true	# no "Terminated" from the shell
PEER_PID=
cfrate=$(echo "$cfres" | sed 's/.*rate=\([0-9]*\).*/\1/')

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
echo "  cfssl, no database:  $cfres"
echo "  openssl ca (batch):  $oca certs/s ($PEERS requests, one call)"
python3 - "$rate" "$bound" "$oca" "$sign" "$verify" "$(nproc)" \
    "$(($c1 - $c0))" "$(getconf CLK_TCK)" "$cfrate" "$W/st0.json" \
    "$W/st1.json" "$COUNT" "$CONC" "$res" "$p1" "$pt" "$pp" <<'PY'
import json, sys
r, b, o, sign, verify, cores, ticks, hz, cf = map(float, sys.argv[1:10])
count, conc, res = sys.argv[12], sys.argv[13], sys.argv[14]
prate = lambda s: float(s.split("rate=")[1].split()[0])
p1, pt, pp = (prate(s) for s in sys.argv[15:18])
print(f"  certmint / crypto bound: {r / b:.1%}   (target >= 40%)")
print(f"  certmint / openssl ca:   {r / o:.1f}x")
print(f"  certmint / cfssl:        {r / cf:.2f}x   (cfssl, no database)"
      if cf > 0 else "  certmint / cfssl:        - (cfssl issued nothing)")
lat = dict(kv.split("=") for kv in res.split())
figs = [("issue.certmint_rate", f"{r:.0f} certs/s ({count} CSRs, {conc} connections)"),
        ("issue.certmint_latency", f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms"),
        ("issue.crypto_bound", f"{b:.0f} certs/s"),
        ("issue.certmint_vs_bound", f"{r / b:.1%}"),
        ("issue.openssl_ca_rate", f"{o:.0f} certs/s"),
        ("issue.certmint_vs_openssl_ca", f"{r / o:.1f}x"),
        ("issue.cfssl_rate", f"{cf:.0f} certs/s (cfssl, no database)"),
        ("issue.certmint_vs_cfssl", f"{r / cf:.2f}x" if cf > 0 else "-")]
t0, t1 = (json.load(open(f))["timing"] for f in sys.argv[10:12])
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
print("\n  the same CPU work without HTTP or database (bench/tools/pipeline):")
print(f"    1 thread:            {sys.argv[15]}")
print(f"    {cores:.0f} threads:           {sys.argv[16]}")
print(f"    {cores:.0f} processes:         {sys.argv[17]}")
figs += [("issue.daemon_cpu_us", f"{ticks / hz / n * 1e6:.0f} us per certificate"),
         ("issue.crypto_us", f"{cores / verify * 1e6 + cores / sign * 1e6:.0f} us per certificate"),
         ("issue.writer_cpu_us", f"{d['writer_cpu']:.0f} us per certificate"),
         ("issue.jobs_per_commit", f"{jobs / max(batches, 1):.1f}"),
         ("issue.pipeline_1_thread", f"{p1:.0f} certs/s"),
         ("issue.pipeline_threads", f"{pt:.0f} certs/s ({cores:.0f} threads)"),
         ("issue.pipeline_processes", f"{pp:.0f} certs/s ({cores:.0f} processes)"),
         ("issue.pipeline_threads_vs_bound", f"{pt / b:.1%}"),
         ("issue.pipeline_processes_vs_bound", f"{pp / b:.1%}")]
print()
for k, v in figs:
    print(f"FIGURE {k}: {v}")
PY
# A rate counts issued certificates only: a run where requests failed
# measured something else, and says so.
case $res$cfres in
*"failed=0 "*"failed=0 "*) ;;
*)	echo "bench/issue: requests failed (certmint: $res; cfssl: $cfres)" >&2
	exit 1 ;;
esac
