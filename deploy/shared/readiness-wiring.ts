/**
 * The readiness checks of each role (issue 8, finding 7), registered on one registry
 * (platform/health/readiness.port.ts) that `GET /health/ready` and `GET /health` evaluate:
 *
 * | check              | code                | roles                                  |
 * |--------------------|---------------------|----------------------------------------|
 * | `disk`             | DISK_SPACE_LOW      | every role (the data directory)        |
 * | `log`              | LOG_WRITES_REFUSED  | standalone (embedded log)              |
 * | `projection:<rm>`  | PROJECTION_FAILING  | standalone, projector, gateway, all    |
 * | `transcoder`       | TRANSCODE_TIMED_OUT | standalone, transcoder, all            |
 */
import type { TranscoderUnready } from '../../processors/transcoder/transcoder.processor.ts';
import type { pino } from 'pino';
import type { StreamWaveConfig } from '../config/config.ts';
import { createReadiness, signalCheck, type Readiness } from '../../platform/health/readiness.port.ts';
import { diskSpaceCheck, type DiskSpaceProbe } from '../../platform/health/disk-space.check.ts';
import { READ_MODELS } from '../../projections/read-model.port.ts';

/**
 * A readiness registry with the check every role has: free space of the data directory
 * (`STREAMWAVE_MIN_FREE_DISK_BYTES`, `STREAMWAVE_MIN_FREE_DISK_PERCENT`). Throwing checks are logged.
 */
export function createRoleReadiness(
  config: Pick<StreamWaveConfig, 'dataDir' | 'health'>,
  logger: pino.Logger,
  probe?: DiskSpaceProbe,
): Readiness {
  const readiness = createReadiness((check, err) => logger.error({ err, check }, 'readiness check threw'));
  readiness.register('disk', diskSpaceCheck({ dir: config.dataDir, minFreeBytes: config.health.minFreeDiskBytes, minFreePercent: config.health.minFreeDiskPercent, probe }));
  return readiness;
}

/**
 * LOG_WRITES_REFUSED for each partition of the embedded log that refuses appends after a failed
 * fsync (it stays so until the process restarts and recovery re-reads the segment). A log without
 * `refusedPartitions` (Kafka: the broker owns durability) registers nothing.
 */
export function registerLogReadiness(readiness: Readiness, log: object): void {
  const refused = (log as { refusedPartitions?: () => Array<{ topic: string; partition: number; reason: string }> }).refusedPartitions;
  if (typeof refused !== 'function') return;
  readiness.register('log', () => refused.call(log).map((p) => ({
    code: 'LOG_WRITES_REFUSED' as const,
    message: `partition ${p.topic}/${p.partition} refuses writes after a failed fsync; restart the process`,
  })));
}

/** What the projection manager exposes per read model (the live instance's failure count). */
export interface ProjectionFailures {
  get(name: string): { handle: { failures(): { consecutive: number; lastError?: string } } };
}

/**
 * PROJECTION_FAILING for each read model whose current batch failed `failingAfter` times in a row
 * (STREAMWAVE_PROJECTION_FAILING_AFTER, default 3): the log redelivers it with backoff, so the read
 * model is stuck, not slow. The error text stays in the log (it may name server paths).
 */
export function registerProjectionReadiness(readiness: Readiness, manager: ProjectionFailures, failingAfter: number): void {
  for (const name of READ_MODELS) {
    readiness.register(`projection:${name}`, () => {
      const f = manager.get(name).handle.failures();
      return f.consecutive >= failingAfter
        ? { code: 'PROJECTION_FAILING' as const, message: `read model ${name} failed ${f.consecutive} times in a row on the same batch` }
        : undefined;
    });
  }
}

/**
 * The transcoder's hook: TRANSCODE_TIMED_OUT from the transcoder node's own `readiness()` report
 * (added by the media part of issue 8: a transcode that exceeded its time limit). Registers
 * nothing while the node has no `readiness()`, so this file does not depend on that change.
 */
export function registerTranscoderReadiness(readiness: Readiness, transcoderNode: object): void {
  const report = (transcoderNode as { readiness?: () => TranscoderUnready | null }).readiness;
  if (typeof report !== 'function') return;
  readiness.register('transcoder', signalCheck('TRANSCODE_TIMED_OUT', () => {
    const unready = report.call(transcoderNode);
    return unready ? `a transcode of video ${unready.videoId} was stopped at its time limit at ${new Date(unready.at).toISOString()}` : undefined;
  }));
}
