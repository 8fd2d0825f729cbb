/**
 * A TCP transfer end (test/fixtures/resilience-endpoint.ts) running in a test network namespace, with its
 * JSON-line events collected. Used by test/e2e/resilience.test.ts and bench/resilience.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NetHost, Network } from './netns.ts';

const ENDPOINT = fileURLToPath(new URL('../fixtures/resilience-endpoint.ts', import.meta.url));

export interface EndpointEvent {
  event: string;
  at: number;
  sent?: number;
  received?: number;
  sentHash?: string;
  receivedHash?: string;
  early?: boolean;
  port?: number;
}

export class Endpoint {
  readonly events: EndpointEvent[] = [];
  readonly child: ChildProcess;
  #waiters: Array<() => void> = [];

  constructor(net: Network, host: NetHost, args: string[]) {
    this.child = net.spawn(host, process.execPath, [ENDPOINT, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (t: string) => {
      buf += t;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.events.push(JSON.parse(line) as EndpointEvent);
        } catch {
          // not ours
        }
        for (const w of this.#waiters) w();
      }
    });
    this.child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[endpoint] ${d}`));
  }

  last(event: string): EndpointEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--)
      if (this.events[i]?.event === event) return this.events[i];
    return undefined;
  }

  get received(): number {
    return this.last('progress')?.received ?? 0;
  }

  async wait(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
      this.#waiters = [];
    }
  }
}
