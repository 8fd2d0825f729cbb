/**
 * werift's SCTP data-channel receive handler is an async function subscribed to an event whose promise
 * nobody awaits. Two inputs a peer controls make it throw: a DCEP ACK for a stream with no channel
 * ("channel not found") and a message with an unknown payload protocol id. The rejection is then unhandled,
 * which ends a Node process under the default `--unhandled-rejections=throw`: a remote peer could crash the
 * host with one packet. We wrap the handler, per transport, before werift subscribes it, so such input is
 * dropped (and counted) instead.
 *
 * Installed once on the prototype; guarded by the werift version and by the exact shape it relies on.
 */
import { RTCSctpTransport } from 'werift';
import { installedWeriftVersion, PINNED_WERIFT_VERSION } from './version.ts';

type Receive = (streamId: number, ppId: number, data: Buffer) => Promise<void> | void;

interface SctpTransportShape {
  datachannelReceive?: Receive;
  __tubesGuarded?: boolean;
}

let installed: boolean | undefined;
let dropped = 0;

/** How many hostile or malformed SCTP messages werift would have turned into unhandled rejections. */
export function droppedSctpMessages(): number {
  return dropped;
}

/**
 * Returns true when the guard is active. Refuses (false, with `reason`) when werift's version or shape
 * differs from what this patch was written against.
 */
export function installSctpReceiveGuard(): { active: boolean; reason?: string } {
  if (installed !== undefined)
    return installed ? { active: true } : { active: false, reason: 'refused earlier' };
  const version = installedWeriftVersion();
  const proto = RTCSctpTransport.prototype as unknown as Record<string, unknown>;
  const original = proto['setDtlsTransport'];
  if (version !== PINNED_WERIFT_VERSION) {
    installed = false;
    return { active: false, reason: `werift ${version} is not ${PINNED_WERIFT_VERSION}` };
  }
  if (typeof original !== 'function' || original.length !== 1) {
    installed = false;
    return { active: false, reason: 'RTCSctpTransport.prototype.setDtlsTransport has changed shape' };
  }
  proto['setDtlsTransport'] = function guardedSetDtlsTransport(this: SctpTransportShape, dtls: unknown) {
    const receive = this.datachannelReceive;
    if (typeof receive === 'function' && !this.__tubesGuarded) {
      this.__tubesGuarded = true;
      this.datachannelReceive = (streamId, ppId, data) => {
        try {
          const result = receive.call(this, streamId, ppId, data);
          if (result && typeof (result as Promise<void>).catch === 'function') {
            return (result as Promise<void>).catch(() => {
              dropped++;
            });
          }
          return result;
        } catch {
          dropped++;
          return undefined;
        }
      };
    }
    return (original as (this: unknown, d: unknown) => unknown).call(this, dtls);
  };
  installed = true;
  return { active: true };
}
