#!/usr/bin/env bash
# `make run` as a new user meets it (scripts/run), run by `make test` (check-run):
#
#  1. GATEWAYS=2 WORKERS=2 from a free CHANX_PORT: both gateways and the publish API come up on
#     their own ports (the API used to default to 8001, the second gateway's port), both gateways
#     serve the demo token, and the printed publish command's API answers;
#  2. a process that cannot start (here the API, on a port already taken) makes scripts/run say
#     which one and exit non-zero, instead of printing URLs that do not answer;
#  3. SIGTERM to scripts/run (a supervisor, `timeout`) stops every process it started and it exits;
#  4. its database is private (docs/security.md): another local user (nobody) reaches it neither
#     through its socket nor over TCP, and the role the processes use is no superuser.
# Everything runs on free ports, with a private cluster and keys in a temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${CHANX_BIN:-build}
tmp=$(mktemp -d /tmp/chanx-check-run-XXXXXX)
chmod 755 "$tmp"    # the postgres user (root's runs) must reach the cluster folder
run1=
cleanup() {   # also after a failure: the programs themselves, should scripts/run not stop them
  if [ -n "$run1" ]; then
    kids=$(pgrep -P "$run1" || true)
    kill -TERM "$run1" 2>/dev/null || true
    sleep 1
    for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
    wait "$run1" 2>/dev/null || true
  fi
  scripts/pg-cluster stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check-run: $*" >&2; echo "--- scripts/run output:" >&2; cat "$tmp"/run*.log >&2 || true; exit 1; }

free_base() {   # N consecutive free ports
  /usr/bin/python3 - "$1" <<'EOF'
import socket, sys, random
n = int(sys.argv[1])
for _ in range(200):
    base = random.randint(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
EOF
}
ping_py='
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send("{\"action\":\"ping\"}")
        for _ in range(2):
            print(await asyncio.wait_for(ws.recv(), 10))
asyncio.run(main())'
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

base=$(free_base 5)                      # gateways base, base+1; API base+2; broker base+3; pg base+4
CHANX_BIN=$bin GATEWAYS=2 WORKERS=2 CHANX_PORT=$base CHANX_BROKER=tcp://127.0.0.1:$((base + 3)) \
  CHANX_PG_DIR="$tmp/pg" CHANX_PG_PORT=$((base + 4)) CHANX_CURVE_DIR="$tmp/keys" CHANX_LOG_LEVEL=warning \
  CHANX_API_KEY=check-run-key scripts/run >"$tmp/run1.log" 2>&1 &
run1=$!
for _ in $(seq 1 300); do grep -q 'Chanx is running' "$tmp/run1.log" && break
  kill -0 "$run1" 2>/dev/null || fail "scripts/run exited before it was running"; sleep 0.2; done
grep -q 'Chanx is running: 2 gateway(s)' "$tmp/run1.log" || fail "not running after 60 s"
token=$(sed -n "s|.*ws/echo/?token=\([0-9a-f]*\)'.*|\1|p" "$tmp/run1.log" | head -1)
[ -n "$token" ] || fail "no demo token printed"
grep -q "http://127.0.0.1:$((base + 2))/api/broadcast" "$tmp/run1.log" || fail "the API is not printed on port $((base + 2))"
for port in "$base" "$((base + 1))"; do
  for _ in $(seq 1 50); do [ "$(http_status "http://127.0.0.1:$port/healthz")" = 200 ] && break; sleep 0.2; done
  [ "$(http_status "http://127.0.0.1:$port/healthz")" = 200 ] || fail "gateway on $port is not healthy"
  out=$(timeout 20 /usr/bin/python3 -c "$ping_py" "ws://127.0.0.1:$port/ws/echo/?token=$token" 2>&1 || true)
  [[ $out == *'"action":"pong"'* ]] || fail "gateway on $port: no pong for the demo token: $out"
done
reply=$(curl -s --max-time 5 -H 'Authorization: apikey check-run-key' \
        -d '{"groups":["chat_room_lobby"],"event":{"action":"notify","payload":{"n":1}}}' \
        "http://127.0.0.1:$((base + 2))/api/broadcast")
[[ $reply == *'"gateways"'* ]] || fail "the publish API did not answer the printed command: $reply"

# 4. No local user but us reaches the database, and the application role cannot run programs.
url=$(scripts/pg-cluster url "$tmp/pg" $((base + 4)))
if [ "$(id -u)" -eq 0 ]; then   # (only root can act as another user here)
! runuser -u nobody -- psql "$url" -qAtc 'SELECT count(*) FROM authtoken_token' >/dev/null 2>&1 \
  || fail "the user nobody read authtoken_token through $url"
! runuser -u nobody -- psql "host=127.0.0.1 port=$((base + 4)) dbname=chanx user=chanx" -qAtc 'SELECT 1' >/dev/null 2>&1 \
  || fail "the user nobody logged in over TCP on port $((base + 4))"
fi
[ "$(psql "$url" -qAtc "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" = f ] \
  || fail "make run's processes connect as a superuser"
! psql "$url" -qAtc "COPY (SELECT 1) TO PROGRAM 'true'" >/dev/null 2>&1 || fail "COPY ... TO PROGRAM is allowed to chanx"

# 2. The API's port is taken (by the first run's gateway): scripts/run names it and fails.
base2=$(free_base 2)
status=0
CHANX_BIN=$bin CHANX_PORT=$base2 CHANX_BROKER=tcp://127.0.0.1:$((base2 + 1)) CHANX_API_LISTEN=127.0.0.1:$base \
  CHANX_DATABASE_URL="$(scripts/pg-cluster url "$tmp/pg" $((base + 4)))" CHANX_CURVE_DIR="$tmp/keys" \
  CHANX_LOG_LEVEL=warning timeout 60 scripts/run >"$tmp/run2.log" 2>&1 || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "scripts/run with a taken API port exited $status"
grep -q 'make run: api exited at start' "$tmp/run2.log" || fail "scripts/run did not name the process that failed"
! grep -q 'Chanx is running' "$tmp/run2.log" || fail "scripts/run printed its URLs although the API failed"
# 3. SIGTERM stops it all: no program it started is left, and it exits.
children=$(pgrep -P "$run1" -d , || true)
kill -TERM "$run1"
for _ in $(seq 1 100); do kill -0 "$run1" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$run1" 2>/dev/null || fail "scripts/run did not exit within 10 s of SIGTERM"
run1=
left=$(ps -o pid=,args= -p "${children:-0}" 2>/dev/null | grep -E 'chanx-(broker|worker|gateway|api)' || true)
[ -z "$left" ] || fail "SIGTERM to scripts/run left: $left"
echo "check-run: make run with 2 gateways and 2 workers serves on its ports, stops on SIGTERM; a failed start is named; its database is private"
