#!/bin/sh
# Set up and run certmint on its embedded defaults: SQLite, a demo root CA
# under ./demo, HTTPS on 127.0.0.1:8443 (the API, authenticated) and HTTP on
# 127.0.0.1:8080 (CRLs, CA certificates). The demo's API token, for names
# under example.com, is in demo/demo.token. Ctrl-C stops it cleanly. The
# URLs are printed once certmintd answers on them, not before.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
CONF="$PWD/demo/certmint.conf"
if [ ! -f "$CONF" ]; then
	./build/src/cli/certmint -c "$CONF" init --name "certmint Demo CA"
	(umask 077 && ./build/src/cli/certmint -c "$CONF" token create \
	    --name demo --names '*.example.com' >demo/demo.token)
fi
./build/src/server/certmintd -c "$CONF" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null' INT TERM
# Ours answers, not another certmintd already on the port: its pid file
# names it (a second certmintd for the same CA stops at once).
i=0
until [ "$(cat demo/certmintd.pid 2>/dev/null)" = "$PID" ] &&
    curl -fsS -m 2 http://127.0.0.1:8080/health >/dev/null 2>&1; do
	if ! kill -0 "$PID" 2>/dev/null || [ $i -ge 300 ]; then
		echo "certmintd did not start (see above)" >&2
		kill -TERM "$PID" 2>/dev/null || true
		wait "$PID" || true
		exit 1
	fi
	i=$((i + 1))
	sleep 0.1
done
echo "CA certificate: http://127.0.0.1:8080/ca.crt"
echo "submit:  curl --cacert demo/ca.crt -H \"Authorization: Bearer \$(cat demo/demo.token)\" -H 'Content-Type: application/pkcs10' --data-binary @req.csr https://127.0.0.1:8443/api/v1/requests"
echo "admin:   ./build/src/cli/certmint -c $CONF status"
# wait returns early on a signal: wait again for certmintd to finish.
wait "$PID" || true
wait "$PID" 2>/dev/null || true
