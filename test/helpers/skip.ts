/**
 * The one place that decides whether a suite needing something from the machine runs or skips: real programs
 * (curl, ncat, guacd …), root with working network namespaces, Chromium. Each `require…` returns undefined
 * when everything is there, otherwise a skip reason, after printing one loud notice naming what to install:
 *
 *   const skip = requireTools(['curl', 'ncat']);
 *   describe.skipIf(skip)('through curl', () => { … });
 *
 * With TUBES_REQUIRE_PEERS=1 (CI sets it: .ci/run) a missing requirement throws instead, so the test file
 * fails rather than skipping.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable } from './netns.ts';

/** Debian package (bookworm) providing each program the suites use. */
export const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  curl: 'curl',
  ncat: 'ncat',
  socat: 'socat',
  microsocks: 'microsocks',
  danted: 'dante-server',
  sshd: 'openssh-server',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  Xvnc: 'tigervnc-standalone-server',
  xclock: 'x11-apps',
  xsetroot: 'x11-xserver-utils',
  telnetd: 'inetutils-telnetd',
  ip: 'iproute2',
  ss: 'iproute2',
  nft: 'nftables',
  unshare: 'util-linux',
  guacd: 'guacd (1.3.0: scripts/peers/install-guacd-bullseye.sh)',
  iperf3: 'iperf3',
  turnserver: 'coturn',
  proxychains4: 'proxychains4',
  chromium: 'chromium',
};

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of an executable on PATH (or in the sbin directories), else undefined. */
export function which(cmd: string): string | undefined {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : undefined;
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, ...SBIN_DIRS]) {
    const full = path.join(dir, cmd);
    if (isExecutable(full)) return full;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** True when TUBES_REQUIRE_PEERS=1: a missing requirement fails the suite instead of skipping it. */
export function peersRequired(): boolean {
  return process.env['TUBES_REQUIRE_PEERS'] === '1';
}

/** Something a suite needs that the machine lacks, and how to get it. */
export interface Missing {
  readonly what: string;
  readonly install: string;
}

const announced = new Set<string>();

/**
 * The single skip decision: undefined when nothing is missing; otherwise throws under TUBES_REQUIRE_PEERS=1,
 * or prints one loud notice (per distinct reason) and returns the reason to skip with.
 */
export function skipUnless(suite: string, missing: readonly Missing[]): string | undefined {
  if (missing.length === 0) return undefined;
  const reason = `${suite} needs ${missing.map((m) => m.what).join(', ')}`;
  const install = [...new Set(missing.map((m) => m.install))];
  if (peersRequired()) {
    throw new Error(`TUBES_REQUIRE_PEERS=1 but ${reason} — ${install.join('; ')}`);
  }
  if (!announced.has(reason)) {
    announced.add(reason);
    const bar = '#'.repeat(78);
    console.warn(
      [
        bar,
        `## SKIPPING: ${reason}`,
        ...install.map((i) => `##   ${i}`),
        '## (TUBES_REQUIRE_PEERS=1 turns this skip into a failure)',
        bar,
      ].join('\n'),
    );
  }
  return reason;
}

function missingTools(tools: readonly string[]): Missing[] {
  return tools
    .filter((t) => which(t) === undefined)
    .map((t) => ({
      what: t,
      install: `install ${DEBIAN_PACKAGE[t] ?? t} (as root: bash scripts/peers/install-apt.sh)`,
    }));
}

/** Skip reason when one of these programs is not installed (see DEBIAN_PACKAGE), else undefined. */
export function requireTools(tools: readonly string[], suite = 'this suite'): string | undefined {
  return skipUnless(suite, missingTools(tools));
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let unshareWorks: boolean | undefined;

/** `unshare -n` gives a private network namespace in which `lo` can be brought up (probed once). */
function probeUnshare(): boolean {
  unshareWorks ??=
    spawnSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore', timeout: 10_000 })
      .status === 0;
  return unshareWorks;
}

function missingNetns(options: { named?: boolean; tools?: readonly string[] }): Missing[] {
  const missing = missingTools([
    'unshare',
    'ip',
    ...(options.named ? ['nft'] : []),
    ...(options.tools ?? []),
  ]);
  if (!isRoot()) {
    missing.push({ what: 'root', install: 'run the tests as root (network namespaces, nftables)' });
  } else if (missing.length === 0) {
    const install = 'a kernel/container that allows network namespaces (e.g. docker run --privileged)';
    if (!probeUnshare()) missing.push({ what: 'working `unshare -n`', install });
    // named namespaces joined by veth pairs and a bridge (test/helpers/netns.ts probes exactly what it uses)
    const why = options.named ? netnsUnavailable() : undefined;
    if (why !== undefined) missing.push({ what: `named network namespaces (${why})`, install });
  }
  return missing;
}

/**
 * Skip reason unless this process is root and can create network namespaces: `unshare -n` with `lo` up
 * (probed by doing it), and with `named: true` also what test/helpers/netns.ts builds its "machines" from
 * (`ip netns add`, veth pairs, a bridge, nftables). `tools` are further programs the suite runs inside.
 */
export function requireNetns(
  options: { named?: boolean; tools?: readonly string[]; suite?: string } = {},
): string | undefined {
  return skipUnless(options.suite ?? 'this suite', missingNetns(options));
}

/** Debian's Chromium, or TUBES_CHROMIUM. */
export const CHROMIUM = process.env['TUBES_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Skip reason unless Chromium (TUBES_CHROMIUM, default /usr/bin/chromium), the playwright-core package, and
 * (unless `netns: false`) root with `unshare -n` (a page that runs in a private network namespace) are all
 * available.
 */
export function requireChromium(options: { suite?: string; netns?: boolean } = {}): string | undefined {
  const suite = options.suite ?? 'Chromium interop';
  const missing: Missing[] = [];
  if (!isExecutable(CHROMIUM)) {
    missing.push({
      what: CHROMIUM,
      install: 'apt-get install -y chromium (bash scripts/peers/install-apt.sh)',
    });
  }
  const playwright = fileURLToPath(
    new URL('../../node_modules/playwright-core/package.json', import.meta.url),
  );
  if (!existsSync(playwright)) missing.push({ what: 'playwright-core', install: 'npm ci' });
  if (options.netns !== false) missing.push(...missingNetns({}));
  return skipUnless(suite, missing);
}
