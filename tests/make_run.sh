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
#     through its socket nor over TCP, and the role the processes use is no superuser;
#  5. what a newcomer needs next is printed and works: the CHANX_DATABASE_URL line (chanx-admin
#     createuser with it), and a publish API key kept in a 0600 file, the same after a restart;
#  6. a taken gateway or API port stops it before anything starts, in one line naming the port and
#     the setting to change, and so does a port or count that is not a number; PostgreSQL failing to start shows only what this start logged, never
#     an older run's lines; two private clusters on one port (two checkouts) both start;
#  7. every process says "stopped" on SIGTERM (gateways and workers too, as the broker and the API);
#  8. `make run` builds the testing kit, which a scaffold's `make test` links (make new-consumer).
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
  scripts/pg-cluster stop "$tmp/pg-other" >/dev/null 2>&1 || true
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

# 8. What `make run` would build (a dry run into an empty folder) includes the testing kit.
dry=$(make --no-print-directory -n run BUILD="$tmp/dry" 2>/dev/null || true)
[[ $dry == *"ar rcs $tmp/dry/lib/libchanx-testing.a"* ]] \
  || fail "make run does not build the testing kit: a scaffold's make test then says 'no .../libchanx-testing.a'"

base=$(free_base 5)                      # gateways base, base+1; API base+2; broker base+3; pg base+4
start_run() {   # LOG [VAR=value...]: scripts/run in the background with the first run's settings
  local log=$1; shift
  env CHANX_BIN=$bin CHANX_PORT=$base CHANX_BROKER=tcp://127.0.0.1:$((base + 3)) \
    CHANX_PG_DIR="$tmp/pg" CHANX_PG_PORT=$((base + 4)) CHANX_CURVE_DIR="$tmp/keys" CHANX_LOG_LEVEL=info \
    CHANX_API_KEY= CHANX_API_KEY_FILE="$tmp/var/api-key" CHANX_API_LISTEN=127.0.0.1:$((base + 2)) "$@" \
    scripts/run >"$log" 2>&1 &
  run1=$!
  for _ in $(seq 1 300); do grep -q 'Chanx is running' "$log" && break
    kill -0 "$run1" 2>/dev/null || fail "scripts/run exited before it was running"; sleep 0.2; done
  grep -q 'Chanx is running' "$log" || fail "not running after 60 s"
}
stop_run() {   # SIGTERM to scripts/run; it must exit within 10 s and leave none of its programs
  local children
  children=$(pgrep -P "$run1" -d , || true)
  kill -TERM "$run1"
  for _ in $(seq 1 100); do kill -0 "$run1" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$run1" 2>/dev/null || fail "scripts/run did not exit within 10 s of SIGTERM"
  run1=
  left=$(ps -o pid=,args= -p "${children:-0}" 2>/dev/null | grep -E 'chanx-(broker|worker|gateway|api)' || true)
  [ -z "$left" ] || fail "SIGTERM to scripts/run left: $left"
}
api_key_of() { sed -n 's|.*CHANX_API_KEY=\([0-9a-f]*\)$|\1|p' "$1" | head -1; }
start_run "$tmp/run1.log" GATEWAYS=2 WORKERS=2
grep -q 'Chanx is running: 2 gateway(s)' "$tmp/run1.log" || fail "not running with 2 gateways"
token=$(sed -n "s|.*ws/echo/?token=\([0-9a-f]*\)'.*|\1|p" "$tmp/run1.log" | head -1)
[ -n "$token" ] || fail "no demo token printed"
grep -q "http://127.0.0.1:$((base + 2))/api/broadcast" "$tmp/run1.log" || fail "the API is not printed on port $((base + 2))"
for port in "$base" "$((base + 1))"; do
  for _ in $(seq 1 50); do [ "$(http_status "http://127.0.0.1:$port/healthz")" = 200 ] && break; sleep 0.2; done
  [ "$(http_status "http://127.0.0.1:$port/healthz")" = 200 ] || fail "gateway on $port is not healthy"
  out=$(timeout 20 /usr/bin/python3 -c "$ping_py" "ws://127.0.0.1:$port/ws/echo/?token=$token" 2>&1 || true)
  [[ $out == *'"action":"pong"'* ]] || fail "gateway on $port: no pong for the demo token: $out"
done
# The broker's metrics (worker crashes, quarantined plugins) are printed and answer, on a port of their own.
bm=$(sed -n 's|^  http://\(127.0.0.1:[0-9]*\)/metrics (broker.*|\1|p' "$tmp/run1.log")
[ -n "$bm" ] || fail "the broker's metrics URL is not printed"
[ "$(http_status "http://$bm/metrics")" = 200 ] || fail "the broker's metrics at $bm do not answer 200"
curl -s "http://$bm/metrics" | grep -q '^chanx_broker' || fail "$bm/metrics is not the broker's"
# 5. The key is printed, kept in a file only we read, and said to be kept.
key=$(api_key_of "$tmp/run1.log")
[ -n "$key" ] && [ "$key" = "$(cat "$tmp/var/api-key")" ] || fail "the API key printed ($key) is not the one kept in $tmp/var/api-key"
[ "$(stat -c %a "$tmp/var/api-key")" = 600 ] || fail "$tmp/var/api-key is mode $(stat -c %a "$tmp/var/api-key"), not 600"
grep -q "kept in $tmp/var/api-key across restarts" "$tmp/run1.log" || fail "make run does not say the API key is kept"
dburl=$(sed -n "s|^  export CHANX_DATABASE_URL='\(.*\)'$|\1|p" "$tmp/run1.log")
[ -n "$dburl" ] || fail "no 'export CHANX_DATABASE_URL=...' line printed"
CHANX_DATABASE_URL=$dburl "$bin/chanx-admin" createuser bob --password pw >/dev/null \
  || fail "chanx-admin createuser with the printed CHANX_DATABASE_URL failed"
reply=$(curl -s --max-time 5 -H "Authorization: apikey $key" \
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

# 2/6. A port taken (by the first run's gateway): scripts/run names it, and the setting, in one line.
base2=$(free_base 2)
taken_run() {   # LOG VAR=value...: a run that must stop at once, before starting anything
  local log=$1 status=0; shift
  env CHANX_BIN=$bin CHANX_PORT=$base2 CHANX_BROKER=tcp://127.0.0.1:$((base2 + 1)) "$@" \
    CHANX_DATABASE_URL="$dburl" CHANX_CURVE_DIR="$tmp/keys" CHANX_API_KEY=x \
    CHANX_LOG_LEVEL=warning timeout 60 scripts/run >"$log" 2>&1 || status=$?
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "scripts/run with a taken port ($*) exited $status"
  ! grep -q 'Chanx is running' "$log" || fail "scripts/run printed its URLs although a port was taken ($*)"
  ! grep -q '^\[' "$log" || fail "scripts/run started processes although a port was taken ($*)"
}
taken_run "$tmp/run2.log" CHANX_API_LISTEN=127.0.0.1:$base
grep -q "^make run: port $base (chanx-api) is taken; set CHANX_API_LISTEN=127.0.0.1:[0-9]" "$tmp/run2.log" \
  || fail "a taken API port is not named in one line with the setting to change"
taken_run "$tmp/run3.log" CHANX_PORT=$((base + 1))
grep -q "^make run: port $((base + 1)) (gateway1) is taken; set CHANX_PORT=[0-9]" "$tmp/run3.log" \
  || fail "a taken gateway port is not named in one line with the setting to change"
taken_run "$tmp/run4.log" CHANX_PORT=abc    # used to stop with "scripts/run: line 59: abc: unbound variable"
grep -q "^make run: CHANX_PORT=abc is not a whole number from 1 to 65535" "$tmp/run4.log" \
  || fail "a CHANX_PORT that is not a number is not named in one line"
# 3/7. SIGTERM stops it all, and each process says so.
stop_run
for who in gateway1 gateway2 worker1 worker2; do
  grep -q "^\[$who\] .*${who%[0-9]} stopped" "$tmp/run1.log" || fail "$who logged no 'stopped' line on SIGTERM"
done
grep -q '^\[broker\] .*broker stopped' "$tmp/run1.log" && grep -q '^\[api\] .*api stopped' "$tmp/run1.log" \
  || fail "the broker or the API logged no 'stopped' line on SIGTERM"
# 5. A restart keeps the API key (a Django settings file holding it keeps working).
start_run "$tmp/run4.log"
[ "$(api_key_of "$tmp/run4.log")" = "$key" ] || fail "the API key changed across a restart: $(api_key_of "$tmp/run4.log") after $key"
stop_run
# 6. PostgreSQL that cannot start says what this start logged, not an older run's lines.
echo "2026-01-01 ERROR:  duplicate key value violates unique constraint (username)=(demo) [an older run]" \
  | (if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- tee -a "$tmp/pg/server.log"; else tee -a "$tmp/pg/server.log"; fi) >/dev/null
out=$(scripts/pg-cluster start "$tmp/pg" 99999 2>&1) && fail "PostgreSQL started on port 99999"
[[ $out == *"did not start"* ]] || fail "a failed PostgreSQL start is not said: $out"
[[ $out != *"an older run"* ]] || fail "a failed PostgreSQL start printed an older run's log lines: $out"
# 6. Two checkouts' clusters on the same port (no TCP listener: only a socket in each folder).
scripts/pg-cluster start "$tmp/pg" $((base + 4)) >/dev/null || fail "the cluster does not start again"
scripts/pg-cluster start "$tmp/pg-other" $((base + 4)) >/dev/null \
  || fail "a second private cluster on port $((base + 4)) (another checkout's) does not start"
scripts/pg-cluster stop "$tmp/pg-other"
echo "check-run: make run with 2 gateways and 2 workers serves on its ports, prints a working database URL and a kept API key, names a taken port, stops on SIGTERM with a stopped line from each process; its database is private; two clusters share a port; make run builds the testing kit"
