/**
 * The read models the gateway reads through, by name. Each is built by one projection node and
 * has its own store and checkpoint, so each can be replayed and swapped alone
 * (`streamwave replay <name>`).
 */
import type { AnalyticsQueries } from './analytics/analytics.port.ts';
import type { CommentQueries } from './comments/comments.port.ts';
import type { RecommendationQueries } from './recommendations/recommendations.port.ts';
import type { SearchQueries } from './search/search.port.ts';
import type { UserAccountQueries } from './user-accounts/user-accounts.port.ts';
import type { VideoDetailQueries } from './video-detail/video-detail.port.ts';
import type { WatchHistoryQueries } from './watch-history/watch-history.port.ts';

export type { AnalyticsQueries, VideoAnalytics } from './analytics/analytics.port.ts';
export type { CommentQueries, CommentView } from './comments/comments.port.ts';
export type { Recommendation, RecommendationQueries } from './recommendations/recommendations.port.ts';
export type { SearchHit, SearchQueries } from './search/search.port.ts';
export type { UserAccount, UserAccountQueries } from './user-accounts/user-accounts.port.ts';
export type { VideoDetail, VideoDetailQueries, VideoStatus } from './video-detail/video-detail.port.ts';
export type { WatchHistoryEntry, WatchHistoryQueries } from './watch-history/watch-history.port.ts';

/** Query port of each read model, by read-model name. */
export type ReadModelQueries = {
  'video-detail': VideoDetailQueries;
  comments: CommentQueries;
  'user-accounts': UserAccountQueries;
  'watch-history': WatchHistoryQueries;
  analytics: AnalyticsQueries;
  search: SearchQueries;
  recommendations: RecommendationQueries;
};

export type ReadModelName = keyof ReadModelQueries;

/** Every read model, in the order they are opened. */
export const READ_MODELS: readonly ReadModelName[] = ['video-detail', 'comments', 'user-accounts', 'watch-history', 'analytics', 'search', 'recommendations'];

/** Raised for an invalid or tampered cursor; the gateway maps it to 400 INVALID_CURSOR. */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
}
