import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway } from '../../testing/test-gateway.ts';
import { ReplayError, type ReplayFrom, type ReplayStatus } from '../../../projections/replay/replay.port.ts';
import { adminRoutes, type AdminReplayService } from './index.ts';

const TOKEN = 'admin-token-0123456789';

function fakeReplays() {
  const started: { name: string; from: ReplayFrom }[] = [];
  const statuses = new Map<string, ReplayStatus>();
  const service: AdminReplayService = {
    names: () => ['video-detail'],
    startReplay(name, from) {
      if (name !== 'video-detail') throw new ReplayError('UNKNOWN_PROJECTION', `unknown projection "${name}"`);
      if (started.length) throw new ReplayError('REPLAY_IN_PROGRESS', 'busy');
      started.push({ name, from });
      const s: ReplayStatus = {
        replayId: 'video-detail.replay-1', projection: name, status: 'running', instanceId: 'replay-1', groupId: 'g.replay-1',
        consumed: 3, total: 10, eventsPerSecond: 1.5, etaSeconds: 5, startedAt: 0, finishedAt: null, error: null,
      };
      statuses.set(s.replayId, s);
      return s;
    },
    replayStatus: (id) => statuses.get(id),
    listReplays: () => [...statuses.values()],
  };
  return { service, started };
}

test('admin routes: bearer admin token, replay start/status, topics', async () => {
  const { service, started } = fakeReplays();
  const gw = await createTestGateway({}, {
    plugins: [{ plugin: adminRoutes, prefix: '/admin', options: { token: TOKEN, replays: service, topics: async () => ({ topics: [], groups: [] }) } }],
  });
  try {
    const noAuth = await gw.inject({ method: 'GET', url: '/admin/topics' });
    assert.equal(noAuth.statusCode, 401);
    assert.equal(noAuth.json().code, 'ADMIN_UNAUTHORIZED');
    assert.equal((await gw.inject({ method: 'GET', url: '/admin/topics', token: `${TOKEN}x` })).statusCode, 401);
    assert.equal((await gw.inject({ method: 'GET', url: '/admin/topics', token: TOKEN.slice(0, -1) })).statusCode, 401);
    const topics = await gw.inject({ method: 'GET', url: '/admin/topics', token: TOKEN });
    assert.equal(topics.statusCode, 200);
    assert.deepEqual(topics.json(), { topics: [], groups: [] });

    const bad = await gw.inject({ method: 'POST', url: '/admin/replays', token: TOKEN, payload: { projection: 'video-detail', from_timestamp: 'yesterday' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'INVALID_REPLAY_FROM');
    const unknown = await gw.inject({ method: 'POST', url: '/admin/replays', token: TOKEN, payload: { projection: 'nope' } });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().code, 'UNKNOWN_PROJECTION');

    const ok = await gw.inject({ method: 'POST', url: '/admin/replays', token: TOKEN, payload: { projection: 'video-detail', from_timestamp: '2026-01-10T00:00:00Z' } });
    assert.equal(ok.statusCode, 202, ok.body);
    assert.equal(ok.json().replay_id, 'video-detail.replay-1');
    assert.deepEqual(started, [{ name: 'video-detail', from: { fromTimestamp: Date.UTC(2026, 0, 10) } }]);
    const busy = await gw.inject({ method: 'POST', url: '/admin/replays', token: TOKEN, payload: { projection: 'video-detail', from_beginning: true } });
    assert.equal(busy.statusCode, 409);
    assert.equal(busy.json().code, 'REPLAY_IN_PROGRESS');

    const list = await gw.inject({ method: 'GET', url: '/admin/replays', token: TOKEN });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json().replays.map((r: { replay_id: string; status: string }) => [r.replay_id, r.status]), [['video-detail.replay-1', 'running']]);
    assert.equal((await gw.inject({ method: 'GET', url: '/admin/replays' })).statusCode, 401, 'the list is admin-only too');

    const st = await gw.inject({ method: 'GET', url: '/admin/replays/video-detail.replay-1', token: TOKEN });
    assert.equal(st.statusCode, 200);
    assert.deepEqual(
      (({ status, projection, consumed, total, events_per_second, eta_seconds, error }) => ({ status, projection, consumed, total, events_per_second, eta_seconds, error }))(st.json()),
      { status: 'running', projection: 'video-detail', consumed: 3, total: 10, events_per_second: 1.5, eta_seconds: 5, error: null },
    );
    const missing = await gw.inject({ method: 'GET', url: '/admin/replays/nope', token: TOKEN });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'REPLAY_NOT_FOUND');
  } finally {
    await gw.close();
  }
});
