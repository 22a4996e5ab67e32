import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { hashPassword, parsePasswordHash, verifyPassword } from './password.ts';

describe('password hashing (scrypt, PHC string)', () => {
  test('produces a PHC scrypt string with N=2^14, r=8, p=1 and a 16-byte salt', async () => {
    const phc = await hashPassword('correct horse battery staple');
    assert.match(phc, /^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    const parsed = parsePasswordHash(phc);
    assert.ok(parsed);
    assert.equal(parsed.salt.length, 16);
    // Independent recomputation with node's scrypt and the documented parameters.
    const expected = scryptSync('correct horse battery staple', parsed.salt, parsed.hash.length, { N: 16384, r: 8, p: 1 });
    assert.deepEqual(parsed.hash, expected);
  });

  test('verifies the right password and rejects a wrong one', async () => {
    const phc = await hashPassword('s3cret-pass');
    assert.equal(await verifyPassword('s3cret-pass', phc), true);
    assert.equal(await verifyPassword('s3cret-pasS', phc), false);
    assert.equal(await verifyPassword('', phc), false);
  });

  test('salts: the same password hashes differently twice, both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same password', a), true);
    assert.equal(await verifyPassword('same password', b), true);
  });

  test('malformed, tampered or abusive hash strings verify false instead of throwing', async () => {
    const phc = await hashPassword('pw-12345678');
    const parts = phc.split('$');
    const hash = Buffer.from(parts[4]!, 'base64');
    hash[0] = hash[0]! ^ 0xff;
    const tampered = [...parts.slice(0, 4), hash.toString('base64').replace(/=+$/, '')].join('$');
    assert.equal(await verifyPassword('pw-12345678', tampered), false);
    assert.equal(await verifyPassword('pw-12345678', 'not a hash'), false);
    assert.equal(await verifyPassword('pw-12345678', phc.replace('ln=14', 'ln=40')), false);
    assert.equal(await verifyPassword('pw-12345678', phc.replace('$scrypt$', '$argon2id$')), false);
  });
});
