/**
 * `webrtc-tubes/browser`: the page's end of a tube over the browser's own RTCPeerConnection, a
 * Guacamole.Tunnel for guacamole-common-js, the gateway's HTTP signalling, and the hot-path engines
 * (JS, Wasm, Wasm SIMD) running in the page. See docs/BROWSER.md.
 */
export {
  type EngineChoice,
  type EngineInfo,
  type EngineName,
  encodeInstruction,
  engine,
  engineInfo,
  FrameDecoder,
  GuacamoleBatch,
  GuacamoleScanner,
  type GuacamoleScannerOptions,
} from '../hotpath/index.ts';
export {
  CloseConnectionReason,
  type CloseReasonInfo,
  closeReasonInfo,
} from '../protocol/close-reason.ts';
export type { RtcConfiguration, RtcDataChannel, RtcPeerConnection } from './dom.ts';
export {
  GuacStatus,
  type GuacStatusLike,
  guacStatusForClose,
  TubeTunnel,
  type TubeTunnelOptions,
  TunnelState,
} from './guacamole-tunnel.ts';
export {
  connectToGateway,
  type GatewayConnectOptions,
  GatewaySession,
  SignallingError,
} from './signalling.ts';
export {
  BrowserTube,
  type BrowserTubeOptions,
  type CloseInfo,
  type ConnectionState,
  TubeClosedError,
  TubeConnection,
  type TubeState,
} from './tube.ts';
