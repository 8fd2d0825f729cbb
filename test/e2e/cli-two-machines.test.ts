/**
 * Two "machines" (network namespaces joined through a switch, test/helpers/netns.ts): `tubes gateway` on
 * one, `tubes connect` on the other, exactly as the README's "Two machines" section runs them.
 * - an ssh session (a real sshd next to the gateway) carrying 64 MiB, sha256 compared on both ends;
 * - curl through `tubes connect --socks` to an HTTP server next to the gateway.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CLI_FLAGS, exitOf, lineOf } from '../helpers/cli.ts';
import { createNetwork, type NetHost, type Network } from '../helpers/netns.ts';
import { requireNetns, requireTools } from '../helpers/skip.ts';

const HTTP_STATIC = fileURLToPath(new URL('../../scripts/peers/http-static.mjs', import.meta.url));

const skip =
  requireNetns({ named: true, suite: 'two-machine CLI tests' }) ??
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'curl'], 'two-machine CLI tests');

describe.skipIf(skip)('two machines: tubes gateway ↔ tubes connect', () => {
  let net: Network;
  let gwHost: NetHost;
  let clHost: NetHost;
  let dir: string;
  const TOKEN = 'two-machines-test-token';

  beforeAll(async () => {
    net = await createNetwork(2);
    gwHost = net.hosts[0] as NetHost;
    clHost = net.hosts[1] as NetHost;
    dir = mkdtempSync(path.join(tmpdir(), 'tubes-2m-'));
    // sshd with throwaway keys next to the gateway (loopback of the gateway machine only)
    for (const k of ['host', 'client']) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, k), '-C', k]);
    }
    execFileSync('cp', [path.join(dir, 'client.pub'), path.join(dir, 'authorized_keys')]);
    writeFileSync(
      path.join(dir, 'sshd_config'),
      [
        'Port 22',
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host')}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        '',
      ].join('\n'),
    );
    execFileSync('mkdir', ['-p', '/run/sshd']);
    net.spawn(gwHost, '/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
      stdio: 'ignore',
    });
    // a file server next to the gateway
    writeFileSync(path.join(dir, 'blob.bin'), randomBytes(4 * 1024 * 1024));
    net.spawn(gwHost, process.execPath, [HTTP_STATIC, '--listen=127.0.0.1:8080', `--dir=${dir}`], {
      stdio: 'ignore',
    });
  });

  afterAll(async () => {
    await net?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function tubes(host: NetHost, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return net.spawn(host, process.execPath, [...CLI_FLAGS, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
  }

  it('ssh through the tube carries 64 MiB with equal sha256 (README "Two machines")', async () => {
    const gw = tubes(gwHost, ['gateway', '--target', '127.0.0.1:22', '--listen', `${gwHost.address}:7480`], {
      TUBES_TOKEN: TOKEN,
    });
    await lineOf(gw, /^gateway http:\/\/\S+\/tubes \(tunnel\)$/);
    const t0 = performance.now();
    const cn = tubes(clHost, [
      'connect',
      `http://${gwHost.address}:7480`,
      '--token',
      TOKEN,
      '--local',
      '127.0.0.1:2222',
    ]);
    const [, local] = await lineOf(cn, /^listening (\S+)$/);
    expect(local).toBe('127.0.0.1:2222');
    console.log(`[two-machines] connect → listening ${(performance.now() - t0).toFixed(0)} ms`);

    const data = randomBytes(64 * 1024 * 1024);
    const want = createHash('sha256').update(data).digest('hex');
    const ssh = net.spawn(
      clHost,
      'ssh',
      [
        '-i',
        path.join(dir, 'client'),
        '-p',
        '2222',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'LogLevel=ERROR',
        'root@127.0.0.1',
        'sha256sum',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    ssh.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    ssh.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const t1 = performance.now();
    ssh.stdin?.end(data);
    expect(await exitOf(ssh), err).toBe(0);
    const secs = (performance.now() - t1) / 1000;
    console.log(`[two-machines] ssh 64 MiB in ${secs.toFixed(1)} s (${(64 / secs).toFixed(1)} MiB/s)`);
    expect(out.split(/\s/)[0]).toBe(want);

    cn.kill('SIGTERM');
    gw.kill('SIGTERM');
    expect(await exitOf(cn)).toBe(0);
    expect(await exitOf(gw)).toBe(0);
  });

  it('curl through tubes connect --socks reaches an HTTP server next to the gateway', async () => {
    const gw = tubes(
      gwHost,
      [
        'gateway',
        '--socks',
        '--allow-host',
        '127.0.0.1',
        '--allow-port',
        '8080',
        '--listen',
        `${gwHost.address}:7481`,
      ],
      { TUBES_TOKEN: TOKEN },
    );
    await lineOf(gw, /^gateway http:\/\/\S+\/tubes \(socks\)$/);
    const cn = tubes(clHost, [
      'connect',
      `http://${gwHost.address}:7481`,
      '--token',
      TOKEN,
      '--socks',
      '127.0.0.1:1080',
    ]);
    await lineOf(cn, /^listening 127\.0\.0\.1:1080$/);
    const body = await net.exec(clHost, 'sh', [
      '-c',
      'curl -sS --fail --max-time 30 --socks5-hostname 127.0.0.1:1080 http://127.0.0.1:8080/blob.bin | sha256sum',
    ]);
    const want = execFileSync('sha256sum', [path.join(dir, 'blob.bin')], { encoding: 'utf8' }).split(' ')[0];
    expect(body.split(' ')[0]).toBe(want);
    // a destination outside the allow-list is refused by the gateway (curl: SOCKS5 connect failed)
    const refused = await net
      .exec(clHost, 'curl', [
        '-sS',
        '--max-time',
        '10',
        '--socks5-hostname',
        '127.0.0.1:1080',
        'http://127.0.0.1:22/',
      ])
      .then(
        () => 'ok',
        (e: { stderr?: string }) => String(e.stderr),
      );
    expect(refused).toMatch(/SOCKS|refused|not allowed/i);
    cn.kill('SIGTERM');
    gw.kill('SIGTERM');
    expect(await exitOf(cn)).toBe(0);
    expect(await exitOf(gw)).toBe(0);
  });
});
