/**
 * The JSON-lines protocol between a `RemoteRegistry` (parent) and its child process (src/cli/child.ts).
 * Parent → child: one request per line. Child → parent: replies (by request id) and events, one per line.
 * Replies, events, error mapping and log forwarding are the registry's own (src/registry/wire.ts).
 */
import type { TubeRegistry, TubeRegistryOptions } from '../registry/registry.ts';
import type { WireEvent, WireReply } from '../registry/wire.ts';

/** Registry methods the child answers; `stop` cleans up and ends the child. */
export const REMOTE_METHODS = [
  'createTube',
  'setRemoteDescription',
  'addIceCandidate',
  'closeTube',
  'closeConnection',
  'getTubeStatus',
  'getConnectionState',
  'tubeFound',
  'getLiveStats',
  'getConnectionStats',
  'cleanupAll',
  'stop',
] as const;

export type RemoteMethod = (typeof REMOTE_METHODS)[number];

export interface WireRequest {
  id: number;
  method: RemoteMethod;
  args: unknown[];
  /** createTube only: deliver the tube's signals as `signal` events tagged with this request id. */
  signals?: boolean;
}

export type ChildMessage = WireReply | WireEvent;

/** What the child gets at spawn (argv[2], JSON): registry options without the logger, and its log level. */
export interface ChildInit {
  registry: Omit<TubeRegistryOptions, 'logger'>;
  /** pino level for the child's logger, whose lines come back as `log` events; absent = silent. */
  logLevel?: string;
}

export function isRemoteMethod(value: unknown): value is RemoteMethod {
  return typeof value === 'string' && (REMOTE_METHODS as readonly string[]).includes(value);
}

/**
 * Calls the TubeRegistry method a remote method names, with the arguments as they are; `undefined` for the
 * two the child answers itself (`createTube`, whose signals it relays, and `stop`).
 */
export function forwardToRegistry(
  registry: TubeRegistry,
  method: RemoteMethod,
  args: unknown[],
): { result: unknown } | undefined {
  if (method === 'createTube' || method === 'stop') return undefined;
  const fn = (registry as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
  return fn ? { result: fn.apply(registry, args) } : undefined;
}
