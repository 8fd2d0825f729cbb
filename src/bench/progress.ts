/**
 * The progress line of `tubes bench`, on stderr (stdout stays for the tables or the JSON). On a TTY the
 * current step is redrawn in place with the elapsed time; elsewhere only `log` lines are written, one per
 * finished step, so a log file or CI output gets no control characters.
 */
export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #started = performance.now();
  readonly #prefix: string;
  #current = '';
  #timer: NodeJS.Timeout | undefined;

  constructor(name: string, out: NodeJS.WriteStream = process.stderr, tty = out.isTTY === true) {
    this.#out = out;
    this.#tty = tty;
    this.#prefix = `bench ${name}`;
    if (tty) {
      this.#timer = setInterval(() => this.#draw(), 500);
      this.#timer.unref();
    }
  }

  /** The step running now (TTY: redrawn; otherwise not printed). */
  update(step: string): void {
    this.#current = step;
    if (this.#tty) this.#draw();
  }

  /** A finished step or a note: a line of its own, on every kind of output. */
  log(line: string): void {
    if (this.#tty) this.#out.write('\r\x1b[K');
    this.#out.write(`${line}\n`);
    if (this.#tty) this.#draw();
  }

  /** Clears the line and stops redrawing. */
  done(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) this.#out.write('\r\x1b[K');
  }

  #draw(): void {
    const secs = ((performance.now() - this.#started) / 1000).toFixed(0);
    const cols = this.#out.columns ?? 100;
    const line = `${this.#prefix} [${secs} s] ${this.#current}`;
    this.#out.write(`\r${line.length > cols - 1 ? `${line.slice(0, cols - 2)}…` : line}\x1b[K`);
  }
}
