#!/usr/bin/env node
// The CLI entry. It runs the compiled build (dist/, from `npm run build`, which `npm ci` runs through `prepare`) when
// that build is complete and no source is newer than it; otherwise it runs the TypeScript sources through tsx's
// loader, so `npx fapiao` works in a checkout without a build and an edited source is never shadowed by a stale build.
// FAPIAO_RUN=dist or FAPIAO_RUN=src forces one (the test suite runs the sources; FAPIAO_RUN=dist fails without a build).
import { readFileSync, readdirSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const mode = process.env.FAPIAO_RUN ?? 'auto';
if (!['auto', 'dist', 'src'].includes(mode)) {
  process.stderr.write(`fapiao: FAPIAO_RUN must be auto, dist or src, not ${JSON.stringify(mode)}\n`);
  process.exit(2);
}

/** Start time of the last complete build, or undefined without one. */
function builtAt() {
  try {
    return JSON.parse(readFileSync(new URL('dist/build.json', root), 'utf8')).startedAt;
  } catch {
    return undefined;
  }
}

/** True when some file under src/ (tests aside) or a tsconfig changed after `since`; false without sources. */
function sourcesNewer(since) {
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    for (const e of entries) {
      const p = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
      if (e.isDirectory() ? walk(p) : !e.name.endsWith('.test.ts') && statSync(p).mtimeMs > since) return true;
    }
    return false;
  };
  const changed = (f) => {
    try {
      return statSync(new URL(f, root)).mtimeMs > since;
    } catch {
      return false;
    }
  };
  return changed('tsconfig.json') || changed('tsconfig.build.json') || walk(new URL('src/', root));
}

const at = builtAt();
let useDist = mode === 'dist';
if (mode === 'dist' && at === undefined) {
  process.stderr.write('fapiao: FAPIAO_RUN=dist but dist/ holds no complete build; run `npm run build`\n');
  process.exit(2);
}
if (mode === 'auto' && at !== undefined) {
  useDist = !sourcesNewer(at);
  if (!useDist) process.stderr.write('fapiao: src/ is newer than dist/, running the sources (`npm run build` to refresh)\n');
}

if (useDist) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
