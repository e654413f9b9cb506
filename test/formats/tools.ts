// External tools the format tests use (Debian poppler-utils, zbar-tools). Locally a missing tool skips the test with
// a message; in CI (process.env.CI set) the tools must exist, so a missing one fails the test instead.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

const PACKAGE: Record<string, string> = { pdftoppm: 'poppler-utils', pdftotext: 'poppler-utils', pdfinfo: 'poppler-utils', pdffonts: 'poppler-utils', zbarimg: 'zbar-tools', xmllint: 'libxml2-utils' };

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** True when the tools are present; otherwise skips (locally) or throws (CI). */
export function needTools(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  const msg = `missing ${missing.join(', ')} (apt-get install ${[...new Set(missing.map((m) => PACKAGE[m] ?? m))].join(' ')})`;
  if (process.env.CI) throw new Error(`${msg}: required in CI`);
  t.skip(msg);
  return false;
}

export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** A scratch directory removed after the callback. */
export async function withTmp<T>(fn: (dir: string, write: (name: string, data: Uint8Array | string) => string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-formats-'));
  try {
    return await fn(dir, (name, data) => {
      const p = join(dir, name);
      writeFileSync(p, data);
      return p;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
