#!/bin/bash
# Entrypoint mimicking the official redis image: options or a .conf file as
# the first argument mean redis-server; protected mode off (a container's
# port is reached from outside); the server is exec'd as PID 1 so SIGTERM
# makes it save and exit cleanly.
set -euo pipefail

[ $# -gt 0 ] || set -- redis-server
if [ "${1:0:1}" = '-' ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi
[ "$1" = redis-server ] || exec "$@" # any other command, e.g. `sh -c ...`
shift

config=
if [ $# -gt 0 ] && [ -f "$1" ]; then
	config=$1
	shift
fi
defaults=()
# As the official image: protected mode off unless the config file sets it.
if [ -z "$config" ] || ! grep -q '^protected-mode' "$config"; then
	defaults+=(--protected-mode no)
fi
# Without a config file Redis keeps data in the working directory; make it
# /data explicitly and listen on all interfaces (the user's args come later
# and win).
if [ -z "$config" ]; then
	defaults+=(--dir /data --bind '*' '-::*')
fi
set -- redis-server ${config:+"$config"} "${defaults[@]}" "$@"

# The official image keeps data private to the redis user.
um=$(umask)
[ "$um" != 0022 ] || umask 0077

if [ "$(id -u)" -eq 0 ]; then
	find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
	# setpriv execs in place (no extra process), so redis-server stays PID 1.
	exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
