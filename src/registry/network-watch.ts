/**
 * Notices local address changes (an interface gone, an address removed or added) by polling
 * `os.networkInterfaces()`: one timer per process and interval, shared by every tube that watches, stopped
 * when the last one stops. Node has no portable address-change event; a poll every couple of seconds costs
 * one small syscall-backed call.
 */
import { networkInterfaces } from 'node:os';

type Listener = () => void;

interface Poller {
  timer: NodeJS.Timeout;
  fingerprint: string;
  listeners: Set<Listener>;
}

const pollers = new Map<number, Poller>();

/** The non-loopback addresses of this host (link-local IPv6 left out: it changes nothing for ICE), sorted. */
export function addressFingerprint(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string {
  const out: string[] = [];
  for (const [name, list] of Object.entries(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue;
      out.push(`${name}/${a.address}`);
    }
  }
  return out.sort().join(',');
}

/** Calls `onChange` whenever the local addresses change; returns the function that stops watching. */
export function watchNetwork(intervalMs: number, onChange: Listener): () => void {
  if (!(intervalMs > 0)) return () => {};
  let poller = pollers.get(intervalMs);
  if (!poller) {
    const p: Poller = {
      fingerprint: addressFingerprint(),
      listeners: new Set(),
      timer: setInterval(() => {
        const now = addressFingerprint();
        if (now === p.fingerprint) return;
        p.fingerprint = now;
        for (const l of [...p.listeners]) {
          try {
            l();
          } catch {
            // a listener's failure is its own business
          }
        }
      }, intervalMs),
    };
    p.timer.unref();
    pollers.set(intervalMs, p);
    poller = p;
  }
  const entry = poller;
  const listener: Listener = () => onChange();
  entry.listeners.add(listener);
  return () => {
    entry.listeners.delete(listener);
    if (entry.listeners.size === 0 && pollers.get(intervalMs) === entry) {
      clearInterval(entry.timer);
      pollers.delete(intervalMs);
    }
  };
}

/** Number of running pollers (tests: nothing left behind). */
export function activeNetworkPollers(): number {
  return pollers.size;
}
