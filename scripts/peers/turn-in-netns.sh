#!/bin/sh
# Run a command next to a coturn server inside a private network namespace (loopback only).
#   unshare -n sh scripts/peers/turn-in-netns.sh <command...>
# coturn listens on 127.0.0.1:${TURN_PORT:-3478} (udp+tcp), user tunnel:tunnelpass, realm tunnel.test;
# its log goes to ${TURN_LOG:-/tmp/turn-netns.log}. coturn is optional (apt-get install coturn).
set -e
command -v turnserver > /dev/null 2>&1 || { echo "turn-in-netns: turnserver missing (apt-get install coturn)" >&2; exit 2; }
ip link set lo up
turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="${TURN_PORT:-3478}" \
  --lt-cred-mech --user=tunnel:tunnelpass --realm=tunnel.test --no-tls --no-dtls \
  --min-port=49160 --max-port=49200 --log-file=stdout --simple-log --no-cli --allow-loopback-peers \
  > "${TURN_LOG:-/tmp/turn-netns.log}" 2>&1 &
TP=$!
sleep 1
set +e
timeout "${TURN_NETNS_TIMEOUT:-80}" "$@"
rc=$?
kill "$TP"
wait "$TP" 2> /dev/null
exit $rc
