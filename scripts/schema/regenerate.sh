#!/usr/bin/env bash
# Regenerate fixtures/schema/ from Archivematica's own migrations.
#
#   scripts/schema/regenerate.sh       (as root, on Debian with Docker and Go)
#
# About four minutes the first time (it debootstraps two roots, then caches
# them), a minute and a half after that.
# What it does, in order (everything it prints also goes to
# fixtures/schema/regenerate.log):
#   1. Gets Archivematica and the Storage Service at the pinned commits below.
#      ARCHIVEMATICA_SRC / STORAGE_SERVICE_SRC may name a local git repository
#      (work tree or bare) holding that commit, or a plain source directory;
#      otherwise the script fetches the commit from GitHub into its cache.
#   2. Builds (once; cached) a throw-away Debian trixie root with debootstrap,
#      holding Django 4.2 and the Debian packages the apps import, plus the
#      stand-ins in scripts/schema/shims/ for modules Debian lacks.
#   3. Brings up a devstack stack (project "schemagen", schema none, MariaDB
#      10.11 stand-in) with the devstack CLI built from this tree, and runs in
#      the root (chroot): the dashboard's `manage.py migrate` on MCP and the
#      storage service's `manage.py migrate` on SS.
#   4. Dumps both databases to fixtures/schema/{MCP,SS}.sql (dump.py: portable
#      SQL), migrations.tsv (django_migrations) and counts.tsv (every table,
#      its rows).
#   5. Bootstraps both apps as Archivematica's hack/Makefile does (SS
#      create_user, SS first start, dashboard `manage.py install` registering
#      its pipeline with that real SS served on 127.0.0.1) and writes every
#      row each step adds or changes to fixtures/schema/reference/.
#   6. Verifies on a fresh stack: both files load with the mysql client
#      without an error or warning and dump back identically; `migrate
#      --check`, `showmigrations`, `migrate` ("No migrations to apply.", and
#      the dump is still identical afterwards) and `makemigrations --check
#      --dry-run` for both apps.
#   7. Verifies on Oracle MySQL (Debian sid's 9.x, run from a second cached
#      root on a socket): the files load without a warning, the databases read
#      back the same as on MariaDB (summary.py), and both apps' migrate has
#      nothing to do. SCHEMAGEN_MYSQL=0 skips this step.
#
# Stand-ins (shims/; details and reasons in fixtures/schema/README.md):
#   autoslug                 faithful reimplementation of django-autoslug
#                            1.9.9's AutoSlugField (a model field: same column,
#                            same deconstruct(), same slugs); logs each slug
#   elasticsearch, gearman, amclient, agentarchives, metsrw, bagit, sword2,
#   lazy_paged_sequence, mozilla_django_oidc, django_cas_ng, shibboleth
#                            import-time only: any name is a placeholder class;
#                            none defines a model, field or migration
#   django_forms_bootstrap   an empty app (the real one only has templates)
#
# Environment:
#   ARCHIVEMATICA_SRC, STORAGE_SERVICE_SRC  local repositories (see 1.)
#   ARCHIVEMATICA_URL, STORAGE_SERVICE_URL  where to fetch from otherwise
#                      (default: the projects' GitHub repositories)
#   SCHEMAGEN_CACHE    cache directory (default /var/tmp/devstack-schemagen):
#                      the roots, cloned sources and logs of each step
#   DEBIAN_MIRROR      Debian mirror (default: the one apt uses here)
#   DEVSTACK_MYSQL_IMAGE / DEVSTACK_REDIS_IMAGE  images for devstack; by
#                      default scripts/local-images.sh's stand-ins (dump.py
#                      reads MariaDB's SHOW CREATE TABLE)
#   SCHEMAGEN_MYSQL=0  skip step 7
#   SCHEMAGEN_KEEP=1   leave the stack up afterwards (for inspection)
set -euo pipefail

AM_COMMIT=b1e75911632966319d13751c90fe08131d2384a3 # qa/1.x, Archivematica 1.17.0
SS_COMMIT=f91baa8f3ff7804e709e63251d82c6644ba443f0 # qa/0.x, Storage Service 0.23.0
AM_BRANCH=qa/1.x
SS_BRANCH=qa/0.x
# Committer dates of those commits (UTC): the date-times the migrations write
# at run time are set to these, so that reruns give the same files.
AM_DATE="2024-10-22 18:19:40"
SS_DATE="2024-10-22 16:21:16"
AM_URL=${ARCHIVEMATICA_URL:-https://github.com/artefactual/archivematica}
SS_URL=${STORAGE_SERVICE_URL:-https://github.com/artefactual/archivematica-storage-service}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$REPO/fixtures/schema"
CACHE=${SCHEMAGEN_CACHE:-/var/tmp/devstack-schemagen}
CHROOT="$CACHE/root"
PROJECT=schemagen
DEVSTACK="$CACHE/devstack"
SUITE=trixie
# Debian packages of the root. Trixie has Django 4.2 (the apps pin 4.2.16).
PACKAGES=(
	python3 python3-django python3-mysqldb python3-lxml python3-requests
	python3-dateutil python3-mimeparse python3-unidecode python3-prometheus-client
	python3-jsonschema python3-whitenoise python3-ldap python3-django-auth-ldap
	python3-dj-database-url python3-gnupg python3-boto3 python3-swiftclient
	python3-legacy-cgi python3-setuptools python3-importlib-resources python3-orjson
	python3-olefile
)
# From sid, because trixie's are wrong or missing: tastypie 0.13.3 lacks the
# migration 0002 that the apps' 0.14.7 has (0.15.1's models and migrations
# are byte-identical to 0.14.7's); jsonfield 3.2.0's code equals 3.1.0's.
SID_PACKAGES=(python3-django-tastypie python3-jsonfield)

mkdir -p "$CACHE" "$OUT/reference"
LOG="$OUT/regenerate.log"
exec > >(tee "$LOG") 2>&1
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() {
	log "FAILED: $*"
	exit 1
}
START=$SECONDS
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot)"

# ---------------------------------------------------------------- helpers

debian_mirror() {
	if [ -n "${DEBIAN_MIRROR:-}" ]; then
		echo "$DEBIAN_MIRROR"
		return
	fi
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

# Unmount everything below a directory (deepest first); never rm -rf through
# a mount.
unmount_below() {
	local dir=$1 m
	awk -v d="$dir" 'index($2, d"/")==1{print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

remove_root() {
	local dir=$1
	[ -d "$dir" ] || return 0
	unmount_below "$dir"
	rm -rf --one-file-system "$dir"
}

# The git directory of a bare repository or of a work tree's top directory
# (not of a repository that merely contains SRC).
own_git_dir() {
	local src=$1
	if [ "$(git -C "$src" rev-parse --is-bare-repository 2>/dev/null)" = true ] ||
		[ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$src" && pwd -P)" ]; then
		git -C "$src" rev-parse --absolute-git-dir
	else
		return 1
	fi
}

# Export COMMIT of a repository into DEST. SRC is a local repository (bare or
# with a work tree) holding COMMIT, or a plain directory (used as it is, with
# a warning); when SRC is empty, COMMIT is fetched from URL into a cache
# (shallow; BRANCH in full if the server refuses to serve a commit by id).
export_source() {
	local name=$1 src=$2 url=$3 branch=$4 commit=$5 dest=$6 gitdir
	rm -rf "$dest"
	mkdir -p "$dest"
	if [ -n "$src" ] && ! gitdir=$(own_git_dir "$src"); then
		[ -d "$src" ] || die "$name: $src is neither a git repository nor a directory"
		log "$name: WARNING: $src is not a git repository; using its files as they are (commit $commit is assumed)"
		tar -C "$src" --exclude=./.git -c . | tar -x -C "$dest"
		return
	fi
	if [ -z "$src" ]; then
		gitdir="$CACHE/git/$name.git"
		[ -d "$gitdir" ] || git init -q --bare "$gitdir"
		if ! git --git-dir="$gitdir" cat-file -e "$commit^{commit}" 2>/dev/null; then
			log "$name: fetching $commit from $url"
			git --git-dir="$gitdir" fetch -q --depth 1 "$url" "$commit" ||
				git --git-dir="$gitdir" fetch -q "$url" "+refs/heads/$branch:refs/heads/$branch" ||
				die "$name: cannot fetch $url (set ${name^^}_SRC to a local repository)"
		fi
	fi
	git --git-dir="$gitdir" cat-file -e "$commit^{commit}" 2>/dev/null || die "$name: commit $commit not found in $gitdir"
	git --git-dir="$gitdir" archive "$commit" | tar -x -C "$dest"
	log "$name: $(git --git-dir="$gitdir" log -1 --format='%h %cs %s' "$commit")"
}

# The root's content is decided by this function and the package lists; their
# hash is kept in the root so a change rebuilds it.
build_root() {
	local mirror tmp
	mirror=$(debian_mirror)
	tmp="$CHROOT.new"
	remove_root "$tmp"
	log "debootstrap $SUITE from $mirror, then apt-get install (a few minutes)"
	# debootstrap's own resolver does not follow virtual packages, so it
	# only lays the base; apt inside the root installs the rest.
	debootstrap --variant=minbase "$SUITE" "$tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
		{
			tail -n 30 "$CACHE/debootstrap.log"
			die "debootstrap"
		}
	echo "deb $mirror sid main" >"$tmp/etc/apt/sources.list.d/sid.list"
	printf 'Package: *\nPin: release n=sid\nPin-Priority: 100\n' >"$tmp/etc/apt/preferences.d/sid"
	cp /etc/resolv.conf "$tmp/etc/resolv.conf"
	mount -t proc proc "$tmp/proc"
	mount --bind /dev "$tmp/dev"
	# sid's Release file may be past its Valid-Until on a snapshot mirror.
	if ! { chroot "$tmp" apt-get -q -o Acquire::Check-Valid-Until=false update &&
		chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
			install "${PACKAGES[@]}" "${SID_PACKAGES[@]/%//sid}" &&
		chroot "$tmp" apt-get clean; } >"$CACHE/apt.log" 2>&1; then
		tail -n 30 "$CACHE/apt.log"
		unmount_below "$tmp"
		die "apt-get in the root"
	fi
	unmount_below "$tmp"
	remove_root "$CHROOT"
	mv "$tmp" "$CHROOT"
}

root_hash() {
	{
		echo "$SUITE ${PACKAGES[*]} / ${SID_PACKAGES[*]}"
		declare -f build_root
	} | sha256sum | cut -c1-16
}


mount_root() {
	mountpoint -q "$CHROOT/proc" || mount -t proc proc "$CHROOT/proc"
	mountpoint -q "$CHROOT/dev" || mount --bind /dev "$CHROOT/dev"
}

# Run a command in the root, with a clean environment plus NAME=VALUE args.
# Its own UTS namespace gives it a fixed host name, which the dashboard's
# installer sends to the storage service ("Archivematica on HOSTNAME").
in_root() {
	unshare --uts -- /bin/sh -c 'hostname "$0" && exec "$@"' "$ROOT_HOSTNAME" \
		chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		HOME=/root PYTHONDONTWRITEBYTECODE=1 TZ=UTC "$@"
}
ROOT_HOSTNAME=schemagen

# The database settings of the stack, as the apps read them.
db_env() {
	echo "MYSQL_HOST=$MYSQL_HOST" "MYSQL_PORT=$MYSQL_PORT" \
		"MYSQL_USER=$MYSQL_USER" "MYSQL_PASSWORD=$MYSQL_PASSWORD"
}

# manage.py of the dashboard (database MCP), as its production settings
# read it: ARCHIVEMATICA_DASHBOARD_CLIENT_* from the environment.
dashboard() {
	# shellcheck disable=SC2046
	in_root $(db_env) \
		DJANGO_SETTINGS_MODULE=settings.production \
		PYTHONPATH=/src/archivematica/src/dashboard/src:/src/archivematica/src/archivematicaCommon/lib:/opt/schemagen/shims \
		ARCHIVEMATICA_DASHBOARD_DASHBOARD_DJANGO_SECRET_KEY=schemagen \
		ARCHIVEMATICA_DASHBOARD_DASHBOARD_DJANGO_ALLOWED_HOSTS='*' \
		ARCHIVEMATICA_DASHBOARD_CLIENT_HOST="$MYSQL_HOST" \
		ARCHIVEMATICA_DASHBOARD_CLIENT_PORT="$MYSQL_PORT" \
		ARCHIVEMATICA_DASHBOARD_CLIENT_USER="$MYSQL_USER" \
		ARCHIVEMATICA_DASHBOARD_CLIENT_PASSWORD="$MYSQL_PASSWORD" \
		ARCHIVEMATICA_DASHBOARD_CLIENT_DATABASE=MCP \
		SCHEMAGEN_AUTOSLUG_LOG=/out/autoslug.jsonl \
		"$@"
}

# The storage service (database SS), production settings: SS_DB_URL.
storage_service() {
	# shellcheck disable=SC2046
	in_root $(db_env) \
		DJANGO_SETTINGS_MODULE=storage_service.settings.production \
		PYTHONPATH=/src/storage-service/storage_service:/opt/schemagen/shims \
		DJANGO_SECRET_KEY=schemagen DJANGO_ALLOWED_HOSTS='*' \
		SS_DB_URL="mysql://$MYSQL_USER:$MYSQL_PASSWORD@$MYSQL_HOST:$MYSQL_PORT/SS" \
		"$@"
}

# Indent a command's output for the log, without the system check's warnings
# about tastypie's models (W042, printed by every manage.py command).
quiet() {
	grep -v -e '^System check identified' -e '^WARNINGS:$' -e '^$' -e 'models.W042' \
		-e 'HINT: Configure the DEFAULT_AUTO_FIELD' | sed 's/^/  /'
}

DASHBOARD_MANAGE=(python3 /src/archivematica/src/dashboard/src/manage.py)
SS_MANAGE=(python3 /src/storage-service/storage_service/manage.py)

# Bring the devstack stack up (schema none) and read its settings.
stack_up() {
	local envfile="$CACHE/stack.env"
	DEVSTACK_SCHEMA=none DEVSTACK_PROJECT=$PROJECT DEVSTACK_MYSQL_PORT=0 DEVSTACK_REDIS_PORT=0 \
		"$DEVSTACK" up >"$CACHE/devstack-up.log" 2>&1 ||
		{
			cat "$CACHE/devstack-up.log"
			die "devstack up"
		}
	grep -E '^(mysql|redis):.* on |ready' "$CACHE/devstack-up.log" | sed 's/^/  /' || true
	"$DEVSTACK" env -p "$PROJECT" --format shell >"$envfile"
	# shellcheck disable=SC1090
	MYSQL_HOST=$(. "$envfile" && echo "$MYSQL_HOST")
	MYSQL_PORT=$(. "$envfile" && echo "$MYSQL_PORT")
	MYSQL_USER=$(. "$envfile" && echo "$MYSQL_USER")
	MYSQL_PASSWORD=$(. "$envfile" && echo "$MYSQL_PASSWORD")
	MYSQL_ROOT_PASSWORD=$(. "$envfile" && echo "$MYSQL_ROOT_PASSWORD")
	rm -f "$envfile"
}

stack_down() {
	"$DEVSTACK" down -p "$PROJECT" --volumes --yes >/dev/null 2>&1 || true
}

SS_PID=
cleanup() {
	local rc=$?
	if [ -n "$SS_PID" ]; then kill "$SS_PID" 2>/dev/null || true; fi
	SS_PID=
	stop_mysqld
	unmount_below "$CHROOT"
	if [ "${SCHEMAGEN_KEEP:-}" = 1 ]; then
		log "stack $PROJECT kept (SCHEMAGEN_KEEP=1): $DEVSTACK down -p $PROJECT --volumes --yes"
	elif [ -x "$DEVSTACK" ]; then
		stack_down
	fi
	exit $rc
}

# The mysql client of the stack's server container.
mysql_client() {
	docker exec -i "devstack-$PROJECT-mysql" mysql -uroot -p"$MYSQL_ROOT_PASSWORD" "$@"
}

# A root with Oracle MySQL from Debian sid (mysql-server-core, 9.x), for
# step 7; cached like the Python root.
MYSQL_ROOT="$CACHE/mysql-root"
MYSQL_PACKAGES=(mysql-server-core mysql-client)
build_mysql_root() {
	local mirror tmp
	mirror=$(debian_mirror)
	tmp="$MYSQL_ROOT.new"
	remove_root "$tmp"
	log "debootstrap sid from $mirror, then apt-get install ${MYSQL_PACKAGES[*]} (a few minutes)"
	debootstrap --variant=minbase sid "$tmp" "$mirror" >"$CACHE/debootstrap-mysql.log" 2>&1 ||
		{
			tail -n 30 "$CACHE/debootstrap-mysql.log"
			die "debootstrap sid"
		}
	cp /etc/resolv.conf "$tmp/etc/resolv.conf"
	mount -t proc proc "$tmp/proc"
	mount --bind /dev "$tmp/dev"
	if ! { chroot "$tmp" apt-get -q -o Acquire::Check-Valid-Until=false update &&
		chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
			install "${MYSQL_PACKAGES[@]}" &&
		chroot "$tmp" apt-get clean; } >"$CACHE/apt-mysql.log" 2>&1; then
		tail -n 30 "$CACHE/apt-mysql.log"
		unmount_below "$tmp"
		die "apt-get in the MySQL root"
	fi
	unmount_below "$tmp"
	remove_root "$MYSQL_ROOT"
	mv "$tmp" "$MYSQL_ROOT"
}
mysql_root_hash() {
	{
		echo "sid ${MYSQL_PACKAGES[*]}"
		declare -f build_mysql_root
	} | sha256sum | cut -c1-16
}
MYSQLD_PID=
stop_mysqld() {
	if [ -n "$MYSQLD_PID" ]; then
		kill "$MYSQLD_PID" 2>/dev/null || true
		for _ in $(seq 1 60); do
			kill -0 "$MYSQLD_PID" 2>/dev/null || break
			sleep 0.5
		done
		MYSQLD_PID=
	fi
	unmount_below "$MYSQL_ROOT"
}
in_mysql_root() {
	chroot "$MYSQL_ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
}

# ================================================================= main

trap cleanup EXIT
log "regenerating fixtures/schema from Archivematica @ $AM_COMMIT and Storage Service @ $SS_COMMIT"

# 1. Sources.
export_source archivematica "${ARCHIVEMATICA_SRC:-}" "$AM_URL" "$AM_BRANCH" "$AM_COMMIT" "$CACHE/src/archivematica"
export_source storage_service "${STORAGE_SERVICE_SRC:-}" "$SS_URL" "$SS_BRANCH" "$SS_COMMIT" "$CACHE/src/storage-service"
AM_VERSION=$(sed -n 's/^ARCHIVEMATICA_VERSION = (\([0-9]*\), \([0-9]*\), \([0-9]*\))$/\1.\2.\3/p' \
	"$CACHE/src/archivematica/src/archivematicaCommon/lib/version.py")
SS_VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$CACHE/src/storage-service/storage_service/storage_service/__init__.py")
log "Archivematica $AM_VERSION, Storage Service $SS_VERSION"

# 2. The Python root.
want=$(root_hash)
if [ "$(cat "$CHROOT/.schemagen-root" 2>/dev/null)" = "$want" ]; then
	log "reusing the $SUITE root in $CHROOT"
else
	build_root
	echo "$want" >"$CHROOT/.schemagen-root"
fi
unmount_below "$CHROOT"
rm -rf --one-file-system "$CHROOT/src" "$CHROOT/opt/schemagen" "$CHROOT/out" "$CHROOT/var/archivematica"
mkdir -p "$CHROOT/src" "$CHROOT/opt/schemagen" "$CHROOT/out"
cp -a "$CACHE/src/archivematica" "$CACHE/src/storage-service" "$CHROOT/src/"
cp -a "$HERE/." "$CHROOT/opt/schemagen/"
mount_root
log "root: $(in_root python3 -c 'import sys, django, tastypie, jsonfield, MySQLdb; print("Python", sys.version.split()[0], "Django", django.get_version(), "tastypie", tastypie.__version__, "mysqlclient", MySQLdb.__version__)')"

# 3. A stack, and the migrations.
if [ -z "${DEVSTACK_MYSQL_IMAGE:-}" ]; then
	# dump.py reads MariaDB's SHOW CREATE TABLE: use the MariaDB stand-in.
	eval "$("$REPO/scripts/local-images.sh")"
	export DEVSTACK_MYSQL_IMAGE DEVSTACK_REDIS_IMAGE
fi
# devstack from this tree, built with empty built-in schema files: the stacks
# here use `schema: none`, and regenerating must not depend on the files it
# regenerates (nor on whether this tree's loader accepts them).
rm -rf "$CACHE/devstack-build"
mkdir -p "$CACHE/devstack-build"
tar -C "$REPO" --exclude=./.git --exclude=./bin -c . | tar -x -C "$CACHE/devstack-build"
: >"$CACHE/devstack-build/fixtures/schema/MCP.sql"
: >"$CACHE/devstack-build/fixtures/schema/SS.sql"
(cd "$CACHE/devstack-build" && go build -buildvcs=false -o "$DEVSTACK" ./cmd/devstack) || die "go build"
stack_down
stack_up

RUN_START=$(date -u '+%Y-%m-%d %H:%M:%S')
log "dashboard: manage.py migrate (MCP)"
t=$SECONDS
dashboard "${DASHBOARD_MANAGE[@]}" migrate --noinput >"$CACHE/migrate-mcp.log" 2>&1 ||
	{
		tail -n 40 "$CACHE/migrate-mcp.log"
		die "dashboard migrate"
	}
log "  $(grep -c '^  Applying ' "$CACHE/migrate-mcp.log") migrations applied in $((SECONDS - t)) s"
log "storage service: manage.py migrate (SS)"
t=$SECONDS
storage_service "${SS_MANAGE[@]}" migrate --noinput >"$CACHE/migrate-ss.log" 2>&1 ||
	{
		tail -n 40 "$CACHE/migrate-ss.log"
		die "storage service migrate"
	}
log "  $(grep -c '^  Applying ' "$CACHE/migrate-ss.log") migrations applied in $((SECONDS - t)) s"
if [ -s "$CHROOT/out/autoslug.jsonl" ]; then
	log "autoslug: $(wc -l <"$CHROOT/out/autoslug.jsonl") slug(s) computed by the AutoSlugField reimplementation during migrate:"
	sed 's/^/  /' "$CHROOT/out/autoslug.jsonl"
else
	log "autoslug: no slug computed during migrate (every slug came from fixtures or was given explicitly)"
fi

# 4. Dumps.
header() { # DB APP VERSION COMMIT DATE WHAT
	printf '%s\\n' \
		"Database $1 of $2 $3 (commit $4): every table, column, index, foreign key" \
		"and check constraint that $6 \`manage.py migrate\` creates, and every row it leaves." \
		"Dumped from MariaDB 10.11; loads unchanged into an empty utf8mb4 database on" \
		"MariaDB 10.11+ and MySQL 8.0+ (tables take the database's charset and collation)." \
		"Date-times the migrations wrote are set to the commit's date, $5 UTC." \
		"Generated by scripts/schema/regenerate.sh (see fixtures/schema/README.md); do not edit."
}
rm -f "$CHROOT/out/counts.tsv" "$CHROOT/out/migrations.tsv"
for db in MCP SS; do
	if [ $db = MCP ]; then
		h=$(header MCP Archivematica "$AM_VERSION" "$AM_COMMIT" "$AM_DATE" "the dashboard's")
		d=$AM_DATE
	else
		h=$(header SS "Archivematica Storage Service" "$SS_VERSION" "$SS_COMMIT" "$SS_DATE" "the storage service's")
		d=$SS_DATE
	fi
	# shellcheck disable=SC2046
	in_root $(db_env) python3 /opt/schemagen/dump.py --db $db --out /out/$db.sql \
		--header "${h%\\n}" --normalize-after "$RUN_START" --normalize-to "$d" \
		--counts /out/counts.tsv --migrations /out/migrations.tsv | sed 's/^/  /'
	cp "$CHROOT/out/$db.sql" "$OUT/$db.sql"
done
{
	printf '# Every table of the migrated databases and its row count (rows the\n'
	printf '# migrations insert). Generated by scripts/schema/regenerate.sh.\n'
	printf 'database\ttable\trows\n'
	cat "$CHROOT/out/counts.tsv"
} >"$OUT/counts.tsv"
{
	printf '# Migrations applied (django_migrations, in the order applied), per\n'
	printf '# database: MCP by the dashboard (Archivematica %s @ %s),\n' "$AM_VERSION" "${AM_COMMIT:0:8}"
	printf '# SS by the storage service (%s @ %s). Generated by scripts/schema/regenerate.sh.\n' "$SS_VERSION" "${SS_COMMIT:0:8}"
	printf 'database\tapp\tname\n'
	cat "$CHROOT/out/migrations.tsv"
} >"$OUT/migrations.tsv"
log "wrote MCP.sql ($(wc -c <"$OUT/MCP.sql") bytes), SS.sql ($(wc -c <"$OUT/SS.sql") bytes), counts.tsv, migrations.tsv"

# 5. What bootstrapping writes, as Archivematica's own tooling bootstraps
#    (hack/Makefile: bootstrap-storage-service, bootstrap-dashboard-db).
mkdir -p "$CHROOT/out/ref"
snap() {
	# shellcheck disable=SC2046
	in_root $(db_env) python3 /opt/schemagen/reference.py snapshot "$1" "/out/ref/$2.json"
}
snap MCP mcp-0
snap SS ss-0
BOOT_START=$(date -u '+%Y-%m-%d %H:%M:%S')
SS_ARGS=(--username=test --password=test --email=test@test.com --api-key=test --superuser)
log "storage service: manage.py create_user ${SS_ARGS[*]}"
storage_service "${SS_MANAGE[@]}" create_user "${SS_ARGS[@]}" 2>&1 | quiet
snap SS ss-1
# As in Archivematica's containers, the service's staging directory and the
# shared directory exist (volumes) before it starts.
mkdir -p "$CHROOT/var/archivematica/storage_service" "$CHROOT/var/archivematica/sharedDirectory"
SS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "storage service: serving storage_service.wsgi on 127.0.0.1:$SS_PORT (its startup creates the default space and locations)"
rm -f "$CHROOT/out/ss.ready"
storage_service python3 /opt/schemagen/ssserver.py "$SS_PORT" /out/ss.ready >"$CACHE/ss-server.log" 2>&1 &
for _ in $(seq 1 120); do
	[ -s "$CHROOT/out/ss.ready" ] && break
	sleep 0.5
done
[ -s "$CHROOT/out/ss.ready" ] || {
	cat "$CACHE/ss-server.log"
	die "the storage service did not start"
}
SS_PID=$(cat "$CHROOT/out/ss.ready")
snap SS ss-2
SS_URL_ARG="http://127.0.0.1:$SS_PORT"
AM_ARGS=(--username=test --password=test --email=test@test.com --org-name=test --org-id=test
	--api-key=test --ss-url="$SS_URL_ARG" --ss-user=test --ss-api-key=test
	--site-url=http://archivematica-dashboard:8000)
log "dashboard: manage.py install ${AM_ARGS[*]}"
dashboard "${DASHBOARD_MANAGE[@]}" install "${AM_ARGS[@]}" 2>&1 | quiet
snap MCP mcp-1
snap SS ss-3
kill "$SS_PID"
SS_PID=
grep -v '^$' "$CACHE/ss-server.log" | grep -E 'storage service:|ERROR|Traceback' | sed 's/^/  /' || true

intro_mcp="Rows that Archivematica's installer writes into MCP after the migrations, that is
what the Makefile target bootstrap-dashboard-db of Archivematica's hack/ runs after migrate:

  manage.py install --username=test --password=test --email=test@test.com \\
    --org-name=test --org-id=test --api-key=test --ss-url={ss-url} \\
    --ss-user=test --ss-api-key=test --site-url=http://archivematica-dashboard:8000

with the storage service of install-ss.txt (steps 1 and 2 done) answering at {ss-url}, and
the dashboard's host name being \"$ROOT_HOSTNAME\". Placeholders: {now} is the time of the run,
{uuid-N} a UUID generated by the step (the same N is the same value, in install-ss.txt too),
{ss-url} the --ss-url argument. Generated by scripts/schema/regenerate.sh."
intro_ss="Rows that bootstrapping writes into SS after the migrations, in the order Archivematica's
hack/Makefile does it (bootstrap-storage-service, then bootstrap-dashboard-db):

  1. manage.py create_user --username=test --password=test --email=test@test.com \\
       --api-key=test --superuser
  2. the first start of the service: storage_service/wsgi.py calls common.startup.startup(),
     which creates the default space and locations (populate_default_locations)
  3. the dashboard's installer (install-mcp.txt) registers its pipeline:
     POST {ss-url}/api/v2/pipeline/ with create_default_locations=true

Placeholders as in install-mcp.txt. Generated by scripts/schema/regenerate.sh."
# shellcheck disable=SC2046
in_root $(db_env) python3 /opt/schemagen/reference.py report --out /out/ref/install-mcp.txt \
	--labels /out/ref/labels.json --now-after "$BOOT_START" --replace "$SS_URL_ARG={ss-url}" \
	--title "MCP rows written by the dashboard's installer (Archivematica $AM_VERSION @ ${AM_COMMIT:0:8})" \
	--intro "$intro_mcp" \
	--section "manage.py install|MCP|/out/ref/mcp-0.json|/out/ref/mcp-1.json"
# shellcheck disable=SC2046
in_root $(db_env) python3 /opt/schemagen/reference.py report --out /out/ref/install-ss.txt \
	--labels /out/ref/labels.json --now-after "$BOOT_START" --replace "$SS_URL_ARG={ss-url}" \
	--title "SS rows written by bootstrapping (Storage Service $SS_VERSION @ ${SS_COMMIT:0:8})" \
	--intro "$intro_ss" \
	--section "1. manage.py create_user|SS|/out/ref/ss-0.json|/out/ref/ss-1.json" \
	--section "2. storage service startup (default space and locations)|SS|/out/ref/ss-1.json|/out/ref/ss-2.json" \
	--section "3. pipeline registration by the dashboard's installer|SS|/out/ref/ss-2.json|/out/ref/ss-3.json"
cp "$CHROOT/out/ref/install-mcp.txt" "$CHROOT/out/ref/install-ss.txt" "$OUT/reference/"
log "wrote reference/install-mcp.txt, reference/install-ss.txt"

# 6. Verify on a fresh stack: both files load with the mysql client without
#    an error or a warning, dump back to the same text, and the apps find
#    nothing to migrate (post_migrate handlers included: the dump after
#    `migrate` is still the same).
log "verify: fresh stack; loading with the mysql client (--show-warnings)"
stack_down
stack_up
redump() { # DB FILE
	# shellcheck disable=SC2046
	in_root $(db_env) python3 /opt/schemagen/dump.py --db "$1" --out "/out/$2" \
		--header-from "/out/$1.sql" >/dev/null
	cmp -s "$CHROOT/out/$2" "$OUT/$1.sql" || {
		diff "$OUT/$1.sql" "$CHROOT/out/$2" | head -n 40
		die "$1: the loaded database does not dump back to $1.sql"
	}
}
for db in MCP SS; do
	t=$(date +%s%N)
	res=$(docker exec -i -e MYSQL_PWD="$MYSQL_ROOT_PASSWORD" "devstack-$PROJECT-mysql" \
		mysql -uroot --show-warnings "$db" <"$OUT/$db.sql" 2>&1) || {
		echo "$res"
		die "loading $db.sql"
	}
	ms=$((($(date +%s%N) - t) / 1000000))
	[ -z "$res" ] || {
		echo "$res"
		die "$db.sql: the server printed warnings or notes"
	}
	log "  $db.sql: loaded in $ms ms, no error, no warning"
	redump "$db" "$db.reloaded.sql"
	log "  $db: dumps back to the same file"
done
check_apps() { # NAME FUNCTION DB
	local name=$1 fn=$2 db=$3 manage
	if [ "$fn" = dashboard ]; then manage=("${DASHBOARD_MANAGE[@]}"); else manage=("${SS_MANAGE[@]}"); fi
	"$fn" "${manage[@]}" migrate --check --noinput >"$CACHE/verify.log" 2>&1 ||
		{
			cat "$CACHE/verify.log"
			die "$name: migrate --check found unapplied migrations"
		}
	log "  $name: migrate --check: no unapplied migration"
	"$fn" "${manage[@]}" showmigrations >"$CACHE/verify.log" 2>&1 || die "$name: showmigrations"
	if grep -q '\[ \]' "$CACHE/verify.log"; then
		grep '\[ \]' "$CACHE/verify.log"
		die "$name: showmigrations lists unapplied migrations"
	fi
	log "  $name: showmigrations: $(grep -c '\[X\]' "$CACHE/verify.log") applied, none missing"
	"$fn" "${manage[@]}" migrate --noinput >"$CACHE/verify.log" 2>&1 || die "$name: migrate"
	grep -q '^  No migrations to apply\.$' "$CACHE/verify.log" || {
		cat "$CACHE/verify.log"
		die "$name: migrate did something"
	}
	log "  $name: migrate: \"No migrations to apply.\""
	redump "$db" "$db.after-migrate.sql"
	log "  $name: after migrate (and its post_migrate handlers) $db still dumps to $db.sql"
	if "$fn" "${manage[@]}" makemigrations --check --dry-run >"$CACHE/verify.log" 2>&1; then
		log "  $name: makemigrations --check --dry-run: $(tail -n 1 "$CACHE/verify.log")"
	else
		log "  $name: makemigrations --check --dry-run reports model changes without a migration (upstream):"
		sed 's/^/    /' "$CACHE/verify.log"
	fi
}
check_apps dashboard dashboard MCP
check_apps "storage service" storage_service SS
for db in MCP SS; do
	# shellcheck disable=SC2046
	in_root $(db_env) python3 /opt/schemagen/summary.py $db >"$CACHE/$db.mariadb.summary"
done

# 7. The same on Oracle MySQL (sid's 9.x), run from a chroot on a socket, with
#    the databases created as devstack creates them there. The schema and rows
#    must read back as on MariaDB (summary.py), and the apps must find
#    nothing to do. SCHEMAGEN_MYSQL=0 skips this.
if [ "${SCHEMAGEN_MYSQL:-1}" != 0 ]; then
	want=$(mysql_root_hash)
	if [ "$(cat "$MYSQL_ROOT/.schemagen-root" 2>/dev/null)" = "$want" ]; then
		log "verify on MySQL: reusing the sid root in $MYSQL_ROOT"
	else
		build_mysql_root
		echo "$want" >"$MYSQL_ROOT/.schemagen-root"
	fi
	mount -t proc proc "$MYSQL_ROOT/proc"
	mount --bind /dev "$MYSQL_ROOT/dev"
	rm -rf --one-file-system "$MYSQL_ROOT/var/lib/schemagen-mysql" "$MYSQL_ROOT/run/mysqld"
	mkdir -p "$MYSQL_ROOT/run/mysqld"
	in_mysql_root mysqld --initialize-insecure --user=root --datadir=/var/lib/schemagen-mysql \
		>"$CACHE/mysqld.log" 2>&1 || {
		cat "$CACHE/mysqld.log"
		die "mysqld --initialize-insecure"
	}
	# Socket only: no TCP port to collide with anything.
	in_mysql_root mysqld --user=root --datadir=/var/lib/schemagen-mysql --skip-networking \
		--socket=/run/mysqld/mysqld.sock --mysqlx=OFF --secure-file-priv= \
		--pid-file=/run/mysqld/mysqld.pid >>"$CACHE/mysqld.log" 2>&1 &
	for _ in $(seq 1 120); do
		in_mysql_root mysqladmin -uroot ping >/dev/null 2>&1 && break
		sleep 0.5
	done
	MYSQLD_PID=$(cat "$MYSQL_ROOT/run/mysqld/mysqld.pid" 2>/dev/null) || {
		tail -n 20 "$CACHE/mysqld.log"
		die "mysqld did not start"
	}
	log "verify on MySQL $(in_mysql_root mysql -uroot -N -e 'SELECT VERSION()')"
	MYSQL_PASSWORD_MY=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	in_mysql_root mysql -uroot -e "
		CREATE DATABASE \`MCP\` CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
		CREATE DATABASE \`SS\` CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
		CREATE USER 'archivematica'@'localhost' IDENTIFIED BY '$MYSQL_PASSWORD_MY';
		GRANT ALL ON \`MCP\`.* TO 'archivematica'@'localhost';
		GRANT ALL ON \`SS\`.* TO 'archivematica'@'localhost';"
	for db in MCP SS; do
		t=$(date +%s%N)
		res=$(in_mysql_root mysql -uroot --show-warnings "$db" <"$OUT/$db.sql" 2>&1) || {
			echo "$res"
			die "MySQL: loading $db.sql"
		}
		ms=$((($(date +%s%N) - t) / 1000000))
		[ -z "$res" ] || {
			echo "$res"
			die "MySQL: $db.sql: the server printed warnings or notes"
		}
		log "  $db.sql: loaded in $ms ms, no error, no warning"
	done
	# The Python root reaches the server through its socket.
	mkdir -p "$CHROOT/run/mysqld"
	mount --bind "$MYSQL_ROOT/run/mysqld" "$CHROOT/run/mysqld"
	MYSQL_HOST=localhost MYSQL_PORT=3306 MYSQL_USER=archivematica MYSQL_PASSWORD=$MYSQL_PASSWORD_MY
	same_as_mariadb() { # DB WHEN
		# shellcheck disable=SC2046
		in_root $(db_env) python3 /opt/schemagen/summary.py "$1" >"$CACHE/$1.mysql.summary"
		diff "$CACHE/$1.mariadb.summary" "$CACHE/$1.mysql.summary" >"$CACHE/$1.summary.diff" || {
			head -n 40 "$CACHE/$1.summary.diff"
			die "MySQL: $1 differs from MariaDB $2"
		}
		log "  $1: same tables, columns, indexes, foreign keys, checks and rows as on MariaDB${2:+ $2}"
	}
	same_as_mariadb MCP ""
	same_as_mariadb SS ""
	check_apps_mysql() { # NAME FUNCTION DB
		local name=$1 fn=$2 db=$3 manage
		if [ "$fn" = dashboard ]; then manage=("${DASHBOARD_MANAGE[@]}"); else manage=("${SS_MANAGE[@]}"); fi
		"$fn" "${manage[@]}" migrate --check --noinput >"$CACHE/verify.log" 2>&1 ||
			{
				cat "$CACHE/verify.log"
				die "MySQL: $name: migrate --check found unapplied migrations"
			}
		"$fn" "${manage[@]}" migrate --noinput >"$CACHE/verify.log" 2>&1 || die "MySQL: $name: migrate"
		grep -q '^  No migrations to apply\.$' "$CACHE/verify.log" || {
			cat "$CACHE/verify.log"
			die "MySQL: $name: migrate did something"
		}
		log "  $name: migrate --check passes; migrate: \"No migrations to apply.\""
		same_as_mariadb "$db" "(after migrate)"
	}
	check_apps_mysql dashboard dashboard MCP
	check_apps_mysql "storage service" storage_service SS
	umount "$CHROOT/run/mysqld"
	stop_mysqld
fi
log "done in $((SECONDS - START)) s"
