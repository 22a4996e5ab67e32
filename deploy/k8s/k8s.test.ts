/**
 * deploy/k8s/*.yaml, validated without a cluster: every manifest against the Kubernetes OpenAPI
 * schema of its kind (npm `kubernetes-models`: the model class of its apiVersion/kind, then
 * `.validate()`), and for what would break a rollout: a role without its Deployment, probes that
 * do not ask /health/live and /health/ready on the container's port, missing resources, a
 * ConfigMap or Secret key that is not there, an environment loadConfig or startRole would refuse
 * (ROLE_SECRETS, servers), a second registry, a Service that selects no pod.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { PLACEHOLDER, roleEnvProblems, rolePort, SPLIT_ROLES, type SplitRole } from '../testing/role-env.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The model class of each apiVersion/kind the manifests may use. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

interface Manifest { file: string; apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown }

const files = readdirSync(here).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const manifests: Manifest[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(here, file), 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], file);
    return { ...(d.toJS() as Omit<Manifest, 'file'>), file } as Manifest;
  }));
const ofKind = <T>(kind: string) => manifests.filter((m) => m.kind === kind) as unknown as Array<Manifest & T>;

interface DeploymentDoc {
  spec: {
    replicas: number;
    strategy?: { type: string };
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { containers: IContainer[]; volumes?: Array<Record<string, unknown> & { name: string }>; terminationGracePeriodSeconds?: number } };
  };
}
const configMaps = new Map(ofKind<{ data: Record<string, string> }>('ConfigMap').map((c) => [c.metadata.name, c.data]));
const secrets = new Map(ofKind<{ stringData: Record<string, string> }>('Secret').map((s) => [s.metadata.name, s.stringData]));
const deploymentOf = (role: SplitRole) => {
  const d = ofKind<DeploymentDoc>('Deployment').find((x) => x.metadata.name === `streamwave-${role}`);
  assert.ok(d, `no Deployment streamwave-${role}`);
  return d;
};
const containerOf = (role: SplitRole) => deploymentOf(role).spec.template.spec.containers[0]!;

/** The environment the container gets: envFrom ConfigMaps/Secrets, then env (values and key refs resolved). */
function resolvedEnv(c: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const source = from.configMapRef ? configMaps.get(from.configMapRef.name!) : secrets.get(from.secretRef!.name!);
    assert.ok(source, `envFrom ${JSON.stringify(from)} names no manifest`);
    Object.assign(env, source);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const cm = e.valueFrom?.configMapKeyRef;
    const sk = e.valueFrom?.secretKeyRef;
    if (cm) {
      const v = configMaps.get(cm.name!)?.[cm.key];
      assert.ok(v !== undefined, `${e.name}: ConfigMap ${cm.name} has no key ${cm.key}`);
      env[e.name] = v;
    }
    if (sk) {
      const v = secrets.get(sk.name!)?.[sk.key];
      assert.ok(v !== undefined, `${e.name}: Secret ${sk.name} has no key ${sk.key}`);
      env[e.name] = v;
    }
  }
  return env;
}

/** Container fields of the Kubernetes API: the schema lets unknown ones through, so a typo would pass `.validate()`. */
const CONTAINER_FIELDS = new Set(['name', 'image', 'imagePullPolicy', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'resizePolicy', 'restartPolicy', 'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'terminationMessagePath', 'terminationMessagePolicy', 'securityContext', 'stdin', 'stdinOnce', 'tty']);
const PROBE_FIELDS = new Set(['httpGet', 'tcpSocket', 'exec', 'grpc', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold', 'successThreshold', 'terminationGracePeriodSeconds']);

describe('deploy/k8s manifests', () => {
  test('every manifest is valid for its kind (kubernetes-models .validate())', () => {
    assert.ok(manifests.length >= 8, `only ${manifests.length} manifests`);
    for (const m of manifests) {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      assert.ok(Model, `${m.file}: no model for ${m.apiVersion}/${m.kind}`);
      const { file: _file, ...data } = m;
      assert.doesNotThrow(() => new Model(data as never).validate(), `${m.file}: ${m.kind} ${m.metadata.name}`);
    }
  });

  test('the validation bites: a probe port that is not a port, or a CPU request that is no quantity, fails it', () => {
    const d = structuredClone(deploymentOf('gateway')) as Manifest & DeploymentDoc;
    const { file: _file, ...data } = d;
    data.spec.template.spec.containers[0]!.resources = { requests: { cpu: 'lots' } };
    assert.throws(() => new Deployment(data as never).validate());
    const e = structuredClone(data);
    e.spec.template.spec.containers[0]!.ports = [{ containerPort: 'http' as never }];
    assert.throws(() => new Deployment(e as never).validate());
  });

  test('kustomization.yaml lists every manifest file but the placeholder Secret (apply -k never installs placeholders)', () => {
    const k = parseAllDocuments(readFileSync(join(here, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    assert.deepEqual([...k.resources].sort(), files.filter((f) => f !== 'secret.yaml'));
    assert.ok(files.includes('secret.yaml'));
  });

  test('a Deployment per role runs `streamwave run <role>`; no unknown container or probe field', () => {
    for (const role of SPLIT_ROLES) {
      const d = deploymentOf(role);
      const c = containerOf(role);
      assert.deepEqual(c.args, ['run', role]);
      assert.equal(c.image, 'streamwave', 'the image kustomization.yaml rewrites');
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v, `${role}: selector ${k}`);
      for (const k of Object.keys(c)) assert.ok(CONTAINER_FIELDS.has(k), `${role}: unknown container field ${k}`);
      for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
        for (const k of Object.keys(p ?? {})) assert.ok(PROBE_FIELDS.has(k), `${role}: unknown probe field ${k}`);
      }
    }
  });

  test('liveness asks /health/live, readiness /health/ready, on the port the role listens on (STREAMWAVE_PORT)', () => {
    for (const role of SPLIT_ROLES) {
      const c = containerOf(role);
      const port = rolePort(resolvedEnv(c));
      const portOf = (p: IProbe | undefined) => {
        const named = p?.httpGet?.port;
        return typeof named === 'string' ? c.ports?.find((x) => x.name === named)?.containerPort : named;
      };
      assert.equal(c.livenessProbe?.httpGet?.path, '/health/live', role);
      assert.equal(c.readinessProbe?.httpGet?.path, '/health/ready', role);
      assert.equal(c.startupProbe?.httpGet?.path, '/health/live', role);
      for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.equal(portOf(p), port, `${role}: probe port`);
    }
  });

  test('every container has CPU and memory requests and limits, requests ≤ limits', () => {
    const quantity = (q: string | number) => {
      const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?$/.exec(String(q));
      assert.ok(m, `quantity ${q}`);
      return Number(m[1]) * ({ m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] as 'm'] ?? 1);
    };
    for (const role of SPLIT_ROLES) {
      const r = containerOf(role).resources;
      for (const k of ['cpu', 'memory']) {
        assert.ok(r?.requests?.[k] !== undefined && r?.limits?.[k] !== undefined, `${role}: ${k} request and limit`);
        assert.ok(quantity(r.requests[k]!) <= quantity(r.limits[k]!), `${role}: ${k} request above its limit`);
      }
    }
  });

  test("each role's environment (ConfigMap + Secret + env) starts that role: loadConfig accepts it, ROLE_SECRETS and servers set", () => {
    for (const role of SPLIT_ROLES) assert.deepEqual(roleEnvProblems(role, resolvedEnv(containerOf(role))), [], role);
  });

  test('the check bites: a role given a server URL without its credentials is refused', () => {
    const env = resolvedEnv(containerOf('registry'));
    assert.match(roleEnvProblems('registry', { ...env, STREAMWAVE_TYPESENSE_URL: 'http://typesense:8108' }).join('\n'), /TYPESENSE_API_KEY is required/);
  });

  test('the registry runs once and never twice during a rollout; the others scale', () => {
    const r = deploymentOf('registry');
    assert.equal(r.spec.replicas, 1);
    assert.equal(r.spec.strategy?.type, 'Recreate');
    for (const role of ['commands', 'projector', 'transcoder', 'gateway'] as const) assert.ok(deploymentOf(role).spec.replicas >= 1, role);
  });

  test('roles share no disk: the data dir and /tmp are emptyDir, no claim; pods stop within their grace period', () => {
    for (const role of SPLIT_ROLES) {
      const spec = deploymentOf(role).spec.template.spec;
      for (const v of spec.volumes ?? []) assert.deepEqual(Object.keys(v).filter((k) => k !== 'name'), ['emptyDir'], `${role}: volume ${v.name}`);
      const env = resolvedEnv(containerOf(role));
      const mounts = containerOf(role).volumeMounts ?? [];
      assert.ok(mounts.some((m) => m.mountPath === env.STREAMWAVE_DATA_DIR), `${role}: data dir ${env.STREAMWAVE_DATA_DIR} is not a mounted volume`);
      if (containerOf(role).securityContext?.readOnlyRootFilesystem) assert.ok(mounts.some((m) => m.mountPath === '/tmp'), `${role}: read-only root without /tmp`);
      const shutdown = Number(env.STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS ?? 30);
      assert.ok((spec.terminationGracePeriodSeconds ?? 30) > shutdown, `${role}: grace period ≤ ${shutdown} s`);
    }
  });

  test('the gateway and registry Services select their pods and target a named container port; the registry URL points at its Service', () => {
    const services = ofKind<{ spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> } }>('Service');
    for (const role of ['gateway', 'registry'] as const) {
      const s = services.find((x) => x.metadata.name === `streamwave-${role}`);
      assert.ok(s, `no Service for ${role}`);
      const d = deploymentOf(role);
      for (const [k, v] of Object.entries(s.spec.selector)) assert.equal(d.spec.template.metadata.labels[k], v, `${role}: selector ${k}`);
      const names = (containerOf(role).ports ?? []).map((p) => p.name);
      for (const p of s.spec.ports) assert.ok(typeof p.targetPort === 'string' && names.includes(p.targetPort), `${role}: targetPort ${p.targetPort}`);
    }
    const registry = services.find((x) => x.metadata.name === 'streamwave-registry')!;
    const url = new URL(resolvedEnv(containerOf('gateway')).STREAMWAVE_SCHEMA_REGISTRY_URL!);
    assert.equal(url.hostname, 'streamwave-registry');
    assert.equal(Number(url.port), registry.spec.ports[0]!.port);
  });

  test('the Secret holds placeholders only', () => {
    for (const [name, data] of secrets) {
      for (const [k, v] of Object.entries(data)) assert.match(v.replace(/^redis:\/\/:/, ''), PLACEHOLDER, `${name}.${k}`);
    }
  });
});
