/**
 * The caption part of the video decider (domain/video/video.decider.ts delegates PublishCaptions,
 * RemoveCaptions, CaptionsPublished and CaptionsRemoved here). Pure.
 */
import { DomainError } from '../shared/event.ts';
import { canonicalCaptionLanguage, CAPTIONS_MAX_BYTES, isCaptionFileKey } from './captions.ts';
import type { CaptionsPublished, CaptionsRemoved } from './video.events.ts';
import type { PublishCaptions, RemoveCaptions } from './video.commands.ts';

/** One caption track of a video: canonical BCP 47 `language`, object `key` of its WebVTT file. */
export interface CaptionTrack {
  readonly language: string;
  readonly key: string;
}

/** What the caption rules read of a live (not deleted) video's state. */
export interface CaptionsVideoView {
  readonly ownerId: string;
  readonly status: string;
  readonly completed: boolean;
  /** Seconds; null before processing. */
  readonly durationSeconds: number | null;
  readonly captions: readonly CaptionTrack[];
}

/**
 * Decides PublishCaptions / RemoveCaptions on a live video `v` (the caller checked it exists and
 * is not deleted). Captions need a video whose processing completed: from then on the master
 * playlist is the caption writer's alone (the transcoder rewrites it while renditions finish;
 * processors/transcoder/captions.processor.ts). Publishing the same file again, or removing a
 * language that has no captions, is a no-op (`[]`).
 * @throws DomainError `NOT_OWNER` (forbidden) unless `metadata.actorId` owns the video;
 *   `VIDEO_NOT_READY` (conflict) before VideoProcessingCompleted; `INVALID_LANGUAGE` (invalid) for a
 *   tag that is not a canonical BCP 47 tag; `INVALID_CAPTIONS` (invalid) for a key outside the
 *   video's caption keys or a size outside 1..CAPTIONS_MAX_BYTES.
 */
export function decideCaptions(command: PublishCaptions | RemoveCaptions, v: CaptionsVideoView): (CaptionsPublished | CaptionsRemoved)[] {
  const d = command.data;
  const actorId = command.metadata.actorId;
  if (actorId !== v.ownerId) throw new DomainError('NOT_OWNER', 'only the owner may change the captions of a video', 'forbidden');
  if (canonicalCaptionLanguage(d.language) !== d.language) {
    throw new DomainError('INVALID_LANGUAGE', 'language must be a canonical BCP 47 tag such as en or pt-BR', 'invalid');
  }
  const current = v.captions.find((c) => c.language === d.language);
  if (command.type === 'RemoveCaptions') {
    if (!current) return [];
    return [{ type: 'CaptionsRemoved', data: { videoId: d.videoId, language: d.language, removedBy: actorId, removedAt: command.metadata.now } }];
  }
  if (v.status !== 'ready' || !v.completed || v.durationSeconds === null) {
    throw new DomainError('VIDEO_NOT_READY', `video ${d.videoId} is still processing; add captions once it has completed`, 'conflict');
  }
  const { key, sizeBytes } = command.data;
  if (!isCaptionFileKey(key, d.videoId, d.language)) throw new DomainError('INVALID_CAPTIONS', 'the caption key is not one of the video', 'invalid');
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes > CAPTIONS_MAX_BYTES) {
    throw new DomainError('INVALID_CAPTIONS', `sizeBytes must be 1..${CAPTIONS_MAX_BYTES} bytes`, 'invalid');
  }
  if (current?.key === key) return [];
  return [{
    type: 'CaptionsPublished',
    data: {
      videoId: d.videoId, language: d.language, key, sizeBytes, durationSeconds: v.durationSeconds,
      publishedBy: actorId, publishedAt: command.metadata.now,
    },
  }];
}

/** The caption tracks after `event`, in language order. Total and pure. */
export function evolveCaptions(captions: readonly CaptionTrack[] | undefined, event: CaptionsPublished | CaptionsRemoved): CaptionTrack[] {
  const others = (captions ?? []).filter((c) => c.language !== event.data.language);
  if (event.type === 'CaptionsRemoved') return others;
  return [...others, { language: event.data.language, key: event.data.key }].sort((a, b) => (a.language < b.language ? -1 : a.language > b.language ? 1 : 0));
}
