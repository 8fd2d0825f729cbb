#!/usr/bin/env bash
# Start real third-party peers on 127.0.0.1 for acceptance tests, and record their PIDs and ports.
#
#   bash scripts/peers/peers-up.sh [STATE_DIR] [SERVICE...]
#   bash scripts/peers/peers-down.sh [STATE_DIR]          stops exactly the PIDs recorded here
#
# STATE_DIR defaults to $PEERS_STATE or /tmp/tubes-peers. SERVICEs (default: all that are installed):
#   http microsocks danted sshd telnetd xvnc guacd iperf3 coturn
# Ports come from the environment; 0 (the default for every one) picks a free port:
#   PEERS_HTTP_PORT PEERS_MICROSOCKS_PORT PEERS_DANTE_PORT PEERS_SSH_PORT PEERS_TELNET_PORT
#   PEERS_VNC_PORT PEERS_GUACD_PORT PEERS_IPERF_PORT PEERS_TURN_PORT     (PEERS_VNC_DISPLAY: X display number)
# The chosen ports are written to STATE_DIR/ports.env (shell) and STATE_DIR/ports.json.
# Missing programs are skipped with a notice (install them with scripts/peers/install-apt.sh).
# Tests should rather start what they need themselves on 127.0.0.1:0 (test/helpers/peers.ts); this is for
# the suites that need the real daemons.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S=${1:-${PEERS_STATE:-/tmp/tubes-peers}}
shift || true
WANT=" ${*:-http microsocks danted sshd telnetd xvnc guacd iperf3 coturn} "
mkdir -p "$S"/{log,pid,www,ssh}
: > "$S/ports.env"

wanted() { [[ $WANT == *" $1 "* ]]; }
have() { command -v "$1" > /dev/null 2>&1 || [ -x "$1" ]; }
notice() { echo "peers-up: SKIP $1: $2 not installed (bash scripts/peers/install-apt.sh)" >&2; }
free_port() {
  node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
port_for() { # VAR -> value of $VAR, or a free port when unset/0
  local v=${!1:-0}
  [ "$v" = 0 ] && v=$(free_port)
  echo "$1=$v" >> "$S/ports.env"
  echo "$v"
}
start() { # name, command...
  local name=$1; shift
  nohup "$@" > "$S/log/$name.log" 2>&1 &
  echo $! > "$S/pid/$name.pid"
}
WAIT_PORTS=()

# --- HTTP origin: hello.txt and a 50 MB random file
if wanted http; then
  P=$(port_for PEERS_HTTP_PORT)
  echo 'hello through the tunnel' > "$S/www/hello.txt"
  [ -f "$S/www/big.bin" ] || head -c 50000000 /dev/urandom > "$S/www/big.bin"
  start http node "$HERE/http-static.mjs" --listen="127.0.0.1:$P" --dir="$S/www"
  WAIT_PORTS+=("$P")
fi

# --- reference SOCKS5 servers
if wanted microsocks; then
  if have microsocks; then
    P=$(port_for PEERS_MICROSOCKS_PORT)
    start microsocks microsocks -i 127.0.0.1 -p "$P"
    WAIT_PORTS+=("$P")
  else notice microsocks microsocks; fi
fi
if wanted danted; then
  if have danted; then
    P=$(port_for PEERS_DANTE_PORT)
    cat > "$S/danted.conf" <<CONF
logoutput: stderr
internal: 127.0.0.1 port = $P
external: lo
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: bind connect udpassociate
  log: error
}
socks block {
  from: 0.0.0.0/0 to: 0.0.0.0/0
  log: connect error
}
CONF
    start danted danted -f "$S/danted.conf" -N 1
    WAIT_PORTS+=("$P")
  else notice danted dante-server; fi
fi

# --- iperf3 (optional; not installed by install-apt.sh)
if wanted iperf3; then
  if have iperf3; then
    P=$(port_for PEERS_IPERF_PORT)
    start iperf3 iperf3 -s -B 127.0.0.1 -p "$P"
    WAIT_PORTS+=("$P")
  else echo "peers-up: skip iperf3 (optional: apt-get install iperf3)" >&2; fi
fi

# --- sshd with throwaway keys (guacd 1.3's libssh2 signs RSA with ssh-rsa/SHA-1, hence +ssh-rsa;
#     it cannot read OPENSSH-format private keys, hence -m PEM)
if wanted sshd; then
  if have /usr/sbin/sshd && have ssh-keygen; then
    P=$(port_for PEERS_SSH_PORT)
    if [ ! -f "$S/ssh/host_ed25519" ]; then
      ssh-keygen -q -t ed25519 -N '' -f "$S/ssh/host_ed25519" -C host
      ssh-keygen -q -t ed25519 -N '' -f "$S/ssh/client_ed25519" -C client
      ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f "$S/ssh/client_rsa_pem" -C guacd
      cat "$S/ssh/client_ed25519.pub" "$S/ssh/client_rsa_pem.pub" > "$S/ssh/authorized_keys"
      chmod 600 "$S/ssh/authorized_keys"
    fi
    cat > "$S/ssh/sshd_config" <<CONF
Port $P
ListenAddress 127.0.0.1
HostKey $S/ssh/host_ed25519
PidFile $S/ssh/sshd.pid
AuthorizedKeysFile $S/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
PubkeyAcceptedAlgorithms +ssh-rsa
CONF
    mkdir -p /run/sshd 2> /dev/null
    start sshd /usr/sbin/sshd -D -e -f "$S/ssh/sshd_config"
    WAIT_PORTS+=("$P")
  else notice sshd openssh-server; fi
fi

# --- telnet without login (inetutils telnetd wants the socket as stdin: socat ...,nofork)
if wanted telnetd; then
  if have socat && have /usr/sbin/telnetd; then
    P=$(port_for PEERS_TELNET_PORT)
    cat > "$S/telnet-shell.sh" <<'SH'
#!/bin/sh
export TERM=xterm PS1='tunnel-test$ '
exec /bin/bash --norc -i
SH
    chmod +x "$S/telnet-shell.sh"
    start telnetd socat "TCP-LISTEN:$P,bind=127.0.0.1,reuseaddr,fork" \
      EXEC:"/usr/sbin/telnetd -h -E $S/telnet-shell.sh",nofork
    WAIT_PORTS+=("$P")
  else notice telnetd 'socat/inetutils-telnetd'; fi
fi

# --- VNC desktop that keeps drawing (xclock)
if wanted xvnc; then
  if have Xvnc; then
    D=${PEERS_VNC_DISPLAY:-}
    if [ -z "$D" ]; then
      # Start the search at a display derived from our PID, so two test files starting peers at the same
      # moment (vitest runs files side by side) do not both pick the first free display.
      for i in $(seq 0 79); do
        d=$(( 20 + ($$ + i) % 80 ))
        [ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ] || { D=$d; break; }
      done
    fi
    P=$(port_for PEERS_VNC_PORT)
    echo "PEERS_VNC_DISPLAY=$D" >> "$S/ports.env"
    start xvnc Xvnc ":$D" -rfbport "$P" -localhost -interface 127.0.0.1 -SecurityTypes None \
      -geometry 800x600 -depth 24 -nolisten tcp
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$D" ] && break; sleep 0.1; done
    if have xsetroot; then DISPLAY=":$D" xsetroot -solid '#336699' 2> /dev/null; fi
    if have xclock; then start xclock env DISPLAY=":$D" xclock -update 1 -geometry 300x300+50+50; fi
    WAIT_PORTS+=("$P")
  else notice xvnc tigervnc-standalone-server; fi
fi

# --- guacd
if wanted guacd; then
  if have guacd; then
    P=$(port_for PEERS_GUACD_PORT)
    start guacd guacd -f -b 127.0.0.1 -l "$P" -L info
    WAIT_PORTS+=("$P")
  else notice guacd 'guacd (scripts/peers/install-guacd-bullseye.sh)'; fi
fi

# --- coturn (optional; not installed by install-apt.sh), static user, loopback relay
if wanted coturn && ! have turnserver; then
  echo "peers-up: skip coturn (optional: apt-get install coturn)" >&2
elif wanted coturn; then
  P=$(port_for PEERS_TURN_PORT)
  start coturn turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$P" \
    --lt-cred-mech --user=tunnel:tunnelpass --realm=tunnel.test --no-tls --no-dtls \
    --min-port=49160 --max-port=49200 --log-file=stdout --simple-log --no-cli --allow-loopback-peers \
    --pidfile="$S/coturn.internal.pid"
  WAIT_PORTS+=("$P")
fi

# ports.json for node
node -e '
const fs = require("node:fs");
const out = {};
for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
  const m = /^PEERS_(\w+)=(\d+)$/.exec(line);
  if (m) out[m[1].toLowerCase()] = Number(m[2]);
}
fs.writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
' "$S/ports.env" "$S/ports.json"

# wait until the TCP ports answer (at most ~10 s each)
rc=0
for port in "${WAIT_PORTS[@]}"; do
  ok=0
  for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && { ok=1; break; }
    sleep 0.1
  done
  [ $ok -eq 1 ] || { echo "peers-up: port $port did not open (see $S/log/)" >&2; rc=1; }
done
cat "$S/ports.env"
exit $rc
