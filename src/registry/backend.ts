/**
 * What the registry asks of the place its tubes run: this thread (local-backend.ts) or worker threads
 * (worker-backend.ts). The registry keeps the index, admission and every check of the caller's input; a
 * backend only starts tubes and runs operations on them. Arguments reach a backend validated and decoded.
 */

import type { TubeStream } from '../channel/tube-stream.ts';
import type { ParsedSettings } from '../config/settings.ts';
import type { MetricsSnapshot } from '../metrics/counters.ts';
import type { IceServer } from '../webrtc/peer.ts';
import type { SignalCallback } from './signals.ts';
import type { ConnectionInfo, TubeStatus } from './tube.ts';

/** A new channel: the caller's settings as given (a worker parses them again) and parsed. */
export interface ChannelSpec {
  conversationId: string;
  settings: Record<string, unknown>;
  parsed: ParsedSettings;
}

export interface TubeSpec extends ChannelSpec {
  /** Absent: the backend picks a random UUID. */
  id: string | undefined;
  trickleIce: boolean;
  /** The decoded offer: present = client mode (answerer), absent = server mode (offerer). */
  offerSdp: string | undefined;
  iceServers: IceServer[] | undefined;
  /** In-thread only: called again before each ICE restart's gathering (fresh TURN credentials). */
  iceServersProvider?: (() => IceServer[] | Promise<IceServer[]>) | undefined;
  turnOnly: boolean | undefined;
  /** The original's FRAGMENTATION capability for every channel of the tube. */
  enableMultiChannel: boolean;
  onSignal: SignalCallback | undefined;
  /** Handler mode (answering side): runs on the registry's thread in worker mode too. */
  onConnection: ((stream: TubeStream, info: ConnectionInfo) => void) | undefined;
}

/** The nominated ICE candidate pair of a tube (`getConnectionStats`). */
export interface SelectedCandidatePair {
  local: { type: string; address: string; port: number; protocol: string; relay_protocol?: string };
  remote: { type: string; address: string; port: number; protocol: string };
}

export interface ConnectionStats {
  packet_loss_rate: number;
  rtt_ms: number | null;
  bytes_sent: number;
  bytes_received: number;
  /** null before ICE has nominated a pair. */
  selected_candidate_pair: SelectedCandidatePair | null;
}

export type LiveStats = Record<string, unknown>;

export interface StartedTube {
  offer?: string;
  answer?: string;
  actualLocalListenAddr?: string;
}

/** One tube as the registry's index holds it. */
export interface TubeHandle {
  readonly id: string;
  readonly status: TubeStatus;
  readonly connectionState: string;
  /** Offer (server mode) or answer (client mode). On failure the tube is closed and gone. */
  start(): Promise<StartedTube>;
  /** A further data channel labelled `conversationId`; its listener address if it has one. */
  addChannel(channel: ChannelSpec): Promise<string | undefined>;
  setRemoteDescription(sdp: string, isAnswer: boolean): Promise<string | undefined>;
  addIceCandidate(candidate: string): Promise<void>;
  createOffer(): Promise<string>;
  createAnswer(): Promise<string>;
  restartIce(): Promise<string>;
  closeChannel(conversationId: string, reason: number): Promise<void>;
  close(reason: number): Promise<void>;
  connectionStats(): Promise<ConnectionStats>;
  /** Labels of this tube's channels (its own conversation first). */
  conversationIds(): string[];
  /** Live counters of the channel labelled `conversationId`, or null. */
  liveStats(conversationId: string): LiveStats | null;
  /** A connection on the channel labelled `conversationId` whose local end is a Duplex (offering side). */
  openConnection(
    conversationId: string,
    signal: AbortSignal | undefined,
    tail: Uint8Array | undefined,
  ): Promise<TubeStream>;
}

/** What a backend learns from its registry. */
export interface BackendHost {
  /** The tube is gone (closed, or its worker died): forget it. */
  closed(tube: TubeHandle): void;
  /** The conversations the registry routes to this tube. */
  conversationsOf(tubeId: string): string[];
}

export interface TubeBackend {
  /** A tube not started yet (throws when no place to run it can be had). */
  open(spec: TubeSpec): TubeHandle;
  /** After every tube is closed (cleanupAll): releases what the backend holds, e.g. its workers. */
  shutdown(): Promise<void>;
  /** The metrics of every thread the tubes run on, added up (pending histogram observations taken). */
  metrics(): MetricsSnapshot;
  /** Per-frame debug logging, for existing channels too. */
  setVerbose(on: boolean): void;
}
