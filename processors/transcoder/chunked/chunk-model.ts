/**
 * Time-to-full-ladder model of segment-parallel encoding. Pure; no I/O.
 *
 * N transcoder instances take chunks from the chunk topic as they become free: list scheduling
 * in chunk order (each chunk goes to the instance that frees up first). A chunk costs its
 * measured encode time plus a dispatch overhead (publish, consume, download of the source
 * range, upload of the segments); when every chunk is done the playlists are joined (measured).
 */

/** Inputs of `modelTimeToLadder`, seconds. */
export interface ChunkModelInput {
  /** Encode time of each chunk (all rungs), seconds, in chunk order. */
  chunkSeconds: number[];
  /** Fixed cost added to every chunk (dispatch through the topic, fetch, upload), seconds. */
  dispatchOverheadSeconds: number;
  /** Cost of joining the playlists once all chunks are done, seconds. */
  joinSeconds: number;
}

/**
 * Makespan of list scheduling `jobs` (seconds each, in order) on `workers` identical workers:
 * each job starts on the worker that becomes free first. Graham's bound: at most
 * (2 − 1/workers) × the optimum.
 * @returns seconds; 0 for no job.
 * @throws RangeError when `workers` is not a positive integer or a job time is negative/not finite.
 */
export function listScheduleMakespan(jobs: number[], workers: number): number {
  if (!(Number.isInteger(workers) && workers >= 1)) throw new RangeError(`invalid worker count ${workers}`);
  const free = new Array<number>(workers).fill(0);
  for (const t of jobs) {
    if (!(Number.isFinite(t) && t >= 0)) throw new RangeError(`invalid job time ${t}`);
    let w = 0;
    for (let i = 1; i < workers; i++) if (free[i]! < free[w]!) w = i;
    free[w] = free[w]! + t;
  }
  return Math.max(...free);
}

/**
 * Modelled time to the full ladder with `instances` transcoders, seconds: list scheduling of
 * (chunk time + dispatch overhead) over the instances, plus the join.
 * @throws RangeError as `listScheduleMakespan`.
 */
export function modelTimeToLadder(input: ChunkModelInput, instances: number): number {
  const jobs = input.chunkSeconds.map((t) => t + input.dispatchOverheadSeconds);
  return listScheduleMakespan(jobs, instances) + input.joinSeconds;
}
