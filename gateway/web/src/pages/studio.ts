/**
 * The creator studio (issue 15). `#/studio`: the signed-in creator's videos (every status and
 * visibility) with processing progress and views, and a form per video to edit title,
 * description, tags and visibility (PATCH) and upload a custom thumbnail (PUT …/thumbnail). `#/studio/{id}`: the video's analytics, live: the
 * figures, views over time (interval and time zone chosen here), concurrent viewers per minute
 * and the retention curve as uPlot charts, likes (given, taken back) and comments (posted,
 * deleted) in the views' buckets, the engagement rate, renditions watched and playback errors. The page
 * re-reads the analytics when the video's Server-Sent Events say something changed (at most once
 * a second) and every 5 s (viewers leaving send nothing), never reloading the page.
 */
import { api, esc, session, videoEvents, type Cleanup } from '../api.ts';
import { chart, fmt } from './studio-chart.ts';
import { channelSummary } from './studio-channel.ts';

/** How often the analytics are re-read without an event, ms (concurrent viewers decay silently). */
const REFRESH_MS = 5_000;

/** Renders `#/studio` (no `videoId`) or `#/studio/{videoId}` into `app`; signed-out users get a sign-in link. Returns the page's cleanup. */
export async function studioPage(app: HTMLElement, videoId?: string): Promise<Cleanup> {
  if (!session()) {
    app.innerHTML = '<p>Sign in to open your studio. <a href="#/signin">Sign in</a></p>';
    return () => {};
  }
  return videoId ? videoAnalyticsPage(app, videoId) : videosPage(app);
}


async function videosPage(app: HTMLElement): Promise<Cleanup> {
  const { videos } = await api<{ videos: any[] }>('GET', '/api/v1/users/me/videos?limit=100');
  app.innerHTML = `
    <h1>Studio</h1>
    <section id="channel-summary"></section>
    <table class="studio-table" id="studio-videos">
      <thead><tr><th>Video</th><th>Status</th><th>Visibility</th><th>Views</th><th>Likes</th><th>Comments</th><th></th></tr></thead>
      <tbody>${videos.map((v) => `
        <tr data-id="${esc(v.id)}">
          <td><a href="#/watch/${encodeURIComponent(v.id)}">${esc(v.title)}</a></td>
          <td>${esc(v.status)}${v.status === 'processing' || v.progress < 100 ? ` <progress max="100" value="${v.progress}"></progress> ${fmt(v.progress)} %` : ''}</td>
          <td>${esc(v.visibility)}</td><td>${fmt(v.views)}</td><td>${fmt(v.like_count)}</td><td>${fmt(v.comment_count)}</td>
          <td><a href="#/studio/${encodeURIComponent(v.id)}">Analytics</a> <button type="button" class="edit">Edit</button></td>
        </tr>`).join('') || '<tr><td colspan="7" class="muted">No uploads yet. <a href="#/upload">Upload a video</a></td></tr>'}
      </tbody>
    </table>
    <form class="form" id="edit-form" hidden>
      <h2>Edit <span id="edit-title"></span></h2>
      <label>Title <input name="title" required maxlength="200"></label>
      <label>Description <textarea name="description" rows="3" maxlength="5000"></textarea></label>
      <label>Tags (comma-separated) <input name="tags"></label>
      <label>Visibility <select name="visibility"><option>public</option><option>unlisted</option><option>private</option></select></label>
      <div class="row"><button type="submit">Save</button> <span id="edit-result" role="status"></span></div>
      <label>Thumbnail (JPEG, PNG or WebP, at most 5 MiB and 4096×4096 px) <input type="file" name="thumbnail" accept="image/jpeg,image/png,image/webp"></label>
      <div class="row"><button type="button" id="thumbnail-upload">Upload thumbnail</button> <span id="thumbnail-result" role="status"></span></div>
      <img id="thumbnail-preview" alt="Current thumbnail" width="320" hidden>
    </form>`;
  const form = app.querySelector<HTMLFormElement>('#edit-form')!;
  let editing: any;
  app.querySelectorAll<HTMLButtonElement>('button.edit').forEach((b) => b.addEventListener('click', () => {
    editing = videos.find((v) => v.id === b.closest('tr')!.dataset.id);
    form.hidden = false;
    app.querySelector('#edit-title')!.textContent = editing.title;
    (form.elements.namedItem('title') as HTMLInputElement).value = editing.title;
    (form.elements.namedItem('description') as HTMLTextAreaElement).value = editing.description;
    (form.elements.namedItem('tags') as HTMLInputElement).value = editing.tags.join(', ');
    (form.elements.namedItem('visibility') as HTMLSelectElement).value = editing.visibility;
    showThumbnail();
  }));
  const preview = app.querySelector<HTMLImageElement>('#thumbnail-preview')!;
  const showThumbnail = () => {
    preview.hidden = !editing.thumbnail_url;
    if (editing.thumbnail_url) preview.src = editing.thumbnail_url;
  };
  // PUT /videos/{id}/thumbnail with the file's bytes; the server validates and re-encodes it and answers the detail.
  app.querySelector('#thumbnail-upload')!.addEventListener('click', async () => {
    const result = app.querySelector('#thumbnail-result')!;
    const file = (form.elements.namedItem('thumbnail') as HTMLInputElement).files?.[0];
    if (!file) { result.textContent = 'Choose an image first.'; return; }
    if (file.size > 5 * 1024 * 1024) { result.textContent = 'The image is larger than 5 MiB.'; return; }
    try {
      Object.assign(editing, await api('PUT', `/api/v1/videos/${encodeURIComponent(editing.id)}/thumbnail`, file));
      showThumbnail();
      result.textContent = 'Thumbnail updated.';
    } catch (err) {
      result.textContent = (err as Error).message;
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const tags = String(f.get('tags')).split(',').map((t) => t.trim()).filter(Boolean);
    try {
      const saved = await api('PATCH', `/api/v1/videos/${encodeURIComponent(editing.id)}`, { title: f.get('title'), description: f.get('description'), tags, visibility: f.get('visibility') });
      Object.assign(editing, saved);
      app.querySelector('#edit-result')!.textContent = 'Saved.';
    } catch (err) {
      app.querySelector('#edit-result')!.textContent = (err as Error).message;
    }
  });
  return channelSummary(app.querySelector('#channel-summary')!);
}

async function videoAnalyticsPage(app: HTMLElement, videoId: string): Promise<Cleanup> {
  const video = await api('GET', `/api/v1/videos/${encodeURIComponent(videoId)}`);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  app.innerHTML = `
    <h1><a href="#/studio">Studio</a> › ${esc(video.title)}</h1>
    <div class="filters">
      <select id="interval"><option value="minute">Per minute</option><option value="hour" selected>Per hour</option><option value="day">Per day</option></select>
      <select id="zone"><option>${esc(zone)}</option>${zone === 'UTC' ? '' : '<option>UTC</option>'}</select>
      <span class="muted" id="rule"></span> <span class="muted" id="updated" role="status"></span>
    </div>
    <section class="figures" id="figures"></section>
    <section class="charts">
      <div id="chart-views"></div><div id="chart-concurrent"></div><div id="chart-retention"></div>
      <div id="chart-likes"></div><div id="chart-comments"></div>
    </section>
    <section class="row">
      <div><h3>Renditions watched</h3><table class="studio-table" id="renditions"></table></div>
      <div><h3>Playback errors</h3><table class="studio-table" id="errors"></table></div>
    </section>`;
  const interval = app.querySelector<HTMLSelectElement>('#interval')!;
  const bucket = () => ({ minute: 60, hour: 3600, day: 86_400 })[interval.value as 'minute' | 'hour' | 'day'] ?? 3600;
  const views = chart(app.querySelector('#chart-views')!, 'Views', 'views', true, bucket, 'bars');
  const concurrent = chart(app.querySelector('#chart-concurrent')!, 'Concurrent viewers (per minute)', 'viewers', true, () => 60);
  const retention = chart(app.querySelector('#chart-retention')!, 'Audience retention (% of sessions)', 'retained %', false, () => 1);
  const likes = chart(app.querySelector('#chart-likes')!, 'Likes', ['liked', 'unliked'], true, bucket, 'bars');
  const comments = chart(app.querySelector('#chart-comments')!, 'Comments', ['posted', 'deleted'], true, bucket, 'bars');
  const tz = app.querySelector<HTMLSelectElement>('#zone')!;
  const stop = new AbortController();

  const figure = (id: string, name: string, value: string) => `<div class="figure" id="${id}"><div class="value">${value}</div><div class="muted">${name}</div></div>`;
  const render = (a: any) => {
    app.querySelector('#figures')!.innerHTML = [
      figure('fig-views', 'views', fmt(a.views)), figure('fig-unique', 'unique viewers', fmt(a.unique_viewers)),
      figure('fig-watch', 'watch time (s)', fmt(a.watch_time_seconds)), figure('fig-avd', 'average view duration (s)', fmt(a.average_view_duration_seconds, 1)),
      figure('fig-concurrent', `watching now (last ${a.concurrent_viewers.window_seconds} s)`, fmt(a.concurrent_viewers.now)),
      figure('fig-startup', 'startup time p50 / p95 (ms)', a.startup_time_ms.samples ? `${fmt(a.startup_time_ms.p50)} / ${fmt(a.startup_time_ms.p95)}` : '–'),
      figure('fig-rebuffer', 'rebuffer ratio', `${fmt(a.rebuffer_ratio * 100, 2)} %`), figure('fig-sessions', 'playback sessions', fmt(a.sessions)),
      figure('fig-engagement', 'engagement rate (likes + comments per view)', `${fmt(a.engagement_rate * 100, 1)} %`),
    ].join('');
    app.querySelector('#rule')!.textContent = `view rule ${a.view_rule_version}`;
    app.querySelector('#updated')!.textContent = `updated ${new Date().toLocaleTimeString()}`;
    const points = a.views_over_time.points;
    views.set(points.map((p: any) => Date.parse(p.start) / 1000), points.map((p: any) => p.views));
    const per = a.concurrent_viewers.per_minute;
    concurrent.set(per.map((m: any) => Date.parse(m.minute) / 1000), per.map((m: any) => m.viewers));
    retention.set(a.retention.map((r: any) => r.position_percent), a.retention.map((r: any) => Math.round(r.share * 1000) / 10));
    const liked = a.likes_over_time.points;
    likes.set(liked.map((p: any) => Date.parse(p.start) / 1000), liked.map((p: any) => p.likes), liked.map((p: any) => p.unlikes));
    const posted = a.comments_over_time.points;
    comments.set(posted.map((p: any) => Date.parse(p.start) / 1000), posted.map((p: any) => p.comments), posted.map((p: any) => p.deleted));
    app.querySelector('#renditions')!.innerHTML = '<tr><th>Height</th><th>Sessions</th></tr>'
      + (a.renditions_watched.map((r: any) => `<tr><td>${r.height}p</td><td>${fmt(r.sessions)}</td></tr>`).join('') || '<tr><td colspan="2" class="muted">None reported yet.</td></tr>');
    app.querySelector('#errors')!.innerHTML = '<tr><th>Code</th><th>Errors</th><th>Sessions</th></tr>'
      + (a.playback_errors.by_code.map((e: any) => `<tr><td>${esc(e.code)}</td><td>${fmt(e.errors)}</td><td>${fmt(e.sessions)}</td></tr>`).join('') || '<tr><td colspan="3" class="muted">No errors.</td></tr>');
    app.dataset.views = String(a.views);
    app.dataset.concurrent = String(a.concurrent_viewers.now);
    app.dataset.retentionPoints = String(a.retention.length);
    app.dataset.retention = a.retention.map((r: any) => r.share).join(' ');
    app.dataset.sessions = String(a.sessions);
    app.dataset.startupSamples = String(a.startup_time_ms.samples);
    app.dataset.engagementRate = String(a.engagement_rate);
  };
  let loading: Promise<void> | undefined;
  let again = false;
  /** One read at a time; a change meanwhile reads once more after it. */
  const load = (): Promise<void> => {
    if (loading) { again = true; return loading; }
    loading = api('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/analytics?interval=${interval.value}&time_zone=${encodeURIComponent(tz.value)}`)
      .then((a) => { if (!stop.signal.aborted) render(a); })
      .catch((e) => { app.querySelector('#updated')!.textContent = (e as Error).message; })
      .finally(() => { loading = undefined; if (again && !stop.signal.aborted) { again = false; setTimeout(() => void load(), 1000); } });
    return loading;
  };
  interval.addEventListener('change', () => void load());
  tz.addEventListener('change', () => void load());
  await load();
  const timer = setInterval(() => void load(), REFRESH_MS);
  void videoEvents(videoId, (e) => { if (e.event === 'views' || e.event === 'likes' || e.event === 'comment') void load(); }, stop.signal);
  return () => {
    stop.abort();
    clearInterval(timer);
    views.destroy();
    concurrent.destroy();
    retention.destroy();
    likes.destroy();
    comments.destroy();
  };
}
