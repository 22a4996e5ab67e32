/**
 * The personal-data upgrade of a standalone data directory (issue 13), run by `npm start` before
 * anything else opens the log. A data dir written before crypto-shredding holds personal fields in
 * plaintext in its log segments; this rewrites them, once, with the personal-data migration
 * (processors/migrations/personal-data-migration.ts):
 *
 * 1. Shadow: each partition holding plaintext is copied, encrypted, into a shadow log under
 *    `<dataDir>/migration/` (same offsets, keys, headers and timestamps; progress logged every 2 s).
 * 2. Catch-up: nothing else writes meanwhile (the server is not up yet), so the copy reaches the end.
 * 3. Switch: per partition, the old segment gets a second name (`<p>.log.plaintext`), the shadow's
 *    segment is renamed over `<p>.log` (atomic: the partition is always one or the other), the
 *    directory is fsynced; then the old segment is shredded (zeros, fdatasync, unlink).
 * 4. `<dataDir>/migrations/personal-data-1.json` records that it is done (with the counts).
 *
 * Crash-safe at every step: a leftover shadow is deleted and rebuilt; a leftover `.plaintext` name
 * is shredded when its partition was switched and only unlinked when it is a second name of the
 * live segment (a crash between link and rename); partitions switched before a crash hold no
 * plaintext, so a rerun copies only the rest. `<dataDir>/migrations/LOCK` keeps a second process
 * out for the whole upgrade. Offsets do not change, so read-model checkpoints and
 * consumer-group offsets stay valid and nothing is rebuilt.
 */
import { link, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type pino from 'pino';
import { fsyncDir, writeFileAtomic } from '../../platform/files/atomic-file.ts';
import { shredFile } from '../../platform/files/shred-file.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createEmbeddedEventLog, embeddedEventLogExists } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { acquireDataDirLock } from '../../platform/log/embedded/data-dir-lock.ts';
import { copyEncrypted, denseSink, partitionsWithPlaintext, plaintextProbe, topicsWithPersonalData, type PartitionRef } from '../../processors/migrations/personal-data-migration.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createPersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';

/** The marker of a finished upgrade, under `<dataDir>/migrations/`. */
export const PERSONAL_DATA_UPGRADE_MARKER = 'personal-data-1.json';

/** Suffix of an old segment between the switch and its shredding. */
const PLAINTEXT_SUFFIX = '.plaintext';

/** Interval of progress log lines, ms. */
const PROGRESS_INTERVAL_MS = 2000;

/** What the upgrade did: nothing (`done` before, or no plaintext), or rewrote `partitions`. */
export interface PersonalDataUpgrade {
  status: 'already-done' | 'nothing-to-do' | 'migrated';
  partitions: PartitionRef[];
  copied: number;
  rewritten: number;
}

const segmentOf = (logDir: string, p: PartitionRef) => join(logDir, 'topics', p.topic, `${p.partition}.log`);

/**
 * Runs the upgrade on `dataDir` (see the file comment). Idempotent; a data dir without a log is
 * marked done at once.
 * @throws EventLogError `LOG_LOCKED` when another process holds the log; the migration's errors
 *   (a personal field without its subject) — the data dir is left as it was, or partly switched
 *   (never a partition lost), and the next start tries again.
 */
export async function upgradePersonalData(dataDir: string, logger: pino.Logger): Promise<PersonalDataUpgrade> {
  const marker = join(dataDir, 'migrations', PERSONAL_DATA_UPGRADE_MARKER);
  if (await exists(marker)) return { status: 'already-done', partitions: [], copied: 0, rewritten: 0 };
  const logDir = join(dataDir, 'log');
  const shadowDir = join(dataDir, 'migration');
  let result: PersonalDataUpgrade = { status: 'nothing-to-do', partitions: [], copied: 0, rewritten: 0 };
  // One upgrade at a time, from the clean-up to the marker: a second process must not delete the
  // shadow or switch segments under the first (the log's own lock is released before the switch).
  await mkdir(join(dataDir, 'migrations'), { recursive: true });
  const lock = await acquireDataDirLock(join(dataDir, 'migrations'), logger);
  try {
    if (await exists(marker)) return { status: 'already-done', partitions: [], copied: 0, rewritten: 0 };
    if (await embeddedEventLogExists(dataDir)) {
      await shredLeftovers(logDir, logger);
      await rm(shadowDir, { recursive: true, force: true });
      result = await buildShadow(dataDir, shadowDir, logger);
      for (const p of result.partitions) {
        const segment = segmentOf(logDir, p);
        await rm(segment + PLAINTEXT_SUFFIX, { force: true });
        await link(segment, segment + PLAINTEXT_SUFFIX);
        await rename(segmentOf(join(shadowDir, 'log'), p), segment);
        await fsyncDir(join(logDir, 'topics', p.topic));
        await shredFile(segment + PLAINTEXT_SUFFIX);
      }
      await rm(shadowDir, { recursive: true, force: true });
    }
    await writeFileAtomic(marker, JSON.stringify({ ...result, finishedAt: new Date().toISOString() }, null, 2));
  } finally {
    await lock.release();
  }
  if (result.status === 'migrated') logger.info({ partitions: result.partitions.length, copied: result.copied, rewritten: result.rewritten }, 'personal-data upgrade: plaintext personal fields rewritten encrypted');
  return result;
}

/** Finds the partitions with plaintext and copies them, encrypted, into a shadow log. */
async function buildShadow(dataDir: string, shadowDir: string, logger: pino.Logger): Promise<PersonalDataUpgrade> {
  const log = await createEmbeddedEventLog({ dataDir, logger: logger.child({ component: 'log' }) });
  const keys = await createEmbeddedDataKeyStore({ dir: join(dataDir, 'keys'), logger: logger.child({ component: 'data-keys' }) });
  const registry = createSchemaRegistry({ log, logger: logger.child({ component: 'schema-registry' }) });
  let shadow: Awaited<ReturnType<typeof createEmbeddedEventLog>> | undefined;
  try {
    await registry.start();
    const probe = plaintextProbe(createPersonalDataCipher(keys));
    const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), personalData: probe.cipher });
    await codec.registerAll();
    const described = await log.listTopics();
    const topics = topicsWithPersonalData(new Map([...codec.schemas].map(([type, s]) => [type, s.schemaText])), described.map((t) => t.name));
    logger.info({ topics }, 'personal-data upgrade: looking for plaintext personal fields (once per data dir)');
    const partitions = await partitionsWithPlaintext(log, { codec, probe }, topics);
    if (partitions.length === 0) return { status: 'nothing-to-do', partitions, copied: 0, rewritten: 0 };
    shadow = await createEmbeddedEventLog({ dataDir: shadowDir, logger: logger.child({ component: 'shadow-log' }) });
    for (const t of described.filter((d) => partitions.some((p) => p.topic === d.name))) await shadow.createTopic(t);
    let last = 0;
    const { copied, rewritten } = await copyEncrypted({
      source: log, partitions, codec, probe, sinkFor: async (topic, partition) => denseSink(shadow!, topic, partition),
      onProgress: (p) => {
        if (Date.now() - last < PROGRESS_INTERVAL_MS && p.copied < p.total) return;
        last = Date.now();
        logger.info({ ...p, percent: Math.floor((100 * p.copied) / Math.max(1, p.total)) }, 'personal-data upgrade: copying');
      },
    });
    return { status: 'migrated', partitions, copied, rewritten };
  } finally {
    await shadow?.close();
    await registry.stop();
    await keys.close();
    await log.close();
  }
}

/**
 * Cleans up `<p>.log.plaintext` names a crash left behind: when the partition was switched, the
 * name is the old segment's last one and is shredded; when the crash came between the link and
 * the rename, it is a second name of the live segment (same inode) and is only unlinked.
 */
async function shredLeftovers(logDir: string, logger: pino.Logger): Promise<void> {
  const topicsDir = join(logDir, 'topics');
  for (const topic of await readdir(topicsDir).catch(() => [] as string[])) {
    for (const f of await readdir(join(topicsDir, topic))) {
      if (!f.endsWith(PLAINTEXT_SUFFIX)) continue;
      const leftover = join(topicsDir, topic, f);
      const live = await stat(leftover.slice(0, -PLAINTEXT_SUFFIX.length)).catch(() => undefined);
      if (live && live.ino === (await stat(leftover)).ino) {
        await unlink(leftover);
        continue;
      }
      logger.warn({ topic, file: f }, 'personal-data upgrade: shredding a plaintext segment an interrupted upgrade left');
      await shredFile(leftover);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
