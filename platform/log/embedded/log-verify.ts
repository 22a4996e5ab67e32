/**
 * Offline integrity check of the embedded log (`streamwave log verify`, issue 8 finding 8): scans
 * every partition segment listed in `<dataDir>/log/topics.json` with the recovery scan
 * (segment-scan.ts) and reports, per partition, whether start-up would accept it. Read-only: it
 * takes no lock and changes nothing (run it on a stopped server; on a running one the partition
 * being written may show a torn tail that is only a write in flight).
 */
import { open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { scanSegment } from './segment-scan.ts';
import { CLEAN_SHUTDOWN_MARKER } from './embedded-event-log.adapter.ts';

/**
 * One partition's verdict.
 * - `ok`: every byte is a valid record.
 * - `torn-tail`: bad bytes at the end only, after an unclean shutdown; start-up cuts them (they
 *   were never acknowledged).
 * - `corrupted`: bad bytes followed by valid records, or any bad bytes after a clean shutdown;
 *   start-up refuses with LOG_CORRUPTED.
 * - `missing`: the segment file does not exist (a topic with no record yet has an empty file).
 */
export type PartitionVerdict = 'ok' | 'torn-tail' | 'corrupted' | 'missing';

export interface PartitionVerification {
  topic: string;
  partition: number;
  /** Path of the segment file. */
  file: string;
  status: PartitionVerdict;
  /** Records whose CRC, magic and offset check out before the first bad byte. */
  validRecords: number;
  /** Size of the segment, bytes. */
  bytes: number;
  /** Byte offset of the first bad byte (torn-tail, corrupted). */
  atByte?: number;
  /** Byte offset of the next valid record after the bad bytes (corrupted mid-log). */
  nextValidAt?: number;
}

export interface LogVerification {
  /** False when any partition is `corrupted` or `missing`. */
  ok: boolean;
  /** The last close was clean (the CLEAN_SHUTDOWN marker is there). */
  cleanShutdown: boolean;
  partitions: PartitionVerification[];
}

export interface VerifyLogOptions {
  /** Largest record body accepted, bytes (default 8 MiB, the embedded log's default). */
  maxRecordBytes?: number;
  /** Progress: called per partition as its bytes are scanned (`scannedBytes` of `totalBytes`). */
  onProgress?: (p: { topic: string; partition: number; scannedBytes: number; totalBytes: number }) => void;
}

/**
 * Verifies every partition of the embedded log under `<dataDir>/log`.
 * @throws Error when `<dataDir>/log/topics.json` is missing or unreadable (not a StreamWave data dir).
 */
export async function verifyLog(dataDir: string, opts: VerifyLogOptions = {}): Promise<LogVerification> {
  const dir = resolve(dataDir, 'log');
  const maxRecordBytes = opts.maxRecordBytes ?? 8 * 1024 * 1024;
  const meta = JSON.parse(await readFile(join(dir, 'topics.json'), 'utf8')) as { topics: Array<{ name: string; partitions: number }> };
  const cleanShutdown = await stat(join(dir, CLEAN_SHUTDOWN_MARKER)).then(() => true, () => false);
  const partitions: PartitionVerification[] = [];
  for (const t of meta.topics) {
    for (let p = 0; p < t.partitions; p++) {
      const file = join(dir, 'topics', t.name, `${p}.log`);
      const fh = await open(file, 'r').catch(() => undefined);
      if (!fh) {
        partitions.push({ topic: t.name, partition: p, file, status: 'missing', validRecords: 0, bytes: 0 });
        continue;
      }
      try {
        const { size } = await fh.stat();
        const scan = await scanSegment(fh, size, maxRecordBytes, (scannedBytes) =>
          opts.onProgress?.({ topic: t.name, partition: p, scannedBytes, totalBytes: size }));
        const base = { topic: t.name, partition: p, file, validRecords: scan.positions.length, bytes: size };
        if (!scan.damage) partitions.push({ ...base, status: 'ok' });
        else if (scan.damage.kind === 'corrupted') partitions.push({ ...base, status: 'corrupted', atByte: scan.validBytes, nextValidAt: scan.damage.nextValidAt });
        else partitions.push({ ...base, status: cleanShutdown ? 'corrupted' : 'torn-tail', atByte: scan.validBytes });
      } finally {
        await fh.close();
      }
    }
  }
  return { ok: partitions.every((x) => x.status === 'ok' || x.status === 'torn-tail'), cleanShutdown, partitions };
}
