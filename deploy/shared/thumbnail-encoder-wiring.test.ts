/**
 * The gateway's thumbnail encoder as both composition roots wire it (wiring.ts thumbnailEncoderOf,
 * on the role's configuration and its `<data dir>/work`): FFmpeg runs under the transcoder's memory
 * cap (STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES), and what an encode holds on disk is a direct
 * entry of the folder the upload reaper sweeps, so a crash mid-encode leaves nothing for good.
 * FFmpeg is a script that records its address-space limit and its input, then waits to be
 * released: the encode is looked at mid-run, which is what a crash at that point leaves behind.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import { findPrlimit } from '../../processors/transcoder/bounded-process.ts';
import { ThumbnailDecodeError } from '../../processors/thumbnails/thumbnail-encoder.port.ts';
import { createUploadReaper } from '../../processors/upload-reaper/upload-reaper.ts';
import { requirement } from '../../test/support/requirements.ts';
import { loadConfig } from '../config/config.ts';
import { thumbnailEncoderOf, WORK_DIR_NAME } from './wiring.ts';

const skip = requirement('util-linux prlimit (the memory cap)', findPrlimit() ? undefined : 'prlimit not found');
const dataDir = mkdtempSync(join(tmpdir(), 'sw-thumbnail-wiring-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** 3 GiB: neither the transcoder's default (4 GiB) nor the encoder's old hard-coded 1 GiB. */
const CAP_BYTES = 3 * 1024 ** 3;

describe('thumbnailEncoderOf', { skip }, () => {
  test('given a role configured with a transcode memory cap, when the encoder runs FFmpeg, then under that cap, in a folder the upload reaper sweeps once it is expired', async () => {
    const state = mkdtempSync(join(dataDir, 'ffmpeg-state-'));
    const [limit, input, running, release] = ['limit', 'input', 'running', 'release'].map((f) => join(state, f)) as [string, string, string, string];
    const ffmpeg = join(state, 'ffmpeg.sh');
    writeFileSync(ffmpeg, [
      '#!/bin/sh',
      `ulimit -v > '${limit}'`,
      `for a in "$@"; do case "$a" in */in.png) echo "$a" > '${input}';; esac; done`,
      `: > '${running}'`,
      `while [ ! -e '${release}' ]; do sleep 0.05; done`,
      'exit 1',
      '',
    ].join('\n'));
    chmodSync(ffmpeg, 0o755);
    const previous = process.env.STREAMWAVE_FFMPEG_PATH;
    process.env.STREAMWAVE_FFMPEG_PATH = ffmpeg;
    const config = loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES: String(CAP_BYTES) });
    // As deploy/standalone/standalone.ts and deploy/cluster/roles.ts give it and their reaper.
    const workDir = join(config.dataDir, WORK_DIR_NAME);
    const encoder = thumbnailEncoderOf(config, workDir);
    if (previous === undefined) delete process.env.STREAMWAVE_FFMPEG_PATH;
    else process.env.STREAMWAVE_FFMPEG_PATH = previous;

    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    let settled = false;
    const encoding = encoder.encode(png, 'png').finally(() => { settled = true; });
    encoding.catch(() => undefined);
    while (!existsSync(running)) {
      assert.equal(settled, false, 'the encode ended before FFmpeg ran');
      await new Promise((r) => setTimeout(r, 10));
    }

    assert.equal(readFileSync(limit, 'utf8').trim(), String(CAP_BYTES / 1024), 'ulimit -v (KiB) is the configured cap');
    const [entry, ...others] = readdirSync(workDir);
    assert.deepEqual(others, []);
    assert.match(entry!, /^thumbnail-/);
    assert.equal(dirname(readFileSync(input, 'utf8').trim()), join(workDir, entry!), 'the image FFmpeg reads is inside that entry');

    // The reaper the composition roots run over the same folder, on a clock past the expiry:
    // the entry is what a crash at this point leaves behind.
    const reaper = createUploadReaper({
      commandBus: {} as CommandBus, // no pending uploads: only the temp folders are swept
      pendingUploads: () => [],
      objectStore: { abortMultipartUpload: async () => undefined, exists: async () => false },
      tempDirs: [workDir],
      expirySeconds: config.uploadExpirySeconds,
      now: () => Date.now() + config.uploadExpirySeconds * 1000 + 1000,
      logger: pino({ level: 'silent' }),
    });
    const report = await reaper.reap();
    assert.deepEqual(report.errors, []);
    assert.equal(report.removedTempEntries, 1);
    assert.deepEqual(readdirSync(workDir), []);

    writeFileSync(release, '');
    await assert.rejects(encoding, ThumbnailDecodeError);
    assert.deepEqual(readdirSync(workDir), [], 'nothing left after the encode either');
  });
});
