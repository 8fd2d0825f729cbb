#!/bin/sh
# Random UDP loss on loopback inside a private network namespace (this kernel has no netem).
#   unshare -n sh scripts/peers/nft-loss-netns.sh <per-mille loss> <command...>
# Drops on the INPUT hook: drops on the output hook surface to the sender as EPERM instead of loss.
# The command runs with a 80 s timeout; the counter of dropped datagrams is printed at the end.
set -e
[ $# -ge 2 ] || { echo "usage: unshare -n sh $0 <per-mille> <command...>" >&2; exit 2; }
PM=$1
shift
ip link set lo up
nft add table inet chaos
nft "add chain inet chaos in { type filter hook input priority 0; policy accept; }"
nft "add rule inet chaos in meta l4proto udp numgen random mod 1000 < $PM counter drop"
set +e
timeout "${NFT_LOSS_TIMEOUT:-80}" "$@"
rc=$?
nft list chain inet chaos in | grep counter
exit $rc
