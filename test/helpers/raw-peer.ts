/**
 * A minimal speaker of our frame protocol for a raw data channel that is not a tube (a stock werift peer, a
 * Chromium page): frame = conn_no u32 BE, timestamp u64 BE, length u32 BE, payload, ';' (0x3b); control
 * messages on conn 0 as code u16 BE + body. It opens connection 1 (OpenConnection, 101), waits for
 * ConnectionOpened (103), sends `payload` on connection 1 in 16 KiB frames and collects what comes back on
 * connection 1 until as many bytes arrived. Other frames (pings, capabilities) are ignored.
 *
 * Self-contained (standard APIs only, no imports, no closures) so that its source can run in a browser page:
 * `new Function(`return ${frameEchoExchange}`)()`.
 */
export interface RawChannel {
  send(bytes: Uint8Array): void;
  /** Registers the handler for every incoming binary message. */
  onMessage(handler: (bytes: Uint8Array) => void): void;
}

export function frameEchoExchange(
  channel: RawChannel,
  payload: Uint8Array,
  timeoutMs: number,
): Promise<{ opened: boolean; echoed: Uint8Array; otherFrames: number }> {
  const frame = (connNo: number, body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(16 + body.length + 1);
    const view = new DataView(out.buffer);
    view.setUint32(0, connNo);
    const ts = Date.now();
    view.setUint32(4, Math.floor(ts / 0x1_0000_0000));
    view.setUint32(8, ts >>> 0);
    view.setUint32(12, body.length);
    out.set(body, 16);
    out[16 + body.length] = 0x3b;
    return out;
  };
  const control = (code: number, connNo: number): Uint8Array => {
    const b = new Uint8Array(6);
    const v = new DataView(b.buffer);
    v.setUint16(0, code);
    v.setUint32(2, connNo);
    return b;
  };
  return new Promise((resolve, reject) => {
    let pending = new Uint8Array(0);
    let opened = false;
    let otherFrames = 0;
    const chunks: Uint8Array[] = [];
    let received = 0;
    const timer = setTimeout(
      () =>
        reject(
          new Error(`frame exchange timed out (opened ${opened}, echoed ${received} of ${payload.length})`),
        ),
      timeoutMs,
    );
    const finish = (): void => {
      clearTimeout(timer);
      const echoed = new Uint8Array(received);
      let at = 0;
      for (const c of chunks) {
        echoed.set(c, at);
        at += c.length;
      }
      resolve({ opened, echoed, otherFrames });
    };
    const onFrame = (connNo: number, body: Uint8Array): void => {
      if (connNo === 0 && body.length >= 6) {
        const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
        if (v.getUint16(0) === 103 && v.getUint32(2) === 1 && !opened) {
          opened = true;
          for (let off = 0; off < payload.length; off += 16384) {
            channel.send(frame(1, payload.subarray(off, Math.min(payload.length, off + 16384))));
          }
          return;
        }
      }
      if (connNo === 1) {
        chunks.push(body.slice());
        received += body.length;
        if (received >= payload.length) finish();
        return;
      }
      otherFrames++;
    };
    channel.onMessage((bytes) => {
      const joined = new Uint8Array(pending.length + bytes.length);
      joined.set(pending, 0);
      joined.set(bytes, pending.length);
      let at = 0;
      while (joined.length - at >= 17) {
        const v = new DataView(joined.buffer, joined.byteOffset + at);
        const length = v.getUint32(12);
        if (joined.length - at < 17 + length) break;
        onFrame(v.getUint32(0), joined.subarray(at + 16, at + 16 + length));
        at += 17 + length;
      }
      pending = joined.slice(at);
    });
    channel.send(frame(0, control(101, 1)));
  });
}

/**
 * The other role, for a raw channel on which a tube opens connections (the tube is the offerer with a local
 * listener): answers OpenConnection (101) with ConnectionOpened (103), echoes every data frame on its
 * connection, and answers SendEOF (104) with SendEOF, so the tube half-closes its TCP side after the echo.
 * Self-contained like frameEchoExchange. Returns a counter of echoed bytes.
 */
export function frameEchoResponder(channel: RawChannel): { echoedBytes: () => number } {
  let pending = new Uint8Array(0);
  let echoed = 0;
  const frame = (connNo: number, body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(16 + body.length + 1);
    const view = new DataView(out.buffer);
    view.setUint32(0, connNo);
    const ts = Date.now();
    view.setUint32(4, Math.floor(ts / 0x1_0000_0000));
    view.setUint32(8, ts >>> 0);
    view.setUint32(12, body.length);
    out.set(body, 16);
    out[16 + body.length] = 0x3b;
    return out;
  };
  const control = (code: number, connNo: number): Uint8Array => {
    const b = new Uint8Array(6);
    const v = new DataView(b.buffer);
    v.setUint16(0, code);
    v.setUint32(2, connNo);
    return b;
  };
  channel.onMessage((bytes) => {
    const joined = new Uint8Array(pending.length + bytes.length);
    joined.set(pending, 0);
    joined.set(bytes, pending.length);
    let at = 0;
    while (joined.length - at >= 17) {
      const v = new DataView(joined.buffer, joined.byteOffset + at);
      const connNo = v.getUint32(0);
      const length = v.getUint32(12);
      if (joined.length - at < 17 + length) break;
      const body = joined.subarray(at + 16, at + 16 + length);
      at += 17 + length;
      if (connNo !== 0) {
        echoed += body.length;
        channel.send(frame(connNo, body));
        continue;
      }
      if (body.length < 6) continue;
      const c = new DataView(body.buffer, body.byteOffset, body.byteLength);
      const code = c.getUint16(0);
      const target = c.getUint32(2);
      if (code === 101) channel.send(frame(0, control(103, target)));
      else if (code === 104) channel.send(frame(0, control(104, target)));
    }
    pending = joined.slice(at);
  });
  return { echoedBytes: () => echoed };
}
