// deploy/compose.yaml: Debian's docker-compose validates it against the Compose schema (`config -q`, no engine
// needed), and the parts have to fit together: the files it mounts exist, nginx's environment fills its template
// exactly, Fapiao trusts nginx's address and nothing else, and the ports nginx and Prometheus use are the listeners'
// ports in the configuration Fapiao is given (read by the server's own config loader).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { enabledListeners, loadConfig } from '../../src/config/config.ts';
import { CidrSet, parseIp } from '../../src/shared/cidr.ts';
import { DEPLOY, missingTool, renderTemplate } from './deploy-helpers.ts';

const COMPOSE = join(DEPLOY, 'compose.yaml');
const PASSWORDS = { FAPIAO_PG_PASSWORD: 'test-only', GRAFANA_ADMIN_PASSWORD: 'test-only' };

interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  networks?: string[] | Record<string, { ipv4_address?: string }>;
  read_only?: boolean;
}
const compose = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  networks: Record<string, { ipam: { config: { subnet: string }[] } }>;
};
const svc = (name: string) => compose.services[name]!;

function composeConfig(file: string, env: Record<string, string>) {
  const { FAPIAO_PG_PASSWORD: _p, GRAFANA_ADMIN_PASSWORD: _g, ...rest } = process.env;
  return spawnSync('docker-compose', ['--project-directory', DEPLOY, '-f', file, 'config', '-q'], { encoding: 'utf8', env: { ...rest, ...env }, timeout: 30_000 });
}

describe('compose.yaml against the Compose schema (docker-compose config)', { skip: missingTool('docker-compose', ['version'], 'apt-get install --no-install-recommends docker-compose') }, () => {
  it('is valid', () => {
    const r = composeConfig(COMPOSE, PASSWORDS);
    assert.equal(r.status, 0, r.stderr);
  });
  it('refuses to run without the passwords, naming them', () => {
    const r = composeConfig(COMPOSE, {});
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /FAPIAO_PG_PASSWORD|GRAFANA_ADMIN_PASSWORD/);
  });
  it('would catch a mistake (the check is not vacuous)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-compose-'));
    try {
      const bad = join(dir, 'compose.yaml');
      writeFileSync(bad, readFileSync(COMPOSE, 'utf8').replace('    read_only: true\n', '    read_only: true\n    restart_policy: always\n'));
      const r = composeConfig(bad, PASSWORDS);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /restart_policy/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compose.yaml parts fit together', () => {
  const configPath = svc('fapiao').volumes!.find((v) => v.includes(':/etc/fapiao/fapiao.config.json'))!.split(':')[0]!;
  const config = loadConfig({ ...svc('fapiao').environment, FAPIAO_CONFIG: resolve(DEPLOY, configPath), FAPIAO_DATA_DIR: '/data', ...PASSWORDS }, DEPLOY);
  const listeners = new Map(enabledListeners(config).map((l) => [l.name, l]));
  const address = (name: string) => (svc(name).networks as Record<string, { ipv4_address?: string }>).fapiao?.ipv4_address;

  it('mounts files that exist', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.')) assert.ok(existsSync(resolve(DEPLOY, source)), `${name}: ${source} does not exist`);
      }
    }
  });

  it('runs Fapiao with a read-only root and every listener bound to 0.0.0.0', () => {
    assert.equal(svc('fapiao').read_only, true);
    for (const l of listeners.values()) assert.equal(l.host, '0.0.0.0', l.name);
  });

  it('fills every placeholder of the nginx template from nginx\'s environment, and no more', () => {
    const { NGINX_ENVSUBST_OUTPUT_DIR: out, ...vars } = svc('nginx').environment!;
    assert.equal(out, '/etc/nginx');
    renderTemplate(readFileSync(join(DEPLOY, 'nginx/nginx.conf.template'), 'utf8'), vars);
  });

  it('points nginx at the listeners\' ports', () => {
    const env = svc('nginx').environment!;
    for (const [name, variable] of [['api', 'FAPIAO_API_UPSTREAM'], ['push', 'FAPIAO_PUSH_UPSTREAM'], ['redirect', 'FAPIAO_REDIRECT_UPSTREAM'], ['partner', 'FAPIAO_PARTNER_UPSTREAM']] as const) {
      assert.equal(env[variable], `fapiao:${listeners.get(name)!.port}`, variable);
    }
  });

  it('trusts nginx\'s fixed address, and only it, for X-Forwarded-For; exempts it from automatic bans', () => {
    const nginx = address('nginx')!;
    const subnet = compose.networks.fapiao!.ipam.config[0]!.subnet;
    assert.ok(new CidrSet([subnet]).has(parseIp(nginx)), `${nginx} outside ${subnet}`);
    assert.deepEqual(config.http.trustedProxies, [nginx]);
    assert.ok(config.abuse.exemptCidrs.includes(nginx));
  });

  it('publishes admin on the host\'s loopback only, and nothing else of Fapiao', () => {
    assert.deepEqual(svc('fapiao').ports, [`127.0.0.1:${listeners.get('admin')!.port}:${listeners.get('admin')!.port}`]);
    for (const name of ['prometheus', 'grafana']) for (const p of svc(name).ports ?? []) assert.match(p, /^127\.0\.0\.1:/, name);
  });

  it('has Prometheus scrape and probe the listeners on their ports', () => {
    const prom = parse(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels?: { listener?: string } }[] }[];
    };
    const job = (n: string) => prom.scrape_configs.find((j) => j.job_name === n)!;
    assert.deepEqual(job('fapiao').static_configs.flatMap((s) => s.targets), [`fapiao:${listeners.get('metrics')!.port}`]);
    const probed = job('fapiao-listeners').static_configs;
    for (const s of probed) assert.deepEqual(s.targets, [`fapiao:${listeners.get(s.labels!.listener!)!.port}`], s.labels!.listener);
    // Every listener but metrics (scraped above) is probed.
    assert.deepEqual(probed.map((s) => s.labels!.listener).sort(), [...listeners.keys()].filter((n) => n !== 'metrics').sort());
    for (const name of ['alertmanager', 'blackbox']) assert.ok(compose.services[name], `service ${name}`);
  });

  it('mounts Grafana\'s dashboards where the provisioning file looks for them', () => {
    const provider = parse(readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/fapiao.yaml'), 'utf8')) as { providers: { options: { path: string } }[] };
    assert.ok(svc('grafana').volumes!.includes(`./grafana/dashboards:${provider.providers[0]!.options.path}:ro`));
  });
});
