/**
 * Admin API (operators and the `streamwave` CLI; not part of the public API):
 * - `POST /admin/replays {projection, from_beginning?: true | from_timestamp?: ISO 8601 | ms}`
 *   → 202 `{replay_id}`: rebuilds a read model into a shadow and swaps it in (projections/replay);
 * - `GET /admin/replays/{id}` → `{replay_id, status: running|swapped|failed, projection, consumed,
 *   total, events_per_second, eta_seconds, error, reason, content_version, …}`;
 * - `GET /admin/replays` → `{replays: [status…]}`: every replay of this process, oldest first,
 *   including the rebuilds the manager starts on its own when a read model was built under another
 *   content version (`reason` says which; view rule v2, issue 8);
 * - `GET /admin/topics` → topics with end offsets and consumer-group lag;
 * - `POST /admin/uploads/reap` → 200 `{abandoned_uploads: [{video_id, upload_id}], skipped_completed_uploads, removed_temp_entries,
 *   errors, cutoff}`: runs the upload reaper now (issue 8); 409 ADMIN_UNAVAILABLE when none is wired.
 *
 * Every route needs `Authorization: Bearer <admin token>` (config `adminToken`), compared in
 * constant time (both sides hashed first, so the length does not leak either). Mount with the
 * `/admin` prefix (gateway `plugins` option).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import createError from '@fastify/error';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ReplayError, type ReplayFrom, type ReplayStatus } from '../../../projections/replay/replay.port.ts';
import type { LogOverview } from '../../../platform/log/event-log.port.ts';
import type { UploadReaperService } from '../../../processors/upload-reaper/upload-reaper.port.ts';

/** What the admin routes need from the projection manager. */
export interface AdminReplayService {
  names(): string[];
  /** @throws ReplayError UNKNOWN_PROJECTION | REPLAY_IN_PROGRESS | INVALID_REPLAY_FROM | MANAGER_CLOSED */
  startReplay(name: string, from: ReplayFrom): ReplayStatus;
  replayStatus(id: string): ReplayStatus | undefined;
  /** Every replay of this process, oldest first (`GET /admin/replays`); absent: the list is empty. */
  listReplays?(): ReplayStatus[];
}

export interface AdminRoutesOptions {
  /** Bearer token required on every admin route (≥ 16 chars). */
  token: string;
  replays: AdminReplayService;
  /** Topics and consumer-group lag of the log. */
  topics(): Promise<LogOverview>;
  /** The upload reaper (processors/upload-reaper), for `POST /admin/uploads/reap`; absent → 409. */
  reaper?: UploadReaperService;
}

/** Errors of the admin API (stable codes; the gateway's error handler renders them). */
const AdminErrors = {
  Unauthorized: createError('ADMIN_UNAUTHORIZED', 'a valid admin Bearer token is required', 401),
  ReplayNotFound: createError('REPLAY_NOT_FOUND', 'replay %s not found', 404),
  UnknownProjection: createError('UNKNOWN_PROJECTION', '%s', 400),
  InvalidReplayFrom: createError('INVALID_REPLAY_FROM', '%s', 400),
  ReplayInProgress: createError('REPLAY_IN_PROGRESS', '%s', 409),
  Unavailable: createError('ADMIN_UNAVAILABLE', '%s', 409),
} as const;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time check of `Authorization: Bearer <token>`. */
function isAdminAuthorized(request: Pick<FastifyRequest, 'headers'>, token: string): boolean {
  const h = request.headers.authorization;
  if (typeof h !== 'string' || !/^Bearer /i.test(h)) return false;
  return timingSafeEqual(digest(h.slice(7).trim()), digest(token));
}

/** Snake-case wire form of a replay status. */
function replayStatusBody(s: ReplayStatus) {
  return {
    replay_id: s.replayId,
    projection: s.projection,
    status: s.status,
    instance_id: s.instanceId,
    group_id: s.groupId,
    consumed: s.consumed,
    total: s.total,
    events_per_second: s.eventsPerSecond,
    eta_seconds: s.etaSeconds,
    started_at: new Date(s.startedAt).toISOString(),
    finished_at: s.finishedAt === null ? null : new Date(s.finishedAt).toISOString(),
    error: s.error,
    reason: s.reason ?? null,
    content_version: s.contentVersion ?? null,
  };
}

interface ReplayBody { projection: string; from_beginning?: boolean; from_timestamp?: string | number }

/** Parses `from_timestamp`: ms since epoch (number or digits) or an ISO 8601 string. */
function parseFrom(body: ReplayBody): ReplayFrom {
  if (body.from_timestamp !== undefined && body.from_beginning) {
    throw new AdminErrors.InvalidReplayFrom('give either from_beginning or from_timestamp, not both');
  }
  if (body.from_timestamp === undefined) return { fromBeginning: true };
  const v = body.from_timestamp;
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v.trim()) : Date.parse(v);
  if (!Number.isFinite(ms) || ms < 0) throw new AdminErrors.InvalidReplayFrom(`from_timestamp is not an ISO 8601 time or ms since epoch: ${String(v)}`);
  return { fromTimestamp: ms };
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, opts) => {
  if (!opts.token || opts.token.length < 16) throw new Error('admin routes need a token of at least 16 characters');
  app.addHook('onRequest', async (request, reply) => {
    if (!isAdminAuthorized(request, opts.token)) {
      reply.header('www-authenticate', 'Bearer realm="streamwave-admin"');
      throw new AdminErrors.Unauthorized();
    }
  });

  app.post<{ Body: ReplayBody }>('/replays', {
    schema: {
      body: {
        type: 'object',
        required: ['projection'],
        additionalProperties: false,
        properties: {
          projection: { type: 'string', minLength: 1, maxLength: 64 },
          from_beginning: { type: 'boolean' },
          from_timestamp: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1, maxLength: 64 }] },
        },
      },
    },
  }, async (request, reply) => {
    const from = parseFrom(request.body);
    try {
      const s = opts.replays.startReplay(request.body.projection, from);
      return reply.code(202).send({ replay_id: s.replayId, projection: s.projection, status: s.status });
    } catch (err) {
      if (err instanceof ReplayError) {
        switch (err.code) {
          case 'UNKNOWN_PROJECTION': throw new AdminErrors.UnknownProjection(`${err.message}`);
          case 'INVALID_REPLAY_FROM': throw new AdminErrors.InvalidReplayFrom(err.message);
          case 'REPLAY_IN_PROGRESS': throw new AdminErrors.ReplayInProgress(err.message);
          default: throw new AdminErrors.Unavailable(err.message);
        }
      }
      throw err;
    }
  });

  app.get('/replays', async () => ({ replays: (opts.replays.listReplays?.() ?? []).map(replayStatusBody) }));

  app.get<{ Params: { id: string } }>('/replays/:id', async (request) => {
    const s = opts.replays.replayStatus(request.params.id);
    if (!s) throw new AdminErrors.ReplayNotFound(request.params.id);
    return replayStatusBody(s);
  });

  app.get('/topics', async () => opts.topics());

  app.post('/uploads/reap', async () => {
    if (!opts.reaper) throw new AdminErrors.Unavailable('no upload reaper runs in this process');
    const r = await opts.reaper.reap();
    return {
      abandoned_uploads: r.abandonedUploads.map((u) => ({ video_id: u.videoId, upload_id: u.uploadId })),
      skipped_completed_uploads: r.skipped.map((u) => ({ video_id: u.videoId, upload_id: u.uploadId })),
      removed_temp_entries: r.removedTempEntries,
      errors: r.errors,
      cutoff: new Date(r.cutoff).toISOString(),
    };
  });
};
