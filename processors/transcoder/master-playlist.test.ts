import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  avc1Codec,
  avc1CodecFromMp4,
  codecsString,
  h264LevelFor,
  measureBandwidth,
  parseMasterPlaylist,
  parseMediaPlaylist,
  writeMasterPlaylist,
} from './master-playlist.ts';

describe('CODECS helpers', () => {
  test('avc1 string is profile, constraint flags, level as lowercase hex', () => {
    assert.equal(avc1Codec(100, 0, 31), 'avc1.64001f');
    assert.equal(avc1Codec(77, 0x40, 30), 'avc1.4d401e');
    assert.equal(avc1Codec(66, 0xc0, 13), 'avc1.42c00d');
    assert.throws(() => avc1Codec(256, 0, 31), RangeError);
  });

  test('avc1CodecFromMp4 reads the avcC box bytes', () => {
    // size, 'avcC', configurationVersion=1, profile=100, compat=0, level=40, …
    const box = Buffer.concat([Buffer.from([0, 0, 0, 16]), Buffer.from('avcC', 'latin1'), Buffer.from([1, 100, 0, 40, 0xff, 0xe1, 0, 0])]);
    const file = Buffer.concat([Buffer.alloc(40, 7), box]);
    assert.equal(avc1CodecFromMp4(file), 'avc1.640028');
    assert.equal(avc1CodecFromMp4(Buffer.from('no box here')), null);
  });

  test('codecsString adds mp4a.40.2 only with audio', () => {
    assert.equal(codecsString('avc1.64001f', true), 'avc1.64001f,mp4a.40.2');
    assert.equal(codecsString('avc1.64001f', false), 'avc1.64001f');
  });

  test('h264LevelFor follows Table A-1 limits', () => {
    assert.equal(h264LevelFor(1920, 1080, 30), 40);
    assert.equal(h264LevelFor(1920, 1080, 60), 42);
    assert.equal(h264LevelFor(1280, 720, 30), 31);
    assert.equal(h264LevelFor(3840, 2160, 30), 51);
  });
});

describe('writeMasterPlaylist', () => {
  const v = (height: number, bandwidth: number) => ({
    bandwidth, averageBandwidth: bandwidth / 2, width: Math.round((height * 16) / 9), height, codecs: 'avc1.64001f,mp4a.40.2', frameRate: 29.97, uri: `${height}p/index.m3u8`,
  });

  test('header, one STREAM-INF per variant, lowest first, with all attributes', () => {
    const text = writeMasterPlaylist([v(720, 3_000_000), v(144, 200_000), v(360, 800_000)]);
    const lines = text.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS']);
    const inf = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    assert.equal(inf.length, 3);
    assert.deepEqual(lines.filter((l) => !l.startsWith('#')), ['144p/index.m3u8', '360p/index.m3u8', '720p/index.m3u8']);
    assert.equal(inf[0], '#EXT-X-STREAM-INF:BANDWIDTH=200000,AVERAGE-BANDWIDTH=100000,RESOLUTION=256x144,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=29.970');
    assert.ok(text.endsWith('\n'));
  });

  test('rejects an empty ladder', () => {
    assert.throws(() => writeMasterPlaylist([]), RangeError);
  });
});

describe('media playlist measurements', () => {
  test('parseMediaPlaylist reads EXTINF durations, URIs and the init map', () => {
    const text = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4.000000,\nseg-00001.m4s\n#EXTINF:1.5,\nseg-00002.m4s\n#EXT-X-ENDLIST\n';
    assert.deepEqual(parseMediaPlaylist(text), {
      initUri: 'init.mp4',
      segments: [{ duration: 4, uri: 'seg-00001.m4s' }, { duration: 1.5, uri: 'seg-00002.m4s' }],
    });
  });

  test('measureBandwidth: peak segment bits/s and average', () => {
    const r = measureBandwidth([{ duration: 4, bytes: 100_000 }, { duration: 2, bytes: 100_000 }]);
    assert.equal(r.peak, 400_000);
    assert.equal(r.average, Math.ceil((200_000 * 8) / 6));
    assert.equal(measureBandwidth([{ duration: 4, bytes: 1000 }], 1000).peak, 4000);
  });
});

test('parseMasterPlaylist reads back what writeMasterPlaylist writes', () => {
  const variants = [
    { bandwidth: 400_000, averageBandwidth: 300_000, width: 256, height: 144, codecs: 'avc1.64000c,mp4a.40.2', frameRate: 30, uri: '144p/index.m3u8' },
    { bandwidth: 900_000, width: 640, height: 360, codecs: 'avc1.64001e', uri: '360p/index.m3u8' },
  ];
  assert.deepEqual(parseMasterPlaylist(writeMasterPlaylist(variants)), variants);
  assert.deepEqual(parseMasterPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:CODECS="x"\nbroken.m3u8\n'), [], 'a variant without BANDWIDTH/RESOLUTION is skipped');
});
