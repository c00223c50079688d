#!/usr/bin/env bash
# The tests check devstack's work with real clients: mysql (MariaDB's client),
# redis-cli, and Django itself for the seeded password hashes. Install them on a root Debian machine; elsewhere say what is
# missing.
set -euo pipefail

missing=()
command -v mysql >/dev/null 2>&1 || missing+=(mariadb-client)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# Debian's python3-django goes with Debian's python3, which may not be first on PATH.
/usr/bin/python3 -c 'import django' >/dev/null 2>&1 || python3 -c 'import django' >/dev/null 2>&1 || missing+=(python3-django)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "devstack: installing test clients: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq "${missing[@]}" >&2
	exit 0
fi
echo "devstack: the tests need these clients: ${missing[*]} (Debian/Ubuntu package names); install them and retry" >&2
exit 1
