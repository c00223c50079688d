#!/usr/bin/env bash
# Extra container engines for the test suite, each started on this machine
# (Debian 12, root, no systemd, cgroup v1) beside the default Docker engine,
# which this script never stops, restarts or reconfigures.
#
#   scripts/engines.sh start NAME          start NAME unless it answers already;
#                                          stdout: DOCKER_HOST=... for eval
#   scripts/engines.sh stop NAME           stop its daemon (the containers of
#                                          podman* and docker28 run on)
#   scripts/engines.sh images NAME IMG...  copy images from the default engine,
#                                          skipping those NAME has (same ID)
#   scripts/engines.sh list                each NAME, running or not, DOCKER_HOST
#
# NAMEs: podman podman-rootless docker-rootless docker-tcp docker-ssh docker28
#
# Logs: /var/log/devstack-engines/NAME.log. Needs root and apt-get: it
# installs what it uses, since CI runs it on a fresh machine. Optional:
# DEVSTACK_ROOTLESS_USER (devstack-rootless), DEVSTACK_DEFAULT_DOCKER_HOST
# (unix:///var/run/docker.sock), DEVSTACK_ENGINE_TIMEOUT (120 s to answer),
# DEVSTACK_DEBIAN_MIRROR, DEVSTACK_DOCKER28_SUITES ("sid trixie": tried in
# turn for docker28's root).
set -euo pipefail

ENGINES=(podman podman-rootless docker-rootless docker-tcp docker-ssh docker28)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_DIR=/var/log/devstack-engines
STATE_DIR=/run/devstack-engines
# The engine images are copied from, whatever DOCKER_HOST the caller has.
DEFAULT_HOST=${DEVSTACK_DEFAULT_DOCKER_HOST:-unix:///var/run/docker.sock}
START_TIMEOUT=${DEVSTACK_ENGINE_TIMEOUT:-120} # seconds

ROOTLESS_USER=${DEVSTACK_ROOTLESS_USER:-devstack-rootless}

# The remote engine's network namespace (docker-tcp, docker-ssh).
REMOTE_NS=devstack-remote
REMOTE_HOST_IP=10.200.0.1
REMOTE_IP=10.200.0.2
REMOTE_DIR=/var/lib/devstack-remote
REMOTE_RUN=/run/devstack-remote

# Docker 28 from Debian sid in a debootstrapped root.
D28_ROOT=/var/lib/devstack-engines/sid
D28_RUN=/run/devstack-docker28
D28_BRIDGE=devstack28
D28_BRIDGE_CIDR=172.29.0.1/24
D28_POOL=172.28.0.0/16
D28_NETS=172.28.0.0/15 # the bridge's and the pool's
DEBIAN_MIRROR=${DEVSTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf 'engines: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

usage() {
	sed -n '6,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# ---------------------------------------------------------------- helpers

apt_updated=
# apt_install PKG...: install the packages that are not installed yet.
apt_install() {
	local p have missing=()
	# dpkg-query fails for a package this machine has never heard of: that
	# is a missing package, not an error.
	have=$({ dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null || true; } |
		awk '$NF == "installed" { print $1 }')
	for p in "$@"; do
		grep -qxF "$p" <<<"$have" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null 2>&1 || die "missing packages: ${missing[*]} (no apt-get here)"
	log "installing ${missing[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	# Another apt-get may hold the lock (CI installs test clients too): wait.
	local opts=(-o DPkg::Lock::Timeout=600 -qq)
	if [ -z "$apt_updated" ]; then
		apt-get "${opts[@]}" update >&2
		apt_updated=1
	fi
	apt-get "${opts[@]}" install -y "${missing[@]}" >&2
}

# need_docker_cli: the docker CLI drives every engine (through its DOCKER_HOST).
need_docker_cli() {
	apt_install curl
	command -v docker >/dev/null 2>&1 || apt_install docker.io
}

# dk HOST ARGS...: the docker CLI against HOST alone, ignoring the caller's
# context and TLS settings.
dk() {
	local host=$1
	shift
	env -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH \
		DOCKER_HOST="$host" docker "$@"
}

# answers HOST: the engine at HOST serves the API. /_ping, not `docker
# version`: Podman takes seconds to answer /version.
answers() {
	case $1 in
	unix://*) curl -sf -m 10 --unix-socket "${1#unix://}" http://localhost/_ping >/dev/null 2>&1 ;;
	tcp://*) curl -sf -m 10 "http://${1#tcp://}/_ping" >/dev/null 2>&1 ;;
	*) timeout 20 env -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH \
		DOCKER_HOST="$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ;;
	esac
}

# proc_stat PID: /proc/PID/stat from the field after the command name on
# (state, ppid, ...; the start time is the 20th).
proc_stat() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	echo "${s##*) }"
}

# alive PIDFILE: the process named in PIDFILE runs (a zombie does not). Our
# pidfiles hold "PID STARTTIME" too: /run outlives reboots here, and a pid
# may since name another process.
alive() {
	local pid start s
	[ -s "$1" ] || return 1
	read -r pid start <"$1" || true
	[ -n "$pid" ] || return 1
	s=$(proc_stat "$pid") || return 1
	[ "${s%% *}" != Z ] || return 1
	[ -z "$start" ] || [ "$(cut -d' ' -f20 <<<"$s")" = "$start" ]
}

# write_pid PIDFILE PID
write_pid() {
	local s
	s=$(proc_stat "$2") || s=
	echo "$2 $(cut -d' ' -f20 <<<"$s")" >"$1"
}

# spawn NAME PIDFILE CMD...: run CMD in the background, in its own session,
# so that it outlives this script; its output goes to NAME's log.
spawn() {
	local name=$1 pidfile=$2 fd
	shift 2
	echo "=== $(date -Is) starting: $*" >>"$LOG_DIR/$name.log"
	(
		# Inherit no descriptor but the log: not our lock (a later start
		# would wait for the engine to end), not a caller's pipe (it would
		# wait for our output to end).
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec setsid nohup "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null
	) &
	write_pid "$pidfile" $!
}

# up_already NAME HOST PIDFILE: HOST answers, at once or once the instance
# of PIDFILE has started. False when nothing serves HOST; an instance still
# stopping is waited out first, so that the caller can start another.
up_already() {
	local name=$1 host=$2 pidfile=$3 t0=$SECONDS
	while ! answers "$host"; do
		alive "$pidfile" || return 1
		[ $((SECONDS - t0)) -lt "$START_TIMEOUT" ] ||
			die "$name: pid $(cut -d' ' -f1 "$pidfile") neither answers nor ends (log: $LOG_DIR/$name.log)"
		sleep 0.5
	done
}

# wait_for NAME HOST PIDFILE: wait until HOST answers; fail early when the
# process in PIDFILE has died.
wait_for() {
	local name=$1 host=$2 pidfile=$3 t0=$SECONDS
	while ! answers "$host"; do
		if ! alive "$pidfile"; then
			tail -n 25 "$LOG_DIR/$name.log" >&2 || true
			die "$name: the engine exited (log: $LOG_DIR/$name.log)"
		fi
		if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
			tail -n 25 "$LOG_DIR/$name.log" >&2 || true
			die "$name: no answer at $host after ${START_TIMEOUT}s (log: $LOG_DIR/$name.log)"
		fi
		sleep 0.5
	done
}

# kill_wait PIDFILE [SECONDS]: SIGTERM the process, then wait for its end
# (SIGKILL after SECONDS).
kill_wait() {
	local pidfile=$1 limit=${2:-30} pid i
	alive "$pidfile" || {
		rm -f "$pidfile"
		return 0
	}
	read -r pid _ <"$pidfile"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < limit * 10; i++)); do
		alive "$pidfile" || break
		sleep 0.1
	done
	if alive "$pidfile"; then
		log "pid $pid did not stop in ${limit}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$pidfile"
}

# socket_owner PATH: pid of the process listening on the unix socket PATH.
socket_owner() {
	ss -xlpn 2>/dev/null | awk -v p="$1" '$5 == p' |
		grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}

# stop_engine NAME SOCKET SECONDS [PIDFILE...]: stop the process of our
# pidfile, of the engine's own PIDFILEs, and the one listening on SOCKET:
# the engine may have been started by an earlier run or by hand.
stop_engine() {
	local name=$1 sock=$2 limit=$3 f pid
	shift 3
	for f in "$STATE_DIR/$name.pid" "$@"; do
		alive "$f" && kill_wait "$f" "$limit"
	done
	# Whatever still listens (a child that outlived its parent, say).
	local t0=$SECONDS
	while pid=$(socket_owner "$sock") && [ -n "$pid" ]; do
		write_pid "$STATE_DIR/$name.pid" "$pid"
		kill_wait "$STATE_DIR/$name.pid" "$limit"
		[ $((SECONDS - t0)) -lt "$limit" ] || die "$name: pid $pid still listens on $sock"
	done
	rm -f "$STATE_DIR/$name.pid" "$@"
}

# Our dockerds run under names of their own (a process is named after the
# file it was run as, symlinks not resolved): whatever finds or kills the
# default engine by its name (`pgrep -x dockerd`, as scripts/ensure-docker.sh
# does) must not take them for it.
BIN_DIR=/var/lib/devstack-engines/bin
# named_dockerd NAME: $BIN_DIR/NAME, a link to the host's dockerd.
named_dockerd() {
	mkdir -p "$BIN_DIR"
	ln -sfn "$(command -v dockerd)" "$BIN_DIR/$1"
	echo "$BIN_DIR/$1"
}

# ------------------------------------------------------- podman (shared)

# Podman reads /etc/containers/containers.conf, rootful and rootless. This VM
# lacks CAP_SYS_RESOURCE and caps open files at 20000, while Podman's default
# ulimits ask for more (nofile 1048576): every container would fail to start.
PODMAN_ULIMITS='default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
podman_conf() {
	local f=/etc/containers/containers.conf
	mkdir -p /etc/containers
	if [ ! -e "$f" ]; then
		printf '# scripts/engines.sh: see its podman section\n[containers]\n%s\n' \
			"$PODMAN_ULIMITS" >"$f"
	elif ! grep -q '^[[:space:]]*default_ulimits' "$f"; then
		if grep -q '^[[:space:]]*\[containers\]' "$f"; then
			sed -i "0,/^[[:space:]]*\[containers\]/s//[containers]\n$PODMAN_ULIMITS/" "$f"
		else
			printf '\n[containers]\n%s\n' "$PODMAN_ULIMITS" >>"$f"
		fi
	fi
}

# ------------------------------------------------------------- podman

# 1. podman: Debian's Podman 4.3, rootful, its Docker-compatible API served by
# `podman system service` (no systemd socket activation here). --time=0: the
# service never exits for idleness. Podman itself picks cgroupfs and the
# file events logger when systemd is absent. Without systemd it cannot
# schedule health checks (their timers are systemd units): a container's
# health stays "starting" unless `podman healthcheck run` is run by hand.
PODMAN_SOCK=/run/podman/podman.sock
host_podman() { echo "unix://$PODMAN_SOCK"; }

start_podman() {
	apt_install podman
	podman_conf
	local pidfile=$STATE_DIR/podman.pid
	up_already podman "$(host_podman)" "$pidfile" && return 0
	mkdir -p "$(dirname "$PODMAN_SOCK")"
	rm -f "$PODMAN_SOCK"
	spawn podman "$pidfile" podman system service --time=0 "unix://$PODMAN_SOCK"
	wait_for podman "$(host_podman)" "$pidfile"
}

# Containers (run by conmon) keep running while the service is stopped.
stop_podman() {
	stop_engine podman "$PODMAN_SOCK" 30
}

# ----------------------------------------------------- rootless (shared)

# The unprivileged user of the rootless engines, with subordinate id ranges
# (newuidmap/newgidmap) and a runtime dir made by hand: there is no logind.
rl_uid() { id -u "$ROOTLESS_USER"; }
rl_home() { getent passwd "$ROOTLESS_USER" | cut -d: -f6; }
rl_runtime() { echo "/run/user/$(rl_uid)"; }

# free_subid_start FILE: the start of a free 65536-id range in /etc/sub[ug]id.
free_subid_start() {
	awk -F: 'BEGIN { e = 100000 } NF >= 3 && $2 + $3 > e { e = $2 + $3 } END { print e }' "$1"
}

rootless_user() {
	apt_install uidmap slirp4netns
	if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
		log "creating user $ROOTLESS_USER"
		useradd --create-home --shell /bin/bash --user-group "$ROOTLESS_USER"
	fi
	local f start
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		if ! grep -q "^$ROOTLESS_USER:" "$f"; then
			start=$(free_subid_start "$f")
			echo "$ROOTLESS_USER:$start:65536" >>"$f"
		fi
	done
	# slirp4netns opens /dev/net/tun as the user (0600 root here).
	if [ ! -c /dev/net/tun ]; then
		mkdir -p /dev/net
		mknod -m 0666 /dev/net/tun c 10 200
	fi
	chmod 0666 /dev/net/tun
	local rt
	rt=$(rl_runtime)
	mkdir -p "$rt"
	chown "$ROOTLESS_USER:$ROOTLESS_USER" "$rt"
	chmod 0700 "$rt"
	set_as_rootless
}

# AS_ROOTLESS: the command prefix that runs a command as the rootless user,
# with a clean login-like environment, from its home (set by rootless_user).
AS_ROOTLESS=()
ROOTLESS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
set_as_rootless() {
	local home
	home=$(rl_home)
	AS_ROOTLESS=(setpriv --reuid="$(rl_uid)" --regid="$(id -g "$ROOTLESS_USER")" --init-groups
		env -i -C "$home" HOME="$home" USER="$ROOTLESS_USER" LOGNAME="$ROOTLESS_USER"
		PATH="$ROOTLESS_PATH" XDG_RUNTIME_DIR="$(rl_runtime)" LANG=C.UTF-8)
}

# ---------------------------------------------------- podman-rootless

# 2. podman-rootless: the same Podman as an unprivileged user, in its own user
# namespace; slirp4netns networking, rootlessport forwards published ports
# from the host's network namespace. Root connects to the user's socket.
host_podman_rootless() {
	if id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
		echo "unix://$(rl_runtime)/podman/podman.sock"
	else
		echo "unix:///run/user/UID/podman/podman.sock"
	fi
}

start_podman_rootless() {
	apt_install podman
	podman_conf
	rootless_user
	local pidfile=$STATE_DIR/podman-rootless.pid sock
	sock=$(rl_runtime)/podman/podman.sock
	up_already podman-rootless "unix://$sock" "$pidfile" && return 0
	# Left to itself, rootless Podman 4.3 picks the vfs driver: a full copy
	# of every layer, and binaries that fail to load (EACCES) here. The
	# kernel (>= 5.13) has native rootless overlay.
	local conf
	conf=$(rl_home)/.config/containers/storage.conf
	if [ ! -e "$conf" ]; then
		"${AS_ROOTLESS[@]}" mkdir -p "$(dirname "$conf")"
		printf '# scripts/engines.sh (podman-rootless)\n[storage]\ndriver = "overlay"\n' |
			"${AS_ROOTLESS[@]}" tee "$conf" >/dev/null
	fi
	# Podman does not make the socket's directory.
	"${AS_ROOTLESS[@]}" mkdir -p "$(dirname "$sock")"
	rm -f "$sock"
	spawn podman-rootless "$pidfile" "${AS_ROOTLESS[@]}" \
		podman system service --time=0 "unix://$sock"
	wait_for podman-rootless "unix://$sock" "$pidfile"
}

stop_podman_rootless() {
	id -u "$ROOTLESS_USER" >/dev/null 2>&1 || return 0
	stop_engine podman-rootless "$(rl_runtime)/podman/podman.sock" 30
}

# ---------------------------------------------------- docker-rootless

# 3. docker-rootless: Debian's dockerd-rootless.sh as the unprivileged user:
# rootlesskit makes the user, mount and network namespaces (slirp4netns),
# its builtin port driver listens on the host for published ports. Own data
# root under the user's home, own socket under its XDG_RUNTIME_DIR.
DOCKERD_ROOTLESS=/usr/share/docker.io/contrib/dockerd-rootless.sh
host_docker_rootless() {
	if id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
		echo "unix://$(rl_runtime)/docker.sock"
	else
		echo "unix:///run/user/UID/docker.sock"
	fi
}

start_docker_rootless() {
	apt_install docker.io rootlesskit
	[ -x "$DOCKERD_ROOTLESS" ] || die "docker-rootless: $DOCKERD_ROOTLESS missing (docker.io)"
	rootless_user
	local pidfile=$STATE_DIR/docker-rootless.pid rt home
	rt=$(rl_runtime)
	home=$(rl_home)
	up_already docker-rootless "unix://$rt/docker.sock" "$pidfile" && return 0
	rm -f "$rt/docker.sock"
	# A containerd pid file left from an earlier run may name a process that
	# is not containerd now (pids are reused): dockerd then waits for it
	# until it gives up ("timeout waiting for containerd to start").
	local cpid="$rt/docker/containerd/containerd.pid"
	if [ -f "$cpid" ] && ! grep -qs containerd "/proc/$(cat "$cpid")/cmdline"; then
		rm -f "$cpid"
	fi
	# dockerd-rootless.sh runs `dockerd` from PATH: ours is named dockerd-rl.
	local wrap=$BIN_DIR/rootless
	mkdir -p "$wrap"
	printf '#!/bin/sh\nexec %s "$@"\n' "$(named_dockerd dockerd-rl)" >"$wrap/dockerd"
	chmod 0755 "$BIN_DIR" "$wrap" "$wrap/dockerd"
	spawn docker-rootless "$pidfile" "${AS_ROOTLESS[@]}" PATH="$wrap:$ROOTLESS_PATH" "$DOCKERD_ROOTLESS" \
		--data-root "$home/.local/share/docker" --exec-root "$rt/docker" \
		--pidfile "$rt/docker.pid" -H "unix://$rt/docker.sock"
	wait_for docker-rootless "unix://$rt/docker.sock" "$pidfile"
}

stop_docker_rootless() {
	id -u "$ROOTLESS_USER" >/dev/null 2>&1 || return 0
	# Our pid is rootlesskit's: it passes the SIGTERM on to dockerd.
	stop_engine docker-rootless "$(rl_runtime)/docker.sock" 60 "$(rl_runtime)/docker.pid"
}

# --------------------------------------------------------- docker-tcp

# 4. docker-tcp: a second dockerd standing for a remote engine (a CI dind
# service): in its own network namespace, reached over a veth pair at
# 10.200.0.2. Its 127.0.0.1 is not the host's. nsenter --net, not `ip netns
# exec`, which remounts /sys and so hides cgroup v1 from dockerd. Own data
# root, exec root, pidfile and managed containerd; its bridge and iptables
# live in its own namespace, so they cannot clash with the host engine's.
# --tls=false says plain TCP is meant: without it dockerd sleeps 15s at start.
host_docker_tcp() { echo "tcp://$REMOTE_IP:2375"; }

# sh -c "$RENAME_EXEC" NAME CMD ARG...: set the host name, exec CMD.
# shellcheck disable=SC2016 # expanded by that sh
RENAME_EXEC='hostname "$0" && exec "$@"'

remote_netns() {
	apt_install iproute2
	[ -e "/run/netns/$REMOTE_NS" ] || ip netns add "$REMOTE_NS"
	local nsx=(nsenter "--net=/run/netns/$REMOTE_NS")
	"${nsx[@]}" ip link set lo up
	"${nsx[@]}" ip route del default 2>/dev/null || true
	# Already wired (by an earlier run, whatever its link names)?
	if [ -n "$(ip -4 -o addr show to "$REMOTE_HOST_IP/32")" ] &&
		[ -n "$("${nsx[@]}" ip -4 -o addr show to "$REMOTE_IP/32")" ]; then
		return 0
	fi
	if ! ip link show ds-remote0 >/dev/null 2>&1; then
		ip link add ds-remote0 type veth peer name ds-remote1
		ip link set ds-remote1 netns "$REMOTE_NS"
	fi
	ip addr replace "$REMOTE_HOST_IP/24" dev ds-remote0
	ip link set ds-remote0 up
	"${nsx[@]}" ip addr replace "$REMOTE_IP/24" dev ds-remote1
	"${nsx[@]}" ip link set ds-remote1 up
	# No default route: nothing outside is reachable here anyway, and a pull
	# of a missing image fails at once rather than after a DNS timeout.
}

start_docker_tcp() {
	apt_install docker.io
	remote_netns
	local pidfile=$STATE_DIR/docker-tcp.pid
	up_already docker-tcp "$(host_docker_tcp)" "$pidfile" && return 0
	mkdir -p "$REMOTE_DIR/docker" "$REMOTE_RUN"
	# Not the host's /etc/docker/daemon.json; a key of its own for its ID.
	printf '{"deprecated-key-path": "%s/key.json"}\n' "$REMOTE_DIR" >"$REMOTE_DIR/daemon.json"
	rm -f "$REMOTE_RUN/docker.sock"
	# Its own host name (UTS namespace) and ID key (else the ID comes from
	# the host engine's /etc/docker/key.json): `docker info` tells the
	# engines apart.
	spawn docker-tcp "$pidfile" \
		nsenter "--net=/run/netns/$REMOTE_NS" unshare --uts -- \
		sh -c "$RENAME_EXEC" devstack-remote "$(named_dockerd dockerd-remote)" \
		--config-file "$REMOTE_DIR/daemon.json" \
		--data-root "$REMOTE_DIR/docker" --exec-root "$REMOTE_RUN/docker" \
		--pidfile "$REMOTE_RUN/docker.pid" \
		-H "tcp://$REMOTE_IP:2375" -H "unix://$REMOTE_RUN/docker.sock" --tls=false \
		--bip 172.31.0.1/24 --default-address-pool base=172.30.0.0/16,size=24 \
		--containerd-namespace devstack-remote \
		--containerd-plugins-namespace devstack-remote-plugins
	wait_for docker-tcp "$(host_docker_tcp)" "$pidfile"
}

stop_docker_tcp() {
	stop_engine docker-tcp "$REMOTE_RUN/docker.sock" 60 "$REMOTE_RUN/docker.pid"
}

# --------------------------------------------------------- docker-ssh

# 5. docker-ssh: the docker-tcp engine reached over ssh://. An sshd of our own
# (own config, host key and authorized_keys) listens in the remote namespace
# only; root's ~/.ssh/config and known_hosts let `ssh root@10.200.0.2` work
# without questions. The client runs `docker system dial-stdio` over ssh: the
# sshd's SetEnv gives those sessions DOCKER_HOST=the remote engine's socket,
# and touches no other ssh use of root's.
host_docker_ssh() { echo "ssh://root@$REMOTE_IP"; }
SSH_DIR=$REMOTE_DIR/ssh

ssh_setup() {
	apt_install openssh-server openssh-client
	mkdir -p "$SSH_DIR" /run/sshd
	chmod 0700 "$SSH_DIR"
	[ -s "$SSH_DIR/ssh_host_ed25519_key" ] ||
		ssh-keygen -q -t ed25519 -N '' -C devstack-remote-host -f "$SSH_DIR/ssh_host_ed25519_key"
	[ -s "$SSH_DIR/id_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C devstack-remote-client -f "$SSH_DIR/id_ed25519"
	cp "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/authorized_keys"
	cat >"$SSH_DIR/sshd_config" <<EOF
# Written by scripts/engines.sh (docker-ssh).
ListenAddress $REMOTE_IP:22
HostKey $SSH_DIR/ssh_host_ed25519_key
PidFile $REMOTE_RUN/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
SetEnv DOCKER_HOST=unix://$REMOTE_RUN/docker.sock
Subsystem sftp internal-sftp
EOF
	# root's client side: a marked block at the top of ~/.ssh/config (the
	# first value found wins), the host key in ~/.ssh/known_hosts.
	local cfg=/root/.ssh/config kh=/root/.ssh/known_hosts tmp
	mkdir -p /root/.ssh
	chmod 0700 /root/.ssh
	touch "$cfg" "$kh"
	tmp=$(mktemp)
	{
		echo "# BEGIN devstack-engines docker-ssh"
		echo "Host $REMOTE_IP"
		echo "    User root"
		echo "    IdentityFile $SSH_DIR/id_ed25519"
		echo "    IdentitiesOnly yes"
		echo "    BatchMode yes"
		echo "    StrictHostKeyChecking yes"
		echo "# END devstack-engines docker-ssh"
		echo
		sed '/^# BEGIN devstack-engines docker-ssh$/,/^# END devstack-engines docker-ssh$/d' "$cfg" |
			sed '1{/^$/d}'
	} >"$tmp"
	cat "$tmp" >"$cfg"
	rm -f "$tmp"
	chmod 0600 "$cfg"
	local entry
	entry="$REMOTE_IP $(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")"
	if ! grep -qxF "$entry" "$kh"; then
		ssh-keygen -R "$REMOTE_IP" -f "$kh" >/dev/null 2>&1 || true
		echo "$entry" >>"$kh"
	fi
	chmod 0600 "$kh"
}

ssh_answers() {
	timeout 15 ssh -o ConnectTimeout=5 "root@$REMOTE_IP" true >/dev/null 2>&1
}

start_docker_ssh() {
	start_docker_tcp
	ssh_setup
	local pidfile=$STATE_DIR/docker-ssh.pid t0=$SECONDS i
	if ! ssh_answers; then
		if ! alive "$pidfile"; then
			/usr/sbin/sshd -t -f "$SSH_DIR/sshd_config"
			spawn docker-ssh "$pidfile" nsenter "--net=/run/netns/$REMOTE_NS" \
				/usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config"
		fi
		until ssh_answers; do
			alive "$pidfile" || die "docker-ssh: sshd exited (log: $LOG_DIR/docker-ssh.log)"
			[ $((SECONDS - t0)) -lt 30 ] || die "docker-ssh: no ssh to $REMOTE_IP after 30s"
			sleep 0.2
		done
	fi
	for i in 1 2 3 4 5; do
		answers "$(host_docker_ssh)" && return 0
		sleep "$i"
	done
	die "docker-ssh: ssh works, but not \`docker system dial-stdio\` through it (is DOCKER_HOST set there? $SSH_DIR/sshd_config)"
}

stop_docker_ssh() {
	stop_engine docker-ssh /nonexistent 30 "$REMOTE_RUN/sshd.pid"
}

# ----------------------------------------------------------- docker28

# 6. docker28: Docker 28 from Debian sid, debootstrapped under
# /var/lib/devstack-engines/sid, for the newest API. A chroot is not enough
# (runc would exec into the host's root), so scripts/engines/docker28-root.sh
# pivot_roots into it inside a private mount namespace. It shares the host's
# network namespace, so that ports it publishes on 127.0.0.1 are the host's;
# hence its own bridge and address pool, and --iptables=false: at start
# Docker flushes the DOCKER chains of the namespace's iptables, which would
# wipe the host engine's rules. docker-proxy publishes ports without NAT
# rules; one FORWARD rule of ours lets its containers talk to each other
# (the FORWARD policy is DROP and bridged traffic goes through iptables).
# --live-restore: without it, from its second start on, dockerd deletes the
# link named docker0 (the host engine's bridge!) when it clears its stale
# default network with address pools set. So its containers outlive a stop.
# Its dockerd runs as dockerd28 (see named_dockerd).
host_docker28() { echo "unix://$D28_RUN/docker.sock"; }

d28_bootstrap() {
	[ -e "$D28_ROOT/.devstack-ready" ] && return 0
	apt_install debootstrap
	local suite
	for suite in ${DEVSTACK_DOCKER28_SUITES:-sid trixie}; do
		log "docker28: debootstrap $suite into $D28_ROOT (a few minutes)"
		rm -rf "$D28_ROOT"
		mkdir -p "$D28_ROOT"
		if debootstrap --variant=minbase \
			--include=docker.io,iptables,ca-certificates,procps,iproute2 \
			"$suite" "$D28_ROOT" "$DEBIAN_MIRROR" >>"$LOG_DIR/docker28.log" 2>&1; then
			echo "$suite" >"$D28_ROOT/.devstack-ready"
			return 0
		fi
		log "docker28: debootstrap $suite failed (log: $LOG_DIR/docker28.log)"
	done
	die "docker28: no Debian root could be made"
}

d28_network() {
	if ! ip link show "$D28_BRIDGE" >/dev/null 2>&1; then
		ip link add "$D28_BRIDGE" type bridge
	fi
	ip addr replace "$D28_BRIDGE_CIDR" dev "$D28_BRIDGE"
	ip link set "$D28_BRIDGE" up
	local rule=(FORWARD -s "$D28_NETS" -d "$D28_NETS" -m comment --comment devstack-docker28 -j ACCEPT)
	iptables -C "${rule[@]}" 2>/dev/null || iptables -A "${rule[@]}"
}

start_docker28() {
	apt_install iproute2 iptables
	d28_bootstrap
	# Named dockerd28 (see named_dockerd); the link resolves in its root.
	ln -sfn /usr/sbin/dockerd "$D28_ROOT/usr/local/sbin/dockerd28"
	d28_network
	local pidfile=$STATE_DIR/docker28.pid
	up_already docker28 "$(host_docker28)" "$pidfile" && return 0
	mkdir -p "$D28_RUN"
	rm -f "$D28_RUN/docker.sock"
	# No --fork: the pid stays dockerd's through the execs.
	spawn docker28 "$pidfile" \
		unshare --mount --propagation private -- \
		bash "$HERE/engines/docker28-root.sh" "$D28_ROOT" "$D28_RUN" \
		--data-root /var/lib/docker --exec-root /run/docker \
		--pidfile "$D28_RUN/docker.pid" -H "unix://$D28_RUN/docker.sock" \
		--bridge "$D28_BRIDGE" --default-address-pool "base=$D28_POOL,size=24" \
		--iptables=false --ip6tables=false --cgroup-parent /devstack-docker28 \
		--live-restore
	wait_for docker28 "$(host_docker28)" "$pidfile"
}

stop_docker28() {
	stop_engine docker28 "$D28_RUN/docker.sock" 60 "$D28_RUN/docker.pid"
}

# ------------------------------------------------------------ commands

fn() { echo "${1//-/_}"; }

check_name() {
	local n
	for n in "${ENGINES[@]}"; do
		[ "$n" = "$1" ] && return 0
	done
	die "unknown engine: $1 (one of: ${ENGINES[*]})"
}

cmd_start() {
	check_name "$1"
	need_docker_cli
	exec 9>"$STATE_DIR/$1.lock"
	flock -w 600 9 || die "$1: another start or stop holds $STATE_DIR/$1.lock"
	local t0=$SECONDS
	"start_$(fn "$1")"
	log "$1 answers ($((SECONDS - t0))s)"
	printf 'DOCKER_HOST=%s\n' "$("host_$(fn "$1")")"
}

cmd_stop() {
	check_name "$1"
	exec 9>"$STATE_DIR/$1.lock"
	flock -w 600 9 || die "$1: another start or stop holds $STATE_DIR/$1.lock"
	"stop_$(fn "$1")"
}

cmd_images() {
	local name=$1 host img src dst
	shift
	check_name "$name"
	need_docker_cli
	host=$("host_$(fn "$name")")
	answers "$host" || die "$name does not answer at $host: start it first"
	# docker-ssh is docker-tcp's engine: its TCP socket loads an image in a
	# fraction of the time ssh takes (a 330 MB image: 10-17 s, not 40).
	[ "$name" != docker-ssh ] || host=$(host_docker_tcp)
	local todo=()
	for img in "$@"; do
		src=$(dk "$DEFAULT_HOST" image inspect --format '{{.Id}}' "$img") ||
			die "no image $img on the default engine ($DEFAULT_HOST)"
		dst=$(dk "$host" image inspect --format '{{.Id}}' "$img" 2>/dev/null || true)
		if [ "$src" = "$dst" ]; then
			log "$name has $img"
		else
			todo+=("$img")
		fi
	done
	[ ${#todo[@]} -eq 0 ] && return 0
	log "copying to $name: ${todo[*]}"
	# One archive: layers shared by the images travel once.
	dk "$DEFAULT_HOST" save "${todo[@]}" | dk "$host" load >&2
	for img in "${todo[@]}"; do
		src=$(dk "$DEFAULT_HOST" image inspect --format '{{.Id}}' "$img")
		dst=$(dk "$host" image inspect --format '{{.Id}}' "$img" 2>/dev/null || true)
		[ "$src" = "$dst" ] || die "$name: $img has ID ${dst:-none} there, not $src"
	done
}

cmd_list() {
	local n host state
	need_docker_cli
	for n in "${ENGINES[@]}"; do
		host=$("host_$(fn "$n")")
		state=stopped
		answers "$host" && state=running
		printf '%-16s %-8s %s\n' "$n" "$state" "$host"
	done
}

main() {
	[ $# -ge 1 ] || usage
	[ "$(id -u)" -eq 0 ] || die "run as root"
	mkdir -p "$LOG_DIR" "$STATE_DIR"
	local cmd=$1
	shift
	case $cmd in
	start | stop)
		[ $# -eq 1 ] || usage
		"cmd_$cmd" "$1"
		;;
	images)
		[ $# -ge 2 ] || usage
		cmd_images "$@"
		;;
	list) cmd_list ;;
	*) usage ;;
	esac
}

main "$@"
