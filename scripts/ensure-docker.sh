#!/usr/bin/env bash
# Make sure a Docker engine answers. Silent no-op when one already does.
# On a bare Debian/Ubuntu machine run as root (CI, fresh dev VMs) it installs
# Debian's docker.io and starts dockerd in the background, because nothing
# started by hand survives into CI runs.
set -euo pipefail

LOG=/var/log/devstack-dockerd.log
# Left when this script started the engine: the fault suite restarts only an
# engine that the run started itself.
MARKER=/run/devstack-started-dockerd

if docker info >/dev/null 2>&1; then
	exit 0
fi

how_to() {
	cat >&2 <<'MSG'
devstack: no Docker engine answers (`docker info` failed).
Start one, then retry:
  - macOS/Windows: start Docker Desktop (or colima / OrbStack / Rancher Desktop)
  - Linux:         sudo systemctl start docker
  - remote engine: export DOCKER_HOST=tcp://HOST:2376
MSG
	exit 1
}

# Only manage a local engine: a DOCKER_HOST pointing elsewhere is the user's choice.
case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
*) how_to ;;
esac
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	how_to
fi

if ! command -v dockerd >/dev/null 2>&1; then
	echo "devstack: installing docker.io from apt..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq docker.io >&2
fi

# Bigger address pool: each stack makes a network and tests make many;
# Docker's default pools run out after about 30.
start() {
	# setsid + nohup: the engine must outlive this script and its shell.
	setsid nohup dockerd --default-address-pool base=172.20.0.0/14,size=24 \
		>>"$LOG" 2>&1 </dev/null &
}

# A daemon that is still starting is waited for, not doubled; one that is
# still shutting down is replaced once it has gone.
for _ in $(seq 120); do # 0.5 s x 120 = 60 s
	if docker info >/dev/null 2>&1; then
		echo "devstack: started a Docker engine (log: $LOG)" >&2
		touch "$MARKER"
		exit 0
	fi
	if ! pgrep -x dockerd >/dev/null 2>&1; then
		start
	fi
	sleep 0.5
done
echo "devstack: dockerd did not answer within 60 s; see $LOG" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
