/**
 * The channel summary at the top of `#/studio` (issue 15 "per channel"): the creator's figures
 * rolled up over every upload (`GET /api/v1/users/me/analytics`), subscribers gained and lost,
 * views per day as a uPlot chart in the browser's time zone, and the top videos. Re-read every 30 s while the page is open.
 */
import { api, esc, type Cleanup } from '../api.ts';
import { chart, fmt } from './studio-chart.ts';

/** How often the summary is re-read, ms. */
const REFRESH_MS = 30_000;

/** Renders the summary into `el` and keeps it fresh; returns the cleanup. */
export async function channelSummary(el: HTMLElement): Promise<Cleanup> {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  el.innerHTML = `
    <h2>Your channel <span class="muted" id="channel-rule"></span></h2>
    <div class="figures" id="channel-figures"></div>
    <section class="row">
      <div id="chart-channel-views"></div>
      <div><h3>Top videos</h3><table class="studio-table" id="top-videos"></table></div>
    </section>`;
  const views = chart(el.querySelector('#chart-channel-views')!, 'Views per day (all videos)', 'views', true, () => 86_400, 'bars');
  const figure = (name: string, value: string) => `<div class="figure"><div class="value">${value}</div><div class="muted">${name}</div></div>`;
  let stopped = false;
  const load = async () => {
    try {
      const c = await api('GET', `/api/v1/users/me/analytics?interval=day&time_zone=${encodeURIComponent(zone)}`);
      if (stopped) return;
      el.querySelector('#channel-figures')!.innerHTML = [
        figure('views', fmt(c.views)), figure('unique viewers', fmt(c.unique_viewers)), figure('watch time (s)', fmt(c.watch_time_seconds)),
        figure('average view duration (s)', fmt(c.average_view_duration_seconds, 1)), figure('videos', fmt(c.videos)),
        figure('subscribers gained / lost', `+${fmt(c.subscribers_gained)} / −${fmt(c.subscribers_lost)}`),
      ].join('');
      el.querySelector('#channel-rule')!.textContent = `view rule ${c.view_rule_version}`;
      views.set(c.views_over_time.points.map((p: any) => Date.parse(p.start) / 1000), c.views_over_time.points.map((p: any) => p.views));
      el.querySelector('#top-videos')!.innerHTML = '<tr><th>Video</th><th>Views</th><th>Watch time (s)</th></tr>'
        + (c.top_videos.map((v: any) => `<tr data-id="${esc(v.video_id)}"><td><a href="#/studio/${encodeURIComponent(v.video_id)}">${esc(v.title)}</a></td><td>${fmt(v.views)}</td><td>${fmt(v.watch_time_seconds)}</td></tr>`).join('')
          || '<tr><td colspan="3" class="muted">No views yet.</td></tr>');
      el.dataset.views = String(c.views);
      el.dataset.topVideos = String(c.top_videos.length);
      el.dataset.subscribersGained = String(c.subscribers_gained);
    } catch (e) {
      el.querySelector('#channel-rule')!.textContent = (e as Error).message;
    }
  };
  await load();
  const timer = setInterval(() => void load(), REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    views.destroy();
  };
}
