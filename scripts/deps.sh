#!/bin/sh
# Install the Debian packages certmint needs to build, run and test.
# Safe to run again: apt-get skips what is already installed.
set -eu
PKGS="build-essential meson ninja-build pkg-config
libssl-dev openssl libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev
libinih-dev libcmocka-dev curl python3 libfaketime clang libclang-rt-14-dev
gnutls-bin python3-cryptography libgnutls28-dev
libcurl4-openssl-dev libpsl-dev libldap-dev slapd ldap-utils nginx-light
python3-aiosmtpd liblua5.4-dev
certbot lego pebble python3-acme"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
