/**
 * Trickle ICE SDP fragments (`application/trickle-ice-sdpfrag`, RFC 8840) as the HTTP signalling uses
 * them: a fragment carries `a=candidate:` lines and, at the end of gathering, `a=end-of-candidates`.
 * Our candidate strings are the `candidate:…` attribute values (the `icecandidate` signal's data);
 * `''` stands for the end of candidates, as in `addIceCandidate`.
 */
import { ErrorCode, TubesError } from '../errors.ts';

/** Candidates per fragment, at most (a fragment is one HTTP body, bounded anyway). */
export const MAX_FRAGMENT_CANDIDATES = 256;

/** The fragment for these candidates (`''` = end of candidates). */
export function encodeSdpFrag(candidates: readonly string[], mid = '0'): string {
  const lines = ['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', `a=mid:${mid}`];
  for (const c of candidates) lines.push(c === '' ? 'a=end-of-candidates' : `a=${c}`);
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * The candidates of a fragment, in order (`''` for `a=end-of-candidates`). Other attribute lines
 * (ufrag, pwd, mid, the m-line) are accepted and ignored; a line that is not SDP is an error.
 */
export function decodeSdpFrag(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (!/^[a-z]=/.test(line)) {
      throw new TubesError(ErrorCode.BAD_SDP, `Not an SDP fragment line: ${line.slice(0, 80)}`);
    }
    if (line.startsWith('a=candidate:')) out.push(line.slice(2));
    else if (line === 'a=end-of-candidates') out.push('');
    if (out.length > MAX_FRAGMENT_CANDIDATES) {
      throw new TubesError(
        ErrorCode.BAD_SDP,
        `More than ${MAX_FRAGMENT_CANDIDATES} candidates in one fragment`,
      );
    }
  }
  return out;
}

/** Appends candidate lines to an SDP with one media section (ours: the data channel). */
export function withCandidates(sdp: string, candidates: readonly string[]): string {
  if (candidates.length === 0) return sdp;
  const body = sdp.endsWith('\r\n') ? sdp : `${sdp}\r\n`;
  return `${body + candidates.map((c) => (c === '' ? 'a=end-of-candidates' : `a=${c}`)).join('\r\n')}\r\n`;
}
