/**
 * Playback sessions for the e2e tests (issue 8): heartbeats carry a session from
 * `GET /videos/{id}/stream`, and view rule v2 caps the watched seconds a session can claim by the
 * real time elapsed since it was issued (≈ 2 × elapsed + tolerance, docs/view-rule.md). A test
 * that sends a qualifying heartbeat first lets enough real time pass.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { StreamWaveClient } from '../../cli/client/streamwave-client.ts';

/** A started playback session: its id and when the client asked for it (ms since the epoch, ≤ the server's issue time). */
export interface Playback {
  videoId: string;
  sessionId: string;
  requestedAt: number;
}

/** Starts a playback session of `videoId` as `client` (anonymous or logged in). */
export async function startPlayback(client: StreamWaveClient, videoId: string): Promise<Playback> {
  const requestedAt = Date.now();
  const { session_id } = await client.stream(videoId);
  return { videoId, sessionId: session_id, requestedAt };
}

/**
 * Resolves once the session is old enough to claim `watchedSeconds` at 2× playback speed or less
 * (elapsed ≥ watchedSeconds / 2 s), polling the clock (100 ms steps); at once when it already is.
 */
export async function untilWatchable(p: Playback, watchedSeconds: number): Promise<void> {
  const due = p.requestedAt + (watchedSeconds / 2) * 1000 + 250;
  while (Date.now() < due) await sleep(Math.min(100, due - Date.now()));
}

/** Waits until `watchedSeconds` are plausible for the session, then sends the heartbeat. */
export async function heartbeat(client: StreamWaveClient, p: Playback, watchedSeconds: number, positionSeconds = watchedSeconds): Promise<unknown> {
  await untilWatchable(p, watchedSeconds);
  return client.recordView(p.videoId, { session_id: p.sessionId, watched_seconds: watchedSeconds, position_seconds: positionSeconds });
}
