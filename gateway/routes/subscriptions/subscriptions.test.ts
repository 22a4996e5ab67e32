/** Channel subscriptions (issue 14): through the real subscription decider and user-accounts read model of the test gateway. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('subscriptions', () => {
  let t: TestGateway;
  let creator: { id: string; token: string };
  let fan: { id: string; token: string };
  let other: { id: string; token: string };
  before(async () => {
    t = await createTestGateway();
    creator = await t.signUp('creator');
    fan = await t.signUp('fan');
    other = await t.signUp('other');
  });
  after(() => t.close());

  const sub = (method: 'PUT' | 'DELETE' | 'GET', token?: string, channel = creator.id) =>
    t.inject({ method, url: `/api/v1/users/${channel}/subscription`, ...(token && { token }) });

  test('401 without a token, and nothing is sent', async () => {
    const sent = t.world.sent.length;
    for (const m of ['PUT', 'DELETE', 'GET'] as const) assert.equal((await sub(m)).statusCode, 401, m);
    assert.equal(t.world.sent.length, sent);
  });

  test('given two fans, when both subscribe and one twice, then 2; unsubscribing takes one back once', async () => {
    assert.deepEqual((await sub('GET', fan.token)).json(), { subscribed: false, subscriber_count: 0 });
    assert.deepEqual((await sub('PUT', fan.token)).json(), { subscribed: true, subscriber_count: 1 });
    assert.deepEqual((await sub('PUT', fan.token)).json(), { subscribed: true, subscriber_count: 1 });
    assert.deepEqual((await sub('PUT', other.token)).json(), { subscribed: true, subscriber_count: 2 });
    assert.deepEqual((await sub('DELETE', fan.token)).json(), { subscribed: false, subscriber_count: 1 });
    assert.deepEqual((await sub('DELETE', fan.token)).json(), { subscribed: false, subscriber_count: 1 });
    assert.deepEqual((await sub('GET', other.token)).json(), { subscribed: true, subscriber_count: 1 });
  });

  test('your own channel is 400 CANNOT_SUBSCRIBE_TO_SELF; an unknown user is 404 CHANNEL_NOT_FOUND', async () => {
    const self = await sub('PUT', creator.token);
    assert.equal(self.statusCode, 400);
    assert.equal(self.json().code, 'CANNOT_SUBSCRIBE_TO_SELF');
    for (const m of ['PUT', 'GET'] as const) {
      const missing = await sub(m, fan.token, 'usr_nobody');
      assert.equal(missing.statusCode, 404, m);
      assert.equal(missing.json().code, 'CHANNEL_NOT_FOUND');
    }
  });
});
