# bench/lib.sh - shared by the benchmark scripts (sourced). Builds a release
# tree in build-bench, makes a CA in a temporary directory and runs certmintd.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BB=${BENCH_BUILD:-$ROOT/build-bench}
[ -d "$BB" ] || meson setup "$BB" "$ROOT" --buildtype=release -Dtests=false >/dev/null
ninja -C "$BB" >/dev/null
CERTMINT=$BB/src/cli/certmint
CERTMINTD=$BB/src/server/certmintd
TOOLS=$BB/bench/tools
W=$(mktemp -d "${TMPDIR:-/tmp}/certmint-bench.XXXXXX")
PID=
PEER_PID=	# a peer server (bench/issue: cfssl serve)
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null &&
	    wait "$PEER_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
CONF=$W/ca/certmint.conf

# The load generators speak plain HTTP to the API, anonymously: no HTTPS
# listener, [server] plain_api, [rest] anonymous = issue.
bench_init() {
	"$CERTMINT" -c "$CONF" init --name "Bench CA" --key-type ec-p256 \
	    --port "$PORT" --tls-port 0 --anonymous issue >/dev/null
	printf '\n[server]\nplain_api = yes\n' >>"$CONF"
}

# bench_need CMD PACKAGE...: install the Debian packages (apt-get) unless
# CMD is already there. The peers are the benchmarks' business only: the
# tests' dependencies (scripts/deps.sh) do not carry them.
bench_need() {
	_cmd=$1
	shift
	command -v "$_cmd" >/dev/null 2>&1 && return 0
	echo "installing $* for the benchmark..."
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "$@" >"$W/apt.log" 2>&1 ||
	    { cat "$W/apt.log"; return 1; }
	command -v "$_cmd" >/dev/null 2>&1
}

bench_start() {
	"$CERTMINTD" -c "$CONF" >>"$W/certmintd.log" 2>&1 &
	PID=$!
	i=0
	until curl -fsS -m 5 "$URL/health" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "certmintd did not start"; cat "$W/certmintd.log"; exit 1; }
		sleep 0.05
	done
}

bench_stop() {
	[ -n "$PID" ] || return 0
	kill "$PID"
	wait "$PID" || true
	PID=
}

# The crypto bound: one P-256 verify plus one sign per certificate, on
# every core (openssl speed -multi), in certificates per second.
crypto_bound() {
	n=$(nproc)
	openssl speed -seconds 2 -multi "$n" ecdsap256 2>/dev/null |
	    awk '/256 bits ecdsa/ && NF >= 6 { s = $(NF-1); v = $NF }
	        END { printf "%.0f %.0f %.0f\n", s, v, 1 / (1 / s + 1 / v) }'
}
