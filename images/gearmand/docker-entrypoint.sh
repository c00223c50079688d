#!/bin/bash
# Entrypoint with artefactual/gearmand's interface (its 1.1.18-alpine image,
# which Archivematica's dev environment runs with `--queue-type=builtin`):
# a first argument starting with "-" means gearmand with those options;
# unless /etc/gearmand.conf already has content, it is written from the
# environment (VERBOSE, QUEUE_TYPE, THREADS, BACKLOG, ...; see below), and
# gearmand reads it by default. Options on the command line win over the
# file. gearmand is exec'd, so it is PID 1 and SIGTERM stops it.
set -eo pipefail
CONFIG_FILE=/etc/gearmand.conf

if [ "${1#-}" != "$1" ]; then
	set -- gearmand "$@"
fi

# VAR, or the content of the file named by VAR_FILE (Docker secrets).
file_env() {
	local var=$1 file_var="${1}_FILE"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		echo >&2 "error: both $var and $file_var are set (but are exclusive)"
		exit 1
	fi
	if [ -n "${!file_var:-}" ]; then
		export "$var"="$(<"${!file_var}")"
	fi
	unset "$file_var"
}

write_config() {
	local port=${GEARMAND_PORT:-${LISTEN_PORT:-4730}}
	case "$port" in
	'' | *[!0-9]*)
		echo >&2 "WARNING: ignoring invalid (non-numeric) GEARMAND_PORT: $port"
		port=4730
		;;
	esac
	{
		echo "--listen=0.0.0.0"
		echo "--port=$port"
		echo "--log-file=stderr"
		echo "--verbose=${VERBOSE:-INFO}"
		echo "--queue-type=${QUEUE_TYPE:-builtin}"
		echo "--threads=${THREADS:-4}"
		echo "--backlog=${BACKLOG:-32}"
		echo "--job-retries=${JOB_RETRIES:-0}"
		echo "--worker-wakeup=${WORKER_WAKEUP:-0}"
		[ "${FILE_DESCRIPTORS:-0}" = 0 ] || echo "--file-descriptors=$FILE_DESCRIPTORS"
		[ "${ROUND_ROBIN:-0}" = 0 ] || echo "--round-robin"
		if [ "${KEEPALIVE:-0}" != 0 ]; then
			echo "--keepalive"
			echo "--keepalive-idle=${KEEPALIVE_IDLE:-30}"
			echo "--keepalive-interval=${KEEPALIVE_INTERVAL:-10}"
			echo "--keepalive-count=${KEEPALIVE_COUNT:-5}"
		fi
		if [ "${QUEUE_TYPE:-}" = mysql ]; then
			file_env MYSQL_PASSWORD
			echo "--mysql-host=${MYSQL_HOST:-localhost}"
			echo "--mysql-port=${MYSQL_PORT:-3306}"
			echo "--mysql-user=${MYSQL_USER:-root}"
			echo "--mysql-password=${MYSQL_PASSWORD:-}"
			echo "--mysql-db=${MYSQL_DB:-Gearmand}"
			echo "--mysql-table=${MYSQL_TABLE:-gearman_queue}"
		fi
	} >"$CONFIG_FILE"
}

# Keep a non-empty config (mounted, or written by an earlier start).
if ! [ -s "$CONFIG_FILE" ]; then
	write_config
fi
exec "$@"
