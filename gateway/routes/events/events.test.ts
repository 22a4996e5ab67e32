/**
 * `GET /api/v1/videos/{id}/events` (issue 14): Server-Sent Events over a real listening gateway,
 * read by the CLI's client (`StreamWaveClient.videoEvents`, eventsource-parser).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, StreamWaveClient, type VideoEvent } from '../../../cli/client/streamwave-client.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

/** An open stream: the next event, and close. */
function openStream(client: StreamWaveClient, videoId: string, lastEventId?: string) {
  const stop = new AbortController();
  const it = client.videoEvents(videoId, { lastEventId, signal: stop.signal })[Symbol.asyncIterator]();
  return {
    async next(): Promise<VideoEvent | undefined> {
      const r = await it.next();
      return r.done ? undefined : r.value;
    },
    close: () => stop.abort(),
  };
}

describe('GET /videos/{id}/events (Server-Sent Events)', () => {
  let gw: TestGateway;
  let url: string;
  let owner: { id: string; token: string };
  let viewer: { id: string; token: string };
  let videoId: string;

  before(async () => {
    gw = await createTestGateway({ eventStreamsPerIp: 3, rateLimits: 'off' });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
    owner = await gw.signUp('sseowner');
    viewer = await gw.signUp('sseviewer');
    videoId = await gw.uploadVideo(owner.token, { publish: true, title: 'Live' });
  });
  after(async () => {
    await gw.close();
  });

  const comment = async (body: string) => {
    const res = await gw.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/comments`, token: viewer.token, payload: { body } });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ id: string }>().id;
  };

  test('a new stream starts with status, views and likes; a comment posted meanwhile arrives as the comments listing shows it', async () => {
    const stream = openStream(new StreamWaveClient(url), videoId);
    try {
      const start = [await stream.next(), await stream.next(), await stream.next()];
      assert.deepEqual(start.map((e) => e?.event), ['status', 'views', 'likes']);
      assert.equal((start[0]!.data as { status: string }).status, 'ready');
      const detail = (await gw.inject({ method: 'GET', url: `/api/v1/videos/${videoId}` })).json<{ views: number; like_count: number }>();
      assert.deepEqual(start[1]!.data, { views: detail.views });
      assert.deepEqual(start[2]!.data, { like_count: detail.like_count });

      const id = await comment('first!');
      const e = await stream.next();
      assert.equal(e?.event, 'comment');
      const listed = (await gw.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/comments` })).json<{ comments: unknown[] }>().comments[0];
      assert.deepEqual(e!.data, listed);
      assert.equal((e!.data as { id: string }).id, id);
      assert.ok(e!.id, 'the event has a log position as its id');
      const del = await gw.inject({ method: 'DELETE', url: `/api/v1/videos/${videoId}/comments/${id}`, token: viewer.token });
      assert.equal(del.statusCode, 204);
      const gone = await stream.next();
      assert.deepEqual([gone?.event, gone?.data], ['comment_deleted', { id }]);
    } finally {
      stream.close();
    }
  });

  test('Last-Event-ID resumes after that event: only what was missed; an id it cannot vouch for gets reset first', async () => {
    const client = new StreamWaveClient(url);
    const first = openStream(client, videoId);
    assert.equal((await first.next())?.event, 'status', 'connected');
    await comment('before the drop');
    let last: VideoEvent | undefined;
    for (let e = await first.next(); e; e = await first.next()) {
      last = e;
      if (e.event === 'comment' && (e.data as { body: string }).body === 'before the drop') break;
    }
    first.close();
    const missedId = await comment('while away');
    const resumed = openStream(client, videoId, last!.id);
    try {
      const e = await resumed.next();
      assert.equal(e?.event, 'comment', 'no snapshot on a resume: the missed comment comes first');
      assert.equal((e!.data as { id: string }).id, missedId);
    } finally {
      resumed.close();
    }
    const lost = openStream(client, videoId, 'not-a-position');
    try {
      const e = await lost.next();
      assert.deepEqual([e?.event, e?.data], ['reset', { reason: 'POSITION_UNKNOWN' }]);
      assert.equal((await lost.next())?.event, 'status', 'then the state, as on a new stream');
    } finally {
      lost.close();
    }
  });

  test('visibility as GET /videos/{id}: a private video is 404 to others and streams to its owner; deleting it ends the stream with gone', async () => {
    const hidden = await gw.uploadVideo(owner.token, { publish: true, title: 'Hidden' });
    const patch = await gw.inject({ method: 'PATCH', url: `/api/v1/videos/${hidden}`, token: owner.token, payload: { visibility: 'private' } });
    assert.equal(patch.statusCode, 200, patch.body);
    await assert.rejects(openStream(new StreamWaveClient(url), hidden).next(), (e: ApiError) => e.status === 404 && e.code === 'VIDEO_NOT_FOUND');
    await assert.rejects(openStream(new StreamWaveClient(url, viewer.token), hidden).next(), (e: ApiError) => e.status === 404);
    const mine = openStream(new StreamWaveClient(url, owner.token), hidden);
    try {
      assert.equal((await mine.next())?.event, 'status');
      await mine.next();
      await mine.next();
      const del = await gw.inject({ method: 'DELETE', url: `/api/v1/videos/${hidden}`, token: owner.token });
      assert.equal(del.statusCode, 204);
      const e = await mine.next();
      assert.deepEqual([e?.event, e?.data], ['gone', { video_id: hidden }]);
      assert.equal(await mine.next(), undefined, 'the stream ends');
    } finally {
      mine.close();
    }
  });

  test('at most eventStreamsPerIp streams per address: one more is 429 TOO_MANY_STREAMS, closing one frees its place', async () => {
    const client = new StreamWaveClient(url);
    const open = [openStream(client, videoId), openStream(client, videoId), openStream(client, videoId)];
    try {
      for (const s of open) assert.equal((await s.next())?.event, 'status');
      await assert.rejects(openStream(client, videoId).next(), (e: ApiError) => e.status === 429 && e.code === 'TOO_MANY_STREAMS');
      open.pop()!.close();
      // The server sees the close asynchronously: the place is free once it has.
      let again: VideoEvent | undefined;
      for (let i = 0; i < 100 && again === undefined; i++) {
        const s = openStream(client, videoId);
        again = await s.next().catch(() => undefined);
        if (again) open.push(s);
        else await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(again?.event, 'status');
      const metrics = await gw.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /^streamwave_gateway_event_streams 3$/m);
    } finally {
      for (const s of open) s.close();
    }
  });
});
