/**
 * The SCTP receive guard (src/webrtc/patches/sctp-receive-guard.ts): fails when werift's internals move,
 * and proves a hostile peer's DCEP ACK for an unknown stream or an unknown payload protocol id no longer
 * becomes an unhandled rejection (which would end the process).
 */

import { afterEach, describe, expect, it } from 'vitest';
import { RTCPeerConnection, RTCSctpTransport } from 'werift';
import { TubeRegistry } from '../../src/index.ts';
import { droppedSctpMessages, installSctpReceiveGuard } from '../../src/webrtc/patches/sctp-receive-guard.ts';
import { installedWeriftVersion, PINNED_WERIFT_VERSION } from '../../src/webrtc/patches/version.ts';
import { decodeSdpBase64, encodeSdpBase64 } from '../../src/webrtc/sdp.ts';
import { echoServer, LOOPBACK, waitFor } from '../helpers/tubes.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('werift internals the guard relies on', () => {
  it('is the pinned version with the expected shape', () => {
    expect(installedWeriftVersion()).toBe(PINNED_WERIFT_VERSION);
    expect(installSctpReceiveGuard()).toEqual({ active: true });
    const proto = RTCSctpTransport.prototype as unknown as Record<string, unknown>;
    expect(typeof proto['setDtlsTransport']).toBe('function');
    expect((proto['setDtlsTransport'] as () => void).name).toBe('guardedSetDtlsTransport');
  });
});

describe('a hostile peer at the SCTP layer', () => {
  it('a DCEP ACK for an unknown stream and an unknown PPID are dropped; the tube keeps working', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const rejections: unknown[] = [];
    const onRejection = (r: unknown): void => void rejections.push(r);
    process.on('unhandledRejection', onRejection);
    cleanups.push(() => process.off('unhandledRejection', onRejection));

    const gateway = new TubeRegistry(LOOPBACK);
    cleanups.push(() => gateway.cleanupAll());
    const raw = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      iceFilterCandidatePair: (pair) => pair.remoteCandidate.host === '127.0.0.1',
    });
    cleanups.push(() => raw.close());
    const dc = raw.createDataChannel('hostile');
    let tubeId = '';
    const early: string[] = [];
    raw.onIceCandidate.subscribe((c) => {
      if (!c?.candidate?.includes(' 127.0.0.1 ')) return;
      if (tubeId) void gateway.addIceCandidate(tubeId, c.candidate);
      else early.push(c.candidate);
    });
    await raw.setLocalDescription(await raw.createOffer());
    const r = await gateway.createTube({
      conversationId: 'hostile',
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
      trickleIce: true,
      offer: encodeSdpBase64(raw.localDescription?.sdp ?? ''),
      onSignal: (s) => {
        if (s.kind === 'icecandidate' && s.data) void raw.addIceCandidate({ candidate: s.data, sdpMid: '0' });
      },
    });
    tubeId = r.tubeId;
    for (const c of early) await gateway.addIceCandidate(tubeId, c);
    await raw.setRemoteDescription({ type: 'answer', sdp: decodeSdpBase64(r.answer as string) });
    await waitFor(() => dc.readyState === 'open', 10_000, 'hostile channel open');

    const before = droppedSctpMessages();
    const sctp = (
      raw.sctpTransport as unknown as { sctp: { send(s: number, p: number, d: Buffer): Promise<void> } }
    ).sctp;
    await sctp.send(999, 50, Buffer.from([0x02])); // DCEP ACK (50 = WebRTC DCEP) for a stream nobody opened
    await sctp.send(dc.id, 99, Buffer.from('odd ppid')); // unknown payload protocol id on a real channel
    await waitFor(() => droppedSctpMessages() >= before + 2, 5000, 'both dropped');
    await new Promise((res) => setTimeout(res, 100));
    expect(rejections).toEqual([]);
    expect(gateway.getTubeStatus(tubeId)).toBe('ready');
  });
});
