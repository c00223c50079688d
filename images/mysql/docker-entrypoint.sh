#!/bin/bash
# Entrypoint mimicking the official mysql image, for MariaDB 10.11.
# First start (no mysql/ in the data dir): initialise, set up root, database,
# user and run /docker-entrypoint-initdb.d on a temporary socket-only server,
# then exec the real server as PID 1 so SIGTERM shuts it down cleanly.
set -euo pipefail

log() { echo "$(date -u +%FT%TZ) [Entrypoint]: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ $# -gt 0 ] || set -- mysqld
# As the official image: options only -> run the server with them.
if [ "${1:0:1}" = '-' ]; then
	set -- mysqld "$@"
fi
case "$1" in
mysqld | mariadbd) shift ;;
*) exec "$@" ;; # any other command, e.g. `sh -c ...`
esac
# From here "$@" holds only extra server options.

run_as_root=
[ "$(id -u)" -eq 0 ] && run_as_root=1
user_opt=()
[ -n "$run_as_root" ] && user_opt=(--user=mysql)

# Where the data dir really is (honours --datadir in the arguments).
DATADIR=$(mariadbd "$@" --verbose --help 2>/dev/null | awk '$1 == "datadir" { print $2; exit }')
DATADIR=${DATADIR:-/var/lib/mysql/}
DATADIR=${DATADIR%/}

mkdir -p /run/mysqld "$DATADIR"
if [ -n "$run_as_root" ]; then
	chown mysql:mysql /run/mysqld
	find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
fi

# SQL string literal / identifier quoting.
sql_str() {
	local s=${1//\\/\\\\}
	s=${s//\'/\\\'}
	printf "'%s'" "$s"
}
# shellcheck disable=SC2016 # literal backticks
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

# The temporary server uses its own socket, so `mysqladmin ping` (the usual
# healthcheck, on the default socket) fails until the real server is up.
TEMP_SOCKET=/run/mysqld/init.sock
ROOT_PW=

# Runs SQL from stdin (or with extra mysql args) against the temporary server.
process_sql() {
	MYSQL_PWD="$ROOT_PW" mysql --protocol=socket --socket="$TEMP_SOCKET" -uroot \
		--comments --binary-mode "$@"
}

first_start() {
	if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] &&
		[ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		die "Database is uninitialized and password option is not specified
    You need to specify one of the following as an environment variable:
    - MYSQL_ROOT_PASSWORD
    - MYSQL_ALLOW_EMPTY_PASSWORD
    - MYSQL_RANDOM_ROOT_PASSWORD"
	fi
	if [ "${MYSQL_USER:-}" = root ]; then
		die "MYSQL_USER=\"root\": use MYSQL_ROOT_PASSWORD for the root user instead"
	fi
	if [ -n "${MYSQL_USER:-}" ] && [ -z "${MYSQL_PASSWORD:-}" ]; then
		log "Warning: MYSQL_USER is set but MYSQL_PASSWORD is empty; the user gets no password"
	fi

	log "Initializing database files"
	mariadb-install-db "${user_opt[@]}" --datadir="$DATADIR" --skip-test-db \
		--auth-root-authentication-method=normal --rpm \
		--skip-name-resolve >/dev/null
	log "Database files initialized"

	log "Starting temporary server"
	mariadbd "${user_opt[@]}" "$@" --datadir="$DATADIR" --skip-networking \
		--socket="$TEMP_SOCKET" --skip-log-bin &
	local pid=$! i
	for i in $(seq 60); do
		if mysqladmin --protocol=socket --socket="$TEMP_SOCKET" -uroot ping >/dev/null 2>&1; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || die "temporary server exited during startup"
		sleep 0.5
	done
	[ "$i" -lt 60 ] || die "temporary server did not start within 30 s"
	log "Temporary server started"

	local pw
	if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		# No `tr </dev/urandom | head`: SIGPIPE fails the pipeline under pipefail.
		pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
		log "GENERATED ROOT PASSWORD: $pw"
	else
		pw=${MYSQL_ROOT_PASSWORD:-}
	fi
	local root_host=${MYSQL_ROOT_HOST:-%}

	# Root (localhost + MYSQL_ROOT_HOST), database, user. Drops the anonymous
	# and root@<container hostname> accounts mariadb-install-db makes.
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		process_sql -N -e "SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user
			WHERE User = '' OR (User = 'root' AND Host <> 'localhost')"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_str "$pw");"
		if [ "$root_host" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_str "$root_host") IDENTIFIED BY $(sql_str "$pw");"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_str "$root_host") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'%' TO 'root'@$(sql_str "$root_host") WITH GRANT OPTION;"
		fi
		if [ -n "${MYSQL_DATABASE:-}" ]; then
			echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$MYSQL_DATABASE");"
		fi
		if [ -n "${MYSQL_USER:-}" ]; then
			echo "CREATE USER $(sql_str "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_str "${MYSQL_PASSWORD:-}");"
			if [ -n "${MYSQL_DATABASE:-}" ]; then
				echo "GRANT ALL ON $(sql_ident "$MYSQL_DATABASE").* TO $(sql_str "$MYSQL_USER")@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | process_sql
	ROOT_PW=$pw

	# Init scripts must reach the temporary server with a plain `mysql`, as
	# with the official image (where both share a socket). Clients read
	# $MYSQL_HOME/my.cnf after /etc/mysql, so point the default socket there.
	export MYSQL_HOME
	MYSQL_HOME=$(mktemp -d)
	printf '[client-server]\nsocket = %s\n' "$TEMP_SOCKET" >"$MYSQL_HOME/my.cnf"
	local f db_args=()
	[ -n "${MYSQL_DATABASE:-}" ] && db_args=(--database="$MYSQL_DATABASE")
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			if [ -x "$f" ]; then
				log "$0: running $f"
				"$f"
			else
				log "$0: sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			log "$0: running $f"
			process_sql "${db_args[@]}" <"$f"
			;;
		*.sql.gz)
			log "$0: running $f"
			gunzip -c "$f" | process_sql "${db_args[@]}"
			;;
		*) log "$0: ignoring $f" ;;
		esac
	done
	shopt -u nullglob
	rm -rf "$MYSQL_HOME"
	unset MYSQL_HOME

	log "Stopping temporary server"
	kill -TERM "$pid"
	wait "$pid" || die "temporary server did not shut down cleanly"
	log "Temporary server stopped"
	log "MySQL init process done. Ready for start up."
}

if [ ! -d "$DATADIR/mysql" ]; then
	first_start "$@"
else
	log "Database directory appears to contain a database; skipping initialization"
fi

exec mariadbd "${user_opt[@]}" "$@"
