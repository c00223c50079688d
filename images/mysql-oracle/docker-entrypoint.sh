#!/bin/bash
# Entrypoint mimicking the official mysql image, for Oracle MySQL 8.4/9.
# As root it prepares the directories and re-runs itself as the mysql user.
# First start (no mysql/ in the data dir): `mysqld --initialize-insecure`,
# which also runs the set-up SQL (time zones, root, database, user) as its
# init file, so no temporary server is needed for it; a temporary
# socket-only server runs only for /docker-entrypoint-initdb.d. Then the real
# server is exec'd as PID 1, so SIGTERM shuts it down cleanly.
set -euo pipefail

log() { echo "$(date -u +%FT%TZ) [Entrypoint]: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ $# -gt 0 ] || set -- mysqld
# As the official image: options only -> run the server with them.
if [ "${1:0:1}" = '-' ]; then
	set -- mysqld "$@"
fi
[ "$1" = mysqld ] || exec "$@" # any other command, e.g. `sh -c ...`
shift
# From here "$@" holds only server options.

# --help, --version and the like: no set-up, just the server's answer.
for arg; do
	case "$arg" in
	-'?' | --help | --print-defaults | -V | --version) exec mysqld "$@" ;;
	esac
done

# usage: file_env VAR: VAR, or the content of the file named by VAR_FILE
# (Docker secrets), as the official image.
file_env() {
	local var=$1 file_var="${1}_FILE"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		die "both $var and $file_var are set (but are exclusive)"
	fi
	if [ -n "${!file_var:-}" ]; then
		export "$var"="$(<"${!file_var}")"
	fi
	unset "$file_var"
}

# Where the data dir and socket are, as the server sees them (config files
# and arguments); this also fails, with the server's message, on a bad config.
help=$(mysqld "$@" --verbose --help 2>&1) ||
	die "mysqld failed while attempting to check config
	command was: mysqld $* --verbose --help
	$help"
# The table of values at the end: a name at the start of a line (the
# descriptions above it are indented).
server_value() { awk -v k="$1" '$1 == k && /^[^ \t]/ { print $2; exit }' <<<"$help"; }
DATADIR=$(server_value datadir)
DATADIR=${DATADIR:-/var/lib/mysql/}
DATADIR=${DATADIR%/}
SOCKET=$(server_value socket)
SOCKET=${SOCKET:-/run/mysqld/mysqld.sock}
[[ $DATADIR == /?* && $SOCKET == /?* ]] ||
	die "unexpected datadir '$DATADIR' or socket '$SOCKET' (absolute paths expected)"
unset help

if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
	find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown mysql:mysql '{}' +
	# setpriv execs in place (no extra process), so the server stays PID 1.
	exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" mysqld "$@"
fi

# SQL string literal / identifier quoting (the default sql_mode, where a
# backslash escapes).
sql_str() {
	local s=${1//\\/\\\\}
	s=${s//\'/\\\'}
	printf "'%s'" "$s"
}
# shellcheck disable=SC2016 # literal backticks
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

# Settings for the set-up only: nothing there needs to survive a host crash
# before the first clean shutdown, and skipping the flushes makes a first
# start several times faster on slow disks.
INIT_OPTS=(--innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=OFF --innodb-flush-method=nosync)

# mysqld --initialize accepts a data dir holding only lost+found and dot
# files, and refuses anything else: say why, and what to do.
check_datadir() {
	local f others=()
	shopt -s nullglob dotglob
	for f in "$DATADIR"/*; do
		case "${f##*/}" in
		lost+found | .*) ;;
		*) others+=("${f##*/}") ;;
		esac
	done
	shopt -u nullglob dotglob
	if [ ${#others[@]} -gt 0 ]; then
		die "$DATADIR has no database (no mysql/) but is not empty: ${others[*]:0:5}
    Use an empty volume, or remove its contents."
	fi
}

# Initialises $DATADIR; the set-up SQL on stdin runs as the init file at the
# end of the bootstrap, before anything listens.
initialize() {
	local sql rc=0
	sql=$(mktemp /tmp/init.XXXXXX.sql) # mode 0600: it holds passwords
	cat >"$sql"
	mysqld "$@" "${INIT_OPTS[@]}" --initialize-insecure --datadir="$DATADIR" \
		--init-file="$sql" || rc=$?
	rm -f "$sql"
	[ "$rc" -eq 0 ] || die "mysqld --initialize-insecure failed (exit $rc)"
}

# Runs SQL from stdin (or with extra mysql args) as root on the temporary
# server.
process_sql() {
	mysql --defaults-extra-file="$PASSFILE" --protocol=socket --socket="$SOCKET" -uroot \
		--comments --binary-mode "$@"
}

# The official image's name for it, which init scripts may call.
docker_process_sql() { process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} "$@"; }

run_init_scripts() {
	local f pid i db_args=()
	shopt -s nullglob
	local files=(/docker-entrypoint-initdb.d/*)
	shopt -u nullglob
	[ ${#files[@]} -gt 0 ] || return 0

	log "Starting temporary server"
	# Socket only (no TCP), on the default socket as the official image, so
	# init scripts reach it with a plain `mysql`; a healthcheck over TCP
	# fails until the real server is up.
	mysqld "$@" "${INIT_OPTS[@]}" --skip-networking --socket="$SOCKET" &
	pid=$!
	for i in $(seq 120); do
		if process_sql -e 'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || die "temporary server exited during startup"
		sleep 0.25
	done
	[ "$i" -lt 120 ] || die "temporary server did not start within 30 s"
	log "Temporary server started"

	[ -n "${MYSQL_DATABASE:-}" ] && db_args=(--database="$MYSQL_DATABASE")
	for f in "${files[@]}"; do
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

	log "Stopping temporary server"
	kill -TERM "$pid"
	wait "$pid" || die "temporary server did not shut down cleanly"
	log "Temporary server stopped"
}

first_start() {
	local v
	for v in MYSQL_ROOT_PASSWORD MYSQL_ROOT_HOST MYSQL_DATABASE MYSQL_USER MYSQL_PASSWORD; do
		file_env "$v"
	done
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
	check_datadir

	local pw
	if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		# No `tr </dev/urandom | head`: SIGPIPE fails the pipeline under pipefail.
		pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
		log "GENERATED ROOT PASSWORD: $pw"
	else
		pw=${MYSQL_ROOT_PASSWORD:-}
	fi
	local root_host=${MYSQL_ROOT_HOST:-%}

	log "Initializing database files"
	{
		if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ]; then
			echo "USE mysql;"
			cat /usr/share/mysql/devstack-tzinfo.sql
		fi
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_str "$pw");"
		if [ "$root_host" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_str "$root_host") IDENTIFIED BY $(sql_str "$pw");"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_str "$root_host") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'' TO 'root'@$(sql_str "$root_host") WITH GRANT OPTION;"
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
		if [ -n "${MYSQL_ONETIME_PASSWORD:-}" ]; then
			echo "ALTER USER 'root'@$(sql_str "$root_host") PASSWORD EXPIRE;"
		fi
	} | initialize "$@"
	log "Database files initialized"

	PASSFILE=$(mktemp /tmp/client.XXXXXX.cnf)
	# Option files treat a backslash as an escape.
	printf '[client]\npassword="%s"\n' "${pw//\\/\\\\}" >"$PASSFILE"
	run_init_scripts "$@"
	rm -f "$PASSFILE"

	log "MySQL init process done. Ready for start up."
}

if [ ! -d "$DATADIR/mysql" ]; then
	first_start "$@"
else
	log "Database directory appears to contain a database; skipping initialization"
fi

exec mysqld "$@"
