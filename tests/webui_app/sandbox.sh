#!/bin/sh
# Run a command the way the web UI's pod runs it: as a non-root uid/gid (plus the fsGroup), with the root
# filesystem read-only and only the pod's volumes writable. Needs root and a private mount namespace:
#   unshare --mount --propagation private sandbox.sh UID GID FSGROUP [--expose DIR STASH]... [--bind DIR]... -- CMD
# --bind DIR keeps DIR writable (a stand-in for one of the pod's volumes).
# --expose DIR STASH makes DIR, under /root, reachable for the uid: /root is 0700, so an empty tmpfs
#   covers it and DIR is carried over through STASH, an empty directory outside /root. Exposed
#   directories stay read-only too (except volumes bound inside them).
# Paths must not contain spaces.
set -eu
uid=$1 gid=$2 fsgroup=$3
shift 3
exposes="" binds=""
while [ "$1" != "--" ]; do
  case "$1" in
    --bind) binds="$binds $2"; shift 2 ;;
    --expose) exposes="$exposes $2:$3"; shift 3 ;;
    *) echo "sandbox.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
shift
if [ -n "$exposes" ]; then
  for pair in $exposes; do mount --rbind "${pair%%:*}" "${pair#*:}"; done
  mount -t tmpfs -o mode=0755,size=1m tmpfs /root
  for pair in $exposes; do
    mkdir -p "${pair%%:*}"
    mount --rbind "${pair#*:}" "${pair%%:*}"
  done
fi
for dir in $binds; do mount --bind "$dir" "$dir"; done
# Read-only: per-mount flags, so the volumes bound above stay writable.
mount -o remount,bind,ro /
for pair in $exposes; do mount -o remount,bind,ro "${pair%%:*}"; done
exec setpriv --reuid="$uid" --regid="$gid" --groups="$fsgroup" --no-new-privs -- "$@"
