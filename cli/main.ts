/**
 * `streamwave` CLI: `start` runs standalone mode; `register`, `upload` and `sample` are the
 * creator's tools (they use the same HTTP client as the end-to-end tests); `replay`, `topics` and
 * `schemas` are the ops tools (cli/commands/).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { spawnSync } from 'node:child_process';
import { StreamWaveClient, ApiError } from './client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from './client/upload-file.ts';
import { registerReplayCommand } from './commands/replay.command.ts';
import { registerStoryboardsCommand } from './commands/storyboards.command.ts';
import { registerTopicsCommand } from './commands/topics.command.ts';
import { registerUploadsCommand } from './commands/uploads.command.ts';
import { registerSchemasCommand } from './commands/schemas.command.ts';
import { PASSWORD_ARGUMENT_REFUSED, PasswordInputError, readPassword, USAGE_EXIT_CODE } from './client/password-input.ts';

/** Exits 2 with PASSWORD_ARGUMENT_REFUSED (issue 8: never a password on the command line). */
function refusePasswordArgument(): never {
  console.error(PASSWORD_ARGUMENT_REFUSED);
  process.exit(USAGE_EXIT_CODE);
}
import { registerLogCommand } from './commands/log.command.ts';
import { registerMigrateCommand } from './commands/migrate.command.ts';

const program = new Command();
program.name('streamwave').description('StreamWave video platform backend').showHelpAfterError();

const serverOption = (cmd: Command) =>
  cmd.option('-s, --server <url>', 'gateway URL', process.env.STREAMWAVE_URL ?? `http://127.0.0.1:${process.env.STREAMWAVE_PORT ?? 8080}`);

/** Validated configuration from STREAMWAVE_* variables; exits 2 naming the bad variable. */
async function loadConfigOrExit() {
  const { loadConfig } = await import('../deploy/config/config.ts');
  try {
    return loadConfig();
  } catch (e) {
    console.error(`invalid configuration: ${(e as Error).message}`);
    process.exit(2);
  }
}

/**
 * Graceful stop on SIGINT/SIGTERM: HTTP first, then consumers, then the log (each service's `stop`);
 * exit 1 when it fails or passes STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS (deploy/shared/shutdown.ts).
 */
async function stopOnSignals(service: { stop(): Promise<void> }, config: { shutdownTimeoutSeconds: number; logLevel: string }, name: string): Promise<void> {
  const [{ exitOnSignals }, { pino }] = await Promise.all([import('../deploy/shared/shutdown.ts'), import('pino')]);
  exitOnSignals(service, { timeoutSeconds: config.shutdownTimeoutSeconds, logger: pino({ name: 'streamwave', level: config.logLevel }), name });
}

program
  .command('start')
  .description('run standalone mode: every role in one process, embedded adapters, data on disk (STREAMWAVE_DATA_DIR)')
  .action(async () => {
    const { startStandalone } = await import('../deploy/standalone/standalone.ts');
    const config = await loadConfigOrExit();
    await stopOnSignals(await startStandalone(config), config, 'standalone');
  });

// Cluster mode: one role per process on Kafka; see deploy/cluster/roles.ts.
program
  .command('run')
  .description('run one cluster-mode role on Kafka (STREAMWAVE_KAFKA_BROKERS): registry | projector | transcoder | gateway | all')
  .argument('<role>', 'registry, projector, transcoder, gateway or all')
  .action(async (role: string) => {
    const { startRole, isClusterRole, CLUSTER_ROLES } = await import('../deploy/cluster/roles.ts');
    if (!isClusterRole(role)) {
      console.error(`unknown role ${role}; one of ${CLUSTER_ROLES.join(', ')}`);
      process.exit(2);
    }
    const config = await loadConfigOrExit();
    await stopOnSignals(await startRole(role, config), config, `role ${role}`);
  });

serverOption(
  program
    .command('register')
    .description('create an account; the password comes from --password-stdin, STREAMWAVE_PASSWORD or a prompt, never an argument')
    .argument('<username>')
    .argument('<email>')
    // Accepted only to be refused with a clear message (exit 2) instead of commander's generic one.
    .argument('[password]')
    .option('--password-stdin', 'read the password from standard input'),
).action(async (username: string, email: string, passwordArg: string | undefined, opts: { server: string; passwordStdin?: boolean }) => {
  if (passwordArg !== undefined) refusePasswordArgument();
  const password = (await readPassword({ fromStdin: opts.passwordStdin, envVar: 'STREAMWAVE_PASSWORD', prompt: `password for ${username}` }))!;
  const client = new StreamWaveClient(opts.server);
  const r = await client.register(username, email, password);
  console.log(`registered ${username} (${r.id})`);
});

const parseTags = (v: string) => {
  const tags = v.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags.length > 20) throw new InvalidArgumentError('at most 20 tags');
  return tags;
};

serverOption(
  program
    .command('upload')
    .description('log in, upload a video (resuming an interrupted upload of the same file), wait for processing, print the playback URL')
    .argument('<file>', 'video file')
    .requiredOption('-t, --title <title>', 'video title')
    .option('-d, --description <text>', 'description', '')
    .option('--tags <a,b,c>', 'comma-separated tags', parseTags, [] as string[])
    .addOption(new Option('--visibility <v>', 'public: listed; unlisted: playable by link only; private: you only').choices(['public', 'unlisted', 'private']).default('public'))
    .option('-u, --username <name>', 'account (or STREAMWAVE_USERNAME)', process.env.STREAMWAVE_USERNAME)
    .option('-p, --password <password>', 'refused: a password argument is visible in ps and shell history (exit 2)')
    .option('--password-stdin', 'read the password from standard input (else STREAMWAVE_PASSWORD, else a prompt)')
    .option('--no-wait', 'return once the upload is complete, without waiting for processing'),
).action(async (file: string, opts: { server: string; title: string; description: string; tags: string[]; visibility: 'public' | 'unlisted' | 'private'; username?: string; password?: string; passwordStdin?: boolean; wait: boolean }) => {
  if (opts.password !== undefined) refusePasswordArgument();
  if (!opts.username) {
    console.error('upload needs --username (or STREAMWAVE_USERNAME)');
    process.exit(USAGE_EXIT_CODE);
  }
  const password = (await readPassword({ fromStdin: opts.passwordStdin, envVar: 'STREAMWAVE_PASSWORD', prompt: `password for ${opts.username}` }))!;
  const client = new StreamWaveClient(opts.server);
  await client.login(opts.username, password);
  const bar = new SingleBar({ format: 'upload     [{bar}] {percentage}% | {value}/{total} MiB | {eta}s left', hideCursor: true }, Presets.shades_classic);
  const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
  let started = false;
  const up = await uploadFile(client, file, {
    title: opts.title,
    description: opts.description,
    tags: opts.tags,
    visibility: opts.visibility,
    onProgress: (sent, total) => {
      if (!started) { bar.start(mib(total), mib(sent)); started = true; }
      bar.update(mib(sent));
    },
  });
  bar.stop();
  console.log(`${up.resumed ? 'resumed and completed' : 'uploaded'} ${file} as video ${up.videoId}`);
  if (!opts.wait) return;
  const pbar = new SingleBar({ format: 'processing [{bar}] {percentage}% | {status}', hideCursor: true }, Presets.shades_classic);
  pbar.start(100, 0, { status: 'uploaded' });
  const final = await waitForProcessing(client, up.videoId, { onStatus: (s) => pbar.update(s.progress, { status: s.status }) });
  pbar.stop();
  if (final.status !== 'ready') {
    console.error(`processing failed: ${final.error ?? final.status}`);
    process.exit(1);
  }
  const { manifest_url } = await client.stream(up.videoId);
  console.log(`ready: ${final.renditions.map((r) => r.name).join(', ')}`);
  console.log(`playback URL (HLS): ${manifest_url}`);
});

program
  .command('sample')
  .description('make a 10-second sample clip with ffmpeg (test pattern and tone), for trying StreamWave without a video of your own')
  .argument('[file]', 'output file', 'sample.mp4')
  .action((file: string) => {
    const ffmpeg = process.env.STREAMWAVE_FFMPEG_PATH ?? 'ffmpeg';
    const r = spawnSync(ffmpeg, [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=10',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=10',
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file,
    ], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
    console.log(`wrote ${file}`);
  });

// Tools for the data team and engineers: replay, topics, schemas, log verify.
registerReplayCommand(program, serverOption);
registerTopicsCommand(program, serverOption);
registerSchemasCommand(program);
registerLogCommand(program);
registerMigrateCommand(program);
registerUploadsCommand(program, serverOption);
registerStoryboardsCommand(program);

program.parseAsync().catch((e: unknown) => {
  if (e instanceof PasswordInputError) {
    console.error(e.message);
    process.exit(e.exitCode);
  }
  if (e instanceof ApiError) console.error(e.message);
  else console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
