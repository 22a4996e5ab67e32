/**
 * The web app in a real browser (issue 14): Debian's Chromium driven by playwright-core (no
 * browser download), started with autoplay allowed, against a real StreamWave process. A creator
 * signs up, uploads a clip with the progress bar and sees processing pushed live; the watch page
 * plays it through hls.js for at least 10 s; a second viewer in another browser context likes,
 * subscribes and comments, and the comment appears live in the first context; the view is
 * counted in analytics; a long upload starts playing while its ladder is still being encoded.
 * Screenshots of every page go to `test-results/screenshots/` (the README's
 * watch-page picture is one of them). Chromium: `STREAMWAVE_CHROMIUM` or /usr/bin/chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile } from '../../cli/client/upload-file.ts';
import { makeClip } from '../support/make-media.ts';
import { resolveFfmpegBinaries } from '../../processors/transcoder/ffmpeg-binaries.ts';
import { startE2eTarget, type E2eTarget } from '../support/e2e-target.ts';

const CHROMIUM = process.env.STREAMWAVE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
const missing = existsSync(CHROMIUM) ? undefined : `Chromium not found at ${CHROMIUM} (Debian: apt-get install chromium; or set STREAMWAVE_CHROMIUM)`;
const PASSWORD = 'correct horse battery';

describe('the web app in Chromium (issue 14)', { skip: missing }, () => {
  let tmp: string;
  let sw: E2eTarget;
  let browser: Browser;
  let creator: BrowserContext;
  let viewer: BrowserContext;
  let a: Page;
  let b: Page;
  let clip: string;
  let videoId: string;
  const shot = async (page: Page, name: string, fullPage = false) => {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
  };
  const signUp = async (page: Page, username: string) => {
    await page.goto(`${sw.url}/#/signin`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', PASSWORD);
    await page.check('#new-account');
    await page.fill('input[name=email]', `${username}@example.com`);
    await page.click('button[type=submit]');
    await page.waitForSelector(`#me:has-text("${username}")`);
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sw-web-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    clip = join(tmp, 'harbour.mp4');
    await makeClip(clip, { seconds: 20, width: 640, height: 360, audio: true });
    sw = await startE2eTarget({ dataDir: join(tmp, 'data') });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--autoplay-policy=no-user-gesture-required', '--no-sandbox', '--mute-audio'] });
    creator = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    viewer = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    a = await creator.newPage();
    b = await viewer.newPage();
  });
  after(async () => {
    await browser?.close();
    await sw?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('this Chromium plays H.264/AAC through Media Source Extensions (else hls.js could not play)', async () => {
    await a.goto(`${sw.url}/`);
    assert.equal(await a.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001f,mp4a.40.2"')), true);
  });

  test('sign up on the sign-in page', async () => {
    await a.goto(`${sw.url}/#/signin`);
    await shot(a, 'signin');
    await signUp(a, 'webcreator');
  });

  test('upload a clip: the bytes with a progress bar, then processing progress pushed until it is ready', async () => {
    await a.goto(`${sw.url}/#/upload`);
    await a.setInputFiles('input[name=file]', clip);
    await a.fill('input[name=title]', 'Harbour at dawn');
    await a.fill('input[name=tags]', 'harbour, dawn');
    await a.click('button[type=submit]');
    await a.waitForSelector('#watch-link', { timeout: 240_000 });
    assert.equal(await a.$eval('#upload-bar', (el) => (el as HTMLProgressElement).value), 100);
    // Playable first (progressive publishing), then pushed on to 100 %.
    await a.waitForSelector('#processing-status:has-text("ready 100 %")', { timeout: 240_000 });
    await shot(a, 'upload');
    videoId = decodeURIComponent((await a.getAttribute('#watch-link', 'href'))!.split('/').pop()!);
  });

  test('the watch page plays it for at least 10 s through hls.js, with the ladder in the quality menu', async () => {
    await a.click('#watch-link');
    await a.waitForSelector('#player');
    await a.waitForFunction(() => (document.querySelector('#player') as HTMLVideoElement).currentTime >= 10, null, { timeout: 60_000, polling: 500 });
    const qualities = await a.$$eval('#quality option', (os) => os.map((o) => o.textContent));
    assert.ok(qualities.length >= 2 && qualities[0] === 'Auto', `quality menu: ${qualities.join(', ')}`);
    assert.ok(await a.$eval('#player', (v) => (v as HTMLVideoElement).buffered.length > 0));
    await shot(a, 'watch');
  });

  test('a second viewer likes, subscribes and comments: the comment and the like appear live on the creator\'s page', async () => {
    await signUp(b, 'webviewer');
    await b.goto(`${sw.url}/#/watch/${encodeURIComponent(videoId)}`);
    await b.waitForSelector('#like');
    await b.click('#like');
    await b.waitForSelector('#like.on');
    assert.equal(await b.textContent('#likes'), '1');
    await b.click('#subscribe');
    await b.waitForSelector('#subscribe.on');
    assert.equal(await b.textContent('#subscribers'), '1');
    await b.fill('#comment-body', 'Lovely light on the water');
    await b.click('#comment-form button[type=submit]');
    // Pushed to the creator's open page (Server-Sent Events), no reload.
    await a.waitForSelector('.comment:has-text("Lovely light on the water")', { timeout: 30_000 });
    await a.waitForFunction(() => document.querySelector('#likes')?.textContent === '1', null, { timeout: 30_000 });
    await b.click('.comment .reply');
    await b.fill('#comment-body', 'Thank you!');
    await b.click('#comment-form button[type=submit]');
    await a.waitForSelector('.comment .replies .comment:has-text("Thank you!")', { timeout: 30_000 });
    // The video's owner deletes the reply: the viewer's open page shows the placeholder at once.
    await b.fill('#comment-body', 'Spam, spam, spam');
    await b.click('#comment-form button[type=submit]');
    await b.waitForSelector('.comment > .body:text-is("Spam, spam, spam")');
    const counted = Number(await b.textContent('#comment-count'));
    await a.click('.comment:has(> .body:text-is("Spam, spam, spam")) > .meta [data-delete]', { timeout: 30_000 });
    await b.waitForFunction(() => [...document.querySelectorAll('.comment > .body')].some((el) => el.textContent === '[deleted]')
      && ![...document.querySelectorAll('.comment > .body')].some((el) => el.textContent === 'Spam, spam, spam'), null, { timeout: 30_000 });
    assert.equal(Number(await b.textContent('#comment-count')), counted - 1, 'a deleted comment leaves the count');
    const owner = new StreamWaveClient(sw.url);
    for (let i = 0; i < 120 && (await owner.video(videoId)).comment_count !== counted - 1; i++) await new Promise((r) => setTimeout(r, 250));
    assert.equal((await owner.video(videoId)).comment_count, counted - 1, 'and the video detail\'s comment_count');
    await b.evaluate(() => window.scrollTo(0, 0));
    await shot(b, 'watch-viewer');
  });

  test('the view is counted in the creator\'s analytics', async () => {
    const token = await a.evaluate(() => localStorage.getItem('streamwave.token'));
    const owner = new StreamWaveClient(sw.url, token!);
    let views = 0;
    for (let i = 0; i < 120 && views < 1; i++) {
      views = (await owner.request<{ views: number }>('GET', `/api/v1/videos/${videoId}/analytics`)).views;
      if (views < 1) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(views >= 1, `analytics views ${views}`);
  });

  test('the studio (issue 15): the creator\'s videos and channel summary, then the video\'s charts; retention, concurrent viewers and startup time change live while players report', async () => {
    await a.goto(`${sw.url}/#/studio`);
    await a.waitForSelector(`#studio-videos tr[data-id="${videoId}"]`);
    // The channel summary rolls the counted view up, with the video among the top ones.
    await a.waitForSelector(`#channel-summary #top-videos tr[data-id="${videoId}"]`, { timeout: 30_000 });
    assert.ok(Number(await a.getAttribute('#channel-summary', 'data-views')) >= 1, 'the channel\'s views include the counted one');
    assert.ok(Number(await a.getAttribute('#channel-summary', 'data-subscribers-gained')) >= 1, 'the viewer\'s subscription is counted');
    await a.waitForSelector('#chart-channel-views .uplot');
    await shot(a, 'studio-videos', true);
    await a.click(`#studio-videos tr[data-id="${videoId}"] a[href^="#/studio/"]`);
    await a.waitForSelector('#fig-views');
    await a.waitForSelector('#chart-retention .uplot');
    const before = await a.evaluate(() => ({ ...(document.querySelector('#fig-views')!.closest('div[data-views]') as HTMLElement).dataset }));
    // Two more players watch 2 s of it (10 %: the curve moves whatever the earlier viewers watched),
    // starting in 150 ms and stalling once: sent through the API, as a player does.
    const owner = new StreamWaveClient(sw.url);
    const sessions = await Promise.all([0, 1].map(async () => (await owner.request<{ session_id: string }>('GET', `/api/v1/videos/${videoId}/stream`, undefined, { auth: false })).session_id));
    for (const session_id of sessions) {
      await owner.request('POST', `/api/v1/videos/${videoId}/playback-events`, { session_id, events: [
        { type: 'start', position_seconds: 0, startup_time_ms: 150, rendition_height: 360 },
        { type: 'rebuffer_start', position_seconds: 4 }, { type: 'rebuffer_end', position_seconds: 4, rebuffer_ms: 500 },
      ] }, { auth: false });
      await owner.request('POST', `/api/v1/videos/${videoId}/views`, { session_id, watched_seconds: 2, position_seconds: 2 }, { auth: false });
    }
    // Pushed or re-read by the open page, never reloaded.
    await a.waitForFunction((b) => {
      const d = (document.querySelector('#fig-views')!.closest('div[data-views]') as HTMLElement).dataset;
      // At least: the viewer's page, still open, may add its own session meanwhile.
      return Number(d.sessions) >= Number(b.sessions) + 2 && d.retention !== b.retention && Number(d.concurrent) >= 2 && Number(d.startupSamples) >= Number(b.startupSamples) + 2;
    }, before, { timeout: 60_000, polling: 500 }).catch(async (e: Error) => {
      const now = await a.evaluate(() => ({ ...(document.querySelector('#fig-views')!.closest('div[data-views]') as HTMLElement).dataset, updated: document.querySelector('#updated')?.textContent }));
      throw new Error(`the studio did not show the reports: before ${JSON.stringify(before)}, now ${JSON.stringify(now)} (${e.message})`);
    });
    const after = await a.evaluate(() => ({ ...(document.querySelector('#fig-views')!.closest('div[data-views]') as HTMLElement).dataset }));
    assert.ok(Number(after.concurrent) >= 2, `watching now: ${after.concurrent}`);
    assert.equal(after.retentionPoints, '101');
    assert.match(await a.textContent('#fig-rebuffer .value') ?? '', /%$/);
    assert.ok((await a.$$('#renditions tr')).length >= 2, 'the 360p rendition is listed');
    // The viewer liked it, commented and replied above: likes and comments over time, and the rate.
    await a.waitForSelector('#chart-likes .uplot');
    await a.waitForSelector('#chart-comments .uplot');
    assert.ok(Number(after.engagementRate) > 0, `engagement rate ${after.engagementRate}`);
    assert.match(await a.textContent('#fig-engagement .value') ?? '', /%$/);
    await shot(a, 'studio', true);
  });

  test('the studio edit form uploads a custom thumbnail (issue 15): the page and the video detail show the re-encoded JPEG', async () => {
    await a.goto(`${sw.url}/#/studio`);
    await a.click(`#studio-videos tr[data-id="${videoId}"] button.edit`);
    const png = join(tmp, 'thumbnail.png');
    execFileSync(resolveFfmpegBinaries().ffmpeg, ['-loglevel', 'error', '-f', 'lavfi', '-i', 'color=orange:s=640x360', '-frames:v', '1', '-y', png]);
    await a.setInputFiles('#edit-form input[name="thumbnail"]', png);
    await a.click('#thumbnail-upload');
    await a.waitForFunction(() => (document.querySelector('#thumbnail-result')?.textContent ?? '') !== '');
    assert.equal(await a.textContent('#thumbnail-result'), 'Thumbnail updated.');
    const src = await a.getAttribute('#thumbnail-preview', 'src');
    assert.match(src ?? '', new RegExp(`/videos/${videoId}/thumbnail-[0-9a-f]{16}\\.jpg$`));
    assert.equal((await new StreamWaveClient(sw.url).request<{ thumbnail_url: string }>('GET', `/api/v1/videos/${videoId}`)).thumbnail_url, src);
    // The browser loaded it: a 640×360 image (the re-encoded JPEG keeps the size of a small upload).
    await a.waitForFunction(() => (document.querySelector('#thumbnail-preview') as HTMLImageElement).naturalWidth === 640);
  });

  test('a long upload starts playing while its ladder is still being encoded (progressive publishing)', async () => {
    const long = await makeClip(join(tmp, 'long.mp4'), { seconds: 120, width: 1280, height: 720, audio: true });
    const owner = new StreamWaveClient(sw.url, (await a.evaluate(() => localStorage.getItem('streamwave.token')))!);
    const up = await uploadFile(owner, long, { title: 'A long harbour walk', resumeFile: join(tmp, 'resume.json') });
    // The page is open before the video is playable: the status event that says ready starts the player.
    await a.goto(`${sw.url}/#/watch/${encodeURIComponent(up.videoId)}`);
    await a.waitForFunction(() => ((document.querySelector('#player') as HTMLVideoElement | null)?.currentTime ?? 0) >= 2, null, { timeout: 240_000, polling: 250 });
    const status = await owner.status(up.videoId);
    assert.equal(status.status, 'ready');
    assert.ok(status.progress < 100, `still encoding while it plays (progress ${status.progress})`);
    assert.match(await a.textContent('#status-line') ?? '', /still encoding/);
    await shot(a, 'watch-while-encoding');
  });

  test('the viewer\'s home lists the video under their subscriptions', async () => {
    await b.goto(`${sw.url}/#/`);
    await b.waitForSelector(`#feed [data-video-id="${videoId}"]`, { timeout: 30_000 });
  });

  test('home, search and channel pages list the video', async () => {
    await a.goto(`${sw.url}/#/`);
    await a.waitForSelector(`#trending [data-video-id="${videoId}"]`, { timeout: 30_000 });
    await shot(a, 'home');
    await a.goto(`${sw.url}/#/search?q=harbor`);
    await a.waitForSelector(`#results [data-video-id="${videoId}"]`, { timeout: 30_000 });
    await shot(a, 'search');
    // Issue 14: a tag chip from the result set's facets, sort by view count, then a duration range that leaves it out.
    await a.click('#tags .chip[data-tag="dawn"]');
    await a.waitForSelector('#tags .chip.on[data-tag="dawn"]');
    assert.ok((await a.evaluate(() => location.hash)).includes('tag=dawn'));
    await a.waitForSelector(`#results [data-video-id="${videoId}"]`);
    await a.selectOption('select[name=sort]', 'views');
    await a.waitForFunction(() => location.hash.includes('sort=views'));
    await a.waitForSelector(`#results [data-video-id="${videoId}"]`);
    await shot(a, 'search-filters');
    await a.selectOption('select[name=duration]', 'long');
    await a.waitForFunction(() => document.querySelector('#results p.muted')?.textContent === 'No videos match.');
    assert.ok((await a.evaluate(() => location.hash)).includes('duration=long') && (await a.evaluate(() => location.hash)).includes('tag=dawn'), 'filters add up');
    await a.click('#me');
    await a.waitForSelector(`[data-video-id="${videoId}"]`);
    assert.equal(await a.textContent('#subscribers'), '1');
    await shot(a, 'channel');
  });

  test('hovering the seek strip shows the storyboard tile of that time (seek previews), and a click seeks there', async () => {
    // The storyboard comes after processing completes: wait for its URL in the detail.
    const url = await a.waitForFunction(async (id) => (await (await fetch(`/api/v1/videos/${id}`)).json()).storyboard_url, videoId, { timeout: 120_000, polling: 1_000 });
    const track = String(await url.jsonValue());
    assert.match(track, /\/videos\/[^/]+\/storyboard\/storyboard\.vtt$/);
    assert.equal(await a.evaluate(async (u) => (await fetch(u)).status, track), 200, 'the page can read the track');
    await a.goto(`${sw.url}/#/watch/${encodeURIComponent(videoId)}`);
    const strip = await a.waitForSelector('#scrub');
    const box = (await strip.boundingBox())!;
    await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await a.waitForFunction(() => /sprite-1\.jpg/.test((document.querySelector('.scrub-tile') as HTMLElement | null)?.style.backgroundImage ?? ''), null, { timeout: 10_000 });
    const tile = await a.$eval('.scrub-tile', (el) => ({ w: (el as HTMLElement).style.width, pos: (el as HTMLElement).style.backgroundPosition, hidden: (el.parentElement as HTMLElement).hidden }));
    assert.equal(tile.w, '160px');
    assert.equal(tile.hidden, false);
    assert.notEqual(tile.pos, '-0px -0px', 'the middle of a 20 s video is not the first tile');
    assert.equal(await a.textContent('.scrub-time'), '0:10');
    await shot(a, 'seek-preview');
    await a.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await a.waitForFunction(() => Math.abs((document.querySelector('#player') as HTMLVideoElement).currentTime - 10) < 2, null, { timeout: 10_000 });
  });

  test('captions the creator uploads show in the player: the master lists them, the picker turns them on and the cue is on screen', async () => {
    const token = await a.evaluate(() => localStorage.getItem('streamwave.token'));
    const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:20.000\nThe harbour wakes up\n';
    const put = await fetch(`${sw.url}/api/v1/videos/${encodeURIComponent(videoId)}/captions/en`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/vtt' }, body: vtt });
    assert.equal(put.status, 200, await put.text());
    // The caption writer rewrites the master asynchronously: wait until the served master lists them.
    const master = new URL(`/api/v1/videos/${encodeURIComponent(videoId)}/stream`, sw.url);
    let listed = false;
    for (let i = 0; i < 120 && !listed; i++) {
      const stream = await (await fetch(master, { headers: { authorization: `Bearer ${token}` } })).json() as { manifest_url: string };
      listed = (await (await fetch(new URL(stream.manifest_url, sw.url))).text()).includes('TYPE=SUBTITLES');
      if (!listed) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(listed, 'the master lists the subtitles group');
    // Playlists are served with max-age=2: the page (which loaded the master a moment ago) may hold the old one that long.
    await new Promise((r) => setTimeout(r, 2_500));
    await a.goto(`${sw.url}/#/`);
    await a.goto(`${sw.url}/#/watch/${encodeURIComponent(videoId)}`);
    await a.waitForSelector('#captions option[value="en"]', { state: 'attached' });
    await a.waitForFunction(() => [...(document.querySelector('#player') as HTMLVideoElement).textTracks].some((t) => t.language === 'en'), null, { timeout: 30_000 });
    await a.selectOption('#captions', 'en');
    // Held inside the cue (a 20 s clip may otherwise end before hls.js has loaded the subtitles).
    await a.evaluate(() => { const v = document.querySelector('#player') as HTMLVideoElement; v.pause(); v.currentTime = 5; });
    await a.waitForFunction(() => {
      const track = [...(document.querySelector('#player') as HTMLVideoElement).textTracks].find((t) => t.language === 'en');
      return track?.mode === 'showing' && (track.activeCues?.length ?? 0) > 0 && (track.activeCues![0] as VTTCue).text === 'The harbour wakes up';
    }, null, { timeout: 60_000, polling: 250 }).catch(async (e: Error) => {
      const state = await a.evaluate(() => {
        const v = document.querySelector('#player') as HTMLVideoElement;
        return { time: v.currentTime, paused: v.paused, tracks: [...v.textTracks].map((t) => ({ language: t.language, mode: t.mode, cues: t.cues?.length ?? null, active: t.activeCues?.length ?? null })) };
      });
      throw new Error(`the caption cue is not on screen: ${JSON.stringify(state)} (${e.message})`);
    });
    await shot(a, 'captions');
  });
});
