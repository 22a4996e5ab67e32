/**
 * Watch page: HLS playback with hls.js (adaptive bitrate, quality menu), playback quality reports
 * (playback-reporter.ts), heartbeats with the
 * playback session like any player (every 5 s of play), title, channel, live view and like
 * counts, like and subscribe, comments with replies that appear live (the video's Server-Sent
 * Events), up next, and seek previews (the storyboard tile under the pointer on the seek strip).
 */
import Hls from 'hls.js';
import { api, card, esc, session, videoEvents, type VideoEvent } from '../api.ts';
import type { Cleanup } from '../api.ts';
import { reportPlayback } from '../playback-reporter.ts';
import { attachSeekPreview } from '../seek-preview.ts';

const HEARTBEAT_SECONDS = 5;

interface Comment { id: string; author_id: string | null; parent_id: string | null; body: string; posted_at: string; deleted?: boolean }

/** A comment with its replies list; a delete button for its author and the video's owner. */
const commentHtml = (c: Comment, ownerId: string): string => `
  <li class="comment" data-comment-id="${esc(c.id)}">
    <div class="body ${c.deleted ? 'muted deleted' : ''}">${esc(c.body)}</div>
    <div class="meta">${c.author_id ? `<a href="#/channel/${encodeURIComponent(c.author_id)}">${esc(c.author_id.slice(0, 12))}…</a>` : 'deleted'} · ${new Date(c.posted_at).toLocaleString()}
      ${session() ? `<button type="button" class="reply" data-reply-to="${esc(c.id)}">Reply</button>` : ''}
      ${!c.deleted && session() && (session()!.id === c.author_id || session()!.id === ownerId) ? `<button type="button" class="reply delete" data-delete="${esc(c.id)}">Delete</button>` : ''}</div>
    <ul class="replies"></ul>
  </li>`;

export async function watchPage(app: HTMLElement, videoId: string): Promise<Cleanup> {
  const stop = new AbortController();
  const video = await api('GET', `/api/v1/videos/${encodeURIComponent(videoId)}`);
  const channel = await api('GET', `/api/v1/users/${encodeURIComponent(video.owner_id)}/videos?limit=1`).catch(() => null);
  const s = session();
  app.innerHTML = `
    <div class="watch">
      <div class="main">
        <div class="player"><video id="player" controls playsinline muted></video></div>
        <div class="controls">
          <label>Quality <select id="quality"><option value="-1">Auto</option></select></label>
          <span id="rendition" class="muted"></span>
          ${(video.captions ?? []).length ? `<label>Captions <select id="captions"><option value="">Off</option>${(video.captions as { language: string }[]).map((c) => `<option value="${esc(c.language)}">${esc(c.language)}</option>`).join('')}</select></label>` : ''}
        </div>
        <h1 id="title">${esc(video.title)}</h1>
        <p class="muted" id="status-line">${esc(video.status)}</p>
        <div class="row">
          <a id="channel" href="#/channel/${encodeURIComponent(video.owner_id)}">${esc(channel?.channel.username ?? 'channel')}</a>
          <span class="muted"><span id="subscribers">${channel?.channel.subscriber_count ?? 0}</span> subscribers</span>
          ${s && s.id !== video.owner_id ? '<button id="subscribe" type="button">Subscribe</button>' : ''}
          <span class="spacer"></span>
          <span><span id="views">${video.views}</span> views</span>
          <button id="like" type="button" ${s ? '' : 'disabled title="Sign in to like"'}>Like · <span id="likes">${video.like_count}</span></button>
        </div>
        <p class="description">${esc(video.description)}</p>
        <h2><span id="comment-count">${video.comment_count}</span> comments</h2>
        ${s ? '<form id="comment-form" class="comment-form"><input id="comment-body" name="body" placeholder="Add a comment" maxlength="5000" required /><input type="hidden" name="parent" /><button type="submit">Comment</button></form>' : '<p class="muted"><a href="#/signin">Sign in</a> to comment.</p>'}
        <ul id="comments" class="comments"></ul>
      </div>
      <aside class="side"><h2>Up next</h2><div id="up-next" class="stack"></div></aside>
    </div>`;
  const $ = <T extends HTMLElement>(sel: string) => app.querySelector<T>(sel)!;

  // --- comments: first page, then live
  const list = $<HTMLUListElement>('#comments');
  const shown = new Set<string>();
  let commentCount = video.comment_count as number;
  const addComment = (c: Comment): boolean => {
    if (shown.has(c.id)) return false;
    shown.add(c.id);
    const parent = c.parent_id ? list.querySelector(`[data-comment-id="${CSS.escape(c.parent_id)}"] > .replies`) : null;
    const target = parent ?? list;
    // Top-level comments newest first; replies oldest first, under their parent.
    target.insertAdjacentHTML(parent ? 'beforeend' : 'afterbegin', commentHtml(c, video.owner_id));
    return true;
  };
  const page = await api<{ comments: Comment[] }>('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/comments?limit=50`);
  // Oldest first, so parents are placed before their replies.
  for (const c of [...page.comments].reverse()) addComment(c);
  const showDeleted = (id: string) => {
    const el = list.querySelector(`[data-comment-id="${CSS.escape(id)}"] > .body`);
    if (!el || el.classList.contains('deleted')) return;
    el.textContent = '[deleted]';
    el.classList.add('deleted');
    $('#comment-count').textContent = String(commentCount = Math.max(0, commentCount - 1)); // the count leaves deleted comments out
    el.classList.add('muted');
    list.querySelector(`[data-delete="${CSS.escape(id)}"]`)?.remove();
  };
  list.addEventListener('click', async (e) => {
    const del = (e.target as HTMLElement).dataset.delete;
    if (del) {
      await api('DELETE', `/api/v1/videos/${encodeURIComponent(videoId)}/comments/${encodeURIComponent(del)}`);
      showDeleted(del);
      return;
    }
    const to = (e.target as HTMLElement).dataset.replyTo;
    if (!to) return;
    const form = $<HTMLFormElement>('#comment-form');
    form.parent.value = to;
    $<HTMLInputElement>('#comment-body').placeholder = 'Your reply';
    $<HTMLInputElement>('#comment-body').focus();
  });
  app.querySelector<HTMLFormElement>('#comment-form')?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const body = $<HTMLInputElement>('#comment-body').value;
    await api('POST', `/api/v1/videos/${encodeURIComponent(videoId)}/comments`, { body, ...(form.parent.value && { parent_id: form.parent.value }) });
    form.reset();
    form.parent.value = ''; // a hidden input's value is its default: reset() keeps it
    $<HTMLInputElement>('#comment-body').placeholder = 'Add a comment';
  });

  // --- like and subscribe
  if (s) {
    const likePath = `/api/v1/videos/${encodeURIComponent(videoId)}/like`;
    let liked = (await api('GET', likePath)).liked as boolean;
    $('#like').classList.toggle('on', liked);
    $('#like').addEventListener('click', async () => {
      const st = await api(liked ? 'DELETE' : 'PUT', likePath);
      liked = st.liked;
      $('#like').classList.toggle('on', liked);
      $('#likes').textContent = String(st.like_count);
    });
    const sub = app.querySelector<HTMLButtonElement>('#subscribe');
    if (sub) {
      const subPath = `/api/v1/users/${encodeURIComponent(video.owner_id)}/subscription`;
      let st = await api('GET', subPath);
      const show = () => { sub.textContent = st.subscribed ? 'Subscribed' : 'Subscribe'; sub.classList.toggle('on', st.subscribed); $('#subscribers').textContent = String(st.subscriber_count); };
      show();
      sub.addEventListener('click', async () => { st = await api(st.subscribed ? 'DELETE' : 'PUT', subPath); show(); });
    }
  }

  // --- up next
  void api('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/recommendations?limit=8`)
    .then((r) => { $('#up-next').innerHTML = r.videos.map(card).join('') || '<p class="muted">Nothing yet.</p>'; })
    .catch(() => {});

  // --- player: once the video is playable (pushed: the status event says ready)
  const player = $<HTMLVideoElement>('#player');
  attachSeekPreview($('.player'), player, video.storyboard_url ?? null, video.duration_seconds ?? null, stop.signal);
  let hls: Hls | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let starting: Promise<void> | undefined;
  const startPlayer = () => (starting ??= start());
  const start = async () => {
    const requestedAt = performance.now();
    const stream = await api('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/stream`);
    if (stop.signal.aborted) return; // left while the session was being issued
    if (Hls.isSupported()) {
      hls = new Hls({ lowLatencyMode: false });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        $('#quality').innerHTML = '<option value="-1">Auto</option>' + hls!.levels.map((l, i) => `<option value="${i}">${l.height}p</option>`).join('');
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => { $('#rendition').textContent = `playing ${hls!.levels[d.level]?.height}p`; player.dataset.level = String(d.level); });
      $<HTMLSelectElement>('#quality').addEventListener('change', (e) => { hls!.currentLevel = Number((e.target as HTMLSelectElement).value); });
      hls.loadSource(stream.manifest_url);
      hls.attachMedia(player);
    } else {
      player.src = stream.manifest_url; // native HLS (Safari)
    }
    const qoe = reportPlayback(videoId, stream.session_id, player, hls, requestedAt);
    // Captions: the master lists them as HLS subtitles, which hls.js (and Safari natively) turn into
    // the <video>'s text tracks, in its own captions menu too; this picker shows one by language.
    document.querySelector<HTMLSelectElement>('#captions')?.addEventListener('change', (e) => {
      const language = (e.target as HTMLSelectElement).value;
      for (const track of Array.from(player.textTracks)) track.mode = language && track.language === language ? 'showing' : 'disabled';
    });
    void player.play().catch(() => {});
    // Seconds actually played (not seeked), sent with the playhead every HEARTBEAT_SECONDS.
    let watched = 0;
    let last = player.currentTime;
    player.addEventListener('timeupdate', () => {
      const d = player.currentTime - last;
      if (d > 0 && d < 2) watched += d;
      last = player.currentTime;
    });
    const beat = () => {
      qoe.flush();
      if (watched > 0) void api('POST', `/api/v1/videos/${encodeURIComponent(videoId)}/views`, { session_id: stream.session_id, watched_seconds: Math.floor(watched), position_seconds: Math.floor(player.currentTime) }).catch(() => {});
    };
    heartbeat = setInterval(beat, HEARTBEAT_SECONDS * 1000);
    player.addEventListener('pause', beat);
  };
  if (video.status === 'ready') await startPlayer();

  // --- live: status, counts, comments
  void videoEvents(videoId, (e: VideoEvent) => {
    if (e.event === 'views') $('#views').textContent = String(e.data.views);
    if (e.event === 'likes') $('#likes').textContent = String(e.data.like_count);
    if (e.event === 'status') {
      $('#status-line').textContent = e.data.status === 'ready' && e.data.progress < 100 ? `ready, still encoding (${Math.floor(e.data.progress)} %)` : e.data.status;
      if (e.data.status === 'ready') void startPlayer();
    }
    if (e.event === 'comment') {
      if (addComment(e.data as Comment)) $('#comment-count').textContent = String(++commentCount);
    }
    if (e.event === 'comment_deleted') showDeleted(e.data.id);
    // The stream could not resume: comments posted meanwhile are read again.
    if (e.event === 'reset') {
      void api<{ comments: Comment[] }>('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/comments?limit=50`)
        .then((p) => { for (const c of [...p.comments].reverse()) addComment(c); })
        .catch(() => {});
    }
    if (e.event === 'gone') $('#status-line').textContent = 'This video is no longer available.';
  }, stop.signal);

  return () => {
    stop.abort();
    clearInterval(heartbeat);
    hls?.destroy();
  };
}
