#!/usr/bin/env bash
# The private PostgreSQL cluster from a checkout the postgres user cannot reach.
#
# As root, scripts/pg-cluster runs the cluster as the postgres user. A checkout
# in root's home (mode 0700, Debian's default) or in a `mktemp -d` folder is out
# of that user's reach; pg-cluster must then place the cluster where it can
# (and link it from var/), start it, apply the schema, and stop it again
# through the same DIR. This copies the scripts into a fresh 0700 folder and
# does exactly that; run by `make test` (check-private-folder).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "check-private-folder: skipped (not root: the cluster belongs to this user, who reaches its own folders)"
  exit 0
fi
tmp=$(mktemp -d)                     # mode 0700, owned by root
trap 'scripts/pg-cluster stop "$tmp/co/var/test-pg" 2>/dev/null || true; rm -rf "$real" "$tmp"' EXIT
real=
mkdir -p "$tmp/co"
cp -r "$root/scripts" "$root/db" "$tmp/co/"
cd "$tmp/co"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=$(scripts/pg-cluster start var/test-pg "$port")
real=$(readlink var/test-pg)
[ -n "$real" ] || { echo "check-private-folder: var/test-pg is not a link to a reachable cluster" >&2; exit 1; }
[ "$(psql "$url" -qAtc 'SELECT count(*) FROM auth_user')" = 0 ] \
  || { echo "check-private-folder: the cluster does not answer at $url" >&2; exit 1; }
scripts/pg-cluster stop var/test-pg
url2=$(scripts/pg-cluster start var/test-pg "$port")    # a second start finds it through the link
[ "$url2" = "$url" ] || { echo "check-private-folder: second start gave $url2, not $url" >&2; exit 1; }
scripts/pg-cluster stop var/test-pg
echo "check-private-folder: a checkout in a 0700 folder gets its cluster in $real"
