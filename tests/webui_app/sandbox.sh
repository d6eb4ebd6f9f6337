#!/bin/sh
# Run a command the way the web UI's pod runs it: as a non-root uid/gid (plus the fsGroup), with the root
# filesystem read-only and only the pod's volumes writable. Needs root and a private mount namespace:
#   unshare --mount --propagation private sandbox.sh UID GID FSGROUP [--expose DIR] [--bind SRC DST]... -- CMD...
# --bind SRC DST mounts SRC (writable) at DST, as the pod mounts its volumes (DST must exist).
# --expose DIR makes a directory under /root (e.g. a pyenv Python) reachable for the uid: /root is 0700.
set -eu
uid=$1 gid=$2 fsgroup=$3
shift 3
expose=""
while [ "$1" != "--" ]; do
  case "$1" in
    --bind) mount --bind "$2" "$3"; shift 3 ;;
    --expose) expose="$2"; shift 2 ;;
    *) echo "sandbox.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
shift
if [ -n "$expose" ]; then
  stash=$(mktemp -d)
  mount --bind "$expose" "$stash"
  mount -t tmpfs -o mode=0755,size=1m tmpfs /root
  mkdir -p "$expose"
  mount --bind "$stash" "$expose"
fi
# Read-only root: a per-mount flag, so the volumes bound above stay writable.
mount -o remount,bind,ro /
exec setpriv --reuid="$uid" --regid="$gid" --groups="$fsgroup" --no-new-privs -- "$@"
