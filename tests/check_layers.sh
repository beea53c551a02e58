#!/usr/bin/env bash
# scripts/check-layers on a made-up process folder, run by `make check-layers` before it checks the
# tree, so that a check that stopped seeing circles (nm's output changed, a parsing slip) cannot pass
# the real folders unnoticed:
#
#  1. worker.c -> actor.c -> context.c -> send.c, and send.c calling back up into worker.c: the check
#     fails (exit 1) and names the circle and the call that closes it;
#  2. the same files with send.c handed what it needs instead: the check passes (exit 0).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-layers self-test: $*" >&2; exit 1; }

write_folder() {   # $1: what send.c does
  mkdir -p "$tmp/proc" "$tmp/build/obj/proc"
  printf 'int actor_run(void);\nint worker_settings(void) { return 1; }\nint worker_main(void) { return actor_run(); }\n' >"$tmp/proc/worker.c"
  printf 'int ctx_start(void);\nint actor_run(void) { return ctx_start(); }\n' >"$tmp/proc/actor.c"
  printf 'int send_message(int);\nint ctx_start(void) { return send_message(1); }\n' >"$tmp/proc/context.c"
  printf '%s\n' "$1" >"$tmp/proc/send.c"
  for f in worker actor context send; do
    cc -c -o "$tmp/build/obj/proc/$f.o" "$tmp/proc/$f.c"
  done
}

write_folder 'int worker_settings(void); int send_message(int x) { return x + worker_settings(); }'
set +e
out=$(cd "$tmp" && "$root/scripts/check-layers" build proc 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a circle passed (exit $rc): $out"
grep -q 'proc/ has a call circle: actor ⇄ context ⇄ send ⇄ worker' <<<"$out" || fail "the circle is not named: $out"
grep -q 'proc/send.c -> proc/worker.c  (worker_settings)' <<<"$out" || fail "the call up is not named: $out"

write_folder 'int send_message(int x) { return x; }'
out=$(cd "$tmp" && "$root/scripts/check-layers" build proc 2>&1) || fail "a layered folder failed: $out"
