/**
 * The video aggregate's decision on RecordStoryboard (seek previews), apart from video.decider.ts
 * so that file stays within the size limit; video.decider.ts delegates to it.
 */
import { DomainError } from '../shared/event.ts';
import { isNonBlank, isNonNegativeFinite } from '../shared/validation.ts';
import type { RecordStoryboard } from './video.commands.ts';
import type { StoryboardGenerated } from './video.events.ts';

const isPositiveInteger = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) > 0;

/**
 * Decides RecordStoryboard against a live video (`video`: its state once video.decider.ts
 * `requireLiveVideo` accepted it, which raises `VIDEO_NOT_FOUND` / `VIDEO_DELETED`): a
 * StoryboardGenerated for a published (ready) video; `[]` when the same `storyboardKey` is already
 * recorded (a redelivered transcoder job, a backfill run again).
 * @throws DomainError `INVALID_TRANSITION`
 *   (conflict) unless the video is ready; `INVALID_STORYBOARD` (invalid) for a blank key, an
 *   interval that is not a finite number > 0 (seconds) or tiles / tile sizes that are not
 *   positive integers (count, pixels).
 */
export function decideRecordStoryboard(command: RecordStoryboard, v: { status: string; storyboardKey?: string | null }): StoryboardGenerated[] {
  const d = command.data;
  if (v.status !== 'ready') throw new DomainError('INVALID_TRANSITION', `cannot record a storyboard of a video that is ${v.status}`, 'conflict');
  const invalid = (message: string) => new DomainError('INVALID_STORYBOARD', message, 'invalid');
  if (!isNonBlank(d.storyboardKey)) throw invalid('storyboardKey is required');
  if (!isNonNegativeFinite(d.intervalSeconds) || d.intervalSeconds === 0) throw invalid('intervalSeconds must be a finite number > 0 (seconds)');
  for (const f of ['tiles', 'tileWidth', 'tileHeight'] as const) {
    if (!isPositiveInteger(d[f])) throw invalid(`${f} must be a positive integer`);
  }
  if (v.storyboardKey === d.storyboardKey) return [];
  return [{
    type: 'StoryboardGenerated',
    data: {
      videoId: d.videoId, storyboardKey: d.storyboardKey, intervalSeconds: d.intervalSeconds, tiles: d.tiles,
      tileWidth: d.tileWidth, tileHeight: d.tileHeight, generatedAt: command.metadata.now,
    },
  }];
}
