#!/bin/bash
# Starts Oracle MySQL as Oracle's mysql/mysql-server image does: the
# server's configuration read with `mysqld --verbose --help`, the socket's
# folder made, and on a first start `mysqld --initialize-insecure`, a
# temporary socket-only server for the time zones, root (for localhost, and
# for MYSQL_ROOT_HOST when given), the database, the user, a health-check
# account and /docker-entrypoint-initdb.d; at every start the health
# check's config file and marker; then the server exec'd as PID 1, as
# root: /etc/my.cnf makes it switch to mysql itself.
set -e

if [ "${1:0:1}" = - ]; then
	set -- mysqld "$@"
fi
[ "$1" = mysqld ] || exec "$@"

result=$("$@" --verbose --help 2>&1 >/dev/null) || {
	echo "[Entrypoint] ERROR: Unable to start MySQL. Please check your configuration." >&2
	echo "$result" >&2
	exit 1
}
get() { local k=$1; shift; "$@" --verbose --help 2>/dev/null | awk -v k="$k" '$1 == k && /^[^ \t]/ { print $2; exit }'; }
DATADIR=$(get datadir "$@")
SOCKET=$(get socket "$@")
mkdir -p "$(dirname "$SOCKET")"
chown mysql:mysql "$(dirname "$SOCKET")"

sql_str() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\\\'}"
}

if [ ! -d "$DATADIR/mysql" ]; then
	if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		echo "[Entrypoint] No password option specified for new database." >&2
		echo "[Entrypoint]   A random onetime password will be generated." >&2
		MYSQL_RANDOM_ROOT_PASSWORD=true
		MYSQL_ONETIME_PASSWORD=true
	fi
	mkdir -p "$DATADIR"
	chown -R mysql:mysql "$DATADIR"
	echo "[Entrypoint] Initializing database"
	"$@" --initialize-insecure --default-time-zone=SYSTEM
	echo "[Entrypoint] Database initialized"
	"$@" --daemonize --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM
	mysql=(mysql --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --init-command="SET @@SESSION.SQL_LOG_BIN=0;")
	if [ -z "$MYSQL_INITDB_SKIP_TZINFO" ]; then
		mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null | "${mysql[@]}" mysql
	fi
	pw=$MYSQL_ROOT_PASSWORD
	if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
		echo "[Entrypoint] GENERATED ROOT PASSWORD: $pw"
	fi
	{
		echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.infoschema', 'mysql.session', 'mysql.sys', 'root') OR host NOT IN ('localhost');"
		echo "CREATE USER 'healthchecker'@'localhost' IDENTIFIED BY 'healthcheckpass';"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_str "$pw");"
		if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_str "$MYSQL_ROOT_HOST") IDENTIFIED BY $(sql_str "$pw");"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_str "$MYSQL_ROOT_HOST") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'' TO 'root'@$(sql_str "$MYSQL_ROOT_HOST") WITH GRANT OPTION;"
		fi
		echo "FLUSH PRIVILEGES;"
		[ -z "$MYSQL_DATABASE" ] || echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
		if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
			echo "CREATE USER $(sql_str "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_str "$MYSQL_PASSWORD");"
			[ -z "$MYSQL_DATABASE" ] || echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sql_str "$MYSQL_USER")@'%';"
		fi
		[ -z "$MYSQL_ONETIME_PASSWORD" ] || echo "ALTER USER 'root'@'localhost' PASSWORD EXPIRE;"
	} | "${mysql[@]}"
	passfile=$(mktemp -u /var/lib/mysql-files/XXXXXXXXXX)
	install /dev/null -m0600 -omysql -gmysql "$passfile"
	printf '[client]\npassword=%s\n' "$pw" >"$passfile"
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh) echo "[Entrypoint] running $f"; . "$f" ;;
		*.sql) echo "[Entrypoint] running $f"; mysql --defaults-extra-file="$passfile" --protocol=socket -uroot --socket="$SOCKET" ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f" ;;
		*) echo "[Entrypoint] ignoring $f" ;;
		esac
	done
	mysqladmin --defaults-extra-file="$passfile" shutdown -uroot --socket="$SOCKET"
	rm -f "$passfile"
	echo "[Entrypoint] Server shut down"
	echo "[Entrypoint] MySQL init process done. Ready for start up."
fi

# The health check's account and marker, at every start.
printf '[client]\nuser=healthchecker\nsocket=%s\npassword=healthcheckpass\n' "$SOCKET" >/healthcheck.cnf
touch /mysql-init-complete
chown -R mysql:mysql "$DATADIR"
echo "[Entrypoint] Starting MySQL"
exec "$@"
