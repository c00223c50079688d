#!/usr/bin/env bash
# Build stand-in images for MySQL, Redis and gearmand without any container
# registry: Debian bases made by debootstrap from Debian's package servers
# (reachable where Docker Hub is not), plus small Dockerfiles mimicking the
# official images' interface. Tags are hashes of the inputs, so a machine
# reused with older images rebuilds them and an unchanged machine skips all
# work.
#   bookworm base: MariaDB 10.11 (mysql), Redis 7 (redis), gearmand 1.1
#                  (gearmand), and MariaDB with the official image's defaults,
#                  set up as its entrypoint does (mariadb-plain)
#   sid base:      Oracle MySQL 9 with the official image's defaults
#                  (mysql-plain), and tuned on top of it (mysql-oracle)
#   images unlike the stand-ins inside (make test-images): MariaDB prepared
#                  at run time (mariadb-runtime) and run as a non-root user
#                  (mariadb-nonroot), Oracle MySQL shaped like Oracle's
#                  mysql/mysql-server (mysql-server)
# stdout (for eval): DEVSTACK_MYSQL_IMAGE, DEVSTACK_REDIS_IMAGE,
# DEVSTACK_GEARMAND_IMAGE, DEVSTACK_MYSQL_ORACLE_IMAGE,
# DEVSTACK_MARIADB_PLAIN_IMAGE, DEVSTACK_MYSQL_PLAIN_IMAGE,
# DEVSTACK_MARIADB_RUNTIME_IMAGE, DEVSTACK_MYSQL_SERVER_IMAGE and
# DEVSTACK_MARIADB_NONROOT_IMAGE, as NAME=value.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
PACKAGES=mariadb-server,redis-server,mariadb-client,redis-tools,gearman-job-server,gearman-tools
# Debian sid is where Oracle's MySQL is packaged (9.x); sid moves, but the
# tag hashes only the recipe, so a built base is kept until the recipe changes.
SID_SUITE=sid
SID_PACKAGES=mysql-server-core,mysql-client

log() { echo "devstack: $*" >&2; }

# The Debian mirror this machine's apt uses (deb822 .sources or one-line
# format); only Debian's package servers are assumed reachable.
debian_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		case "$f" in
		*.sources) uri=$(awk 'tolower($1)=="uris:"{for(i=2;i<=NF;i++)print $i}' "$f") ;;
		*) uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++)if($i ~ /^[a-z+]+:\/\//){print $i;break}}' "$f") ;;
		esac
		uri=$(printf '%s\n' "$uri" | grep -E '/debian/?$' | head -n1 || true)
		if [ -n "$uri" ]; then
			echo "${uri%/}"
			return
		fi
	done
	echo http://deb.debian.org/debian
}

# Everything that decides a base image's content lives in this function;
# its text is part of the base tags' hashes.
build_base() {
	local tag=$1 suite=$2 packages=$3 dir mirror
	mirror=$(debian_mirror)
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/devstack-base.XXXXXX")
	# shellcheck disable=SC2064
	trap "cleanup_dir '$dir'" EXIT
	log "debootstrap $suite from $mirror into $dir (about a minute)"
	debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" \
		>"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; return 1; }
	# Debian's mariadb-server initialises the data dir on install; empty it
	# so the entrypoint's first-start path (passwords, users, init scripts) runs.
	[ ! -d "$dir/var/lib/mysql" ] || find "$dir/var/lib/mysql" -mindepth 1 -delete
	# Keep the image small: caches, package lists, docs, manuals, locales.
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
		"$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* \
		"$dir"/usr/share/info/* "$dir"/var/log/*.log "$dir"/var/log/apt/*
	[ ! -d "$dir/usr/share/locale" ] || find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
	log "importing $tag"
	tar -C "$dir" -c . | docker import --change 'ENV LANG=C.UTF-8' - "$tag" >/dev/null
	cleanup_dir "$dir"
	trap - EXIT
}

# debootstrap mounts /proc, /sys and a /dev tmpfs inside the target; never
# rm -rf through a mount that is still there.
cleanup_dir() {
	local dir=$1 m
	[ -d "$dir" ] || return 0
	awk -v d="$dir" 'index($2, d"/")==1{print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf --one-file-system "$dir" "$dir.log"
}

hash() { sha256sum | cut -c1-12; }

# Hash of a directory's files (names and contents) plus extra text.
dir_hash() {
	local d=$1 extra=$2
	{
		(cd "$d" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		echo "$extra"
	} | hash
}

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Docker's own CLI without buildx refuses BuildKit builds; the legacy builder works.
if ! docker buildx version >/dev/null 2>&1; then
	export DOCKER_BUILDKIT=0
fi

build_from_dir() {
	local name=$1 base=$2 tag
	tag="devstack-standin/$name:$(dir_hash "$ROOT/images/$name" "$base")"
	# Silent when already built: callers print their own one-line notice.
	if ! exists "$tag"; then
		log "building $tag"
		# Output only on failure (the legacy builder also warns it is deprecated).
		local out
		out=$(docker build --build-arg "BASE=$base" -t "$tag" "$ROOT/images/$name" 2>&1) ||
			{ echo "$out" >&2; return 1; }
	fi
	echo "$tag"
}

base_tag() { echo "devstack-standin/$1:$({ echo "$2 $3"; declare -f build_base; } | hash)"; }
BASE=$(base_tag base "$SUITE" "$PACKAGES")
SID_BASE=$(base_tag base-sid "$SID_SUITE" "$SID_PACKAGES")

missing=()
exists "$BASE" || missing+=("$BASE $SUITE $PACKAGES")
exists "$SID_BASE" || missing+=("$SID_BASE $SID_SUITE $SID_PACKAGES")
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || { log "building the base images needs root (debootstrap)"; exit 1; }
	command -v debootstrap >/dev/null 2>&1 || {
		log "installing debootstrap from apt"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 ||
			{ apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
	}
	start=$SECONDS
	for m in "${missing[@]}"; do
		read -r tag suite packages <<<"$m"
		build_base "$tag" "$suite" "$packages"
	done
	log "base images built in $((SECONDS - start)) s"
fi

MYSQL=$(build_from_dir mysql "$BASE")
REDIS=$(build_from_dir redis "$BASE")
GEARMAND=$(build_from_dir gearmand "$BASE")
MARIADB_PLAIN=$(build_from_dir mariadb-plain "$BASE")
MYSQL_PLAIN=$(build_from_dir mysql-plain "$SID_BASE")
# The tuned Oracle stand-in is the plain one with its tuning.
MYSQL_ORACLE=$(build_from_dir mysql-oracle "$MYSQL_PLAIN")
# Images built otherwise inside than the stand-ins, for make test-images:
# devstack must run any image as its makers meant.
MARIADB_RUNTIME=$(build_from_dir mariadb-runtime "$BASE")
MARIADB_NONROOT=$(build_from_dir mariadb-nonroot "$BASE")
MYSQL_SERVER=$(build_from_dir mysql-server "$SID_BASE")
echo "DEVSTACK_MYSQL_IMAGE=$MYSQL"
echo "DEVSTACK_REDIS_IMAGE=$REDIS"
echo "DEVSTACK_GEARMAND_IMAGE=$GEARMAND"
echo "DEVSTACK_MYSQL_ORACLE_IMAGE=$MYSQL_ORACLE"
echo "DEVSTACK_MARIADB_PLAIN_IMAGE=$MARIADB_PLAIN"
echo "DEVSTACK_MYSQL_PLAIN_IMAGE=$MYSQL_PLAIN"
echo "DEVSTACK_MARIADB_RUNTIME_IMAGE=$MARIADB_RUNTIME"
echo "DEVSTACK_MYSQL_SERVER_IMAGE=$MYSQL_SERVER"
echo "DEVSTACK_MARIADB_NONROOT_IMAGE=$MARIADB_NONROOT"
