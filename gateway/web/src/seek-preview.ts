/**
 * Seek previews on the watch page: a seek strip under the player that shows, on hover, the
 * storyboard tile of the time under the pointer (read from the WebVTT thumbnails track at
 * `storyboard_url`, storyboard-track.ts) with that time, and seeks on click. Without a track the
 * strip still seeks, with no tile.
 */
import { cueAt, parseStoryboardTrack, type StoryboardCue } from './storyboard-track.ts';

const clock = (s: number): string => {
  const t = Math.max(0, Math.floor(s));
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor(t / 60) % 60);
  const ss = String(t % 60).padStart(2, '0');
  return h ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
};

/**
 * Adds the seek strip after `player` inside `container`. `trackUrl`: the video's `storyboard_url`
 * (null: no tiles); `durationSeconds`: used until the player knows its own duration. Listeners end
 * with `signal`.
 */
export function attachSeekPreview(container: HTMLElement, player: HTMLVideoElement, trackUrl: string | null, durationSeconds: number | null, signal: AbortSignal): void {
  container.insertAdjacentHTML('beforeend', `
    <div class="scrub" id="scrub" role="slider" aria-label="Seek" tabindex="0">
      <div class="scrub-fill"></div>
      <div class="scrub-preview" hidden><div class="scrub-tile"></div><span class="scrub-time"></span></div>
    </div>`);
  const strip = container.querySelector<HTMLElement>('#scrub')!;
  const fill = strip.querySelector<HTMLElement>('.scrub-fill')!;
  const preview = strip.querySelector<HTMLElement>('.scrub-preview')!;
  const tile = strip.querySelector<HTMLElement>('.scrub-tile')!;
  const time = strip.querySelector<HTMLElement>('.scrub-time')!;
  let cues: StoryboardCue[] = [];
  /** The pointer's last move over the strip while it is there: the preview is drawn again once the track arrives. */
  let hovering: MouseEvent | null = null;
  const duration = () => (Number.isFinite(player.duration) && player.duration > 0 ? player.duration : durationSeconds ?? 0);
  const at = (e: MouseEvent) => {
    const r = strip.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    return { f, t: f * duration(), x: e.clientX - r.left, width: r.width };
  };
  const show = (e: MouseEvent) => {
    hovering = e;
    const { t, x, width } = at(e);
    const cue = cueAt(cues, t);
    tile.hidden = !cue;
    if (cue) {
      Object.assign(tile.style, { width: `${cue.w}px`, height: `${cue.h}px`, backgroundImage: `url("${cue.url}")`, backgroundPosition: `-${cue.x}px -${cue.y}px` });
    }
    time.textContent = clock(t);
    preview.hidden = false;
    const half = (cue?.w ?? 60) / 2;
    preview.style.left = `${Math.min(width - half, Math.max(half, x))}px`;
  };
  strip.addEventListener('mousemove', show, { signal });
  strip.addEventListener('mouseleave', () => { preview.hidden = true; hovering = null; }, { signal });
  if (trackUrl) {
    void fetch(trackUrl, { signal }).then((r) => (r.ok ? r.text() : '')).then((text) => {
      cues = parseStoryboardTrack(text, trackUrl);
      if (hovering) show(hovering);
    }).catch(() => {});
  }
  strip.addEventListener('click', (e) => { if (duration() > 0) player.currentTime = at(e).t; }, { signal });
  player.addEventListener('timeupdate', () => {
    fill.style.width = `${duration() > 0 ? (100 * player.currentTime) / duration() : 0}%`;
  }, { signal });
}
