#!/usr/bin/env bash
# Install the Debian packages the real-peer test suites use, when they are missing.
#
#   bash scripts/peers/install-apt.sh            (as root, on Debian/Ubuntu with apt)
#
# - Idempotent and fast: when everything is already installed it does no network access at all.
# - Quiet: apt output goes to a log file ($TUBES_APT_LOG, default /tmp/tubes-install-apt.log), shown only
#   on failure.
# - Not root, or no apt-get: prints a loud notice naming the packages to install and exits 0, so that the
#   suites that need them skip (they print their own notice) instead of the whole run failing; under
#   CI=true it exits 1 instead (CI must not pass without its real peers).
# - guacd is not packaged for Debian 12; install-guacd-bullseye.sh (next to this script) installs 1.3.0.
# - Never starts daemons: when no /usr/sbin/policy-rc.d exists, a temporary one (exit 101) is put in place
#   for the duration of the install and removed afterwards.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG=${TUBES_APT_LOG:-/tmp/tubes-install-apt.log}

PACKAGES=(
  curl ncat socat microsocks dante-server openssh-server openssh-client
  tigervnc-standalone-server x11-apps x11-xserver-utils inetutils-telnetd iproute2 nftables coturn openssl
  chromium
)
# What install-guacd-bullseye.sh provides (checked by package name, plus the guacd binary).
GUACD_PACKAGES=(guacd libguac-client-vnc0 libguac-client-ssh0 libguac-client-telnet0)

loud() {
  echo "########################################################################" >&2
  for line in "$@"; do echo "## $line" >&2; done
  echo "########################################################################" >&2
}

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

missing=()
if command -v dpkg-query > /dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
else
  missing=("${PACKAGES[@]}")
fi
need_guacd=0
if ! command -v guacd > /dev/null 2>&1 && [ ! -x /usr/sbin/guacd ]; then
  need_guacd=1
elif command -v dpkg-query > /dev/null 2>&1; then
  for p in "${GUACD_PACKAGES[@]}"; do is_installed "$p" || need_guacd=1; done
fi

if [ ${#missing[@]} -eq 0 ] && [ $need_guacd -eq 0 ]; then
  echo "install-apt: all peer packages present (guacd $(guacd -v 2>&1 | head -n1 | awk '{print $NF}'))"
  exit 0
fi

what="${missing[*]}"
[ $need_guacd -eq 1 ] && what="$what guacd(1.3.0 via scripts/peers/install-guacd-bullseye.sh)"

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get > /dev/null 2>&1; then
  loud "install-apt: cannot install system packages (need root and apt-get)." \
    "Suites that use real peers will SKIP (FAIL under CI=true). To run them, install (Debian 12):" \
    "  apt-get install -y --no-install-recommends ${missing[*]:-}" \
    "  sh scripts/peers/install-guacd-bullseye.sh     # guacd 1.3.0 (not packaged in Debian 12)"
  # CI must not pass without the peers it claims to test (.ci/run)
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  exit 0
fi

created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
fi
cleanup() { [ $created_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d; }
trap cleanup EXIT

echo "install-apt: installing: $what (log: $LOG)"
: > "$LOG"
rc=0
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >> "$LOG" 2>&1 &&
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >> "$LOG" 2>&1; then
    :
  else
    rc=1
  fi
fi
if [ $need_guacd -eq 1 ]; then
  # the bookworm lists were refreshed above when something else was missing: skip a second update
  if [ ${#missing[@]} -gt 0 ] && [ $rc -eq 0 ]; then export GUACD_SKIP_SYSTEM_UPDATE=1; fi
  sh "$HERE/install-guacd-bullseye.sh" >> "$LOG" 2>&1 || rc=1
fi

if [ $rc -ne 0 ]; then
  tail -n 30 "$LOG" >&2
  loud "install-apt: FAILED to install some of: $what" \
    "Suites that need them will SKIP (FAIL under CI=true). Full log: $LOG"
  exit 1
fi
echo "install-apt: done (guacd $(guacd -v 2>&1 | head -n1 | awk '{print $NF}'))"
