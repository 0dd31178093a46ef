#!/bin/sh
# Set up and run certmint on its embedded defaults: SQLite, a demo root CA
# under ./demo, HTTP on 127.0.0.1:8080 only. Ctrl-C stops it cleanly.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
CONF="$PWD/demo/certmint.conf"
if [ ! -f "$CONF" ]; then
	./build/src/cli/certmint -c "$CONF" init --name "certmint Demo CA"
fi
echo "CA certificate: http://127.0.0.1:8080/ca.crt"
echo "submit:  curl -H 'Content-Type: application/pkcs10' --data-binary @req.csr http://127.0.0.1:8080/api/v1/requests"
echo "admin:   ./build/src/cli/certmint -c $CONF status"
exec ./build/src/server/certmintd -c "$CONF"
