#!/usr/bin/env bash
# Choose the MySQL, Redis and gearmand images for `make up` / `make test`.
# stdout: NAME=value lines (for eval): DEVSTACK_MYSQL_IMAGE and
# DEVSTACK_REDIS_IMAGE (with DEVSTACK_MYSQL_ORACLE_IMAGE, the *_PLAIN and the
# test-images ones beside them when they are stand-ins), DEVSTACK_GEARMAND_IMAGE; nothing for a service whose
# official image devstack's own configuration should decide.
# Order: what the caller set, or images named in ./devstack.yaml; else the
# official images if present or pullable; else stand-ins built locally from
# Debian packages (no registry).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MYSQL_OFFICIAL=mysql:8.0
REDIS_OFFICIAL=redis:7.2
GEARMAND_OFFICIAL=artefactual/gearmand:1.1.18-alpine

# Present locally, or pulled within a short time (an unreachable registry
# can otherwise hang for minutes).
available() {
	docker image inspect "$1" >/dev/null 2>&1 ||
		timeout 60 docker pull -q "$1" >/dev/null 2>&1
}

standin_db='' standin_gearmand=''
if [ -n "${DEVSTACK_MYSQL_IMAGE:-}" ] && [ -n "${DEVSTACK_REDIS_IMAGE:-}" ]; then
	echo "DEVSTACK_MYSQL_IMAGE=$DEVSTACK_MYSQL_IMAGE"
	echo "DEVSTACK_REDIS_IMAGE=$DEVSTACK_REDIS_IMAGE"
	for v in DEVSTACK_MYSQL_ORACLE_IMAGE DEVSTACK_MARIADB_PLAIN_IMAGE DEVSTACK_MYSQL_PLAIN_IMAGE DEVSTACK_MARIADB_RUNTIME_IMAGE DEVSTACK_MYSQL_SERVER_IMAGE DEVSTACK_MARIADB_NONROOT_IMAGE; do
		[ -z "${!v:-}" ] || echo "$v=${!v}"
	done
elif [ -f devstack.yaml ] && grep -qE '^[[:space:]]+image:' devstack.yaml; then
	# Exported variables would override the file (env > file), so stay silent.
	exit 0
elif ! { available "$MYSQL_OFFICIAL" && available "$REDIS_OFFICIAL"; }; then
	echo "devstack: cannot pull $MYSQL_OFFICIAL/$REDIS_OFFICIAL; using local stand-in images (MariaDB 10.11, Redis 7; Oracle MySQL 9 beside them) built from Debian packages" >&2
	standin_db=1
fi

if [ -n "${DEVSTACK_GEARMAND_IMAGE:-}" ]; then
	echo "DEVSTACK_GEARMAND_IMAGE=$DEVSTACK_GEARMAND_IMAGE"
elif ! available "$GEARMAND_OFFICIAL"; then
	echo "devstack: cannot pull $GEARMAND_OFFICIAL; using a local stand-in image (gearmand 1.1 from Debian)" >&2
	standin_gearmand=1
fi

[ -n "$standin_db$standin_gearmand" ] || exit 0
out=$("$HERE/local-images.sh")
if [ -n "$standin_db" ]; then
	grep -E '^DEVSTACK_(MYSQL|REDIS|MYSQL_ORACLE|MARIADB_PLAIN|MYSQL_PLAIN|MARIADB_RUNTIME|MYSQL_SERVER|MARIADB_NONROOT)_IMAGE=' <<<"$out"
fi
if [ -n "$standin_gearmand" ]; then
	grep -E '^DEVSTACK_GEARMAND_IMAGE=' <<<"$out"
fi
