/**
 * Issue 8, finding 11: tokens, presigned URLs and cursors have independent secrets, so rotating
 * one leaves what the others signed valid; each is generated into the data dir (0600) when unset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { loadConfig } from '../config/config.ts';
import { authPlugin } from '../../gateway/plugins/auth.plugin.ts';
import { decodeSignedCursor, encodeSignedCursor } from '../../projections/cursor.ts';
import { loadOrCreateSecret } from './secrets.ts';

test('loadOrCreateSecret: generated once (mode 0600), then read back; a second purpose gets another secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-secrets-'));
  try {
    const a = loadOrCreateSecret(dir, 'media-url.key');
    assert.equal(a.length, 64);
    assert.equal(statSync(join(dir, 'media-url.key')).mode & 0o777, 0o600);
    assert.equal(loadOrCreateSecret(dir, 'media-url.key'), a);
    assert.notEqual(loadOrCreateSecret(dir, 'other.key'), a);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('rotating the presign secret leaves access tokens and cursors valid (and the registry password too)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-secrets-'));
  try {
    const env = { STREAMWAVE_DATA_DIR: dir };
    const before = loadConfig(env);
    assert.equal(statSync(join(dir, 'schema-registry.password')).mode & 0o777, 0o600);
    for (const f of ['presign.key', 'cursor.key']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
    assert.equal(new Set([before.jwtSecret, before.presignSecret, before.cursorSecret, before.schemaRegistryAuth.password]).size, 4);

    // A token and a cursor issued before the rotation.
    const sign = Fastify({ logger: false });
    await sign.register(authPlugin, { jwtSecret: before.jwtSecret, keys: before.jwtKeys, tokenTtlSeconds: 600, issuer: before.jwtIssuer, audience: before.jwtAudience });
    await sign.ready();
    const token = sign.issueAccessToken('usr_1').accessToken;
    const cursor = encodeSignedCursor({ offset: 20 }, before.cursorSecret);

    // Rotate the presign secret both ways: a new value in the variable, or the file deleted.
    unlinkSync(join(dir, 'presign.key'));
    const after = loadConfig(env);
    const viaEnv = loadConfig({ ...env, STREAMWAVE_PRESIGN_SECRET: 'a-brand-new-presign-secret-of-32-bytes-or-more' });
    for (const c of [after, viaEnv]) {
      assert.notEqual(c.presignSecret, before.presignSecret);
      assert.deepEqual(c.jwtKeys, before.jwtKeys);
      assert.equal(c.cursorSecret, before.cursorSecret);
      assert.deepEqual(c.schemaRegistryAuth, before.schemaRegistryAuth);
      const verify = Fastify({ logger: false });
      await verify.register(authPlugin, { jwtSecret: c.jwtSecret, keys: c.jwtKeys, tokenTtlSeconds: 600, issuer: c.jwtIssuer, audience: c.jwtAudience });
      verify.get('/me', { onRequest: verify.authenticate }, async (req) => ({ userId: req.principal?.userId }));
      const res = await verify.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` } });
      assert.deepEqual(res.json(), { userId: 'usr_1' });
      assert.deepEqual(decodeSignedCursor(cursor, c.cursorSecret), { offset: 20 });
      await verify.close();
    }
    await sign.close();
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('STREAMWAVE_JWT_KEYS: first key signs, duplicate kid refused; registry credentials from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-secrets-'));
  try {
    const s1 = 'x'.repeat(40), s2 = 'y'.repeat(40);
    const c = loadConfig({ STREAMWAVE_DATA_DIR: dir, STREAMWAVE_JWT_KEYS: `new:${s2}, old:${s1}`, STREAMWAVE_SCHEMA_REGISTRY_USERNAME: 'ci', STREAMWAVE_SCHEMA_REGISTRY_PASSWORD: 'pw' });
    assert.deepEqual(c.jwtKeys, [{ kid: 'new', secret: s2 }, { kid: 'old', secret: s1 }]);
    assert.deepEqual(c.schemaRegistryAuth, { username: 'ci', password: 'pw' });
    assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dir, STREAMWAVE_JWT_KEYS: `a:${s1},a:${s2}` }), /duplicate kid/);
    assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dir, STREAMWAVE_JWT_KEYS: 'a:short' }), /STREAMWAVE_JWT_KEYS/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
