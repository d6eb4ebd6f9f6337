#!/bin/sh
# Run a command the way the web UI's pod runs it: as a non-root uid/gid (plus the fsGroup), with the root
# filesystem read-only and only the pod's volumes writable. Needs root and a private mount namespace:
#   unshare --mount --propagation private sandbox.sh UID GID FSGROUP [--expose DIR STASH COVER]... [--bind DIR]... -- CMD
# --bind DIR keeps DIR writable (a stand-in for one of the pod's volumes).
# --expose DIR STASH COVER makes DIR reachable for the uid although COVER, one of its ancestors, is closed
#   to it (/root is 0700; so is a `mktemp -d` folder): an empty tmpfs covers COVER and DIR is carried over
#   through STASH, an empty directory outside COVER. Exposed directories stay read-only too (except
#   volumes bound inside them).
# Paths must not contain spaces.
set -eu
uid=$1 gid=$2 fsgroup=$3
shift 3
exposes="" binds=""
while [ "$1" != "--" ]; do
  case "$1" in
    --bind) binds="$binds $2"; shift 2 ;;
    --expose) exposes="$exposes $2:$3:$4"; shift 4 ;;
    *) echo "sandbox.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
shift
if [ -n "$exposes" ]; then
  for triple in $exposes; do
    dir=${triple%%:*} rest=${triple#*:}
    mount --rbind "$dir" "${rest%%:*}"
  done
  covered=""
  for triple in $exposes; do
    cover=${triple##*:}
    case " $covered " in *" $cover "*) ;; *) mount -t tmpfs -o mode=0755,size=1m tmpfs "$cover"; covered="$covered $cover" ;; esac
  done
  for triple in $exposes; do
    dir=${triple%%:*} rest=${triple#*:}
    mkdir -p "$dir"
    mount --rbind "${rest%%:*}" "$dir"
  done
fi
for dir in $binds; do mount --bind "$dir" "$dir"; done
# Read-only: per-mount flags, so the volumes bound above stay writable.
mount -o remount,bind,ro /
for triple in $exposes; do mount -o remount,bind,ro "${triple%%:*}"; done
exec setpriv --reuid="$uid" --regid="$gid" --groups="$fsgroup" --no-new-privs -- "$@"
