/** SDP crosses the public API as standard base64 of the UTF-8 text (docs/ORIGINAL.md, “The host API”). */
import { ErrorCode, TubesError } from '../errors.ts';

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes base64 SDP. `what` names the input in the error, as the original's messages do. */
export function decodeSdpBase64(input: unknown, what = 'SDP'): string {
  if (typeof input !== 'string') {
    throw new TubesError(ErrorCode.BAD_SDP_BASE64, `Failed to decode ${what} from base64: not a string`);
  }
  const compact = input.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !base64Pattern.test(compact)) {
    throw new TubesError(ErrorCode.BAD_SDP_BASE64, `Failed to decode ${what} from base64: invalid base64`);
  }
  const text = Buffer.from(compact, 'base64').toString('utf8');
  if (!text.startsWith('v=0')) {
    throw new TubesError(
      ErrorCode.BAD_SDP,
      `Failed to decode ${what} from base64: decoded text is not an SDP`,
    );
  }
  return text;
}

export function encodeSdpBase64(sdp: string): string {
  return Buffer.from(sdp, 'utf8').toString('base64');
}

/** The address field of an ICE candidate line (`candidate:<f> <c> <proto> <prio> <addr> <port> typ …`). */
export function candidateAddress(candidate: string): string | undefined {
  const body = candidate.startsWith('a=') ? candidate.slice(2) : candidate;
  const fields = body.split(' ');
  return fields.length >= 8 ? fields[4] : undefined;
}

/** Drops `a=candidate` lines whose address the predicate rejects. */
export function filterSdpCandidates(sdp: string, keep: (address: string) => boolean): string {
  return sdp
    .split('\r\n')
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const address = candidateAddress(line);
      return address !== undefined && keep(address);
    })
    .join('\r\n');
}
