// deploy/k8s: the kustomization built as `kubectl kustomize` would (its resources, namespace and images; compared
// with kubectl's own build where kubectl is installed), every object validated against the Kubernetes schemas of
// kubernetes-models, and the listener layout read from the shipped configuration with the real config loader:
// each enabled listener needs a container port, a Service and a NetworkPolicy, and admin and metrics may be reached
// only from namespaces. A listener added to src/config/listeners.ts without its Service and policy fails here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import { enabledListeners, loadConfig, type Config } from '../../src/config/config.ts';
import { DEPLOY } from './deploy-helpers.ts';

const K8S = join(DEPLOY, 'k8s');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}
type Labels = Record<string, string>;
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: object }[];
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: { matchLabels?: Labels } }[];
}
interface Deployment extends Obj { spec: { selector: { matchLabels: Labels }; template: { metadata: { labels: Labels }; spec: PodSpec } } }
interface Service extends Obj { spec: { type?: string; selector?: Labels; externalTrafficPolicy?: string; ports: { port: number; targetPort?: string | number }[] } }
interface Peer { ipBlock?: { cidr: string }; namespaceSelector?: { matchLabels?: Labels }; podSelector?: object }
interface NetworkPolicy extends Obj {
  spec: { podSelector: { matchLabels?: Labels }; policyTypes?: string[]; ingress?: { from?: Peer[]; ports?: { port?: string | number }[] }[] };
}

/** The kustomization's own build: the features it uses, and nothing it does not understand. */
function build(): Obj[] {
  const k = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as {
    namespace?: string; resources: string[]; images?: { name: string; newName?: string; newTag?: string }[];
  } & Record<string, unknown>;
  const known = ['apiVersion', 'kind', 'namespace', 'resources', 'images'];
  for (const key of Object.keys(k)) assert.ok(known.includes(key), `kustomization.yaml: ${key} is not built by this test`);
  const objects = k.resources.flatMap((file) =>
    // YAML 1.1, as Kubernetes reads manifests (sigs.k8s.io/yaml): 0440 is octal there, decimal in YAML 1.2.
    parseAllDocuments(readFileSync(join(K8S, file), 'utf8'), { version: '1.1' }).map((d) => {
      assert.deepEqual(d.errors, [], file);
      return d.toJS() as Obj;
    }),
  );
  for (const o of objects) {
    if (k.namespace === undefined) continue;
    if (o.kind === 'Namespace') o.metadata.name = k.namespace;
    else o.metadata.namespace = k.namespace;
  }
  for (const d of objects.filter((o): o is Deployment => o.kind === 'Deployment')) {
    for (const c of d.spec.template.spec.containers) {
      const image = k.images?.find((i) => i.name === c.image.split(/[:@]/)[0]);
      if (image) c.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
    }
  }
  return objects;
}

// kubernetes-models: one class per apiVersion and kind, each with the JSON schema of its API type.
const MODELS: Record<string, Record<string, unknown>> = { v1: core, 'apps/v1': apps, 'policy/v1': policy, 'networking.k8s.io/v1': networking };
function validate(o: Obj): void {
  const Model = MODELS[o.apiVersion]?.[o.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  assert.ok(Model, `${o.apiVersion} ${o.kind} ${o.metadata.name}: no schema known`);
  new Model(o).validate();
}

const objects = build();
const ofKind = <T extends Obj>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
const deployment = ofKind<Deployment>('Deployment')[0]!;
const pod = deployment.spec.template;
const container = pod.spec.containers[0]!;
const matches = (selector: Labels | undefined, labels: Labels) => selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The configuration the pods read: the ConfigMap file that FAPIAO_CONFIG names, loaded by the server's loader. */
function podConfig(extra: (file: Record<string, unknown>) => void = () => {}): Readonly<Config> {
  const env = Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  const path = env.FAPIAO_CONFIG!;
  const mount = container.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
  const volume = pod.spec.volumes!.find((v) => v.name === mount.name)!;
  const map = ofKind<Obj & { data: Record<string, string> }>('ConfigMap').find((c) => c.metadata.name === volume.configMap?.name);
  assert.ok(map, `FAPIAO_CONFIG ${path} is not on a ConfigMap volume`);
  const file = JSON.parse(map.data[path.slice(mount.mountPath.length + 1)]!) as Record<string, unknown>;
  extra(file);
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-k8s-'));
  try {
    writeFileSync(join(dir, 'fapiao.config.json'), JSON.stringify(file));
    return loadConfig({ ...env, FAPIAO_CONFIG: join(dir, 'fapiao.config.json') }, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What is missing for each enabled listener to be served and fenced in the pods. */
function layoutProblems(config: Readonly<Config>): string[] {
  const problems: string[] = [];
  const labels = pod.metadata.labels;
  const ports = container.ports ?? [];
  const listeners = enabledListeners(config);
  const names = (p: string | number | undefined, l: { name: string; port: number }) => p === l.name || p === l.port;
  for (const l of listeners) {
    if (l.host !== '0.0.0.0' && l.host !== '::') problems.push(`${l.name}: binds ${l.host}, unreachable from outside the pod`);
    if (!ports.some((p) => p.name === l.name && p.containerPort === l.port)) problems.push(`${l.name}: no container port ${l.name}=${l.port}`);
    const services = ofKind<Service>('Service').filter((s) => matches(s.spec.selector, labels) && s.spec.ports.some((p) => names(p.targetPort, l)));
    if (services.length === 0) problems.push(`${l.name}: no Service`);
    const rules = ofKind<NetworkPolicy>('NetworkPolicy')
      .filter((n) => matches(n.spec.podSelector.matchLabels, labels) && (n.spec.policyTypes ?? []).includes('Ingress'))
      .flatMap((n) => n.spec.ingress ?? [])
      .filter((r) => (r.ports ?? []).some((p) => names(p.port, l)));
    if (rules.length === 0) problems.push(`${l.name}: no NetworkPolicy`);
    if (l.groups.includes('admin') || l.groups.includes('metrics')) {
      for (const r of rules) {
        const ok = r.from !== undefined && r.from.length > 0 && r.from.every((p) => p.namespaceSelector?.matchLabels && !p.ipBlock && !p.podSelector);
        if (!ok) problems.push(`${l.name}: reachable from outside its namespaces`);
      }
      for (const s of services) if (s.spec.type && s.spec.type !== 'ClusterIP') problems.push(`${l.name}: Service of type ${s.spec.type}`);
    }
  }
  for (const p of ports) {
    if (!listeners.some((l) => l.name === p.name && l.port === p.containerPort)) problems.push(`container port ${p.name}=${p.containerPort}: no listener`);
  }
  for (const s of ofKind<Service>('Service')) {
    for (const p of s.spec.ports) if (!ports.some((c) => c.name === p.targetPort || c.containerPort === p.targetPort)) problems.push(`Service ${s.metadata.name}: targetPort ${p.targetPort} is no container port`);
  }
  return problems;
}

describe('Kubernetes manifests', () => {
  it('every object is valid against its Kubernetes schema', () => {
    assert.ok(objects.length >= 15);
    for (const o of objects) validate(o);
  });

  it('the schemas do catch a bad manifest', () => {
    const bad = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
    bad.spec.replicas = 'three';
    assert.throws(() => validate(bad as unknown as Obj), /replicas/);
    const svc = structuredClone(ofKind<Service>('Service')[0]!);
    delete (svc.spec.ports[0] as { port?: number }).port;
    assert.throws(() => validate(svc), /port/);
  });

  it('matches the build of kubectl kustomize', { skip: spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0 ? false : 'kubectl not installed: it is optional, the build above stands in for it' }, () => {
    const r = spawnSync('kubectl', ['kustomize', K8S], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const key = (o: Obj) => `${o.kind}/${o.metadata.name}`;
    const theirs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).sort((a, b) => key(a).localeCompare(key(b)));
    const ours = [...objects].sort((a, b) => key(a).localeCompare(key(b)));
    assert.deepEqual(ours, theirs);
  });

  it('serves every enabled listener with a container port, a Service and a NetworkPolicy', () => {
    const config = podConfig();
    assert.deepEqual(enabledListeners(config).map((l) => l.name).sort(), ['admin', 'api', 'metrics', 'partner', 'push', 'redirect']);
    assert.deepEqual(layoutProblems(config), []);
  });

  it('fails a listener that has no Service or NetworkPolicy', () => {
    const config = podConfig((f) => {
      (f.listeners as Record<string, unknown>).reports = { host: '0.0.0.0', port: 7443, groups: ['query'] };
    });
    assert.deepEqual(layoutProblems(config), ['reports: no container port reports=7443', 'reports: no Service', 'reports: no NetworkPolicy']);
  });

  it('probes the metrics listener: /healthz for liveness and start-up, /readyz for readiness', () => {
    const metrics = podConfig().listeners.metrics;
    const metricsPort = container.ports!.find((p) => p.containerPort === metrics.port)!.name;
    assert.deepEqual(container.livenessProbe?.httpGet, { path: '/healthz', port: metricsPort });
    assert.deepEqual(container.startupProbe?.httpGet, { path: '/healthz', port: metricsPort });
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: metricsPort });
  });

  it('runs as the image\'s non-root user with a read-only root, no privileges and no capabilities', () => {
    const uid = Number(/^ARG FAPIAO_UID=(\d+)$/m.exec(readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8'))![1]);
    assert.equal(pod.spec.securityContext?.runAsNonRoot, true);
    assert.equal(pod.spec.securityContext?.runAsUser, uid);
    assert.deepEqual(pod.spec.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
    const sc = container.securityContext!;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities?.drop, ['ALL']);
    // The only writable place is the data directory, on an emptyDir.
    const data = container.volumeMounts!.find((m) => m.mountPath === '/data')!;
    assert.ok(pod.spec.volumes!.find((v) => v.name === data.name)?.emptyDir);
    for (const m of container.volumeMounts!) if (m.mountPath !== '/data') assert.equal(m.readOnly, true, m.mountPath);
    for (const r of ['requests', 'limits'] as const) {
      assert.ok(container.resources?.[r]?.cpu && container.resources[r].memory, `resources.${r}`);
    }
  });

  it('spreads the pods and keeps a disruption budget over the same pods', () => {
    const labels = pod.metadata.labels;
    assert.ok(matches(deployment.spec.selector.matchLabels, labels));
    const keys = (pod.spec.topologySpreadConstraints ?? []).map((t) => {
      assert.ok(matches(t.labelSelector?.matchLabels, labels));
      return t.topologyKey;
    });
    assert.deepEqual(keys.sort(), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    const [pdb] = ofKind<Obj & { spec: { minAvailable?: number; selector: { matchLabels: Labels } } }>('PodDisruptionBudget');
    assert.ok(pdb && matches(pdb.spec.selector.matchLabels, labels));
    assert.ok(pdb.spec.minAvailable! < (deployment.spec as { replicas?: number }).replicas!, 'a budget of every replica blocks every drain');
  });

  it('reads the master key and admin token from Secrets that ship without data, and refuses to start without them', () => {
    const secrets = ofKind<Obj & { data?: object; stringData?: object }>('Secret');
    for (const s of secrets) assert.ok(s.data === undefined && s.stringData === undefined, `${s.metadata.name} ships a value`);
    for (const name of ['FAPIAO_MASTER_KEY', 'FAPIAO_ADMIN_TOKEN']) {
      const ref = container.env!.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
      assert.ok(ref, `${name} is not read from a Secret`);
      assert.ok(secrets.some((s) => s.metadata.name === ref.name), `${name}: Secret ${ref.name} is not in the kustomization`);
      assert.notEqual(ref.optional, true, `${name} must not be optional`);
    }
  });

  it('mounts every file the configuration names', () => {
    const config = podConfig();
    const files = enabledListeners(config).flatMap((l) => [l.tlsFiles?.cert, l.tlsFiles?.key, l.mtls?.clientCa]).filter((f) => f !== undefined);
    assert.ok(files.length > 0);
    for (const f of files) assert.ok(container.volumeMounts!.some((m) => f.startsWith(`${m.mountPath}/`)), `${f} is on no volume`);
  });
});
