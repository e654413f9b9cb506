// `fapiao issue`: a CSV file (one row per invoice line, rows of one externalId grouped) and a JSON Lines file with a
// malformed line are issued through the use cases (no server running), with a result file and a summary; running
// the same file again issues nothing twice.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

const CSV = [
  'externalId,type,issuer,buyer.name,buyer.taxId,line.name,line.taxCode,line.shortName,line.quantity,line.unitPrice,line.amount,line.taxRate',
  'csv-1,normal,张三,杭州买方贸易有限公司,91440300708461136T,软件开发费,3040201000000000000,信息技术服务,1,100.00,100.00,0.13',
  'csv-1,,,,,"维护费, 季度",3040201000000000000,信息技术服务,2,50.00,100.00,0.06',
  'csv-2,normal,张三,"北京""引号""公司",,咨询费,3040201000000000000,信息技术服务,,,300.00,0.06',
  'csv-3,normal,张三,某公司,,咨询费,3040201000000000000,信息技术服务,,,abc,0.06',
].join('\r\n');

describe('fapiao issue', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-e2e-issue-'));
  const env = { FAPIAO_DATA_DIR: dataDir, FAPIAO_SIGNER_THREADS: '1', FAPIAO_LOG_LEVEL: 'warn' };
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('issues a CSV and a JSON Lines file with a result file, and nothing twice when run again', async () => {
    assert.equal((await runCli(['init'], env)).code, 0);
    const created = await runCli(['tenant', 'create', '--name', '测试公司', '--tax-id', '91110000600037341L', '--region', '11', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const { tenant } = JSON.parse(created.stdout) as { tenant: { id: string } };

    const csv = join(dataDir, 'in.csv');
    writeFileSync(csv, CSV);
    const out = join(dataDir, 'out.jsonl');
    const run = await runCli(['issue', csv, '--tenant', tenant.id, '--out', out], env);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^3 invoices: 2 issued, 1 refused/);
    const results = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { externalId: string; line: number; status: string; number?: string; problem?: { code: string } });
    assert.deepEqual(results.map((r) => [r.externalId, r.line, r.status]), [['csv-1', 2, 'issued'], ['csv-2', 4, 'issued'], ['csv-3', 5, 'invalid']]);
    assert.equal(results[2]!.problem!.code, 'AMOUNT_INVALID');

    const jsonl = join(dataDir, 'in.jsonl');
    writeFileSync(jsonl, [JSON.stringify(sampleInvoice({ externalId: 'j-1' })), 'not json', JSON.stringify(sampleInvoice({ externalId: 'j-2' }))].join('\n'));
    const second = await runCli(['issue', jsonl, '--tenant', tenant.id, '--out', out], env);
    assert.match(second.stdout, /^3 invoices: 2 issued, 1 refused/);
    assert.match(second.stdout, /line 2: MALFORMED_JSON/);
    const numbers = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { number?: string }).number);
    const again = await runCli(['issue', jsonl, '--tenant', tenant.id, '--out', out], env);
    assert.match(again.stdout, /^3 invoices: 2 issued/);
    assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { number?: string }).number), numbers, 'the same invoices, none new');
  });
});
