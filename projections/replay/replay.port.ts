/**
 * Ports of projection replay (rebuilding a read model into a shadow copy and swapping it in).
 * Log-agnostic: everything here works on the EventLog port, so the same manager runs against the
 * embedded log (standalone) and Kafka (cluster mode).
 */
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';

/** Instance id of the store a projection had before any replay (its original location). */
export const PRIMARY_INSTANCE = 'primary';

/**
 * A projection whose read model can exist as several independent instances (stores), e.g. the
 * live one and a shadow being rebuilt. Each instance has its own store and checkpoint.
 */
export interface ReplayableProjection<Q> {
  /** Read-model name used by the CLI and the admin API (`video-detail`, `comments`, …, see READ_MODELS). */
  readonly name: string;
  /** Opens (creates when missing) instance `instanceId` — its store — as a projection node, not running yet. */
  open(instanceId: string): Promise<ProjectionNode<Q>>;
  /** Deletes the store of a CLOSED instance (directory, table or database). Idempotent. */
  destroy(instanceId: string): Promise<void>;
  /** Ids of the instances that exist in storage (to clean up shadows of an interrupted replay). */
  instances?(): Promise<string[]>;
  /**
   * What the read model's content means beyond its storage layout, e.g. `view-rule/v2` for the
   * read models that count views (projections/read-models.ts READ_MODEL_CONTENT_VERSIONS). An
   * instance built under another version is still readable by this code, so it keeps serving
   * while the manager rebuilds a shadow under this version and swaps it in. Absent: never rebuilt
   * for that reason. (A change the code cannot read is a layout change instead: see
   * stores/key-value-projection.ts holdsOtherLayout.)
   */
  readonly contentVersion?: string;
}

/** Which instance of a projection serves queries, persisted so a restart opens the same one. */
export interface CurrentInstance {
  instanceId: string;
  /** Consumer group of the instance (`streamwave.projection.<name>.replay-<ts>` after a replay). */
  groupId: string;
  /** A partial rebuild's lower bound, ms since epoch: the instance never reads records before it. */
  fromTimestamp?: number;
  /** When it became current, ms since epoch. */
  since: number;
  /** ReplayableProjection.contentVersion the instance was built under; absent when built by a StreamWave that recorded none. */
  contentVersion?: string;
}

/** Durable pointer per projection name (file `current.json`, a Redis key, …). Writes are atomic. */
export interface CurrentInstanceStore {
  load(name: string): Promise<CurrentInstance | undefined>;
  save(name: string, current: CurrentInstance): Promise<void>;
}

/** Where a replay starts: the beginning of the log, or the first record at/after a timestamp (ms). */
export type ReplayFrom = { fromBeginning: true } | { fromTimestamp: number };

export type ReplayState = 'running' | 'swapped' | 'failed';

/** Progress and outcome of one replay (shape of `GET /admin/replays/{id}`, camel-cased). */
export interface ReplayStatus {
  replayId: string;
  projection: string;
  status: ReplayState;
  /** Shadow instance id and consumer group. */
  instanceId: string;
  groupId: string;
  /**
   * Log offsets the shadow has consumed since its start offsets: its records, plus the commit
   * markers of topics written in Kafka transactions (the command processor's), which take an
   * offset each and are no record.
   */
  consumed: number;
  /** Log offsets between the start offsets and the current end offsets (records and markers, as `consumed`). */
  total: number;
  /** Consumption rate over the last few seconds, records/s. */
  eventsPerSecond: number;
  /** Seconds left at the current rate; null when unknown (rate 0). */
  etaSeconds: number | null;
  /** ms since epoch. */
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  /** Why the manager started it on its own (`content version view-rule/v1 → view-rule/v2`); null when requested (admin API, CLI). */
  reason?: string | null;
  /** Content version the shadow is built under (ReplayableProjection.contentVersion), or null. */
  contentVersion?: string | null;
}

/** Errors of the projection manager, with stable codes. */
export class ReplayError extends Error {
  constructor(
    /** `UNKNOWN_PROJECTION`, `REPLAY_IN_PROGRESS`, `INVALID_REPLAY_FROM`, `MANAGER_CLOSED`, `REPLAY_ABORTED`, `NOT_STARTED`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ReplayError';
  }
}

/** Ids of replay shadows: `replay-<ms since epoch>` (the projection manager makes them). */
const REPLAY_INSTANCE_ID = /^replay-\d+$/;

/**
 * `instanceId` when it is `primary` or a replay shadow id; anything else could name a path, key or
 * database outside the read model's own, so it is refused.
 * @throws Error `invalid projection instance id "<id>"`
 */
export function checkInstanceId(instanceId: string): string {
  if (instanceId !== PRIMARY_INSTANCE && !REPLAY_INSTANCE_ID.test(instanceId)) throw new Error(`invalid projection instance id "${instanceId}"`);
  return instanceId;
}

/** True for `primary` and replay shadow ids. */
export const isInstanceId = (id: string): boolean => id === PRIMARY_INSTANCE || REPLAY_INSTANCE_ID.test(id);

/**
 * The database of an instance in an engine with databases (chDB, ClickHouse): `base` for
 * `primary`, `<base>_replay_<ts>` for a shadow. @throws like checkInstanceId
 */
export function instanceDatabase(base: string, instanceId: string): string {
  return checkInstanceId(instanceId) === PRIMARY_INSTANCE ? base : `${base}_${instanceId.replace('-', '_')}`;
}

/** The instance ids whose databases (see instanceDatabase) are among `databases`. */
export function instancesOfDatabases(base: string, databases: string[]): string[] {
  const prefix = `${base}_replay_`;
  return [
    ...(databases.includes(base) ? [PRIMARY_INSTANCE] : []),
    ...databases.filter((d) => d.startsWith(prefix)).map((d) => `replay-${d.slice(prefix.length)}`).filter(isInstanceId),
  ];
}
