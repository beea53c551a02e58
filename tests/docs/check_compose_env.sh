#!/usr/bin/env bash
# check-deploy: the database settings as docker-compose renders them, not only that the file parses.
# A default nested in a default (${CHANX_DATABASE_URL:-...${POSTGRES_PASSWORD:-chanx}...}) passed
# `config -q` while Debian's docker-compose 1.29.2 rendered it as "postgresql://chanx:$${POSTGRES_...",
# a URL no process could use, in every service. For every service that gets CHANX_DATABASE_URL:
#   - unset: the compose postgres service's URL, and PGPASSWORD = POSTGRES_PASSWORD (as set, or chanx);
#   - set: the value as given; nothing rendered holds a "$" or "${" left over.
set -euo pipefail
cd "$(dirname "$0")/../.."
compose=(docker-compose -f docker/docker-compose.yml)
fail() { echo "check-deploy: docker-compose.yml: $*" >&2; exit 1; }

# rendered VAR=value...: `config` output with only those variables from the environment.
rendered() { env -u CHANX_DATABASE_URL -u POSTGRES_PASSWORD "$@" "${compose[@]}" config; }
# values NAME TEXT: each service's rendered value of NAME, one a line.
values() { sed -n "s/^ *$1: *//p" <<<"$2" | sed -e "s/^'\\(.*\\)'\$/\\1/" -e 's/^"\(.*\)"$/\1/'; }
expect_all() {   # NAME EXPECTED TEXT WHAT
  local vals n
  vals=$(values "$1" "$3")
  n=$(grep -c . <<<"$vals" || true)
  [ "$n" -ge 5 ] || fail "$1 is rendered for $n services only ($4)"
  while read -r v; do [ "$v" = "$2" ] || fail "$1 renders as '$v', not '$2' ($4)"; done <<<"$vals"
}

out=$(rendered POSTGRES_PASSWORD=s3cret)
expect_all CHANX_DATABASE_URL "postgresql://chanx@postgres:5432/chanx" "$out" "POSTGRES_PASSWORD set"
expect_all PGPASSWORD "s3cret" "$out" "POSTGRES_PASSWORD set"
grep -q "POSTGRES_PASSWORD: s3cret" <<<"$out" || fail "the postgres service does not get POSTGRES_PASSWORD"
out=$(rendered)
expect_all PGPASSWORD "chanx" "$out" "POSTGRES_PASSWORD unset"
out=$(rendered 'CHANX_DATABASE_URL=postgresql://site:pw@db.example.com:5432/site?sslmode=require')
expect_all CHANX_DATABASE_URL 'postgresql://site:pw@db.example.com:5432/site?sslmode=require' "$out" "CHANX_DATABASE_URL set"
! grep -n 'CHANX_DATABASE_URL: .*\$' <<<"$out" || fail "a '\$' is left in a rendered CHANX_DATABASE_URL"
# Nothing rendered keeps a "$" of a default docker-compose left unexpanded (a nested default renders
# as "$${NAME:-...}", and a value set beside one as "value}"): the gateways refused such a
# CHANX_TRUSTED_PROXIES and never started.
out=$(rendered)
! grep -nE '^ +[A-Z_]+: .*(\$|\}$)' <<<"$out" || fail "a value above is rendered with a '\$' or a '}' left over"
[ "$(values CHANX_TRUSTED_PROXIES "$out")" = "172.30.57.0/24" ] \
  || fail "CHANX_TRUSTED_PROXIES does not default to the compose network"
[ "$(values CHANX_TRUSTED_PROXIES "$(rendered CHANX_TRUSTED_PROXIES=10.9.0.0/24)")" = "10.9.0.0/24" ] \
  || fail "CHANX_TRUSTED_PROXIES set in the environment does not reach the gateways as given"
# Published ports: the load balancer is the public door; the publish API and Prometheus are published
# on the host's loopback only (config renders those as "127.0.0.1:PORT:TARGET/tcp").
for target in 8001 9090; do
  grep -qE "^ *- 127\.0\.0\.1:[0-9]+:$target/tcp$" <<<"$out" || fail "port $target is published beyond 127.0.0.1"
done
echo "check-deploy: docker-compose renders CHANX_DATABASE_URL and PGPASSWORD right in every service"
