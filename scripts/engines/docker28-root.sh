#!/usr/bin/env bash
# docker28-root.sh ROOT HOSTDIR DOCKERD-ARGS...
# Run by scripts/engines.sh (docker28) under `unshare --mount`: in that new,
# private mount namespace, makes the Debian root ROOT the root with
# pivot_root (not chroot: runc's `exec` must find the containers' mounts
# relative to dockerd's real root) and execs its dockerd. HOSTDIR, a host
# directory, is mounted at the same path inside for the socket and pidfile.
set -euo pipefail
root=$1
hostdir=$2
shift 2

# Nothing mounted from here on may reach the host's namespace.
mount --make-rprivate /

mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" # with the cgroup v1 hierarchies under it
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root$hostdir"
mount --bind "$hostdir" "$root$hostdir"
if [ -d /lib/modules ]; then
	mkdir -p "$root/lib/modules"
	mount --rbind /lib/modules "$root/lib/modules"
fi
# Containers get their resolv.conf from the daemon's.
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
# From here on the commands are the Debian root's.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
hash -r
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
# dockerd28: a link to its dockerd, so that the process is not named dockerd
# (see named_dockerd in scripts/engines.sh).
exec dockerd28 "$@"
