export type { ChannelLimits } from './channel/channel.ts';
export { TubeStream } from './channel/tube-stream.ts';
export { ErrorCode, isTubesError, TubesError } from './errors.ts';
export { type Logger, setVerboseLogging } from './log.ts';
export {
  CloseConnectionReason,
  type CloseReasonInfo,
  closeReasonInfo,
} from './protocol/close-reason.ts';
export type { CapacityReport } from './registry/capacity.ts';
export {
  type ConnectionHandler,
  type ConnectionInfo,
  type CreateTubeOptions,
  type CreateTubeResult,
  type OpenConnectionOptions,
  type SelectedCandidatePair,
  TubeRegistry,
  type TubeRegistryOptions,
} from './registry/registry.ts';
export type { Signal, SignalCallback, SignalKind } from './registry/signals.ts';
export type { TubeStatus } from './registry/tube.ts';
export type { IceServersProvider, IceServersSource } from './webrtc/ice-servers.ts';
export type { IceServer } from './webrtc/peer.ts';
export {
  type TurnRestCredentialOptions,
  type TurnRestCredentials,
  type TurnRestOptions,
  turnRestCredentials,
} from './webrtc/turn-rest.ts';
