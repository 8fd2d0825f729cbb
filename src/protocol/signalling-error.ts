/**
 * An HTTP error of the WHIP-shaped signalling exchange with `tubes gateway` (docs/CLI.md): 401 = wrong token,
 * 403 = another token's session, 413 = body too large, 429 = too many sessions, … Thrown by the CLI's client
 * and by the browser end's `connectToGateway`; platform-neutral.
 */
export class SignallingError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'SignallingError';
    this.status = status;
  }
}
