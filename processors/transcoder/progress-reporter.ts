import type { Logger } from 'pino';
import { DomainError } from '../../domain/shared/event.ts';

/** Progress is reported only when it rose by at least this many points (throttling). */
const PROGRESS_STEP = 5;

/**
 * Throttled progress of a transcode: 0–100 over runs of given weights (the transcoder reports the
 * share of the source its one ladder run has encoded: one run of weight 1).
 * Reports go out one after the other; a failed report is logged, never fails the encode, but a
 * report the aggregate refused (e.g. the video was deleted meanwhile) is kept for `confirm`.
 */
export class ProgressReporter {
  private reported = 0;
  private chain: Promise<void> = Promise.resolve();
  private refusal: DomainError | null = null;

  /**
   * @param totalWeight sum of the weights of every run to come (≤ 0: report nothing)
   * @param send sends one progress value (integer percent)
   */
  constructor(
    private readonly totalWeight: number,
    private readonly send: (progress: number) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Reports the progress of a run of `weight` that is `fraction` (0–1) done. */
  update(weight: number, fraction: number): void {
    if (this.totalWeight <= 0) return;
    const f = Math.min(1, Math.max(0, fraction));
    const p = Math.min(100, Math.floor(((weight * f) / this.totalWeight) * 100));
    if (p - this.reported >= PROGRESS_STEP || (p === 100 && this.reported < 100)) {
      this.reported = p;
      this.chain = this.chain.then(() => this.send(p)).catch((err) => {
        if (err instanceof DomainError) this.refusal ??= err;
        this.logger.warn({ err }, 'progress report failed');
      });
    }
  }

  /**
   * Throws the refusal of an earlier report, if any, without sending anything (a cheap check the
   * job makes while it runs).
   * @throws DomainError when the aggregate refused a report (e.g. VIDEO_DELETED): the job must stop
   */
  throwIfRefused(): void {
    if (this.refusal) throw this.refusal;
  }

  /**
   * Asks the aggregate whether the job may go on, before anything is uploaded: waits for the
   * reports so far and sends the last value again (a no-op for a live video).
   * @throws DomainError when the aggregate refused a report (e.g. VIDEO_DELETED): the job must stop
   */
  async confirm(): Promise<void> {
    await this.chain;
    if (this.refusal) throw this.refusal;
    await this.send(this.reported);
  }

  /** Resolves once every report so far has been sent (or failed). */
  flush(): Promise<void> {
    return this.chain;
  }
}
