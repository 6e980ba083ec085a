// Reading a batch's keys can run user JS (a Proxy trap, a getter on a hole).
// That JS may call back into the same store, close it, or try to detach the
// memory results live in; the outer call must still see exactly the keys it
// was given, never touch freed memory, and nothing may crash.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, type Key, type Store } from '../lib/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function store(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'tidekv-reentry-'));
  const db = await open(dir, { memoryBudgetBytes: 1 << 20, pageBytes: 1 << 16 });
  cleanups.push(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

/** An array whose element reads call `during` first (mixed key types force the per-element path). */
function trapped(keys: Key[], during: () => void): Key[] {
  return new Proxy(keys, {
    get(target, property, receiver) {
      if (typeof property === 'string' && /^\d+$/.test(property)) during();
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

describe('re-entrant calls while a batch reads its keys', () => {
  it('getMany sees its own keys when a trap runs getMany and put', async () => {
    const db = await store();
    for (let i = 0; i < 100; i++) db.put(`k${i}`, `v${i}`);
    const keys: Key[] = [];
    for (let i = 0; i < 100; i++) keys.push(i % 2 === 0 ? `k${i}` : Buffer.from(`k${i}`));
    let inner = 0;
    const result = db.getMany(
      trapped(keys, () => {
        inner++;
        db.getMany(['k1', 'k2', Buffer.from('k3')]);
        db.put(`other${inner}`, 'x');
      }),
    );
    expect(inner).toBeGreaterThan(0);
    expect(result.map((v) => v?.toString())).toEqual(keys.map((_, i) => `v${i}`));
    db.verify();
  });

  it('batch applies its own ops when a trap runs another batch', async () => {
    const db = await store();
    const keys: Key[] = [];
    for (let i = 0; i < 64; i++) keys.push(i % 3 === 0 ? Buffer.from(`b${i}`) : `b${i}`);
    let inner = 0;
    const trappedKeys = trapped(keys, () => {
      inner++;
      db.putMany([`x${inner}`, Buffer.from(`y${inner}`)], ['1', Buffer.from('2')]);
    });
    db.putMany(trappedKeys, keys.map((_, i) => Buffer.from(`value${i}`)));
    expect(inner).toBeGreaterThan(0);
    for (let i = 0; i < 64; i++) expect(db.get(keys[i]!)?.toString()).toBe(`value${i}`);
    expect(db.get(`x${inner}`)?.toString()).toBe('1');
    db.verify();
  });

  it('a getMany nested in a key getter keeps its own results', async () => {
    const db = await store();
    db.put('x', 'XXXXXXXX');
    db.put('k1', 'OUTER111');
    let inner: (Buffer | undefined)[] | undefined;
    const keys: Key[] = [Buffer.from('k1')];
    Object.defineProperty(keys, 1, {
      get() {
        inner ??= db.getMany(['x']);
        return 'k1';
      },
      enumerable: true,
    });
    const outer = db.getMany(keys);
    expect(outer.map((v) => v?.toString())).toEqual(['OUTER111', 'OUTER111']);
    expect(inner?.[0]?.toString()).toBe('XXXXXXXX');
  });

  it('close() from a key trap during getMany or putMany is ERR_CLOSED, not a crash', async () => {
    const db = await store();
    for (let i = 0; i < 100; i++) db.put(`k${i}`, `v${i}`);
    let closing: Promise<void> | undefined;
    const keys: Key[] = [Buffer.from('k0')];
    for (let i = 1; i < 100; i++) keys.push(`k${i}`);
    expect(() => db.getMany(trapped(keys, () => (closing ??= db.close())))).toThrow(
      expect.objectContaining({ code: 'ERR_CLOSED' }),
    );
    await closing;
  });

  it('close() from a value getter during putMany is ERR_CLOSED, not a crash', async () => {
    const db = await store();
    let closing: Promise<void> | undefined;
    const values: unknown[] = ['a', 'b', 'c'];
    Object.defineProperty(values, 1, {
      get() {
        closing ??= db.close();
        return 'b';
      },
    });
    expect(() => db.putMany(['x', 'y', 'z'], values as string[])).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    await closing;
  });
});

describe('results cannot be detached from under the store', () => {
  it('transferring the ArrayBuffer behind a get() result copies it; later gets stay right', async () => {
    const db = await store();
    db.put('a', 'AAAAAAAA');
    db.put('b', 'BBBBBBBB');
    const a = db.get('a')!;
    const backing = a.buffer as ArrayBuffer; // get() never returns shared memory
    const copy = new Uint8Array(structuredClone(backing, { transfer: [backing] }));
    expect(a.byteLength).toBe(8); // not detached
    const snapshot = Buffer.from(copy);
    for (let i = 0; i < 1000; i++) expect(db.get(i % 2 === 0 ? 'b' : 'a')!.toString()).toBe(i % 2 === 0 ? 'BBBBBBBB' : 'AAAAAAAA');
    expect(Buffer.from(copy).equals(snapshot)).toBe(true); // the user's copy is not written by the store
    expect(a.toString()).toBe('AAAAAAAA');
  });

  it('the same holds for getMany results', async () => {
    const db = await store();
    db.putMany(['a', 'b'], ['AAAA', 'BBBB']);
    const [a] = db.getMany(['a', 'b']);
    const backing = a!.buffer as ArrayBuffer;
    structuredClone(backing, { transfer: [backing] });
    expect(a!.toString()).toBe('AAAA');
    expect(db.getMany(['b', 'a']).map((v) => v?.toString())).toEqual(['BBBB', 'AAAA']);
  });
});

