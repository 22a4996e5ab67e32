import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VIDEO_STATUSES } from './video.decider.ts';
import { canSeeVideo, isListed, mediaAccessOf, VIDEO_VISIBILITIES } from './video-visibility.ts';

test('visibility rule: every status × visibility × viewer (owner, other user, anonymous)', () => {
  let checked = 0;
  for (const status of VIDEO_STATUSES) {
    for (const visibility of [...VIDEO_VISIBILITIES, undefined]) {
      const v = { ownerId: 'owner', status, visibility };
      const effective = visibility ?? 'public';
      const live = status !== 'deleted';
      const openToAll = live && status === 'ready' && effective !== 'private';
      assert.equal(canSeeVideo(v, 'owner'), live, `owner ${status}/${effective}`);
      assert.equal(canSeeVideo(v, 'other'), openToAll, `other ${status}/${effective}`);
      assert.equal(canSeeVideo(v, null), openToAll, `anonymous ${status}/${effective}`);
      assert.equal(isListed(v), status === 'ready' && effective === 'public', `listed ${status}/${effective}`);
      assert.equal(mediaAccessOf(v), !live ? 'gone' : openToAll ? 'public' : 'signed', `media ${status}/${effective}`);
      checked++;
    }
  }
  assert.equal(mediaAccessOf(undefined), 'gone');
  console.log(`visibility rule: ${checked} status × visibility combinations checked`);
});
