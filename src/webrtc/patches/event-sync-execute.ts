/**
 * Patch `event-sync-execute`: werift's `Event.execute` without an async closure and a promise per call when the
 * event has no queuing subscriber, on the events every packet passes through.
 *
 * Why (werift 0.25.2): `Event.execute(...args)` (common/src/event.ts) calls the plain subscribers, then always
 * starts an async arrow function that awaits the queuing subscribers (`queuingSubscribe`) one by one, and
 * chains a `.catch` on its promise: an async closure, two promises and a reaction per call even when there is
 * no queuing subscriber, which is the case on the data path. A received SCTP packet passes through five such
 * events (the ICE protocol's `onDataReceived`, the ICE connection's `onData`, the DTLS socket's `onData`, the
 * association's `onReceive`, the channel's `onMessage`); on idle tubes this was ≈ 11 % of all allocation
 * (figures in docs/PERFORMANCE.md "Transport, part 2").
 *
 * Ours, per event instance (`execute` is an instance field, so werift's class cannot be changed): the same
 * steps in the same order — nothing once the event has ended, each plain subscriber synchronously in
 * subscription order (an exception propagates to the caller as before), then, only when queuing subscribers
 * exist at that point, werift's sequential awaiting of them with errors to `onerror`. Whoever took a reference
 * to the old `execute` keeps werift's (equivalent) function. Only the events a packet passes through are
 * replaced (each replacement is a closure of its own, ≈ 60 bytes more per event than werift's shared context):
 * the ICE protocols' `onDataReceived`, the ICE connection's `onData`, the DTLS socket's `onData`, the
 * association's `onReceive`, and each channel's `onMessage` and `bufferedAmountLow`; they are looked up each time
 * the connection reaches `connected` (a restart brings new ones), and on each channel as it is created or
 * announced.
 */
import { Event, type RTCDataChannel, type RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { dtlsTransportsOf, expectFunction, sctpOf } from './internals.ts';

const NAME = 'event-sync-execute';

interface Subscriber {
  execute(...args: unknown[]): unknown;
}

/** The parts of werift's `Event` this patch reads. */
export interface EventShape {
  event: { stack: Subscriber[]; promiseStack: Subscriber[] };
  ended: boolean;
  onerror: (e: unknown) => void;
  execute: (...args: unknown[]) => void;
}

/** Mismatches between werift's `Event` and what this patch expects (checked on a fresh instance). */
export function checkEventClass(EventClass: unknown = Event): string[] {
  const problems: string[] = [];
  if (typeof EventClass !== 'function') return ['werift no longer exports Event'];
  const e = new (EventClass as new () => EventShape)();
  if (!Array.isArray(e.event?.stack) || !Array.isArray(e.event?.promiseStack)) {
    problems.push('Event.event.stack / promiseStack are not arrays');
  }
  if (typeof e.ended !== 'boolean') problems.push('Event.ended is not a boolean');
  expectFunction(problems, e, 'Event', 'onerror', 1);
  if (!Object.hasOwn(e, 'execute')) problems.push('Event.execute is not an instance field');
  const src = String(e.execute);
  // the body this replacement reproduces: stack first (synchronously), then the promise stack awaited in order
  const stack = src.indexOf('this.event.stack');
  const promise = src.indexOf('this.event.promiseStack');
  if (
    !/^\(\.\.\.args\) =>/.test(src) ||
    !/if \(this\.ended\)/.test(src) ||
    stack < 0 ||
    promise < stack ||
    !/await item\.execute\(\.\.\.args\)/.test(src) ||
    !/this\.onerror\(e\)/.test(src)
  ) {
    problems.push('Event.execute no longer has the body this patch reproduces');
  }
  return problems;
}

let classProblems: string[] | undefined;
/** Events whose execute was replaced (tests and diagnostics). */
export const eventPatchStats = { events: 0 };
/** The name our replacement carries: how an already replaced event is recognised (no per-event bookkeeping). */
const FAST_NAME = 'tubesSyncExecute';

/** Replaces `ev.execute` by the allocation-free equivalent (once per event). */
export function fastenEvent(ev: EventShape): void {
  if (ev.execute.name === FAST_NAME) return;
  eventPatchStats.events++;
  // `arguments` instead of a rest parameter: no array per call on the common one-argument path
  ev.execute = {
    [FAST_NAME](): void {
      if (ev.ended) return;
      // biome-ignore lint/complexity/noArguments: as above
      const n = arguments.length;
      for (const item of ev.event.stack) {
        // biome-ignore lint/complexity/noArguments: as above
        if (n === 1) item.execute(arguments[0]);
        // biome-ignore lint/complexity/noArguments: as above
        else item.execute(...arguments);
      }
      const queued = ev.event.promiseStack;
      if (queued.length === 0) return;
      // biome-ignore lint/complexity/noArguments: as above
      const args = Array.prototype.slice.call(arguments) as unknown[];
      (async () => {
        for (const item of queued) await item.execute(...args);
      })().catch((e: unknown) => {
        ev.onerror(e);
      });
    },
  }[FAST_NAME] as (...args: unknown[]) => void;
}

/** Fastens the werift `Event`s `obj` holds under these property names (those that are events). */
export function fastenEventsOf(obj: unknown, names: readonly string[]): void {
  if (obj === null || typeof obj !== 'object') return;
  for (const name of names) {
    const value = (obj as Record<string, unknown>)[name];
    if (value instanceof Event) fastenEvent(value as unknown as EventShape);
  }
}

/** The events a packet passes through, by the object that holds them. */
const HOT = {
  protocol: ['onDataReceived'],
  connection: ['onData'],
  dtlsSocket: ['onData'],
  sctp: ['onReceive'],
  channel: ['onMessage', 'bufferedAmountLow'],
} as const;

interface ConnectionShape {
  connection?: { protocols?: unknown[] };
}

function fastenConnection(pc: RTCPeerConnection): void {
  const ice = (pc as unknown as { iceTransports?: ConnectionShape[] }).iceTransports ?? [];
  for (const t of ice) {
    fastenEventsOf(t.connection, HOT.connection);
    for (const p of t.connection?.protocols ?? []) fastenEventsOf(p, HOT.protocol);
  }
  for (const d of dtlsTransportsOf(pc)) fastenEventsOf(d.dtls, HOT.dtlsSocket);
  fastenEventsOf(sctpOf(pc), HOT.sctp);
  const sctpTransport = (pc as unknown as { sctpTransport?: { dataChannels?: Record<string, unknown> } })
    .sctpTransport;
  for (const ch of Object.values(sctpTransport?.dataChannels ?? {})) fastenEventsOf(ch, HOT.channel);
}

export const eventSyncExecutePatch: WeriftPatch = {
  name: NAME,
  description: "werift Event.execute without a promise per call when nothing awaits it (data path's events)",
  install(pc: RTCPeerConnection, ctx: PatchContext) {
    classProblems ??= checkEventClass();
    if (classProblems.length > 0) {
      ctx.shapeMismatch(NAME, classProblems);
      return;
    }
    const create = (pc as unknown as { createDataChannel?: unknown }).createDataChannel;
    if (typeof create !== 'function') {
      ctx.shapeMismatch(NAME, ['pc.createDataChannel is not a function']);
      return;
    }
    // channels: ours as they are created, the peer's as they are announced
    (pc as unknown as { createDataChannel: (...a: unknown[]) => RTCDataChannel }).createDataChannel = (
      ...a: unknown[]
    ): RTCDataChannel => {
      const ch = (create as (...a: unknown[]) => RTCDataChannel).apply(pc, a);
      fastenEventsOf(ch, HOT.channel);
      return ch;
    };
    pc.onDataChannel.subscribe((ch) => fastenEventsOf(ch, HOT.channel));
    ctx.whenConnected(() => fastenConnection(pc));
    ctx.markActive(NAME);
  },
};
