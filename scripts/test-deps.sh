#!/usr/bin/env bash
# The tests check devstack's work with real clients: mysql (MariaDB's client),
# redis-cli, Django itself for the seeded password hashes, python-dotenv for
# the dotenv format of `devstack env`, and the Python
# clients of the Python example (examples/python). Install them on a root
# Debian machine; elsewhere say what is missing.
set -euo pipefail

missing=()
command -v mysql >/dev/null 2>&1 || missing+=(mariadb-client)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v gearadmin >/dev/null 2>&1 || missing+=(gearman-tools)
# Debian's python3-django goes with Debian's python3, which may not be first on PATH.
for mod in django:python3-django MySQLdb:python3-mysqldb redis:python3-redis dotenv:python3-dotenv; do
	/usr/bin/python3 -c "import ${mod%%:*}" >/dev/null 2>&1 || missing+=("${mod#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "devstack: installing test clients: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	{ apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1 ||
		{ cat "$log" >&2; rm -f "$log"; exit 1; }
	rm -f "$log"
	exit 0
fi
echo "devstack: the tests need these clients: ${missing[*]} (Debian/Ubuntu package names); install them and retry" >&2
exit 1
