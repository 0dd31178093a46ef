#!/bin/sh
# Install the Debian packages certmint needs to build (with its unit tests)
# and run; with --tests, also what the integration tests, the fuzz targets
# and the real ACME clients of the tests need (scripts/test.sh).
# Safe to run again: apt-get skips what is already installed.
set -eu
PKGS="build-essential meson ninja-build pkg-config
libssl-dev openssl libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev
libinih-dev libcmocka-dev curl python3 libgnutls28-dev
libcurl4-openssl-dev libpsl-dev libldap-dev liblua5.4-dev"
LATE=""
if [ "${1:-}" = --tests ]; then
	PKGS="$PKGS libfaketime clang libclang-rt-14-dev
gnutls-bin python3-cryptography slapd ldap-utils nginx-light python3-aiosmtpd
certbot lego pebble python3-acme socat ruby-acme-client
golang-go golang-golang-x-crypto-dev"
	# Last, in an install of its own: under systemd Debian's caddy
	# starts a service on port 80 (the tests run their own on loopback
	# ports). After nginx, which fails its install when port 80 is
	# taken; caddy's start failing does not fail its install.
	LATE="caddy"
fi
# missing PACKAGE...: those not installed.
missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "ok installed" || printf ' %s' "$p"
	done
}
# shellcheck disable=SC2086
early=$(missing $PKGS)
# shellcheck disable=SC2086
late=$(missing $LATE)
[ -z "$early$late" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$early$late"
$SUDO apt-get update -qq
for set in "$early" "$late"; do
	[ -n "$set" ] || continue
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $set
done
