#!/bin/sh
# bench/acme: complete ACME orders per second (RFC 8555) on loopback:
# new order -> http-01 validated against a responder inside the load
# generator -> poll until ready (unless the challenge's answer says valid
# already: certmint's waits for the validation, [acme] challenge_wait_ms,
# and lego then skips the poll too) -> finalize with a CSR -> poll until
# valid -> download the certificate, by WORKERS workers with an account
# each (made before the clock). The same load generator (acmeload), the
# same workers and the same time cap drive, in one run: certmintd (ACME
# over HTTPS, SQLite, synchronous=FULL) and pebble (Debian's package, in
# memory) with PEBBLE_VA_NOSLEEP=1, PEBBLE_VA_ALWAYS_VALID off then on.
# acmeload is also the DNS of both validators (-D): every name is
# 127.0.0.1, so each http-01 fetch lands on its responder. (It used
# pebble-challtestsrv, whose Go DNS cost 0.25 ms of CPU per order on the
# same two cores, more than a tenth of what the target leaves an order.)
# pebble 2.4.0 deadlocks under concurrent orders (its authorization
# handler takes the store's lock under the authorization's, reading an
# order the other way round; acmeload then reports stuck=1): within a
# second at 32 workers, after 10-30 s at 4. So it gets PEBBLE_WORKERS (4),
# where it is CPU-bound all the same (2 workers gave it 83 orders/s, 4
# gave 94, 32 gave 81 until it stopped), and a run that deadlocks is
# measured up to its last completed order.
# Usage: bench/acme/run.sh [COUNT] [WORKERS]
#   COUNT orders against certmint (default 30000) with WORKERS workers
#   (default 32), PEBBLE_COUNT against each pebble (default 5000) with
#   PEBBLE_WORKERS; each measured run also ends after ACME_SECS seconds
#   (default 30), whichever comes first.
. "$(dirname "$0")/../lib.sh"
COUNT=${1:-30000}
WORKERS=${2:-32}
PEBBLE_COUNT=${PEBBLE_COUNT:-5000}
PEBBLE_WORKERS=${PEBBLE_WORKERS:-4}
SECS=${ACME_SECS:-30}
ACMELOAD=$BB/bench/acme/acmeload
bench_need pebble pebble

# Everything started here is stopped at exit, whatever the exit.
LOAD_PID=
acme_cleanup() {
	set +e		# a killed child's status must not cut this short
	[ -z "$LOAD_PID" ] || { kill "$LOAD_PID" 2>/dev/null &&
	    wait "$LOAD_PID" 2>/dev/null; }
	cleanup
}
trap acme_cleanup EXIT
trap 'exit 1' INT TERM

# distinct free loopback ports (DNS: UDP, the others TCP)
set -- $(python3 -c 'import socket
ss = [socket.socket() for _ in range(5)]
ss.append(socket.socket(type=socket.SOCK_DGRAM))
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
TLS_PORT=$1 H01=$2 PB_PORT=$3 PB_MGMT=$4 PB_TLS=$5 DNS=$6
while [ "$TLS_PORT" = "$PORT" ]; do TLS_PORT=$(free_port); done

# certmint: a CA as `init` makes one (ACME on the HTTPS port, whose
# certificate the CA issued), the ACME server on.
"$CERTMINT" -c "$CONF" init --name "Bench CA" --key-type ec-p256 \
    --port "$PORT" --tls-port "$TLS_PORT" >/dev/null
cat >>"$CONF" <<EOF

[acme]
enabled = yes
base_url = https://127.0.0.1:$TLS_PORT
http01_port = $H01
resolver = 127.0.0.1:$DNS
validation_deny = none
EOF

# load NAME ACMELOAD-ARGS...: one measured run; its result line in
# $W/NAME.out, the first certificates in $W/NAME/.
load() {
	_n=$1
	shift
	# In the background, so that a signal stops the run at once.
	"$ACMELOAD" -T "$SECS" -r "$H01" -D "$DNS" -o "$W/$_n" "$@" \
	    >"$W/$_n.out" 2>"$W/$_n.err" &
	LOAD_PID=$!
	wait "$LOAD_PID" || true
	LOAD_PID=
	if ! grep -q '^ok=' "$W/$_n.out"; then
		echo "$_n: acmeload did not run:"
		cat "$W/$_n.err"
		exit 1
	fi
	head -5 "$W/$_n.err"
}

# verify NAME CAFILE [UNTRUSTED]: the sample certificates of run NAME
# verify as TLS server certificates; "k/n".
verify() {
	_ok=0 _all=0
	for _f in "$W/$1"/cert-*.pem; do
		[ -f "$_f" ] || continue
		_all=$((_all + 1))
		openssl verify -CAfile "$2" -purpose sslserver \
		    ${3:+-untrusted "$3"} "$_f" >/dev/null 2>&1 &&
		    _ok=$((_ok + 1))
	done
	echo "$_ok/$_all"
}

echo "certmint: $COUNT orders, $WORKERS workers (at most $SECS s)..."
mkdir -p "$W/certmint"
bench_start
load certmint -C "$W/ca/ca.crt" -n "$COUNT" -w "$WORKERS" -P "$PID" \
    "https://127.0.0.1:$TLS_PORT/acme/directory"
if ! kill -0 "$PID" 2>/dev/null; then
	wait "$PID" || echo "certmintd died during the run (exit $?):"
	tail -5 "$W/certmintd.log"
	PID=
	exit 1
fi
bench_stop
cm_verified=$(verify certmint "$W/ca/ca.crt")

# pebble with its own HTTPS certificate, and acmeload's http-01 responder
# and DNS (-dnsserver). PEBBLE_WFE_NONCEREJECT=0: no random
# badNonce (a chaos knob; acmeload would retry them anyway).
# PEBBLE_AUTHZREUSE=0: every name is new, so reuse never applies, and its
# search walks every authorization of the run under the store's lock on
# each new order: without it pebble is only faster.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$W/pebble-key.pem" -out "$W/pebble-cert.pem" -subj /CN=pebble \
    -days 2 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
cat >"$W/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PB_PORT",
 "managementListenAddress": "127.0.0.1:$PB_MGMT",
 "certificate": "$W/pebble-cert.pem", "privateKey": "$W/pebble-key.pem",
 "httpPort": $H01, "tlsPort": $PB_TLS, "ocspResponderURL": "",
 "externalAccountBindingRequired": false}}
EOF

# pebble_run NAME ALWAYS_VALID: start pebble, measure, keep its root and
# intermediate for the sample's verification, stop it.
pebble_run() {
	mkdir -p "$W/$1"
	if [ "$2" = 1 ]; then
		PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 \
		    PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 pebble -config \
		    "$W/pebble.json" -dnsserver "127.0.0.1:$DNS" \
		    >"$W/$1.log" 2>&1 &
	else
		PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
		    PEBBLE_AUTHZREUSE=0 pebble -config "$W/pebble.json" \
		    -dnsserver "127.0.0.1:$DNS" >"$W/$1.log" 2>&1 &
	fi
	PEER_PID=$!
	i=0
	until curl -sk -m 5 -o /dev/null "https://127.0.0.1:$PB_PORT/dir"; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "pebble did not start"; cat "$W/$1.log"; exit 1; }
		sleep 0.1
	done
	load "$1" -C "$W/pebble-cert.pem" -n "$PEBBLE_COUNT" \
	    -w "$PEBBLE_WORKERS" -P "$PEER_PID" "https://127.0.0.1:$PB_PORT/dir"
	curl -sk "https://127.0.0.1:$PB_MGMT/roots/0" >"$W/$1-root.pem"
	curl -sk "https://127.0.0.1:$PB_MGMT/intermediates/0" >"$W/$1-int.pem"
	kill "$PEER_PID"
	{ wait "$PEER_PID"; } 2>/dev/null || true
	PEER_PID=
}
echo "pebble (PEBBLE_VA_NOSLEEP=1): $PEBBLE_COUNT orders, $PEBBLE_WORKERS workers (at most $SECS s)..."
pebble_run pebble 0
echo "pebble (PEBBLE_VA_NOSLEEP=1 PEBBLE_VA_ALWAYS_VALID=1): $PEBBLE_COUNT orders..."
pebble_run pebble-av 1
pb_verified=$(verify pebble "$W/pebble-root.pem" "$W/pebble-int.pem")
pbav_verified=$(verify pebble-av "$W/pebble-av-root.pem" "$W/pebble-av-int.pem")

# The crypto bound of an order: each request's JWS signed by acmeload and
# verified by the server, the CSR signed and verified, the certificate
# signed, on every core at openssl speed's rates, nothing else.
set -- $(crypto_bound)
SIGN_S=$1 VERIFY_S=$2

cm=$(cat "$W/certmint.out")
pb=$(cat "$W/pebble.out")
pbav=$(cat "$W/pebble-av.out")
echo
echo "bench/acme ($(nproc) cores, ACME over HTTPS, each run at most $SECS s;" \
    "certmint $WORKERS workers, pebble $PEBBLE_WORKERS)"
echo "  certmint:                $cm"
echo "  pebble:                  $pb"
echo "  pebble, always valid:    $pbav"
echo "  sample certificates that verify (openssl verify -purpose sslserver):" \
    "certmint $cm_verified, pebble $pb_verified, pebble always valid $pbav_verified"
python3 - "$cm" "$pb" "$pbav" "$WORKERS" "$PEBBLE_WORKERS" "$SIGN_S" \
    "$VERIFY_S" "$(nproc)" <<'PY'
import sys
cm, pb, av = (dict(kv.split("=") for kv in s.split()) for s in sys.argv[1:4])
sign_s, verify_s = float(sys.argv[6]), float(sys.argv[7])
rpo = float(cm["requests_per_order"])
bound = 1 / ((rpo + 1) / verify_s + (rpo + 2) / sign_s)
ws = {"certmint": sys.argv[4], "pebble": sys.argv[5],
      "pebble_always_valid": sys.argv[5]}
r = lambda d: float(d["rate"])
ratio = lambda a, b: f"{r(a) / r(b):.1f}x" if r(b) > 0 else "-"
print(f"  certmint / pebble:               {ratio(cm, pb)}   (target >= 5x)")
print(f"  certmint / pebble always valid:  {ratio(cm, av)}")
# The same comparison without the load generator, which shares the two
# cores: how much less server CPU an order costs certmintd than pebble.
cpu = lambda d: int(d["server_cpu_us"])
cpu_ratio = lambda a, b: f"{cpu(b) / cpu(a):.1f}x" if cpu(a) > 0 else "-"
print(f"  server CPU per order, pebble / certmint: {cpu_ratio(cm, pb)}"
      f" (always valid: {cpu_ratio(cm, av)})")
print(f"  certmint orders/s:               {r(cm):.0f}   (target >= 1,000)")
print(f"  crypto bound: {bound:.0f} orders/s ({rpo:.2f} JWS signed and verified,"
      f" a CSR signed and verified, a certificate signed per order, at"
      f" {sign_s:.0f} signs/s, {verify_s:.0f} verifies/s on all cores);"
      f" certmint {100 * r(cm) / bound:.1f}% of it")
print("  per order: requests, polls, server CPU and acmeload CPU (the kernel's"
      " part of each):")
for n, d in (("certmint", cm), ("pebble", pb), ("pebble always valid", av)):
    print(f"    {n:22s} {d['requests_per_order']} requests, "
          f"{d['polls_per_order']} polls, server {d['server_cpu_us']} us "
          f"({d['server_sys_us']}), acmeload {d['loader_cpu_us']} us "
          f"({d['loader_sys_us']})")
# What an order may cost at the target, against what the crypto and the
# kernel (loopback TCP, TLS records, fsync, wake-ups) took alone.
ncores = int(sys.argv[8])
crypto_us = ncores * 1e6 / bound
kernel_us = int(cm["server_sys_us"]) + int(cm["loader_sys_us"])
print(f"  CPU per order at 1,000 orders/s on {ncores} cores: {ncores * 1000} us;"
      f" certmint's order took {int(cm['server_cpu_us']) + int(cm['loader_cpu_us'])}"
      f" us, of which crypto {crypto_us:.0f} us and kernel {kernel_us} us")
for n, d in (("pebble", pb), ("pebble always valid", av)):
    if d["stuck"] == "1":
        print(f"  {n}: deadlocked; its rate is over the orders before it"
              f" stopped answering ({d['ok']} orders in {d['seconds']} s)")
print()
for k, d in (("certmint", cm), ("pebble", pb), ("pebble_always_valid", av)):
    print(f"FIGURE acme.{k}_rate: {r(d):.0f} orders/s ({d['ok']} orders,"
          f" {ws[k]} workers)")
    print(f"FIGURE acme.{k}_latency: p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms")
    print(f"FIGURE acme.{k}_cpu_us: {d['server_cpu_us']} us per order")
print(f"FIGURE acme.certmint_vs_pebble: {ratio(cm, pb)}")
print(f"FIGURE acme.crypto_bound: {bound:.0f} orders/s")
print(f"FIGURE acme.certmint_vs_crypto_bound: {100 * r(cm) / bound:.1f}%")
print(f"FIGURE acme.certmint_vs_pebble_always_valid: {ratio(cm, av)}")
print(f"FIGURE acme.pebble_vs_certmint_server_cpu: {cpu_ratio(cm, pb)}")
print(f"FIGURE acme.certmint_kernel_us: {kernel_us} us per order (certmintd"
      f" and acmeload)")
PY
# A rate counts completed orders only; a run with failed orders measured
# something else, and says so.
# pebble's are measured until it deadlocked, when it did (stuck=1).
for _r in "$cm" "$pb" "$pbav"; do
	case $_r in
	*" failed=0 "*|*" stuck=1 "*) ;;
	*)	echo "bench/acme: orders failed (see above)" >&2
		exit 1 ;;
	esac
done
case $cm in
*" failed=0 "*) ;;
*)	echo "bench/acme: certmint orders failed (see above)" >&2
	exit 1 ;;
esac
