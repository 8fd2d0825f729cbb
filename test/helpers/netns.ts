/**
 * "Machines" for tests: private network namespaces made by the test, joined through a switch namespace
 * (a Linux bridge) by one veth each, with routable addresses and nftables wherever a fault is wanted.
 * Nothing here touches the caller's own namespace: every address lives inside namespaces created here
 * and removed by `dispose()` (and, should a run die, by the next `createNetwork` of a later run, which
 * sweeps namespaces whose owning process is gone).
 *
 *   const net = await createNetwork(2);               // hosts[0] = 10.231.x.1, hosts[1] = 10.231.x.2
 *   const child = net.spawn(net.hosts[0], 'node', ['app.js']);
 *   await net.cut([0, 1]);                              // both hosts lose the path (frames dropped)
 *   await net.heal([0, 1]);
 *   await net.moveAddress(net.hosts[1]);                // delete the address, add a new one
 *   await net.dispose();
 *
 * Needs root, iproute2 and nftables; `netnsUnavailable()` says why not, or undefined. Suites decide whether to
 * skip through test/helpers/skip.ts (`requireNetns({ named: true })`, which fails under TUBES_REQUIRE_PEERS=1).
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

const PREFIX = 'tubesns';

export interface NetHost {
  /** Network namespace name (usable with `ip netns exec`). */
  ns: string;
  /** Interface name inside the namespace. */
  dev: string;
  /** Current IPv4 address (without prefix length). */
  address: string;
  /** Index in `Network.hosts`. */
  index: number;
}

export interface Network {
  readonly hosts: NetHost[];
  /** The switch namespace (bridge `br0`, one `pN` port per host). */
  readonly switchNs: string;
  /** Runs a command inside a host's namespace and resolves with its stdout (rejects on failure). */
  exec(host: NetHost, cmd: string, args: string[]): Promise<string>;
  /** Spawns a long-running process inside a host's namespace (`ip netns exec`, which execs: pid is the program's). */
  spawn(host: NetHost, cmd: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** The argv prefix that runs a program inside a host's namespace. */
  prefix(host: NetHost): string[];
  /** Drops every frame to and from these hosts at the switch (the path goes dark; sockets see no error). */
  cut(hosts: number[]): Promise<void>;
  /** Undoes `cut` for these hosts. */
  heal(hosts: number[]): Promise<void>;
  /** Drops UDP between two hosts at the switch (both directions); other hosts stay reachable. */
  blockUdpBetween(a: number, b: number): Promise<void>;
  /** Replaces a host's address with a new one in the same subnet; resolves with the new address. */
  moveAddress(host: NetHost): Promise<string>;
  /** Kills what `spawn` started, removes every namespace. Idempotent. */
  dispose(): Promise<void>;
}

let cachedReason: string | undefined | null = null;

/** undefined when namespaces can be made here; otherwise why not (for a skip notice). */
export function netnsUnavailable(): string | undefined {
  if (cachedReason !== null) return cachedReason;
  cachedReason = probe();
  return cachedReason;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/nft']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr/sbin', '/sbin')))
      return `missing ${tool.split('/').pop()} — install: ${tool.endsWith('nft') ? 'nftables' : 'iproute2'}`;
  }
  const name = `${PREFIX}-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  const veth = spawnSync('ip', ['-n', name, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb'], {
    encoding: 'utf8',
  });
  const bridge = spawnSync('ip', ['-n', name, 'link', 'add', 'br0', 'type', 'bridge'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', name]);
  if (veth.status !== 0) return `cannot create a veth pair: ${veth.stderr.trim()}`;
  if (bridge.status !== 0) return `cannot create a bridge: ${bridge.stderr.trim()}`;
  return undefined;
}

/** Namespaces left by runs whose process is gone (killed test runs). */
function sweepStale(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)[a-z]`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync('ip', ['netns', 'del', name]);
  }
}

let networks = 0;

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

async function nft(ns: string, script: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (t: string) => {
      err += t;
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`nft in ${ns} failed (${code}): ${err}\n${script}`)),
    );
    child.stdin?.end(script);
  });
}

/**
 * Runs `node <script> ...args` (TypeScript stripped as the tests run it) in a new network namespace whose only
 * interface is lo, up: a Chromium or tube it starts can neither reach nor be reached from outside (root).
 */
export function spawnNodeInLoopbackNetns(
  script: string,
  args: string[],
  options: SpawnOptions,
): ChildProcess {
  const flags = process.features.typescript ? [] : ['--experimental-strip-types'];
  return spawn(
    'unshare',
    ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...flags, script, ...args],
    options,
  );
}

/**
 * Creates `count` host namespaces (2–20) on one switch. Addresses are 10.231.N.(index+1)/24 with N
 * unique per network in this process, so several networks can coexist.
 */
export async function createNetwork(count: number): Promise<Network> {
  if (count < 2 || count > 20) throw new RangeError('createNetwork: 2–20 hosts');
  const reason = netnsUnavailable();
  if (reason) throw new Error(`createNetwork: ${reason}`);
  if (networks === 0) sweepStale();
  const n = networks++;
  const tag = `${PREFIX}${process.pid}${String.fromCharCode(97 + (n % 26))}${Math.floor(n / 26)}`;
  const subnet = `10.231.${(process.pid + n) % 250}`;
  const switchNs = `${tag}sw`;
  const hosts: NetHost[] = [];
  const children = new Set<ChildProcess>();
  const cutSet = new Set<number>();
  const udpBlocks: Array<[number, number]> = [];
  let nextHostOctet = 100;
  let disposed = false;

  const created: string[] = [];
  try {
    await ip('netns', 'add', switchNs);
    created.push(switchNs);
    await ip('-n', switchNs, 'link', 'set', 'lo', 'up');
    await ip('-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', switchNs, 'link', 'set', 'br0', 'up');
    for (let i = 0; i < count; i++) {
      const ns = `${tag}h${i}`;
      await ip('netns', 'add', ns);
      created.push(ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      // veth: `eth0` in the host, `p<i>` on the switch's bridge
      await ip('-n', switchNs, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', switchNs, 'link', 'set', `p${i}`, 'master', 'br0');
      await ip('-n', switchNs, 'link', 'set', `p${i}`, 'up');
      const address = `${subnet}.${i + 1}`;
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      hosts.push({ ns, dev: 'eth0', address, index: i });
    }
  } catch (err) {
    for (const ns of created) spawnSync('ip', ['netns', 'del', ns]);
    throw err;
  }

  // The switch's filter: one bridge-family table rewritten as a whole on every change (atomic with nft -f).
  const applyFilter = async (): Promise<void> => {
    const rules: string[] = [];
    for (const i of cutSet) {
      rules.push(`iifname "p${i}" drop`, `oifname "p${i}" drop`);
    }
    for (const [a, b] of udpBlocks) {
      const A = hosts[a]?.address;
      const B = hosts[b]?.address;
      rules.push(`ip saddr ${A} ip daddr ${B} meta l4proto udp drop`);
      rules.push(`ip saddr ${B} ip daddr ${A} meta l4proto udp drop`);
    }
    const script = [
      'table bridge tubes_fault',
      'delete table bridge tubes_fault',
      'table bridge tubes_fault {',
      '  chain forward {',
      '    type filter hook forward priority 0; policy accept;',
      ...rules.map((r) => `    ${r}`),
      '  }',
      '}',
      '',
    ].join('\n');
    await nft(switchNs, script);
  };

  const network: Network = {
    hosts,
    switchNs,
    prefix: (host) => ['ip', 'netns', 'exec', host.ns],
    async exec(host, cmd, args) {
      const { stdout } = await run('ip', ['netns', 'exec', host.ns, cmd, ...args], { encoding: 'utf8' });
      return stdout;
    },
    spawn(host, cmd, args, options = {}) {
      const child = spawn('ip', ['netns', 'exec', host.ns, cmd, ...args], options);
      children.add(child);
      child.once('close', () => children.delete(child));
      return child;
    },
    async cut(list) {
      for (const i of list) cutSet.add(i);
      await applyFilter();
    },
    async heal(list) {
      for (const i of list) cutSet.delete(i);
      await applyFilter();
    },
    async blockUdpBetween(a, b) {
      udpBlocks.push([a, b]);
      await applyFilter();
    },
    async moveAddress(host) {
      const next = `${subnet}.${nextHostOctet++}`;
      await ip('-n', host.ns, 'addr', 'del', `${host.address}/24`, 'dev', host.dev);
      await ip('-n', host.ns, 'addr', 'add', `${next}/24`, 'dev', host.dev);
      host.address = next;
      return next;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const exits: Promise<void>[] = [];
      for (const child of children) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        exits.push(new Promise((r) => child.once('close', () => r())));
        child.kill('SIGKILL');
      }
      await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 3_000))]);
      for (const ns of [...hosts.map((h) => h.ns), switchNs]) spawnSync('ip', ['netns', 'del', ns]);
    },
  };
  return network;
}
