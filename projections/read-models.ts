/**
 * The read models by name: which store each needs and how its projection node is built on it.
 * The one way to open them — standalone, the cluster roles, replays, the failure proofs' digest
 * and the tests all come through `openReadModel`, with stores from the adapters they choose
 * (deploy/ picks embedded files, tests pick in-memory stores).
 */
import pino from 'pino';
import type { Pseudonyms } from '../platform/keys/pseudonyms.ts';
import { VIEW_RULE_VERSION } from '../domain/view/view-rule.ts';
import type { ProjectionNode } from '../processors/runtime/topology.port.ts';
import type { ReplayableProjection } from './replay/replay.port.ts';
import { ANALYTICS, createAnalyticsProjection } from './analytics/analytics.projection.ts';
import type { AnalyticsStore } from './analytics/analytics-store.port.ts';
import { COMMENTS, COMMENTS_LAYOUT_VERSION, createCommentsProjection } from './comments/comments.projection.ts';
import type { ReadModelName, ReadModelQueries } from './read-model.port.ts';
import { createSearchProjection, SEARCH } from './search/search.projection.ts';
import { createRecommendationsProjection, RECOMMENDATIONS, RECOMMENDATIONS_LAYOUT_VERSION } from './recommendations/recommendations.projection.ts';
import type { SnapshotStore } from './search/search-snapshot-store.ts';
import type { ViewCountSource } from './search/search.port.ts';
import { layoutOf } from './stores/key-value-projection.ts';
import type { KeyValueStore } from './stores/key-value-store.port.ts';
import { createUserAccountsProjection, USER_ACCOUNTS, USER_ACCOUNTS_LAYOUT_VERSION } from './user-accounts/user-accounts.projection.ts';
import { createVideoDetailProjection, VIDEO_DETAIL, VIDEO_DETAIL_LAYOUT_VERSION } from './video-detail/video-detail.projection.ts';
import { createWatchHistoryProjection, WATCH_HISTORY, WATCH_HISTORY_LAYOUT_VERSION } from './watch-history/watch-history.projection.ts';

/** The read models kept in a key-value store, with their current layout version. */
export const KEY_VALUE_READ_MODELS = {
  [VIDEO_DETAIL]: VIDEO_DETAIL_LAYOUT_VERSION,
  [COMMENTS]: COMMENTS_LAYOUT_VERSION,
  [USER_ACCOUNTS]: USER_ACCOUNTS_LAYOUT_VERSION,
  [WATCH_HISTORY]: WATCH_HISTORY_LAYOUT_VERSION,
  [RECOMMENDATIONS]: RECOMMENDATIONS_LAYOUT_VERSION,
} as const satisfies Partial<Record<ReadModelName, number>>;

export type KeyValueReadModel = keyof typeof KEY_VALUE_READ_MODELS;

export const isKeyValueReadModel = (name: string): name is KeyValueReadModel => Object.hasOwn(KEY_VALUE_READ_MODELS, name);

/**
 * Content versions of the read models whose numbers depend on a rule rather than on their storage
 * layout: the two that count views (video detail's view counter, analytics) follow the view rule
 * (docs/view-rule.md). When one changes, an instance built under the previous one keeps serving
 * while the projection manager rebuilds it by replay into a shadow and swaps it in (issue 8: "the
 * switch is applied by replay into a shadow and swap").
 */
export const READ_MODEL_CONTENT_VERSIONS: Partial<Record<ReadModelName, string>> = {
  [VIDEO_DETAIL]: `view-rule/${VIEW_RULE_VERSION}`,
  // Viewer ids became pseudonyms (issue 13): an instance holding raw user ids is rebuilt.
  [ANALYTICS]: `view-rule/${VIEW_RULE_VERSION}+viewer-pseudonyms/1`,
};

/** `<name>/<version>` a key-value read model records in its store (LAYOUT_KEY). */
const keyValueLayout = (name: KeyValueReadModel): string => layoutOf({ name, layoutVersion: KEY_VALUE_READ_MODELS[name] });

/** Where the read models keep their state; the caller (deploy/, tests) chooses the adapters. */
export interface ReadModelStores {
  /**
   * The store of a key-value read model, holding `layout` (keyValueLayout) or nothing yet: a store
   * written by another layout must be emptied first (holdsOtherLayout in stores/key-value-projection.ts).
   */
  keyValue(name: KeyValueReadModel, layout: string): Promise<KeyValueStore>;
  analytics(): Promise<AnalyticsStore>;
  searchSnapshots(): SnapshotStore;
}

export interface ReadModelOptions {
  /** HMAC key of search cursors. */
  searchCursorSecret: string | Buffer;
  logger?: pino.Logger;
  /** Wall clock of search cursors, ms. Default Date.now. */
  now?: () => number;
  /**
   * Pseudonyms of analytics viewer ids: keyedPseudonyms over the deployment's data keys (issue 13).
   * Default: hashed pseudonyms (never the raw id, but not unlinked by an erasure).
   */
  viewerPseudonyms?: Pseudonyms;
  /**
   * Video detail's view counts, fed into the search index for sort=views (view-count-feed.ts): the
   * deployment passes the serving video-detail read model's. Absent: search views stay 0.
   */
  viewCounts?: ViewCountSource;
  /** The analytics projection's fetch wait, ms (analytics.projection.ts `fetchWaitMs`). Default ANALYTICS_FETCH_WAIT_MS. */
  analyticsFetchWaitMs?: number;
}

/** Opens read model `name` on its store as a projection node (not running yet). */
export async function openReadModel<K extends ReadModelName>(name: K, stores: ReadModelStores, opts: ReadModelOptions): Promise<ProjectionNode<ReadModelQueries[K]>> {
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ projection: name });
  const kv = async (n: KeyValueReadModel) => stores.keyValue(n, keyValueLayout(n));
  let node: ProjectionNode<unknown>;
  switch (name as ReadModelName) {
    case VIDEO_DETAIL: node = createVideoDetailProjection({ store: await kv(VIDEO_DETAIL), logger }); break;
    case COMMENTS: node = createCommentsProjection({ store: await kv(COMMENTS), logger }); break;
    case USER_ACCOUNTS: node = createUserAccountsProjection({ store: await kv(USER_ACCOUNTS), logger }); break;
    case WATCH_HISTORY: node = createWatchHistoryProjection({ store: await kv(WATCH_HISTORY), logger }); break;
    case RECOMMENDATIONS: node = createRecommendationsProjection({ store: await kv(RECOMMENDATIONS), logger }); break;
    case ANALYTICS: node = createAnalyticsProjection({ store: await stores.analytics(), viewerPseudonyms: opts.viewerPseudonyms, fetchWaitMs: opts.analyticsFetchWaitMs, logger }); break;
    case SEARCH: node = createSearchProjection({ snapshots: stores.searchSnapshots(), cursorSecret: opts.searchCursorSecret, now: opts.now, viewCounts: opts.viewCounts, logger }); break;
    default: throw new RangeError(`unknown read model ${String(name)}`);
  }
  return node as ProjectionNode<ReadModelQueries[K]>;
}

/** Where the instances of one read model live: their stores, and how to delete and find them. */
export interface ReadModelStorage {
  /** The stores of instance `instanceId` (only the kind the read model uses is asked for). */
  stores(instanceId: string): ReadModelStores;
  destroy(instanceId: string): Promise<void>;
  instances(): Promise<string[]>;
}

/**
 * Read model `name` as a replayable projection over `storage` (projections/replay): each instance
 * opened through `openReadModel`, with the read model's content version.
 */
export function replayableReadModel<K extends ReadModelName>(name: K, storage: ReadModelStorage, opts: ReadModelOptions): ReplayableProjection<ReadModelQueries[K]> {
  return {
    name,
    ...(READ_MODEL_CONTENT_VERSIONS[name] !== undefined && { contentVersion: READ_MODEL_CONTENT_VERSIONS[name] }),
    open: (instanceId) => openReadModel(name, storage.stores(instanceId), opts),
    destroy: (instanceId) => storage.destroy(instanceId),
    instances: () => storage.instances(),
  };
}

/**
 * ReadModelStores of a storage that holds one kind of store: the other two refuse (a read model
 * only ever asks for its own kind; see openReadModel).
 */
export function onlyStores(kind: Partial<ReadModelStores>): ReadModelStores {
  const none = (what: string) => () => { throw new Error(`this storage has no ${what} store`); };
  return {
    keyValue: kind.keyValue ?? none('key-value'),
    analytics: kind.analytics ?? none('analytics'),
    searchSnapshots: kind.searchSnapshots ?? none('search'),
  };
}
