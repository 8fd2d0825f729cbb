/**
 * Embedded connections in worker mode: the connection (and its TubeStream) lives in the tube's worker, the
 * host's `stream.Duplex` on the registry's thread; stream messages (worker-protocol.ts, `sid`) join them.
 * The calling-thread end is worker-bridge-host.ts, the worker end worker-bridge-entry.ts.
 *
 * Flow control is credit-based, per connection and direction: a sender may have at most BRIDGE_WINDOW bytes
 * unacknowledged (it may overshoot by one chunk); the receiver acknowledges what its consumer took, in
 * batches of BRIDGE_ACK_BATCH (never per chunk). Toward the worker, "taken" means the worker's TubeStream
 * sent it as frames, so a paused connection (congested channel, the peer's FlowPause) stops the host's
 * writes after one window. Toward the host, "taken" means read out of the host's stream, so a host that stops
 * reading stops the acknowledgements, the worker stops reading its TubeStream, and that stream's buffer sends
 * FlowPause to the peer. Neither side buffers more than a window plus a chunk per connection.
 *
 * Data crosses as transferred ArrayBuffers: each chunk is copied once into a buffer of its own (the writer's
 * buffer may be reused or be a slice of a pool, which must not be detached) and that buffer is moved.
 */

/** Bytes a sender may have unacknowledged per connection and direction. */
export const BRIDGE_WINDOW = 1024 * 1024;

/**
 * Acknowledgements go out per this many consumed bytes. Below BRIDGE_WINDOW minus the stream's readable
 * high-water mark (64 KiB), so a consumer that read everything always releases a blocked sender.
 */
export const BRIDGE_ACK_BATCH = 256 * 1024;

/** The bytes of `chunk` in an ArrayBuffer of their own, for a postMessage transfer list. */
export function transferable(chunk: Uint8Array): ArrayBuffer {
  const copy = Buffer.allocUnsafeSlow(chunk.byteLength); // unpooled: its ArrayBuffer is exactly these bytes
  copy.set(chunk);
  return copy.buffer as ArrayBuffer;
}
