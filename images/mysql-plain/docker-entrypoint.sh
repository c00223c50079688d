#!/bin/bash
# Entrypoint doing what the official mysql image's does, at the same cost:
# the configuration checked and read with `mysqld --verbose --help` for
# each value it needs (before and after dropping root), `mysqld
# --initialize-insecure` on a first start, a temporary socket-only server
# for time zones, root, database, user and /docker-entrypoint-initdb.d, then
# the real server exec'd as PID 1.
set -eo pipefail
shopt -s nullglob

log() { echo "$(date -u +%FT%TZ) [Entrypoint]: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${1:0:1}" = '-' ]; then
	set -- mysqld "$@"
fi
[ "$1" = mysqld ] || exec "$@"
for arg; do
	case "$arg" in
	-'?' | --help | --print-defaults | -V | --version) exec "$@" ;;
	esac
done

help_args=(--verbose --help --log-bin-index="$(mktemp -u)")
get() { local k=$1; shift; "$@" "${help_args[@]}" 2>/dev/null | awk -v k="$k" '$1 == k && /^[^ \t]/ { print $2; exit }'; }

errors=$("$@" "${help_args[@]}" 2>&1 >/dev/null) || die "mysqld failed while attempting to check config: $errors"
DATADIR=$(get datadir "$@")
DATADIR=${DATADIR%/}
SOCKET=$(get socket "$@")
dirs=("$DATADIR" "$(dirname "$SOCKET")")
for k in general-log-file keyring_file_data pid-file secure-file-priv slow-query-log-file; do
	d=$(get "$k" "$@")
	[ -n "$d" ] && [ "$d" != NULL ] || continue
	[ "$k" = secure-file-priv ] || d=$(dirname "$d")
	dirs+=("$d")
done
mkdir -p "${dirs[@]}"
if [ "$(id -u)" = 0 ]; then
	find "${dirs[@]}" \! -user mysql -exec chown --no-dereference mysql '{}' +
	exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

socket_fix() {
	local default
	default=$(get socket mysqld --no-defaults)
	[ "$default" = "$SOCKET" ] || ln -sfT "$SOCKET" "$default" 2>/dev/null || :
}

sql_str() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\\\'}"
}

process_sql() {
	mysql --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

first_start() {
	[ -n "${MYSQL_ROOT_PASSWORD:-}${MYSQL_ALLOW_EMPTY_PASSWORD:-}${MYSQL_RANDOM_ROOT_PASSWORD:-}" ] ||
		die "Database is uninitialized and password option is not specified (MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD)"
	log "Initializing database files"
	"$@" --initialize-insecure --default-time-zone=SYSTEM
	log "Database files initialized"
	"$@" --daemonize --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" >/dev/null ||
		die "Unable to start server."
	log "Temporary server started"
	socket_fix

	if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ]; then
		mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null |
			sed 's/Local time zone must be set--see zic manual page/FCTY/' |
			MYSQL_PWD= process_sql --database=mysql
	fi
	local pw=${MYSQL_ROOT_PASSWORD:-}
	if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
		log "GENERATED ROOT PASSWORD: $pw"
	fi
	local host=${MYSQL_ROOT_HOST:-%}
	{
		echo "SET autocommit = 1; SET @@SESSION.SQL_LOG_BIN=0;"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_str "$pw");"
		echo "GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION; FLUSH PRIVILEGES;"
		if [ "$host" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_str "$host") IDENTIFIED BY $(sql_str "$pw");"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_str "$host") WITH GRANT OPTION;"
		fi
		echo "DROP DATABASE IF EXISTS test;"
	} | MYSQL_PWD= process_sql --database=mysql
	if [ -n "${MYSQL_DATABASE:-}" ]; then
		MYSQL_PWD=$pw process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
	fi
	if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
		MYSQL_PWD=$pw process_sql --database=mysql <<<"CREATE USER $(sql_str "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_str "$MYSQL_PASSWORD");"
		[ -z "${MYSQL_DATABASE:-}" ] ||
			MYSQL_PWD=$pw process_sql --database=mysql <<<"GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sql_str "$MYSQL_USER")@'%';"
	fi

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh) log "running $f"; . "$f" ;;
		*.sql) log "running $f"; MYSQL_PWD=$pw process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} <"$f" ;;
		*) log "ignoring $f" ;;
		esac
	done

	MYSQL_PWD=$pw mysqladmin shutdown -uroot --socket="$SOCKET" || die "Unable to shut down server."
	log "MySQL init process done. Ready for start up."
}

if [ ! -d "$DATADIR/mysql" ]; then
	first_start "$@"
else
	socket_fix
fi
exec "$@"
