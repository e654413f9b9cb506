#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ with tsconfig.build.json (tsc rewrites the sources' `.ts` import
// specifiers to `.js`), then writes dist/build.json, which bin/fapiao.js compares with the sources' times to decide
// whether dist/ is current. `--if-possible` (npm's `prepare`, run by `npm ci`) skips quietly where no build can
// happen: TypeScript not installed (`npm ci --omit=dev`) or no sources (a container stage holding only package.json);
// bin/fapiao.js then runs the sources through tsx.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const ifPossible = process.argv.includes('--if-possible');
const skip = (why) => {
  if (!ifPossible) {
    console.error(`build: ${why}`);
    process.exit(1);
  }
  console.error(`build skipped: ${why}; bin/fapiao.js will run the sources through tsx`);
  process.exit(0);
};

if (!existsSync(join(root, 'src')) || !existsSync(join(root, 'tsconfig.build.json'))) skip('no sources to compile');
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  skip('TypeScript is not installed (a development dependency)');
}

const startedAt = Date.now();
const dist = join(root, 'dist');
// A clean output: a source deleted since the last build must not leave its compiled file behind.
rmSync(dist, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(dist, { recursive: true, force: true });
  console.error('build failed');
  process.exit(r.status ?? 1);
}
mkdirSync(dist, { recursive: true });
// Written last: its presence means the build completed. startedAt, not the end: a source saved during the build is newer.
writeFileSync(join(dist, 'build.json'), `${JSON.stringify({ startedAt, node: process.version }, null, 2)}\n`);
console.error(`built dist/ in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
