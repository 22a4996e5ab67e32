import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { fold } from '../shared/decider.ts';
import { DomainError } from '../shared/event.ts';
import { canonicalCaptionLanguage, CAPTIONS_MAX_BYTES, captionKeys, validateWebVtt } from './captions.ts';
import { videoDecider, type VideoState } from './video.decider.ts';
import type { VideoEvent } from './video.events.ts';
import { captionKey, historyUpTo, STRANGER, videoCommands, videoEvents } from './video.fixtures.ts';

const V = 'vid-1';
const spec = DeciderSpecification.for(videoDecider);
const cmd = videoCommands(V);
const ev = videoEvents(V);
const completed = (...more: VideoEvent[]) => [...historyUpTo(V, 'ready'), ev.completed(), ...more];

describe('captions (video decider)', () => {
  describe('when the video is published and its processing completed', () => {
    test('PublishCaptions by the owner records CaptionsPublished with the video duration', () => {
      spec.given(completed()).when(cmd.publishCaptions('en')).then([ev.captionsPublished('en')]);
    });
    test('the same file again is a no-op; a new file of the language replaces it', () => {
      spec.given(completed(ev.captionsPublished('en'))).when(cmd.publishCaptions('en')).then([]);
      const other = captionKey(V, 'en', 'fedcba9876543210');
      spec.given(completed(ev.captionsPublished('en'))).when(cmd.publishCaptions('en', other)).then([ev.captionsPublished('en', other)]);
    });
    test('only the owner may publish or remove captions', () => {
      spec.given(completed()).when(cmd.publishCaptions('en', undefined, undefined, STRANGER)).thenThrows('NOT_OWNER', 'forbidden');
      spec.given(completed()).when(cmd.publishCaptions('en', undefined, undefined, null)).thenThrows('NOT_OWNER', 'forbidden');
      spec.given(completed(ev.captionsPublished('en'))).when(cmd.removeCaptions('en', STRANGER)).thenThrows('NOT_OWNER', 'forbidden');
    });
    test('a language that is not a canonical BCP 47 tag is INVALID_LANGUAGE', () => {
      for (const language of ['EN', 'en-us', 'english', 'en_US', '', 'x-klingon']) {
        spec.given(completed()).when(cmd.publishCaptions(language, captionKey(V, 'en'))).thenThrows('INVALID_LANGUAGE', 'invalid');
      }
    });
    test('a key outside the video caption keys, or a size outside 1..1 MiB, is INVALID_CAPTIONS', () => {
      for (const key of ['videos/other/hls/captions/en.0123456789abcdef.vtt', captionKey(V, 'fr'), `${captionKeys.prefix(V)}en.m3u8`, 'uploads/x.vtt']) {
        spec.given(completed()).when(cmd.publishCaptions('en', key)).thenThrows('INVALID_CAPTIONS', 'invalid');
      }
      for (const size of [0, -1, 1.5, CAPTIONS_MAX_BYTES + 1]) {
        spec.given(completed()).when(cmd.publishCaptions('en', undefined, size)).thenThrows('INVALID_CAPTIONS', 'invalid');
      }
    });
    test('RemoveCaptions records CaptionsRemoved; removing a language without captions is a no-op', () => {
      spec.given(completed(ev.captionsPublished('en'))).when(cmd.removeCaptions('en')).then([ev.captionsRemoved('en')]);
      spec.given(completed(ev.captionsPublished('en'))).when(cmd.removeCaptions('fr')).then([]);
      spec.given(completed(ev.captionsPublished('en'), ev.captionsRemoved('en'))).when(cmd.removeCaptions('en')).then([]);
    });
    test('evolve keeps one track per language, in language order', () => {
      const s = fold(videoDecider, completed(ev.captionsPublished('fr'), ev.captionsPublished('en'), ev.captionsPublished('fr', captionKey(V, 'fr', 'ffffffffffffffff')), ev.captionsRemoved('en'))) as Extract<VideoState, { videoId: string }>;
      assert.deepEqual(s.captions, [{ language: 'fr', key: captionKey(V, 'fr', 'ffffffffffffffff') }]);
    });
  });

  describe('when the video is not completed yet', () => {
    test('PublishCaptions is VIDEO_NOT_READY while processing, published but still encoding, or failed', () => {
      for (const status of ['processing', 'ready', 'failed'] as const) {
        spec.given(historyUpTo(V, status)).when(cmd.publishCaptions('en')).thenThrows('VIDEO_NOT_READY', 'conflict');
      }
    });
  });

  describe('when the video does not exist or was deleted', () => {
    test('VIDEO_NOT_FOUND / VIDEO_DELETED', () => {
      spec.given([]).when(cmd.publishCaptions('en')).thenThrows('VIDEO_NOT_FOUND', 'not_found');
      spec.given(historyUpTo(V, 'deleted')).when(cmd.removeCaptions('en')).thenThrows('VIDEO_DELETED', 'not_found');
    });
  });
});

describe('caption language (BCP 47, RFC 5646)', () => {
  test('canonicalises case and accepts scripts, regions and variants', () => {
    assert.equal(canonicalCaptionLanguage('en'), 'en');
    assert.equal(canonicalCaptionLanguage('EN-us'), 'en-US');
    assert.equal(canonicalCaptionLanguage('zh-hant-tw'), 'zh-Hant-TW');
    assert.equal(canonicalCaptionLanguage('es-419'), 'es-419');
    assert.equal(canonicalCaptionLanguage('sl-rozaj'), 'sl-rozaj');
  });
  test('refuses what is not a language tag', () => {
    for (const tag of ['', 'e', 'english', 'en_US', 'en-', '-en', 'en US', 'x-private', 'en-u-ca-gregory', '../etc', 'en-US-'.padEnd(40, 'a'), 'a'.repeat(36)]) {
      assert.equal(canonicalCaptionLanguage(tag), null, tag);
    }
  });
});

describe('WebVTT validation (W3C WebVTT)', () => {
  const vtt = (text: string) => new TextEncoder().encode(text);
  const refused = (bytes: Uint8Array, reason: RegExp) => assert.throws(() => validateWebVtt(bytes), (e: unknown) => {
    assert.ok(e instanceof DomainError);
    assert.equal(e.code, 'INVALID_CAPTIONS');
    assert.equal(e.kind, 'invalid');
    assert.match(e.message, reason);
    return true;
  });

  test('accepts a file with cues, identifiers, settings, NOTE and STYLE blocks, CRLF and a BOM; counts the cues', () => {
    const text = '\uFEFFWEBVTT - a title\r\n\r\nSTYLE\r\n::cue { color: yellow }\r\n\r\nNOTE a comment\r\n\r\n1\r\n00:00:00.000 --> 00:00:01.500 line:90%\r\nHello\r\n\r\n01:02.000 --> 01:03.000\r\nMinutes only\r\n\r\n00:00:05.000 --> 00:00:05.000\r\nZero length\r\n';
    assert.equal(validateWebVtt(vtt(text)), 3);
    assert.equal(validateWebVtt(vtt('WEBVTT')), 0);
  });
  test('refuses a missing or wrong signature', () => {
    refused(vtt(''), /signature/);
    refused(vtt('WEBVTTX\n\n00:00:00.000 --> 00:00:01.000\nx\n'), /signature/);
    refused(vtt('1\n00:00:00,000 --> 00:00:01,000\nSRT\n'), /signature/);
    refused(vtt('webvtt\n'), /signature/);
  });
  test('refuses malformed timings, a cue that ends before it starts, and stray -->', () => {
    refused(vtt('WEBVTT\n\n00:00:00,000 --> 00:00:01,000\nx\n'), /line 3: cue timings/);
    refused(vtt('WEBVTT\n\n00:00:61.000 --> 00:01:02.000\nx\n'), /line 3: cue timings/);
    refused(vtt('WEBVTT\n\n00:00:00.00 --> 00:00:01.000\nx\n'), /cue timings/);
    refused(vtt('WEBVTT\n\n00:00:00.000-->00:00:01.000\nx\n'), /cue timings/);
    refused(vtt('WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nx\n'), /ends before it starts/);
    refused(vtt('WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nx --> y\n'), /must not contain -->/);
    refused(vtt('WEBVTT\n00:00:00.000 --> 00:00:01.000\nx\n'), /blank line after the header/);
  });
  test('refuses blocks that are not cues, and bytes that are not UTF-8 or over 1 MiB', () => {
    refused(vtt('WEBVTT\n\njust text\n'), /line 3: a block/);
    refused(vtt('WEBVTT\n\na\nb\n00:00:00.000 --> 00:00:01.000\n'), /first or second line/);
    refused(new Uint8Array([...vtt('WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n'), 0xff, 0xfe]), /not UTF-8/);
    refused(new Uint8Array(CAPTIONS_MAX_BYTES + 1), /larger than/);
  });
});
