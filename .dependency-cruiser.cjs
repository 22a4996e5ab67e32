/** Dependency rules that keep the architecture honest (CONVENTIONS: dependencies point inward). */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'domain/ holds pure deciders and event types: no I/O and no imports from other folders',
      severity: 'error',
      from: { path: '^domain/' },
      to: { pathNot: '^domain/' },
    },
    {
      name: 'gateway-uses-ports',
      comment: 'the gateway reads read models through their ports and sends commands; it never touches a store or the log directly',
      severity: 'error',
      // gateway/s3 is the embedded object store's own S3-compatible face, so it may know it.
      from: { path: '^gateway/', pathNot: '^gateway/s3/' },
      to: { path: ['(embedded|in-memory|chdb|redis|kafka|clickhouse|typesense|minisearch)', '^node_modules/(chdb|ioredis|kafkajs|minisearch|typesense|@clickhouse)'], pathNot: '^gateway/' },
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
    exclude: { path: '(\\.test\\.ts$|\\.spec\\.ts$|/testing/|^test/)' },
  },
};
