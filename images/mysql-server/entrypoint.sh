#!/bin/bash
# Entrypoint behaving as Oracle's mysql/mysql-server image's does (its own
# code, not Oracle's): the configuration validated with --validate-config,
# the server left to switch to its user itself (user=mysql in /etc/my.cnf),
# /var/run/mysqld made at every start, and on a first start `mysqld
# --initialize-insecure`, a temporary socket-only server for time zones,
# root (for localhost only unless MYSQL_ROOT_HOST is set), database, user
# and /docker-entrypoint-initdb.d, then the real server exec'd. Like Oracle's
# it writes /healthcheck.cnf and /mysql-init-complete outside the volume at
# every start, and makes a one-time root password when none is given.
set -eo pipefail
shopt -s nullglob

log() { echo "[Entrypoint] $*"; }
die() { echo "[Entrypoint] ERROR: $*" >&2; exit 1; }

if [ "${1:0:1}" = - ]; then
	set -- mysqld "$@"
fi
[ "$1" = mysqld ] || exec "$@"

# A broken option fails here, with the server's own words, not half-way
# through a first start.
if ! out=$("$@" --validate-config 2>&1); then
	die "Unable to start MySQL. Please check your configuration. $out"
fi

# Compiled defaults, my.cnf and the arguments together.
conf=$("$@" --verbose --help 2>/dev/null)
setting() { awk -v k="$1" '/^[^ \t]/ && $1 == k && NF == 2 { print $2; exit }' <<<"$conf"; }
DATADIR=$(setting datadir)
DATADIR=${DATADIR%/}
SOCKET=$(setting socket)
PIDFILE=$(setting pid-file)

# The image has no /var/run/mysqld.
mkdir -p "$DATADIR" "$(dirname "$SOCKET")" "$(dirname "$PIDFILE")"
if [ "$(id -u)" = 0 ]; then
	chown mysql:mysql "$(dirname "$SOCKET")" "$(dirname "$PIDFILE")"
	# A volume made without the image's copy (volume-nocopy, a bind mount)
	# belongs to root; a data dir from an image whose mysql user has another
	# uid belongs to that uid.
	find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
fi

quote() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\\\'}"
}
# shellcheck disable=SC2016 # literal backticks
ident() { printf '`%s`' "${1//\`/\`\`}"; }

# The root password goes to a client option file, never a command line.
PWFILE=
client() { mysql --defaults-extra-file="$PWFILE" --protocol=socket -uroot -hlocalhost --socket="$SOCKET" "$@"; }

first_start() {
	local pw onetime='' host=${MYSQL_ROOT_HOST:-} f
	# As Oracle's: the variable may name a file holding the password.
	if [ -n "${MYSQL_ROOT_PASSWORD:-}" ] && [ -f "$MYSQL_ROOT_PASSWORD" ]; then
		MYSQL_ROOT_PASSWORD=$(<"$MYSQL_ROOT_PASSWORD")
		[ -n "$MYSQL_ROOT_PASSWORD" ] || die "the MYSQL_ROOT_PASSWORD file is empty"
	fi
	pw=${MYSQL_ROOT_PASSWORD:-}
	if [ -z "$pw" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		log "No password option specified for new database: a random one-time root password will be generated."
		MYSQL_RANDOM_ROOT_PASSWORD=1
		onetime=1
	fi
	[ -z "${MYSQL_ONETIME_PASSWORD:-}" ] || onetime=1

	log "Initializing database"
	# UTC during set-up: the time zone tables are loaded only below.
	"$@" --initialize-insecure --default-time-zone=+00:00
	log "Database initialized"
	"$@" --daemonize --skip-networking --socket="$SOCKET" --default-time-zone=+00:00 >/dev/null ||
		die "the temporary server did not start"

	PWFILE=$(mktemp /var/lib/mysql-files/client.XXXXXXXX)
	local i
	for i in $(seq 30) 0; do
		mysqladmin --socket="$SOCKET" ping >/dev/null 2>&1 && break
		sleep 1
	done
	[ "$i" != 0 ] || die "Timeout during MySQL init."

	if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ]; then
		mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null | client mysql
	fi
	if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		pw=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24)
		log "GENERATED ROOT PASSWORD: $pw"
	fi
	{
		echo "SET @@SESSION.SQL_LOG_BIN = 0;"
		# --initialize leaves root and the server's own accounts, all for
		# localhost; keep exactly those.
		echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.infoschema', 'mysql.session', 'mysql.sys', 'root') OR host <> 'localhost';"
		echo "FLUSH PRIVILEGES;"
		echo "CREATE USER 'healthchecker'@'localhost' IDENTIFIED BY 'healthcheckpass';"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(quote "$pw");"
		if [ -n "$host" ] && [ "$host" != localhost ]; then
			echo "CREATE USER 'root'@$(quote "$host") IDENTIFIED BY $(quote "$pw");"
			echo "GRANT ALL ON *.* TO 'root'@$(quote "$host") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'' TO 'root'@$(quote "$host") WITH GRANT OPTION;"
		fi
	} | client
	printf '[client]\npassword=%s\n' "$(quote "$pw")" >"$PWFILE"

	if [ -n "${MYSQL_DATABASE:-}" ]; then
		client <<<"CREATE DATABASE IF NOT EXISTS $(ident "$MYSQL_DATABASE");"
	fi
	if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
		client <<<"CREATE USER $(quote "$MYSQL_USER")@'%' IDENTIFIED BY $(quote "$MYSQL_PASSWORD");"
		[ -z "${MYSQL_DATABASE:-}" ] ||
			client <<<"GRANT ALL ON $(ident "$MYSQL_DATABASE").* TO $(quote "$MYSQL_USER")@'%';"
	elif [ -n "${MYSQL_USER:-}${MYSQL_PASSWORD:-}" ]; then
		log "Not creating mysql user. MYSQL_USER and MYSQL_PASSWORD must be specified to create a mysql user."
	fi

	# shellcheck disable=SC1090 # the image user's own scripts
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh) log "running $f"; . "$f" ;;
		*.sql) log "running $f"; client ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f" ;;
		*) log "ignoring $f" ;;
		esac
	done

	# Over the socket, this returns once the server is down.
	mysqladmin --defaults-extra-file="$PWFILE" --socket="$SOCKET" -uroot shutdown
	rm -f "$PWFILE"
	log "Server shut down"

	if [ -n "$onetime" ]; then
		# An expired password cannot run the set-up above, so the real
		# server expires it as it starts.
		log "Setting root user as expired. Password will need to be changed before database can be used."
		f=$(mktemp /var/lib/mysql-files/expire.XXXXXXXX)
		{
			echo "ALTER USER 'root'@'localhost' PASSWORD EXPIRE;"
			[ -z "$host" ] || [ "$host" = localhost ] || echo "ALTER USER 'root'@$(quote "$host") PASSWORD EXPIRE;"
		} >"$f"
		[ "$(id -u)" != 0 ] || chown mysql:mysql "$f"
		set -- "$@" --init-file="$f"
	fi
	log "MySQL init process done. Ready for start up."
	START=("$@")
}

START=("$@")
[ -d "$DATADIR/mysql" ] || first_start "$@"

# At every start, outside the volume: the healthcheck's login, and the mark
# that the real server (not the set-up one) is the one running.
printf '[client]\nuser=healthchecker\nsocket=%s\npassword=healthcheckpass\n' "$SOCKET" >/healthcheck.cnf
touch /mysql-init-complete
log "Starting MySQL $("${START[0]}" --version | awk '{print $3}')"
exec "${START[@]}"
