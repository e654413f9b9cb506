// Summarises a .cpuprofile (node --cpu-prof): self time by package or file, and by function.
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [rows] [from-to]
// `from-to`: only the samples between `from` and `to` seconds after the profile started (bench/reads.ts prints the
// window of each measured run), e.g. `12.5-22.5`, so start-up and set-up are left out.
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const n = Number(process.argv[3] ?? 25);
const [from, to] = (process.argv[4] ?? '0-Infinity').split('-').map((x) => Number(x) * 1e6);
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const self = new Map();
const dt = p.timeDeltas; let total = 0;
let at = 0;
p.samples.forEach((id, i) => {
  at += dt[i] ?? 0;
  if (at < from || at > to) return;
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
  total += dt[i] ?? 0;
});
const fn = new Map(), file = new Map();
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  const k = `${cf.functionName || '(anon)'} ${cf.url.replace(/.*node_modules\//, 'nm:').replace(/.*\/(src|dist)\//, '$1/')}:${cf.lineNumber}`;
  fn.set(k, (fn.get(k) ?? 0) + t);
  let f = cf.url.includes('node_modules/') ? 'nm:' + cf.url.split('node_modules/').pop().split('/').slice(0, cf.url.split('node_modules/').pop().startsWith('@') ? 2 : 1).join('/') : cf.url.replace(/.*\/(src|dist)\//, '$1/') || cf.functionName;
  file.set(f, (file.get(f) ?? 0) + t);
}
console.log(`total ${(total / 1000).toFixed(0)} ms`);
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${(t / 1000).toFixed(1).padStart(8)} ms ${(100 * t / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log('--- by package/file\n' + top(file));
console.log('--- by function\n' + top(fn));
