// Bytes → lines, chunk by chunk, holding at most one line (bounded by `maxLineBytes`) however large the upload. LF
// or CRLF ends a line; a UTF-8 byte-order mark at the start is dropped; a line that is not UTF-8 or is too long is
// handed on as such, with its number, instead of stopping the upload.

export type SplitLine = { lineNo: number; text: string } | { lineNo: number; error: string };

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private overlong = false;
  private lineNo = 0;
  private first = true;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly maxLineBytes: number) {}

  /** The lines ended in this chunk. */
  *push(chunk: Buffer): Generator<SplitLine> {
    let start = 0;
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) start = 3;
    }
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) {
        this.hold(chunk.subarray(start));
        return;
      }
      this.hold(chunk.subarray(start, nl));
      yield this.take();
      start = nl + 1;
    }
  }

  /** The last line, when the upload does not end with a line break. */
  *end(): Generator<SplitLine> {
    if (this.held > 0 || this.overlong) yield this.take();
  }

  private hold(bytes: Buffer): void {
    if (bytes.length === 0 || this.overlong) return;
    if (this.held + bytes.length > this.maxLineBytes + 1) {
      // +1 leaves room for the CR of a CRLF; past the limit the rest of the line is skipped, not held.
      this.overlong = true;
      this.parts = [];
      this.held = 0;
      return;
    }
    this.parts.push(Buffer.from(bytes));
    this.held += bytes.length;
  }

  private take(): SplitLine {
    this.lineNo += 1;
    const lineNo = this.lineNo;
    if (this.overlong) {
      this.overlong = false;
      return { lineNo, error: `the line is longer than ${this.maxLineBytes} bytes` };
    }
    let line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
    this.parts = [];
    this.held = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.maxLineBytes) return { lineNo, error: `the line is longer than ${this.maxLineBytes} bytes` };
    try {
      return { lineNo, text: this.decoder.decode(line) };
    } catch {
      return { lineNo, error: 'the line is not UTF-8' };
    }
  }
}
