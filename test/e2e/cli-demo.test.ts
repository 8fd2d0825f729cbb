import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../src/cli/tubes.ts', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tubes(...args: string[]): Promise<Run> {
  const flags = process.features.typescript ? [] : ['--experimental-strip-types'];
  return new Promise((resolve) => {
    execFile(process.execPath, [...flags, CLI, ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function expectSuccess(run: Run, mode: string): void {
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const r = JSON.parse(lines[0] as string);
  expect(r).toMatchObject({ ok: true, mode, bytes: 4 * 1024 * 1024 });
  expect(r.createToReadyMs).toBeGreaterThan(0);
  expect(r.transfer).toMatchObject({ sentBytes: 4194304, receivedBytes: 4194304, hashMatch: true });
  expect(r.transfer.sentSha256).toMatch(/^[0-9a-f]{64}$/);
  expect(r.transfer.receivedSha256).toBe(r.transfer.sentSha256);
  expect(r.transfer.mbPerSec).toBeGreaterThan(0);
  expect(r.rtt).toMatchObject({ count: 200, size: 32 });
  expect(r.rtt.p50Ms).toBeGreaterThan(0);
  expect(r.rtt.p99Ms).toBeGreaterThanOrEqual(r.rtt.p50Ms);
}

describe('tubes demo (CLI)', () => {
  it('tunnels 4 MiB and probes RTT in one process (--json)', async () => {
    expectSuccess(await tubes('demo', '--bytes', '4M', '--json'), 'in-process');
  });

  it('does the same with the gateway tube in a child process (--two-process --json)', async () => {
    expectSuccess(await tubes('demo', '--bytes', '4M', '--two-process', '--json'), 'two-process');
  });

  it('prints plain summary lines when stdout is not a TTY', async () => {
    const run = await tubes('demo', '--bytes', '256K', '--rtt-count', '10');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('\r');
    expect(run.stdout).toMatch(/tube create→ready +\d+\.\d ms/);
    expect(run.stdout).toMatch(/sha256 +match [0-9a-f]{64}/);
    expect(run.stdout).toMatch(/echo RTT +p50 \d+\.\d+ ms +p99 \d+\.\d+ ms +\(10 × 32 B\)/);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('OK');
  });

  it('fails with exit code 1 and says why when the run times out, and still cleans up and exits', async () => {
    const run = await tubes('demo', '--bytes', '1G', '--timeout', '2', '--two-process');
    expect(run.code).toBe(1);
    const last = run.stdout.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(
      // on a loaded machine the 2 s can run out before the echo connection is even open
      /^FAILED: (Timed out \((echo transfer: \d+ of 1073741824 bytes back|connect 127\.0\.0\.1:\d+)\)|Tubes not ready)/,
    );
  });

  it('rejects bad arguments with exit code 2 and a clear message', async () => {
    const bad = await tubes('demo', '--bytes', 'lots');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Invalid byte count: lots');
    const unknown = await tubes('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command: frobnicate');
  });

  it('shows help for the command and for demo', async () => {
    const top = await tubes('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Usage: tubes <command>');
    const demo = await tubes('demo', '--help');
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain('--two-process');
  });
});
