/** Query port of the recommendations read model ("up next", issue 14; key-value store). */

/** Why a video is recommended: watched by the same viewers, or sharing tags (a new video has no co-watch yet). */
export type RecommendationReason = 'co-watch' | 'tags';

export interface Recommendation {
  videoId: string;
  reason: RecommendationReason;
  /** co-watch: viewers who watched both videos; tags: tags shared. */
  score: number;
}

export interface RecommendationQueries {
  /**
   * Up to `limit` videos to watch after `videoId`, best first: co-watched ones, then ones sharing
   * its tags; never `videoId` itself. Candidates are ids only: the caller applies the listing
   * rule (public and published) with the video-detail read model, so ask for a few more.
   */
  upNext(videoId: string, limit: number): Promise<Recommendation[]>;
}
