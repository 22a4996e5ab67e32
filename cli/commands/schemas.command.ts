/**
 * `streamwave schemas list|register|diff|check`: the event schemas of `schemas/` against any
 * Confluent-compatible registry (`--registry URL`; standalone serves one at `<server>/registry`),
 * and offline gates: `schemas check --baseline-git <ref>` against the schemas of one git commit,
 * `schemas check --history` against every version in the repository's git history (what CI runs).
 * Exit codes: 0 ok, 1 incompatible / registration refused, 2 bad usage.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  checkAgainstBaseline, createRegistryHttpClient, diffRecordSchemas, formatFieldChange, hasIncompatible, localSubjectSchemas,
  readDirSchemaFiles, readGitSchemaFiles, readGitSchemaHistory, RegistryHttpError, subjectSchemasOfFiles, type SubjectCheck, type SubjectSchema,
} from './schema-tools.ts';
import { SCHEMA_REGISTRY_PASSWORD_FILE } from '../../deploy/config/config.ts';
import { readPassword } from '../client/password-input.ts';

/**
 * Credentials of the registry's write API (issue 8): user from --registry-username
 * (STREAMWAVE_SCHEMA_REGISTRY_USERNAME, default `streamwave`); password from --password-stdin,
 * STREAMWAVE_SCHEMA_REGISTRY_PASSWORD, the standalone server's generated
 * `<data dir>/schema-registry.password`, or a prompt on a terminal. None found: no credentials
 * (the registry answers 401 and the command exits 1).
 */
async function registryCredentials(opts: { registryUsername: string; passwordStdin?: boolean; dataDir: string }) {
  const file = join(resolve(opts.dataDir), SCHEMA_REGISTRY_PASSWORD_FILE);
  const fromFile = !opts.passwordStdin && !process.env.STREAMWAVE_SCHEMA_REGISTRY_PASSWORD && existsSync(file)
    ? readFileSync(file, 'utf8').trim() : undefined;
  const password = fromFile ?? await readPassword({
    fromStdin: opts.passwordStdin, envVar: 'STREAMWAVE_SCHEMA_REGISTRY_PASSWORD',
    prompt: `schema registry password for ${opts.registryUsername}`, optional: true,
  });
  return password === undefined ? undefined : { username: opts.registryUsername, password };
}

const registryOption = (cmd: Command) =>
  cmd.option('-r, --registry <url>', 'schema registry URL (standalone: <server>/registry)', process.env.STREAMWAVE_SCHEMA_REGISTRY_URL);

const needRegistry = (url: string | undefined): string => {
  if (!url) {
    console.error('--registry <url> is required (or STREAMWAVE_SCHEMA_REGISTRY_URL)');
    process.exit(2);
  }
  return url;
};

function printChecks(checks: SubjectCheck[]): void {
  for (const c of checks) {
    const mark = c.status === 'incompatible' || c.status === 'removed' ? 'FAIL' : 'ok  ';
    console.log(`${mark} ${c.subject}: ${c.status}`);
    for (const ch of c.changes) console.log(`       ${formatFieldChange(ch)}`);
    if (c.status === 'incompatible' || c.status === 'removed') for (const m of c.messages) console.log(`       reason: ${m}`);
  }
}

export function registerSchemasCommand(program: Command): void {
  const schemas = program.command('schemas').description('event schemas vs a Confluent-compatible schema registry, or vs a git commit');

  registryOption(schemas.command('list').description('subjects with their latest version and schema id')).action(async (opts: { registry?: string }) => {
    const client = createRegistryHttpClient(needRegistry(opts.registry));
    const subjects = (await client.subjects()).sort();
    const rows = await Promise.all(subjects.map(async (s) => {
      const v = await client.latest(s);
      return [s, String(v?.version ?? '-'), String(v?.id ?? '-')];
    }));
    const w = [Math.max(7, ...rows.map((r) => r[0].length)), 7];
    console.log(`${'SUBJECT'.padEnd(w[0])}  ${'VERSION'.padEnd(w[1])}  ID`);
    for (const r of rows) console.log(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2]}`);
    console.log(`${subjects.length} subject(s)`);
  });

  registryOption(schemas.command('register').description('register every event and command schema under its subject (<topic>-<record full name>); needs the registry\'s write credentials'))
    .option('--registry-username <name>', 'registry user (HTTP Basic)', process.env.STREAMWAVE_SCHEMA_REGISTRY_USERNAME || 'streamwave')
    .option('--password-stdin', 'read the registry password from standard input (else STREAMWAVE_SCHEMA_REGISTRY_PASSWORD, else <data-dir>/schema-registry.password, else a prompt)')
    .option('--data-dir <dir>', 'standalone data dir holding the generated schema-registry.password', process.env.STREAMWAVE_DATA_DIR ?? './data')
    .action(async (opts: { registry?: string; registryUsername: string; passwordStdin?: boolean; dataDir: string }) => {
    const client = createRegistryHttpClient(needRegistry(opts.registry), fetch, await registryCredentials(opts));
    let failed = 0;
    for (const s of localSubjectSchemas()) {
      try {
        console.log(`${s.subject}: id ${await client.register(s.subject, s.schemaText)}`);
      } catch (e) {
        failed++;
        console.error(`${s.subject}: ${(e as Error).message}`);
      }
    }
    if (failed) process.exitCode = 1;
  });

  registryOption(schemas.command('diff').description('per subject: local schema vs the registry\'s latest (added/removed/changed fields)')).action(async (opts: { registry?: string }) => {
    const client = createRegistryHttpClient(needRegistry(opts.registry));
    for (const s of localSubjectSchemas()) {
      const remote = await client.latest(s.subject);
      if (!remote) { console.log(`${s.subject}: not registered (new)`); continue; }
      const changes = diffRecordSchemas(remote.schema, s.schemaText);
      console.log(`${s.subject} (registry v${remote.version}, id ${remote.id}): ${changes.length ? `${changes.length} change(s)` : 'no field changes'}`);
      for (const c of changes) console.log(`    ${formatFieldChange(c)}`);
    }
  });

  registryOption(schemas.command('check').description('check local schemas for compatibility (registry, or --baseline-git <ref> offline); exit 1 when any is incompatible'))
    .option('--baseline-git <ref>', 'offline: check the working tree\'s schemas against those at this git ref under BACKWARD_TRANSITIVE')
    .option('--history', 'offline: check the working tree\'s schemas against every version in the git history (each commit that changed schemas/); fails on a shallow clone')
    .option('--repo <dir>', 'git working tree holding schemas/ (default: the repository of the current directory)')
    .action(async (opts: { registry?: string; baselineGit?: string; history?: boolean; repo?: string }) => {
      if (opts.baselineGit || opts.history) {
        const repo = opts.repo ?? execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
        let baseline: SubjectSchema[];
        let against: string;
        try {
          if (opts.history) {
            const h = readGitSchemaHistory(repo);
            baseline = h.schemas;
            against = `every schema version in the git history (${h.commits.length} commit(s): ${h.commits.join(', ')})`;
          } else {
            baseline = subjectSchemasOfFiles(readGitSchemaFiles(opts.baselineGit!, repo));
            against = opts.baselineGit!;
          }
        } catch (e) {
          console.error(`no baseline: ${(e as Error).message}`);
          process.exitCode = 1;
          return;
        }
        // Both sides are read the same (lenient) way: this gate is about compatibility only.
        const checks = checkAgainstBaseline(subjectSchemasOfFiles(readDirSchemaFiles(repo)), baseline);
        printChecks(checks);
        const bad = hasIncompatible(checks);
        console.log(bad ? `incompatible schema change(s) against ${against}` : `all schemas compatible with ${against} (BACKWARD_TRANSITIVE)`);
        if (bad) process.exitCode = 1;
        return;
      }
      const client = createRegistryHttpClient(needRegistry(opts.registry));
      const checks: SubjectCheck[] = [];
      for (const s of localSubjectSchemas()) {
        try {
          const r = await client.checkLatest(s.subject, s.schemaText);
          checks.push({ subject: s.subject, status: r.compatible ? 'compatible' : 'incompatible', messages: r.messages, changes: [] });
        } catch (e) {
          if (e instanceof RegistryHttpError && e.status === 422) {
            checks.push({ subject: s.subject, status: 'incompatible', messages: [e.message], changes: [] });
          } else throw e;
        }
      }
      printChecks(checks);
      if (hasIncompatible(checks)) process.exitCode = 1;
    });
}
