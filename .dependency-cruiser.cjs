/**
 * Dependency rules between the wings (docs/adr/0003-platform-wing-and-one-write-side.md): every
 * wing may import only the wings listed for it, dependencies point inward, and no rule has a
 * per-path exception. Checked by test/architecture.test.ts on every source file outside tests,
 * test helpers (`/testing/`) and benches.
 *
 *   domain       pure deciders, events, commands, the view rule: imports nothing of ours
 *   platform     the log, the object store, file helpers: knows nothing of StreamWave's domain
 *   schemas      topics, Avro schemas, codec, schema registry: domain, platform
 *   commands     the write side: domain, schemas, platform
 *   processors   the topology runtimes and the transcoder: domain, schemas, platform, commands
 *   projections  read models: domain, schemas, platform, processors
 *   gateway      the HTTP API: domain, and the PORTS of commands, processors, projections, platform
 *   deploy       composition roots (standalone, cluster roles): everything above
 *   cli          the command line: everything above and deploy
 */
const WINGS = ['domain', 'platform', 'schemas', 'commands', 'processors', 'projections', 'gateway', 'deploy', 'cli'];
const MAY_IMPORT = {
  domain: [],
  platform: [],
  schemas: ['domain', 'platform'],
  commands: ['domain', 'schemas', 'platform'],
  processors: ['domain', 'schemas', 'platform', 'commands'],
  projections: ['domain', 'schemas', 'platform', 'processors'],
  gateway: ['domain', 'commands', 'processors', 'projections', 'platform'],
  deploy: ['domain', 'platform', 'schemas', 'commands', 'processors', 'projections', 'gateway'],
  cli: ['domain', 'platform', 'schemas', 'commands', 'processors', 'projections', 'gateway', 'deploy'],
};
/** Wings that may import adapters of other wings: the composition roots. */
const COMPOSITION_ROOTS = ['deploy', 'cli'];

const wingRules = WINGS.map((wing) => ({
  name: `${wing}-imports-only-${MAY_IMPORT[wing].join('-') || 'itself'}`,
  comment: `${wing}/ may import ${MAY_IMPORT[wing].length ? MAY_IMPORT[wing].join(', ') : 'nothing of ours but itself'} (and node_modules)`,
  severity: 'error',
  from: { path: `^${wing}/` },
  to: { path: `^(${[...WINGS, 'test', 'bench'].join('|')})/`, pathNot: [`^${wing}/`, ...MAY_IMPORT[wing].map((w) => `^${w}/`)] },
}));

module.exports = {
  forbidden: [
    ...wingRules,
    {
      name: 'gateway-uses-ports',
      comment: 'the gateway reads read models through their ports and sends commands through the command-bus port; it never touches a store, the log or a runtime',
      severity: 'error',
      from: { path: '^gateway/' },
      to: { path: '^(commands|processors|projections|platform)/', pathNot: '\\.port\\.ts$' },
    },
    {
      name: 'adapters-only-in-composition-roots',
      comment: 'an adapter is chosen by deploy/ or cli/; other wings see only its port (a wing may use its own adapters)',
      severity: 'error',
      from: { path: '^([^/]+)/', pathNot: [`^(${COMPOSITION_ROOTS.join('|')})/`] },
      to: { path: '\\.adapter\\.ts$', pathNot: '^$1/' },
    },
    {
      name: 'no-test-code-in-sources',
      comment: 'sources never import tests, test helpers or benches',
      severity: 'error',
      from: {},
      to: { path: ['(^|/)testing/', '^test/', '^bench/', '\\.test\\.ts$', '\\.contract\\.ts$'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(\\.test\\.ts$|\\.spec\\.ts$|\\.contract\\.ts$|(^|/)testing/|^test/|^bench/)' },
  },
};
