// Progress on stderr for commands that take a while before they can answer (loading the sources, opening and
// migrating the database, connecting to listeners). Only on a terminal: one line with a spinner, erased before the
// command prints its result, so stdout stays exactly the answer and a cron job or a pipe sees nothing extra.
// Work that reports counts as it goes (`keys rotate-data --wait`) uses `progressLine`, which also writes to logs.

/** What progress needs of a stream: process.stderr, or a test's stand-in. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface Progress {
  /** Replaces the text, e.g. from "opening database" to "verifying the audit chain". */
  update(text: string): void;
  /** Erases the line; safe to call more than once. */
  done(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 100;
/** Erase the whole line and return to its start (ECMA-48 §8.3.41 EL, CSI 2 K). */
const CLEAR = '\r\x1b[2K';

/** Starts a spinner with `text…` on a terminal; elsewhere a no-op. */
export function startProgress(text: string, stream: ProgressStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, done() {} };
  let frame = 0;
  let current = text;
  let active = true;
  const draw = () => stream.write(`${CLEAR}${FRAMES[frame++ % FRAMES.length]} ${current}…`);
  draw();
  // unref: a spinner never keeps the process alive on its own.
  const timer = setInterval(draw, FRAME_MS);
  timer.unref();
  return {
    update(next: string) {
      if (!active) return;
      current = next;
      draw();
    },
    done() {
      if (!active) return;
      active = false;
      clearInterval(timer);
      stream.write(CLEAR);
    },
  };
}

/** A step of long work: one rewritten line on a terminal, a line per step otherwise (logs, CI). */
export function progressLine(text: string, stream: ProgressStream = process.stderr): void {
  if (stream.isTTY) stream.write(`${CLEAR}${text}`);
  else stream.write(`${text}\n`);
}

/** Ends a run of `progressLine`s on a terminal (moves past the rewritten line). */
export function endProgressLine(stream: ProgressStream = process.stderr): void {
  if (stream.isTTY) stream.write('\n');
}

/** Runs `fn` with a progress line up (on a terminal), erased when it settles; `fn` must print nothing itself. */
export async function withProgress<T>(text: string, fn: () => Promise<T>, stream: ProgressStream = process.stderr): Promise<T> {
  const progress = startProgress(text, stream);
  try {
    return await fn();
  } finally {
    progress.done();
  }
}

/** A meter for work that counts (pages, bytes): silent for its first second, then a line at most every 500 ms. */
export interface Meter {
  tick(text: string): void;
  /** Ends the meter's line if it printed any. */
  end(): void;
}

export function startMeter(stream: ProgressStream = process.stderr, now: () => number = Date.now): Meter {
  const started = now();
  let last = 0;
  let printed = false;
  return {
    tick(text: string) {
      const t = now();
      if (t - started < 1000 || t - last < 500) return;
      last = t;
      printed = true;
      progressLine(text, stream);
    },
    end() {
      if (printed) endProgressLine(stream);
      printed = false;
    },
  };
}
