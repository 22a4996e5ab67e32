/**
 * Record keys of the commands topic (ADR 0006). A command's key puts it on the partition whose
 * owner decides it, so two commands that must not both be accepted always meet in one process:
 * - video and comment commands: the video id, the key their events carry, so command partition p
 *   holds the aggregates whose events are on partition p of the event topics (co-partitioned);
 * - registrations: `username:<HMAC-SHA256(secret, NFKC-lowercased name)>` (hex), the key of the
 *   username reservation, so two registrations of one name (in any case or width) meet on one
 *   partition without the name in any key.
 */
import { createHmac } from 'node:crypto';
import { usernameKey } from '../domain/user/user.decider.ts';
import type { RoutedCommand } from './routing.ts';

/** A username → its reservation key (`username:<64 hex digits>`). */
export type UsernameDigest = (username: string) => string;

/**
 * The reservation key of a username under `secret` (the cluster's STREAMWAVE_USERNAME_KEY_SECRET):
 * HMAC-SHA256 of `usernameKey(username)` (NFKC, lower case), hex. Every gateway and command
 * processor must use the same secret; changing it moves every reservation (a repartition).
 * @throws Error when `secret` is shorter than 16 characters.
 */
export function createUsernameDigest(secret: string): UsernameDigest {
  if (secret.length < 16) throw new Error('the username key secret must be at least 16 characters');
  return (username) => `username:${createHmac('sha256', secret).update(usernameKey(username)).digest('hex')}`;
}

/**
 * The commands-topic key of a routed command, or null for a command that does not travel on the
 * topic (heartbeats, `RecordView`, and playback reports, `RecordPlaybackEvents`).
 */
export function commandTopicKey(routed: RoutedCommand, usernameDigest: UsernameDigest): string | null {
  switch (routed.kind) {
    case 'user': return usernameDigest(routed.command.data.username);
    case 'view':
    case 'playback': return null;
    default: return routed.streamId;
  }
}
