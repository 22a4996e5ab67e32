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
import { registerTopicsCommand } from './commands/topics.command.ts';
import { registerSchemasCommand } from './commands/schemas.command.ts';

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

/** Graceful stop on SIGINT/SIGTERM: HTTP first, then consumers, then the log (each service's `stop`). */
function stopOnSignals(service: { stop(): Promise<void> }): void {
  const shutdown = async () => {
    await service.stop();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

program
  .command('start')
  .description('run standalone mode: every role in one process, embedded adapters, data on disk (STREAMWAVE_DATA_DIR)')
  .action(async () => {
    const { startStandalone } = await import('../deploy/standalone/standalone.ts');
    stopOnSignals(await startStandalone(await loadConfigOrExit()));
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
    stopOnSignals(await startRole(role, await loadConfigOrExit()));
  });

serverOption(
  program
    .command('register')
    .description('create an account')
    .argument('<username>')
    .argument('<email>')
    .argument('<password>'),
).action(async (username: string, email: string, password: string, opts: { server: string }) => {
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
    .option('-p, --password <password>', 'password (or STREAMWAVE_PASSWORD)', process.env.STREAMWAVE_PASSWORD)
    .option('--no-wait', 'return once the upload is complete, without waiting for processing'),
).action(async (file: string, opts: { server: string; title: string; description: string; tags: string[]; visibility: 'public' | 'unlisted' | 'private'; username?: string; password?: string; wait: boolean }) => {
  if (!opts.username || !opts.password) {
    console.error('upload needs --username and --password (or STREAMWAVE_USERNAME / STREAMWAVE_PASSWORD)');
    process.exit(2);
  }
  const client = new StreamWaveClient(opts.server);
  await client.login(opts.username, opts.password);
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

// Tools for the data team and engineers: replay, topics, schemas.
registerReplayCommand(program, serverOption);
registerTopicsCommand(program, serverOption);
registerSchemasCommand(program);

program.parseAsync().catch((e: unknown) => {
  if (e instanceof ApiError) console.error(e.message);
  else console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
