#!/usr/bin/env bash
# Stop exactly the processes peers-up.sh recorded in STATE_DIR/pid (by PID, never by name).
#   bash scripts/peers/peers-down.sh [STATE_DIR]       (default $PEERS_STATE or /tmp/tubes-peers)
S=${1:-${PEERS_STATE:-/tmp/tubes-peers}}
pids=()
for f in "$S"/pid/*.pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  if kill -0 "$p" 2> /dev/null; then
    kill "$p" && echo "stopped $(basename "$f" .pid) ($p)"
    pids+=("$p")
  fi
  rm -f "$f"
done
# give them up to 2 s, then SIGKILL the same PIDs
for _ in $(seq 20); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2> /dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.1
done
for p in "${pids[@]}"; do kill -0 "$p" 2> /dev/null && kill -9 "$p"; done
# telnet sessions are children of the socat listener's forks and end with their connections.
exit 0
