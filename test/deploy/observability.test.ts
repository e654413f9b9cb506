// deploy/prometheus and deploy/grafana checked by the real tools and against a real server: promtool checks the
// scrape configuration and the alert rules and runs the rules' unit tests; amtool checks the Alertmanager example;
// the blackbox exporter checks its modules; and every metric named by an alert rule or a dashboard panel must be
// one the server exports (or one of the few that Prometheus and the blackbox exporter make themselves).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parse } from 'yaml';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { DEPLOY, missingTool } from './deploy-helpers.ts';
import { pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';

const PROM = join(DEPLOY, 'prometheus');

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: PROM, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Prometheus configuration, rules and their unit tests (promtool)', { skip: missingTool('promtool', ['--version'], 'apt-get install prometheus') }, () => {
  it('promtool check config accepts prometheus.yml and the rule files it names', () => {
    const r = run('promtool', ['check', 'config', 'prometheus.yml']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS: 1 rule files found/);
  });
  it('promtool check rules accepts the alert rules', () => {
    const r = run('promtool', ['check', 'rules', 'rules/fapiao.rules.yml']);
    assert.equal(r.status, 0, r.out);
  });
  it('promtool test rules passes, with a test for every alert', () => {
    const r = run('promtool', ['test', 'rules', 'tests/fapiao.rules.test.yml']);
    assert.equal(r.status, 0, r.out);
    const tests = parse(readFileSync(join(PROM, 'tests/fapiao.rules.test.yml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const fired = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const silent = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
    for (const name of alertNames()) {
      assert.ok(fired.has(name), `no unit test makes ${name} fire`);
      assert.ok(silent.has(name), `no unit test checks that ${name} stays silent`);
    }
  });
});

describe('Alertmanager routing example (amtool)', { skip: missingTool('amtool', ['--version'], 'apt-get install prometheus-alertmanager') }, () => {
  it('amtool check-config accepts alertmanager.yml', () => {
    const r = run('amtool', ['check-config', 'alertmanager.yml']);
    assert.equal(r.status, 0, r.out);
  });
});

describe('blackbox exporter modules', { skip: missingTool('prometheus-blackbox-exporter', ['--version'], 'apt-get install prometheus-blackbox-exporter') }, () => {
  it('prometheus-blackbox-exporter --config.check accepts blackbox.yml, and the modules prometheus.yml uses exist', () => {
    const r = run('prometheus-blackbox-exporter', ['--config.check', '--config.file', 'blackbox.yml']);
    assert.equal(r.status, 0, r.out);
    const modules = Object.keys((parse(readFileSync(join(PROM, 'blackbox.yml'), 'utf8')) as { modules: object }).modules);
    const prom = parse(readFileSync(join(PROM, 'prometheus.yml'), 'utf8')) as { scrape_configs: { static_configs: { labels?: { module?: string } }[] }[] };
    const used = prom.scrape_configs.flatMap((j) => j.static_configs.map((s) => s.labels?.module)).filter((m) => m !== undefined);
    assert.ok(used.length > 0);
    for (const m of used) assert.ok(modules.includes(m), `module ${m} is not in blackbox.yml`);
  });
});

type Rules = { groups: { rules: { alert?: string; expr: string }[] }[] };
const rules = () => parse(readFileSync(join(PROM, 'rules/fapiao.rules.yml'), 'utf8')) as Rules;
const alertNames = () => new Set(rules().groups.flatMap((g) => g.rules.map((r) => r.alert).filter((a) => a !== undefined)));

type Panel = { title: string; type: string; datasource?: { uid: string }; targets?: { expr: string }[] };
const dashboard = () => JSON.parse(readFileSync(join(DEPLOY, 'grafana/dashboards/fapiao.json'), 'utf8')) as { uid: string; panels: Panel[] };

/** Metric names made by something else than Fapiao, with what makes them. */
const EXTERNAL: Record<string, string> = {
  up: 'Prometheus, for every scrape target',
  probe_success: 'the blackbox exporter (prometheus.yml, job fapiao-listeners)',
  probe_ssl_earliest_cert_expiry: 'the blackbox exporter (prometheus.yml, job fapiao-listeners)',
};

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or durations. */
export function metricNames(expr: string): Set<string> {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\w+/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![a-zA-Z0-9_:]|\s*\()/g)) {
    if (!PROMQL_WORDS.has(m[1]!.toLowerCase())) names.add(m[1]!);
  }
  return names;
}

/** Exported only by a server on PostgreSQL; checked against one when PostgreSQL answers (always in CI). */
const POSTGRES_ONLY = new Set(['fapiao_db_server_start_time_seconds']);

describe('metric names in the alert rules and the dashboard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-metrics-'));
  const pgDir = mkdtempSync(join(tmpdir(), 'fapiao-metrics-pg-'));
  let s: Spawned;
  let onPg: Spawned | undefined;
  let pgDb: PgTestDatabase | undefined;
  const exported = new Set<string>();

  before(async () => {
    s = await spawnServer(dir);
    pgDb = await pgTestUrl();
    if (pgDb) onPg = await spawnServer(pgDir, { FAPIAO_DATABASE_URL: pgDb.url });
    for (const server of [s, onPg]) if (server) await readExported(server);
    if (!onPg) for (const name of POSTGRES_ONLY) exported.add(name);
  });

  async function readExported(server: Spawned): Promise<void> {
    const scrape = async () => {
      const res = await request(`${server.urls.get('metrics')}/metrics`);
      assert.equal(res.statusCode, 200);
      return res.body.text();
    };
    await scrape();
    // Text exposition format: `# TYPE name type` for every metric, samples or not; a histogram's samples are
    // name_bucket, name_sum and name_count, a summary's name, name_sum and name_count.
    for (const line of (await scrape()).split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) {
        const [, name, kind] = type as unknown as [string, string, string];
        exported.add(name);
        if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
        if (kind === 'summary') for (const suffix of ['_sum', '_count']) exported.add(name + suffix);
      } else if (line && !line.startsWith('#')) {
        exported.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
      }
    }
  }
  after(async () => {
    await s?.stop();
    await onPg?.stop();
    await pgDb?.drop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(pgDir, { recursive: true, force: true });
  });

  it('reads names out of PromQL, not functions, labels or durations', () => {
    assert.deepEqual(
      [...metricNames('histogram_quantile(0.99, sum by (listener, le) (rate(a_bucket{route!="/v1/events",x=~"b|c"}[5m]))) > 0.5 and on(job) b_total offset 1h / ignoring(x) c:rec')],
      ['a_bucket', 'b_total', 'c:rec'],
    );
    assert.deepEqual([...metricNames('probe_ssl_earliest_cert_expiry - time() < 30 * 86400')], ['probe_ssl_earliest_cert_expiry']);
  });

  const check = (where: string, exprs: string[]) => {
    const used = new Set(exprs.flatMap((e) => [...metricNames(e)]));
    assert.ok(used.size > 0, `${where}: no metric found`);
    for (const name of used) {
      if (name.startsWith('fapiao_')) assert.ok(exported.has(name), `${where} uses ${name}, which the server does not export`);
      else assert.ok(name in EXTERNAL, `${where} uses ${name}, neither exported by the server nor a known external metric`);
    }
    return used;
  };

  it('the server exports what it is known by', () => {
    for (const name of ['fapiao_http_requests_total', 'fapiao_http_request_duration_seconds_bucket', 'fapiao_invoices_issued_total', 'fapiao_process_cpu_seconds_total']) {
      assert.ok(exported.has(name), name);
    }
  });

  it('every metric of the alert rules exists', () => {
    const used = check('rules/fapiao.rules.yml', rules().groups.flatMap((g) => g.rules.map((r) => r.expr)));
    assert.ok(used.has('fapiao_http_requests_total'));
  });

  it('every metric of the dashboard exists, and every panel queries the provisioned datasource', () => {
    const panels = dashboard().panels.filter((p) => p.type !== 'row');
    const provisioned = parse(readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as { datasources: { uid: string }[] };
    for (const p of panels) {
      assert.ok(p.targets && p.targets.length > 0, `panel "${p.title}" has no query`);
      assert.equal(p.datasource?.uid, provisioned.datasources[0]!.uid, `panel "${p.title}"`);
    }
    const used = check('grafana/dashboards/fapiao.json', panels.flatMap((p) => p.targets!.map((t) => t.expr)));
    for (const name of ['fapiao_invoices_issued_total', 'fapiao_http_request_duration_seconds_bucket', 'fapiao_event_streams']) assert.ok(used.has(name), name);
  });
});
