import type { UserCommand } from './user/user.commands.ts';
import type { VideoCommand } from './video/video.commands.ts';
import type { CommentCommand } from './comment/comment.commands.ts';
import type { ViewCommand } from './view/view.commands.ts';
import type { LikeCommand } from './like/like.commands.ts';
import type { SubscriptionCommand } from './subscription/subscription.commands.ts';
import type { PlaybackCommand } from './playback/playback.commands.ts';

/**
 * Every command StreamWave decides. Commands are intentions sent to one aggregate; ids and time
 * arrive on the command (`metadata.now`, generated ids) so `decide` is pure and replay deterministic.
 */
export type DomainCommand = UserCommand | VideoCommand | CommentCommand | ViewCommand | LikeCommand | SubscriptionCommand | PlaybackCommand;
