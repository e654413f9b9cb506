// Runs the official EN 16931 (CEN) and Peppol BIS Billing 3.0 schematron rules, as XSLT under Debian's Saxon-HE, on
// a set of UBL documents at once (one JVM per rule set: compiling a rule set takes seconds, applying it milliseconds).
// The rules and their sources: test/fixtures/validators/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const SAXON_JAR = '/usr/share/java/Saxon-HE.jar';
const RULES = join(import.meta.dirname, '../fixtures/validators');
export const RULE_SETS = {
  cen: { xslt: join(RULES, 'EN16931-UBL-validation.xslt'), failOn: ['fatal'] },
  peppol: { xslt: join(RULES, 'peppol-PEPPOL-EN16931-UBL.xslt'), failOn: ['fatal', 'error'] },
} as const;

export function hasSaxon(): boolean {
  return existsSync(SAXON_JAR) && spawnSync('sh', ['-c', 'command -v java']).status === 0;
}

export interface Assert { id: string; flag: string; text: string; location: string }

/** Failed asserts per document name and rule set, for documents written to `dir` (name → XML). */
export function runSchematron(dir: string, docs: Record<string, string>): Record<string, Record<keyof typeof RULE_SETS, Assert[]>> {
  const inDir = join(dir, 'in');
  mkdirSync(inDir, { recursive: true });
  for (const [name, xml] of Object.entries(docs)) writeFileSync(join(inDir, `${name}.xml`), xml);
  const out: Record<string, Record<keyof typeof RULE_SETS, Assert[]>> = {};
  for (const [set, rules] of Object.entries(RULE_SETS)) {
    const outDir = join(dir, `svrl-${set}`);
    mkdirSync(outDir, { recursive: true });
    const r = spawnSync('java', ['-cp', SAXON_JAR, 'net.sf.saxon.Transform', `-s:${inDir}`, `-xsl:${rules.xslt}`, `-o:${outDir}`],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`Saxon (${set}) failed: ${r.stderr}`);
    for (const f of readdirSync(outDir)) {
      const name = f.replace(/\.xml$/, '');
      (out[name] ??= { cen: [], peppol: [] })[set as keyof typeof RULE_SETS] = failedAsserts(readFileSync(join(outDir, f), 'utf8'));
    }
  }
  return out;
}

/** The `svrl:failed-assert` elements of an SVRL report. */
export function failedAsserts(svrl: string): Assert[] {
  const found: Assert[] = [];
  const re = /<svrl:failed-assert\b([^>]*)>([\s\S]*?)<\/svrl:failed-assert>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(svrl))) {
    const attr = (n: string): string => new RegExp(`\\b${n}="([^"]*)"`).exec(m![1]!)?.[1] ?? '';
    const text = /<svrl:text>([\s\S]*?)<\/svrl:text>/.exec(m[2]!)?.[1]?.trim() ?? '';
    found.push({ id: attr('id'), flag: attr('flag'), text, location: attr('location') });
  }
  return found;
}

export function blocking(set: keyof typeof RULE_SETS, asserts: Assert[]): Assert[] {
  return asserts.filter((a) => (RULE_SETS[set].failOn as readonly string[]).includes(a.flag));
}
