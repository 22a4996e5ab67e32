/** The caption writer and the subtitles text of the master playlist (RFC 8216 §4.3.4.1, §4.3.4.2). */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { DomainEvent } from '../../domain/events.ts';
import { captionKeys } from '../../domain/video/captions.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import { readObject } from '../../platform/object-store/object-store.port.ts';
import { uploadMaster } from './hls-output.ts';
import { createEmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { parseSubtitleRenditions, subtitleName, withSubtitles, writeSubtitlePlaylist } from './captions-playlist.ts';
import { buildCaptionWriter } from './captions.processor.ts';
import { hlsKeys } from './hls-keys.ts';
import { parseMasterPlaylist, writeMasterPlaylist, type MasterVariant } from './master-playlist.ts';

const VARIANTS: MasterVariant[] = [
  { bandwidth: 2_500_000, averageBandwidth: 2_000_000, width: 1280, height: 720, codecs: 'avc1.64001f,mp4a.40.2', frameRate: 30, uri: '720p/index.m3u8' },
  { bandwidth: 800_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2', uri: '360p/index.m3u8' },
];

describe('master playlist with subtitles', () => {
  test('lists a SUBTITLES group and names it in every EXT-X-STREAM-INF', () => {
    const text = writeMasterPlaylist(VARIANTS, [
      { language: 'fr', name: 'français', uri: 'captions/fr.m3u8' },
      { language: 'en', name: 'English', uri: 'captions/en.m3u8' },
    ]);
    assert.equal(text, [
      '#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="captions/en.m3u8"',
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="français",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,URI="captions/fr.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",SUBTITLES="subs"', '360p/index.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=30.000,SUBTITLES="subs"', '720p/index.m3u8',
      '',
    ].join('\n'));
    // Read back: the variants and the subtitles survive a rewrite unchanged.
    assert.equal(writeMasterPlaylist(parseMasterPlaylist(text), parseSubtitleRenditions(text)), text);
  });
  test('without subtitles, the master is as before (no SUBTITLES attribute)', () => {
    const text = writeMasterPlaylist(VARIANTS);
    assert.ok(!text.includes('SUBTITLES'));
    assert.deepEqual(parseSubtitleRenditions(text), []);
  });
  test('withSubtitles replaces or removes a language and keeps NAME unique in the group', () => {
    const one = withSubtitles([], 'en', 'captions/en.m3u8');
    assert.deepEqual(one, [{ language: 'en', name: subtitleName('en'), uri: 'captions/en.m3u8' }]);
    assert.equal(subtitleName('en'), 'English');
    const two = withSubtitles([{ language: 'en', name: 'x', uri: 'captions/en.m3u8' }], 'en-US', 'captions/en-US.m3u8');
    assert.equal(new Set(two.map((s) => s.name)).size, 2);
    assert.deepEqual(withSubtitles(two, 'en', null).map((s) => s.language), ['en-US']);
  });
  test('the subtitle playlist wraps the .vtt as one VOD segment; TARGETDURATION is the duration rounded up', () => {
    assert.equal(writeSubtitlePlaylist('en.0123456789abcdef.vtt', 61.2), [
      '#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:62', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXTINF:61.200,', 'en.0123456789abcdef.vtt', '#EXT-X-ENDLIST', '',
    ].join('\n'));
    assert.match(writeSubtitlePlaylist('a.vtt', 0), /#EXT-X-TARGETDURATION:1\n/);
    assert.throws(() => writeSubtitlePlaylist('a.vtt', Number.NaN), RangeError);
  });
});

describe('caption writer', async () => {
  const codec = await sharedAvroTestCodec();
  const dir = await mkdtemp(join(tmpdir(), 'sw-captions-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const s3 = { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'AK', secretAccessKey: 'SK' };
  const store = createEmbeddedObjectStore({ dir, publicBaseUrl: 'http://localhost', s3 });
  const writer = buildCaptionWriter({ codec, objectStore: store });
  let offset = 0;
  const handle = async (e: DomainEvent) => writer.handle({
    topic: TOPICS.videos, partition: 0, offset: offset++, key: (e.data as { videoId: string }).videoId, headers: {}, timestamp: 0,
    value: await codec.encode(TOPICS.videos, e),
  } satisfies LogRecord);
  const text = async (key: string) => (await readObject(store, key))?.toString('utf8');
  const published = (videoId: string, language: string, digest: string): DomainEvent => ({
    type: 'CaptionsPublished',
    data: { videoId, language, key: captionKeys.file(videoId, language, digest), sizeBytes: 100, durationSeconds: 9.5, publishedBy: 'u', publishedAt: 1 },
  });

  test('CaptionsPublished writes the subtitle playlist and adds the language to the master; a redelivery changes nothing', async () => {
    await store.putObject(hlsKeys.master('v1'), Buffer.from(writeMasterPlaylist(VARIANTS)), 'application/vnd.apple.mpegurl');
    await handle(published('v1', 'pt-BR', 'aaaaaaaaaaaaaaaa'));
    assert.equal(await text(captionKeys.playlist('v1', 'pt-BR')), writeSubtitlePlaylist('pt-BR.aaaaaaaaaaaaaaaa.vtt', 9.5));
    const master = (await text(hlsKeys.master('v1')))!;
    assert.deepEqual(parseSubtitleRenditions(master).map((s) => [s.language, s.uri]), [['pt-BR', 'captions/pt-BR.m3u8']]);
    assert.deepEqual(parseMasterPlaylist(master), parseMasterPlaylist(writeMasterPlaylist(VARIANTS)));
    assert.equal(master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:') && l.endsWith(',SUBTITLES="subs"')).length, 2);
    await handle(published('v1', 'pt-BR', 'aaaaaaaaaaaaaaaa'));
    assert.equal(await text(hlsKeys.master('v1')), master);
  });

  test('a new file replaces the language; CaptionsRemoved drops it and, with the last one, the SUBTITLES attribute', async () => {
    await handle(published('v1', 'en', 'bbbbbbbbbbbbbbbb'));
    await handle(published('v1', 'en', 'cccccccccccccccc'));
    assert.match((await text(captionKeys.playlist('v1', 'en')))!, /\nen\.cccccccccccccccc\.vtt\n/);
    assert.deepEqual(parseSubtitleRenditions((await text(hlsKeys.master('v1')))!).map((s) => s.language), ['en', 'pt-BR']);
    for (const language of ['en', 'pt-BR']) await handle({ type: 'CaptionsRemoved', data: { videoId: 'v1', language, removedBy: 'u', removedAt: 2 } });
    assert.equal(await text(hlsKeys.master('v1')), writeMasterPlaylist(VARIANTS));
  });

  test('a transcode job that runs again after the captions (uploadMaster) keeps the subtitles group', async () => {
    await store.putObject(hlsKeys.master('v2'), Buffer.from(writeMasterPlaylist(VARIANTS)), 'application/vnd.apple.mpegurl');
    await handle(published('v2', 'fr', 'eeeeeeeeeeeeeeee'));
    const renditions = VARIANTS.map((v, i) => ({ name: `r${i}`, width: v.width, height: v.height, bandwidth: v.bandwidth, codecs: v.codecs, playlist: v.uri }));
    await uploadMaster(store, 'v2', renditions);
    const master = (await text(hlsKeys.master('v2')))!;
    assert.deepEqual(parseSubtitleRenditions(master).map((s) => s.language), ['fr']);
    assert.equal(master.split('\n').filter((l) => l.endsWith(',SUBTITLES="subs"')).length, VARIANTS.length);
    await uploadMaster(store, 'v3', renditions);
    assert.ok(!(await text(hlsKeys.master('v3')))!.includes('SUBTITLES'), 'a first master has none');
  });

  test('no master (a deleted, collected video): skipped, nothing written', async () => {
    await handle(published('gone', 'en', 'dddddddddddddddd'));
    assert.equal(await text(hlsKeys.master('gone')), undefined);
    assert.equal(await text(captionKeys.playlist('gone', 'en')), undefined);
  });
});
