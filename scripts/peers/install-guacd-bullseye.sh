#!/bin/sh
# Install guacd 1.3.0 (+ VNC/SSH/telnet client plugins) on Debian 12 (bookworm).
#
# guacd is not packaged in bookworm, trixie or sid; the newest Debian build is 1.3.0 in bullseye. This
# downloads the bullseye .debs (plus libssl1.1 and libwebp6 which they link against) through a PRIVATE
# apt state under $WORK -- bullseye is never added to the system's apt sources -- and installs them with
# the system apt, which resolves the remaining dependencies from bookworm.
#
#   sh scripts/peers/install-guacd-bullseye.sh [workdir]      (root; default workdir /tmp/guacd-bullseye)
#
# Env: GUACD_SKIP_SYSTEM_UPDATE=1 skips the `apt-get update` of the system lists (when the caller just did it).
set -eu
WORK=${1:-/tmp/guacd-bullseye}
mkdir -p "$WORK/etc" "$WORK/lists/partial" "$WORK/debs"

# Reuse the Debian mirror this machine is already configured with (deb822 first, then one-line format).
MIRROR=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || { echo "install-guacd: no Debian mirror configured in apt sources" >&2; exit 1; }
case $MIRROR in
  *debian-security*) MIRROR=$(echo "$MIRROR" | sed 's/debian-security/debian/') ;;
esac

cat > "$WORK/etc/bullseye.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

A="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$WORK/etc -o Dir::State::Lists=$WORK/lists"
A="$A -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache="
# shellcheck disable=SC2086
apt-get $A update -qq
cd "$WORK/debs"
rm -f ./*.deb
# APT::Sandbox::User=root: the _apt user cannot write into a root-owned download directory.
# shellcheck disable=SC2086
apt-get $A -o APT::Sandbox::User=root download -qq \
  guacd libguac19 libguac-client-vnc0 libguac-client-ssh0 libguac-client-telnet0 libssl1.1 libwebp6

[ "${GUACD_SKIP_SYSTEM_UPDATE:-0}" = 1 ] || apt-get update -qq
# fonts: guacd draws ssh/telnet terminals with pango; without a monospace font the glyphs are blank.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ./*.deb fonts-dejavu-core
guacd -v
