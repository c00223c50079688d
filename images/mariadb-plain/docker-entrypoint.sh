#!/bin/bash
# Entrypoint doing what the official mariadb image's does, at the same cost:
# the server's configuration read with `mariadbd --verbose --help` (before
# and after dropping root), mariadb-install-db on a first start, a temporary
# socket-only server for time zones, root, database, user and
# /docker-entrypoint-initdb.d, then the real server exec'd as PID 1.
set -eo pipefail
shopt -s nullglob

log() { echo "$(date -u +%FT%TZ) [Entrypoint]: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi
case "$1" in
mariadbd | mysqld) ;;
*) exec "$@" ;;
esac
for arg; do
	case "$arg" in
	-'?' | --help | --print-defaults | -V | --version) exec "$@" ;;
	esac
done

get() { CONF_KEY=$1; shift; "$@" --verbose --help 2>/dev/null | awk -v k="$CONF_KEY" '$1 == k && /^[^ \t]/ { print $2; exit }'; }

errors=$("$@" --verbose --help 2>&1 >/dev/null) || die "mariadbd failed while attempting to check config: $errors"
DATADIR=$(get datadir "$@")
DATADIR=${DATADIR%/}
SOCKET=$(get socket "$@")
PORT=$(get port "$@")

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
	find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown mysql: '{}' +
	exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

sql_str() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\\\'}"
}

process_sql() {
	mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" "$@"
}

first_start() {
	[ -n "${MYSQL_ROOT_PASSWORD:-}${MYSQL_ALLOW_EMPTY_PASSWORD:-}${MYSQL_RANDOM_ROOT_PASSWORD:-}" ] ||
		die "Database is uninitialized and password option is not specified (MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD)"
	log "Initializing database files"
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal "${@:2}" \
		--skip-test-db --old-mode='UTF8_IS_UTF8MB3' \
		--default-time-zone=SYSTEM --enforce-storage-engine= --skip-log-bin \
		--expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 >/dev/null
	log "Database files initialized"

	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
		--expire-logs-days=0 --skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 &
	local pid=$! i
	for i in {30..0}; do
		if MYSQL_PWD= process_sql --database=mysql <<<'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		sleep 1
	done
	[ "$i" -gt 0 ] || die "Unable to start server."
	log "Temporary server started"

	# As the official image: MARIADB_INITDB_SKIP_TZINFO, or its MYSQL_ name.
	if [ -z "${MARIADB_INITDB_SKIP_TZINFO:-${MYSQL_INITDB_SKIP_TZINFO:-}}" ]; then
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo | MYSQL_PWD= process_sql --database=mysql
	fi
	local pw=${MYSQL_ROOT_PASSWORD:-}
	if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
		log "GENERATED ROOT PASSWORD: $pw"
	fi
	local host=${MYSQL_ROOT_HOST:-%} hc
	hc=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD($(sql_str "$pw"));"
		# The accounts mariadb-install-db made for 127.0.0.1, ::1 and the
		# hostname stay, with its empty password.
		if [ "$host" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_str "$host") IDENTIFIED BY $(sql_str "$pw");"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_str "$host") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'%' TO 'root'@$(sql_str "$host") WITH GRANT OPTION;"
		fi
		for h in 127.0.0.1 ::1 localhost; do
			echo "CREATE USER IF NOT EXISTS healthcheck@'$h' IDENTIFIED BY $(sql_str "$hc");"
			echo "GRANT USAGE ON *.* TO healthcheck@'$h';"
		done
		if [ -n "${MYSQL_DATABASE:-}" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
		fi
		if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
			echo "CREATE USER $(sql_str "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_str "$MYSQL_PASSWORD");"
			[ -z "${MYSQL_DATABASE:-}" ] || echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sql_str "$MYSQL_USER")@'%';"
		fi
	} | MYSQL_PWD= process_sql --database=mysql
	(umask 0077 && printf '[mariadb-client]\nport=%s\nsocket=%s\nuser=healthcheck\npassword=%s\n' "$PORT" "$SOCKET" "$hc" >"$DATADIR/.my-healthcheck.cnf")

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh) log "running $f"; . "$f" ;;
		*.sql) log "running $f"; MYSQL_PWD=$pw process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} <"$f" ;;
		*) log "ignoring $f" ;;
		esac
	done

	kill "$pid"
	wait "$pid" || die "Unable to shut down server."
	log "MariaDB init process done. Ready for start up."
}

if [ ! -d "$DATADIR/mysql" ]; then
	first_start "$@"
fi
exec "$@"
