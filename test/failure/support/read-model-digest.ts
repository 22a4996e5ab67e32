/**
 * Read-model digest, run as a CHILD process by the crash proof (chDB allows one data path per
 * process, so each store is opened in a process of its own):
 *
 *   node --import tsx read-model-digest.ts stored <dataDir> <videoIds,> <searchWords,>
 *     opens the read models a projector role left in `<dataDir>` (their current instances, not
 *     started: stored state) — through the same opener the roles use
 *   node --import tsx read-model-digest.ts replay <freshDir> <videoIds,> <searchWords,> <brokers> <registryUrl> [<keysDir>]
 *     CLEAN REPLAY: copies every StreamWave topic from Kafka into an in-memory log (same
 *     partitions, offsets and timestamps), builds fresh read models in `<freshDir>` from it,
 *     decrypting personal fields with the roles' embedded data keys in `<keysDir>` (issue 13)
 *
 * Prints one line of JSON: per video its detail, every comment and its analytics numbers, plus the
 * ids each search word finds — sorted, so two digests are equal iff the read models agree.
 */
import { createKafkaEventLog } from '../../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createInMemoryEventLog } from '../../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { ProduceRecord } from '../../../platform/log/event-log.port.ts';
import { createConfluentSchemaRegistryApi } from '../../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../../schemas/codec/avro-event-codec.ts';
import { createPersonalDataCipher } from '../../../schemas/codec/personal-data.ts';
import { createEmbeddedDataKeyStore } from '../../../platform/keys/embedded-data-key-store.adapter.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../../../deploy/shared/embedded-read-models.ts';
import { runProjection } from '../../../processors/runtime/projection.runtime.ts';
import type { ProjectionNode } from '../../../processors/runtime/topology.port.ts';
import type { ReadModelQueries } from '../../../projections/read-model.port.ts';
import { PRIMARY_INSTANCE } from '../../../projections/replay/replay.port.ts';
import { TOPICS } from '../../../schemas/topics.ts';

const SEARCH_SECRET = 'failure-proof-search-secret';

/** Sorted-key JSON, so equal data prints equal text. */
export function canonicalJson(v: unknown): string {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(norm);
    if (x && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, norm((x as Record<string, unknown>)[k])]));
    return x;
  };
  return JSON.stringify(norm(v));
}

type Digested = { [K in 'video-detail' | 'comments' | 'analytics' | 'search']: ProjectionNode<ReadModelQueries[K]> };

/** The read models the digest reads, opened in `dataDir` (their current instances). */
async function openDigested(dataDir: string): Promise<Digested> {
  const models = embeddedReadModels({ dataDir, searchCursorSecret: SEARCH_SECRET });
  const pointers = createFileCurrentInstanceStore(dataDir);
  const open = async <K extends keyof Digested>(name: K) => models[name].open((await pointers.load(name))?.instanceId ?? PRIMARY_INSTANCE) as Promise<Digested[K]>;
  return { 'video-detail': await open('video-detail'), comments: await open('comments'), analytics: await open('analytics'), search: await open('search') };
}

const closeAll = async (p: Digested) => { for (const node of Object.values(p)) await node.close(); };

async function digest(p: Digested, videoIds: string[], words: string[]) {
  const videos: Record<string, unknown> = {};
  for (const id of videoIds) {
    const comments: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const r = await p.comments.queries.listComments(id, 100, cursor);
      comments.push(...r.comments);
      if (!r.nextCursor) break;
      cursor = r.nextCursor;
    }
    videos[id] = {
      detail: (await p['video-detail'].queries.getVideo(id)) ?? null,
      comments,
      analytics: await p.analytics.queries.videoAnalytics(id),
    };
  }
  const search: Record<string, string[]> = {};
  for (const w of words) search[w] = (await p.search.queries.search(w, 100)).videos.map((v) => v.videoId).sort();
  return { videos, search };
}

async function main() {
  const [mode, dir, ids, wordList, brokers, registryUrl, keysDir] = process.argv.slice(2);
  const videoIds = ids.split(',').filter(Boolean);
  const words = (wordList ?? '').split(',').filter(Boolean);
  if (mode === 'stored') {
    const p = await openDigested(dir);
    const d = await digest(p, videoIds, words);
    await closeAll(p);
    await print(canonicalJson(d));
    return;
  }
  if (mode !== 'replay') throw new Error(`unknown mode ${mode}`);
  const kafka = await createKafkaEventLog({ brokers: brokers.split(','), clientId: 'digest-replay', replicationFactor: 1 });
  const mem = createInMemoryEventLog();
  // The roles' data keys (issue 13): the embedded key store of their shared data dir.
  const keys = keysDir ? await createEmbeddedDataKeyStore({ dir: keysDir }) : undefined;
  const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: registryUrl }), personalData: keys && createPersonalDataCipher(keys) });
  for (const topic of Object.values(TOPICS)) {
    const partitions = (await kafka.listTopics()).find((t) => t.name === topic)?.partitions;
    if (!partitions) continue;
    await mem.createTopic({ name: topic, partitions });
    const ends = await kafka.endOffsets(topic);
    for (let partition = 0; partition < partitions; partition++) {
      // Offsets must match so checkpoints mean the same thing. Topics the command processor writes
      // have gaps (a transaction's commit marker takes an offset and is no record): each gap is
      // filled with a tombstone (no key, no value), which projections checkpoint and skip.
      const fill = (n: number) => (n > 0 ? mem.append(topic, Array.from({ length: n }, () => ({ key: null, value: null, partition }))) : Promise.resolve([]));
      let offset = 0;
      while (offset < ends[partition]) {
        const recs = await kafka.read(topic, partition, offset, 5000);
        if (recs.length === 0) break; // only markers (or aborted records) up to the end
        const copy: ProduceRecord[] = [];
        for (const r of recs) {
          while (offset + copy.length < r.offset) copy.push({ key: null, value: null, partition });
          copy.push({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, partition });
        }
        const meta = await mem.append(topic, copy);
        if (meta.at(-1)!.offset !== recs.at(-1)!.offset) throw new Error(`offset mismatch copying ${topic}/${partition}: ${meta.at(-1)!.offset} vs ${recs.at(-1)!.offset}`);
        offset = recs[recs.length - 1].offset + 1;
      }
      await fill(ends[partition] - offset);
    }
  }
  await kafka.close();
  const p = await openDigested(dir);
  const handles = await Promise.all(Object.values(p).map((node) => runProjection(node, { log: mem, codec })));
  for (const h of handles) await h.caughtUp();
  for (const h of handles) await h.stop();
  const d = await digest(p, videoIds, words);
  await closeAll(p);
  await print(canonicalJson(d));
}

/** Writes to a pipe and waits until it is flushed (process.exit right after a large write truncates it). */
const print = (text: string) => new Promise<void>((resolve, reject) => process.stdout.write(text + '\n', (e) => (e ? reject(e) : resolve())));

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
