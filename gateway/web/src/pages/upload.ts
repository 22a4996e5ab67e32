/**
 * Upload: the multipart upload through presigned part URLs (the S3 protocol), with a progress bar
 * of bytes sent, then processing progress pushed by the video's Server-Sent Events (no polling).
 */
import { api, esc, session, videoEvents } from '../api.ts';
import type { Cleanup } from '../api.ts';

/** PUTs `body` to a presigned URL; resolves with the part's ETag. Reports bytes sent. */
function putPart(url: string, body: Blob, onProgress: (sent: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader('etag') ?? '') : reject(new Error(`part upload failed: HTTP ${xhr.status}`)));
    xhr.onerror = () => reject(new Error('part upload failed: network error'));
    xhr.send(body);
  });
}

export async function uploadPage(app: HTMLElement): Promise<Cleanup> {
  if (!session()) {
    location.hash = '#/signin';
    return () => {};
  }
  app.innerHTML = `
    <h1>Upload a video</h1>
    <form id="upload" class="form">
      <label>Video file <input name="file" type="file" accept="video/*" required /></label>
      <label>Title <input name="title" required maxlength="200" /></label>
      <label>Description <textarea name="description" maxlength="5000"></textarea></label>
      <label>Tags <input name="tags" placeholder="comma, separated" /></label>
      <label>Visibility <select name="visibility"><option>public</option><option>unlisted</option><option>private</option></select></label>
      <button type="submit">Upload</button>
    </form>
    <div id="progress" hidden>
      <p>Uploading: <progress id="upload-bar" max="100" value="0"></progress> <span id="upload-pct">0 %</span></p>
      <p>Processing: <progress id="processing-bar" max="100" value="0"></progress> <span id="processing-status">waiting</span></p>
      <p id="done"></p>
    </div>
    <p id="upload-error" class="error" role="alert"></p>`;
  const form = app.querySelector<HTMLFormElement>('#upload')!;
  const stop = new AbortController();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const file = f.get('file') as File;
    try {
      form.querySelector('button')!.disabled = true;
      app.querySelector<HTMLElement>('#progress')!.hidden = false;
      const tags = String(f.get('tags') ?? '').split(',').map((t) => t.trim()).filter(Boolean);
      const started = await api('POST', '/api/v1/uploads', {
        filename: file.name, size_bytes: file.size, content_type: file.type || 'video/mp4', title: String(f.get('title')),
        description: String(f.get('description') ?? ''), tags, visibility: String(f.get('visibility')),
      });
      const sent = new Map<number, number>();
      const show = () => {
        const pct = Math.floor((100 * [...sent.values()].reduce((a, b) => a + b, 0)) / Math.max(1, file.size));
        app.querySelector<HTMLProgressElement>('#upload-bar')!.value = pct;
        app.querySelector('#upload-pct')!.textContent = `${pct} %`;
      };
      const parts: { part_number: number; etag: string }[] = [];
      for (const p of started.parts as { part_number: number; url: string }[]) {
        const from = (p.part_number - 1) * started.part_size_bytes;
        const etag = await putPart(p.url, file.slice(from, from + started.part_size_bytes), (n) => { sent.set(p.part_number, n); show(); });
        parts.push({ part_number: p.part_number, etag });
      }
      await api('POST', `/api/v1/uploads/${encodeURIComponent(started.upload_id)}/complete`, { parts });
      const videoId = started.video_id as string;
      void videoEvents(videoId, (ev) => {
        if (ev.event !== 'status') return;
        app.querySelector<HTMLProgressElement>('#processing-bar')!.value = ev.data.progress;
        const pct = Math.floor(ev.data.progress);
        // Progressive publishing: a video is playable before its whole ladder is encoded.
        app.querySelector('#processing-status')!.textContent = ev.data.status === 'ready' && pct < 100 ? `playable, encoding ${pct} %` : `${ev.data.status} ${pct} %`;
        if (ev.data.status === 'ready' || ev.data.status === 'failed') {
          app.querySelector('#done')!.innerHTML = ev.data.status === 'ready'
            ? `<a id="watch-link" href="#/watch/${encodeURIComponent(videoId)}">Watch it</a>`
            : `<span class="error">${esc(ev.data.error)}</span>`;
        }
      }, stop.signal);
    } catch (err) {
      app.querySelector('#upload-error')!.innerHTML = esc((err as Error).message);
      form.querySelector('button')!.disabled = false;
    }
  });
  return () => stop.abort();
}
