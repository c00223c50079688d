#!/usr/bin/env bash
# Choose the MySQL and Redis images for `make up` / `make test`.
# stdout: DEVSTACK_MYSQL_IMAGE=... and DEVSTACK_REDIS_IMAGE=... (for eval),
# or nothing when devstack's own configuration should decide.
# Order: what the caller set, or images named in ./devstack.yaml; else the
# official images if present or pullable; else stand-ins built locally from
# Debian packages (no registry).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MYSQL_OFFICIAL=mysql:8.0
REDIS_OFFICIAL=redis:7.2

if [ -n "${DEVSTACK_MYSQL_IMAGE:-}" ] && [ -n "${DEVSTACK_REDIS_IMAGE:-}" ]; then
	echo "DEVSTACK_MYSQL_IMAGE=$DEVSTACK_MYSQL_IMAGE"
	echo "DEVSTACK_REDIS_IMAGE=$DEVSTACK_REDIS_IMAGE"
	exit 0
fi

# Present locally, or pulled within a short time (an unreachable registry
# can otherwise hang for minutes).
available() {
	docker image inspect "$1" >/dev/null 2>&1 ||
		timeout 60 docker pull -q "$1" >/dev/null 2>&1
}

# Exported variables would override the file (env > file), so stay silent.
if [ -f devstack.yaml ] && grep -qE '^[[:space:]]+image:' devstack.yaml; then
	exit 0
fi

if available "$MYSQL_OFFICIAL" && available "$REDIS_OFFICIAL"; then
	exit 0
fi

echo "devstack: cannot pull $MYSQL_OFFICIAL/$REDIS_OFFICIAL; using local stand-in images (MariaDB 10.11, Redis 7) built from Debian packages" >&2
"$HERE/local-images.sh"
