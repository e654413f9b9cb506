// Collects every field error of a request so that the caller sees all of them at once: one AppError (with the code of
// the first error) whose `errors` list names each field at fault by JSON Pointer (RFC 6901; docs/design.md §4, invariant 9).
import { AppError, type ErrorCode, type FieldError } from './errors.ts';

export class FieldErrors {
  readonly list: FieldError[] = [];

  add(code: ErrorCode, path: string, message: string): void {
    this.list.push({ path, code, message });
  }

  /** Runs `fn`; an AppError it throws is recorded (its field errors, or one entry at `path`) and undefined returned. */
  capture<T>(path: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      if (e.errors && e.errors.length > 0) this.list.push(...e.errors);
      else this.add(e.code, path, e.message);
      return undefined;
    }
  }

  get count(): number {
    return this.list.length;
  }

  throwIfAny(): void {
    const first = this.list[0];
    if (first) throw new AppError(first.code, { detail: first.message, errors: this.list });
  }
}

/** Length in Unicode code points: a Chinese character counts as one, as on the platform's forms. */
export function textLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
