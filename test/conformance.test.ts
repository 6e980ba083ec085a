// The engine contract, run against every engine in ENGINES.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, type CheckpointInfo, type OpenOptions, type Store } from '../lib/index.js';
import {
  checkpointFilePrefixes,
  dataMemoryBytes,
  ENGINES,
  expectRejectsCode,
  expectThrowsCode,
  INT64_MAX,
  INT64_MIN,
  int64Bytes,
  makeTempDir,
  orphanFileNames,
  presetOptions,
  pseudoRandomBytes,
  removeAllTempDirs,
  removeTempDir,
  runNode,
  transpileLibForChildren,
  withStore,
  type PresetName,
} from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

afterEach(() => removeAllTempDirs());

/** Asserts the store holds exactly `model` for the keys in `keys` (absent in model = absent in store). */
function expectState(db: Store, model: Map<string, Buffer>, keys: Iterable<string> = model.keys()): void {
  for (const k of keys) {
    const want = model.get(k);
    const got = db.get(k);
    if (want === undefined) {
      expect(got, `key ${k}`).toBeUndefined();
      expect(db.has(k), `has ${k}`).toBe(false);
    } else {
      expect(got, `key ${k}`).toBeDefined();
      expect(got!.equals(want), `value of ${k}: ${got!.length} bytes, want ${want.length}`).toBe(true);
      expect(db.has(k), `has ${k}`).toBe(true);
    }
  }
}

describe.each(ENGINES)('%s: conformance', (engine) => {
  const opts = (preset: PresetName) => presetOptions(engine, preset);

  it('reports its engine, limits and capabilities', async () => {
    await withStore(opts('default'), (db) => {
      expect(db.engine).toBe(engine);
      expect(db.closed).toBe(false);
      expect(db.limits.maxKeyBytes).toBe(8 * KiB);
      expect(Number.isSafeInteger(db.limits.maxValueBytes)).toBe(true);
      expect(db.limits.maxValueBytes).toBeGreaterThan(64 * KiB);
      expect(db.limits.maxBatchOps).toBeGreaterThan(0);
      expect(typeof db.capabilities.ordered).toBe('boolean');
    });
  });

  describe('get / put / delete / has', () => {
    it('reads back what was put; absent keys read as undefined', async () => {
      await withStore(opts('default'), (db) => {
        expect(db.get('a')).toBeUndefined();
        expect(db.has('a')).toBe(false);
        db.put('a', 'alpha');
        db.put('b', Buffer.from('beta'));
        expect(db.get('a')?.toString()).toBe('alpha');
        expect(db.get('b')?.toString()).toBe('beta');
        expect(db.has('a')).toBe(true);
        expect(db.get('c')).toBeUndefined();
        db.put('a', 'a much longer value than before, so it does not fit in place');
        expect(db.get('a')?.toString()).toBe('a much longer value than before, so it does not fit in place');
        db.put('a', 'x');
        expect(db.get('a')?.toString()).toBe('x');
        expect(db.stats().keys).toBe(2);
        db.verify();
      });
    });

    it('treats a string key and the Buffer of its UTF-8 bytes as the same key', async () => {
      await withStore(opts('default'), (db) => {
        const utf8 = Buffer.from([0xc3, 0xa9]); // 'é'
        db.put('é', 'ü');
        expect(db.get(utf8)?.equals(Buffer.from('ü'))).toBe(true);
        expect(db.has(new Uint8Array([0xc3, 0xa9]))).toBe(true);
        // A plain Uint8Array and a view at an offset address the same key.
        const backing = new Uint8Array([0x00, 0xc3, 0xa9, 0x00]);
        expect(db.get(backing.subarray(1, 3))?.toString()).toBe('ü');
        db.put(utf8, new Uint8Array([1, 2, 3]));
        expect([...db.get('é')!]).toEqual([1, 2, 3]);
        expect(db.stats().keys).toBe(1);
        // 'e' + combining accent is a different byte string.
        expect(db.get('e\u0301')).toBeUndefined();
        // NUL bytes are part of the key.
        db.put('a\0b', '1');
        db.put('a', '2');
        expect(db.get('a\0b')?.toString()).toBe('1');
        expect(db.get(Buffer.from([0x61, 0x00, 0x62]))?.toString()).toBe('1');
        expect(db.get('a')?.toString()).toBe('2');
        // Astral-plane characters (surrogate pairs in JS) as key and value.
        db.put('🦀key', '🦀value');
        expect(db.get(Buffer.from('🦀key', 'utf8'))?.toString('utf8')).toBe('🦀value');
        expect(db.delete(Buffer.from('é'))).toBe(true);
        expect(db.has('é')).toBe(false);
        expect(db.stats().keys).toBe(3);
        db.verify();
      });
    });

    it('stores an empty value, distinct from an absent key', async () => {
      await withStore(opts('default'), (db) => {
        db.put('e1', '');
        db.put('e2', new Uint8Array(0));
        db.put('e3', Buffer.alloc(0));
        for (const k of ['e1', 'e2', 'e3']) {
          const v = db.get(k);
          expect(Buffer.isBuffer(v)).toBe(true);
          expect(v!.length).toBe(0);
          expect(db.has(k)).toBe(true);
        }
        const many = db.getMany(['e1', 'nope', 'e2']);
        expect(many[0]?.length).toBe(0);
        expect(many[1]).toBeUndefined();
        expect(many[2]?.length).toBe(0);
        expect(db.stats().keys).toBe(3);
        // Empty value over a non-empty one and back.
        db.put('x', 'abc');
        db.put('x', '');
        expect(db.get('x')?.length).toBe(0);
        db.put('x', 'def');
        expect(db.get('x')?.toString()).toBe('def');
        expect(db.delete('e1')).toBe(true);
        expect(db.get('e1')).toBeUndefined();
        db.verify();
      });
    });

    it('keeps binary keys and values with every byte value', async () => {
      await withStore(opts('default'), (db) => {
        const all = Buffer.alloc(256 * 3);
        for (let i = 0; i < all.length; i++) all[i] = (i * 7 + 3) % 256;
        const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        db.put('bin', all);
        db.put(every, every);
        db.put(Buffer.from([0]), Buffer.from([0xff, 0, 0xfe]));
        db.put(Buffer.from([0, 0]), Buffer.from([1]));
        expect(db.get('bin')!.equals(all)).toBe(true);
        expect(db.get(Buffer.from(every))!.equals(every)).toBe(true);
        expect([...db.get(Buffer.from([0]))!]).toEqual([0xff, 0, 0xfe]);
        expect([...db.get(Buffer.from([0, 0]))!]).toEqual([1]);
        // Invalid UTF-8 as a value must come back byte for byte.
        const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xff, 0xfe]);
        db.put('bad-utf8', invalidUtf8);
        expect(db.get('bad-utf8')!.equals(invalidUtf8)).toBe(true);
        expect(db.stats().keys).toBe(5);
        db.verify();
      });
    });

    it('get returns a fresh Buffer that does not alias storage or the input', async () => {
      await withStore(opts('default'), (db) => {
        const input = Buffer.from('original');
        db.put('k', input);
        input.fill(0x21); // mutating the caller's buffer after put changes nothing
        const a = db.get('k')!;
        const b = db.get('k')!;
        expect(Buffer.isBuffer(a)).toBe(true);
        expect(a).not.toBe(b);
        expect(a.toString()).toBe('original');
        a.fill(0); // mutating a result changes neither the store nor another result
        expect(b.toString()).toBe('original');
        expect(db.get('k')!.toString()).toBe('original');
        // A value read after a different one does not share bytes with it.
        db.put('k2', 'second');
        const c = db.get('k2')!;
        const d = db.get('k')!;
        expect(c.toString()).toBe('second');
        expect(d.toString()).toBe('original');
        // Large values (bigger than the initial output buffer) too.
        const big = pseudoRandomBytes(200 * KiB, 1);
        db.put('big', big);
        const g1 = db.get('big')!;
        const g2 = db.get('big')!;
        expect(g1).not.toBe(g2);
        g1.fill(1);
        expect(g2.equals(big)).toBe(true);
        expect(db.get('big')!.equals(big)).toBe(true);
        expect(db.get('k')!.toString()).toBe('original');
        // getMany results too.
        const many = db.getMany(['k', 'k2', 'k']);
        many[0]!.fill(0x30);
        expect(many[1]!.toString()).toBe('second');
        expect(many[2]!.toString()).toBe('original');
        expect(db.get('k')!.toString()).toBe('original');
        db.verify();
      });
    });

    it('reads values around the size of the internal output buffer (64 KiB) and its doublings', async () => {
      await withStore(opts('default'), (db) => {
        const sizes = [65535, 65536, 65537, 131071, 131072, 131073, 1, 0, 262145, 65536];
        sizes.forEach((n, i) => db.put(`s${i}`, pseudoRandomBytes(n, n)));
        // Ascending and then descending reads: the buffer grows, then stays large.
        for (const order of [sizes.map((_, i) => i), sizes.map((_, i) => sizes.length - 1 - i)]) {
          for (const i of order) {
            const got = db.get(`s${i}`);
            expect(got?.length, `size ${sizes[i]}`).toBe(sizes[i]);
            expect(got?.equals(pseudoRandomBytes(sizes[i]!, sizes[i]!)), `size ${sizes[i]}`).toBe(true);
          }
        }
      });
    });

    it('delete returns true only when a live value was removed', async () => {
      await withStore(opts('default'), (db) => {
        expect(db.delete('never')).toBe(false);
        db.put('k', 'v');
        expect(db.delete('k')).toBe(true);
        expect(db.delete('k')).toBe(false);
        expect(db.get('k')).toBeUndefined();
        expect(db.has('k')).toBe(false);
        db.put('k', 'again');
        expect(db.delete(Buffer.from('k'))).toBe(true);
        db.increment('ctr');
        expect(db.delete('ctr')).toBe(true);
        db.append('app', '');
        expect(db.delete('app')).toBe(true);
        expect(db.delete('app')).toBe(false);
        db.put('empty', '');
        expect(db.delete('empty')).toBe(true);
        expect(db.stats().keys).toBe(0);
        db.verify();
      });
    });

    it('delete works on records in the read-only and on-disk regions (tinyMemory)', async () => {
      await withStore(opts('tinyMemory'), (db) => {
        const model = new Map<string, Buffer>();
        for (let i = 0; i < 600; i++) {
          const v = pseudoRandomBytes(1000 + (i % 50), i);
          db.put(`k${i}`, v);
          model.set(`k${i}`, v);
        }
        expect(db.stats().diskBytes).toBeGreaterThan(0);
        for (let i = 0; i < 600; i += 3) {
          expect(db.delete(`k${i}`)).toBe(true);
          expect(db.delete(`k${i}`)).toBe(false);
          model.delete(`k${i}`);
        }
        expect(db.stats().keys).toBe(model.size);
        expectState(db, model, Array.from({ length: 600 }, (_, i) => `k${i}`));
        db.verify();
      });
    });
  });

  describe('increment', () => {
    it('defaults to +1, accepts number and bigint deltas, returns a bigint', async () => {
      await withStore(opts('default'), (db) => {
        const r1 = db.increment('c');
        expect(typeof r1).toBe('bigint');
        expect(r1).toBe(1n);
        expect(db.increment('c', 5)).toBe(6n);
        expect(db.increment('c', 10n)).toBe(16n);
        expect(db.increment('c', -20)).toBe(-4n);
        expect(db.increment('c', -1n)).toBe(-5n);
        expect(db.increment('c', undefined)).toBe(-4n);
        expect(db.increment(Buffer.from('c'), Number.MAX_SAFE_INTEGER)).toBe(BigInt(Number.MAX_SAFE_INTEGER) - 4n);
        expect(db.increment('c', -Number.MAX_SAFE_INTEGER)).toBe(-4n);
        // The stored value is an 8-byte little-endian int64.
        const raw = db.get('c')!;
        expect(raw.length).toBe(8);
        expect(raw.readBigInt64LE(0)).toBe(-4n);
        // Delta 0 creates the counter at 0.
        expect(db.increment('zero', 0)).toBe(0n);
        expect(db.get('zero')!.equals(Buffer.alloc(8))).toBe(true);
        expect(db.stats().keys).toBe(2);
        db.verify();
      });
    });

    it('increments a put 8-byte value in place', async () => {
      await withStore(opts('default'), (db) => {
        db.put('n', int64Bytes(41n));
        expect(db.increment('n')).toBe(42n);
        db.put('m', int64Bytes(-1n));
        expect(db.increment('m', 1n)).toBe(0n);
        expect(db.get('m')!.equals(Buffer.alloc(8))).toBe(true);
        // Any 8 bytes are a counter, e.g. an 8-character string.
        db.put('s', 'abcdefgh');
        expect(db.increment('s', 0)).toBe(Buffer.from('abcdefgh').readBigInt64LE(0));
      });
    });

    it('fails with ERR_TYPE_MISMATCH on a value that is not 8 bytes, leaving it unchanged', async () => {
      await withStore(opts('default'), (db) => {
        for (const v of ['abc', '', 'abcdefghi', 'abcdefg', 'x'.repeat(1000)]) {
          db.put('t', v);
          expectThrowsCode(() => db.increment('t'), 'ERR_TYPE_MISMATCH');
          expectThrowsCode(() => db.increment('t', 0n), 'ERR_TYPE_MISMATCH');
          expect(db.get('t')!.toString()).toBe(v);
        }
        expect(db.stats().keys).toBe(1);
        db.verify();
      });
    });

    it('fails with ERR_OVERFLOW at the int64 bounds, leaving the value unchanged', async () => {
      await withStore(opts('default'), (db) => {
        expect(db.increment('hi', INT64_MAX)).toBe(INT64_MAX);
        expectThrowsCode(() => db.increment('hi'), 'ERR_OVERFLOW');
        expectThrowsCode(() => db.increment('hi', INT64_MAX), 'ERR_OVERFLOW');
        expect(db.get('hi')!.readBigInt64LE(0)).toBe(INT64_MAX);
        expect(db.increment('hi', -1)).toBe(INT64_MAX - 1n);
        expect(db.increment('hi', 1)).toBe(INT64_MAX);

        expect(db.increment('lo', INT64_MIN)).toBe(INT64_MIN);
        expectThrowsCode(() => db.increment('lo', -1), 'ERR_OVERFLOW');
        expectThrowsCode(() => db.increment('lo', INT64_MIN), 'ERR_OVERFLOW');
        expect(db.get('lo')!.readBigInt64LE(0)).toBe(INT64_MIN);
        expect(db.increment('lo', INT64_MAX)).toBe(-1n);

        db.put('p', int64Bytes(INT64_MAX - 5n));
        expectThrowsCode(() => db.increment('p', 6), 'ERR_OVERFLOW');
        expect(db.get('p')!.readBigInt64LE(0)).toBe(INT64_MAX - 5n);
        expect(db.stats().keys).toBe(3);
        db.verify();
      });
    });

    it('rejects a delta that is not a safe integer or int64 bigint with ERR_INVALID_ARG', async () => {
      await withStore(opts('default'), (db) => {
        db.put('c', int64Bytes(7n));
        const bad: unknown[] = [1.5, -0.5, 2 ** 53, -(2 ** 53), NaN, Infinity, -Infinity, 1n << 63n, -(1n << 63n) - 1n, '1', null, {}, true];
        for (const d of bad) {
          expectThrowsCode(() => db.increment('c', d as number), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.increment('absent', d as number), 'ERR_INVALID_ARG');
        }
        expect(db.get('c')!.readBigInt64LE(0)).toBe(7n);
        expect(db.has('absent')).toBe(false);
        expect(db.stats().keys).toBe(1);
      });
    });

    it('counts correctly while the counter moves to the read-only region and to disk (tinyMemory)', async () => {
      await withStore(opts('tinyMemory'), (db) => {
        let expected = 0n;
        const filler = pseudoRandomBytes(3000, 9);
        for (let round = 0; round < 400; round++) {
          expected += BigInt(round % 7) - 2n;
          expect(db.increment('hot', BigInt(round % 7) - 2n)).toBe(expected);
          db.put(`fill${round}`, filler); // pushes the counter's page out of memory
          if (round % 50 === 0) expect(db.get('hot')!.readBigInt64LE(0)).toBe(expected);
        }
        expect(db.stats().diskBytes).toBeGreaterThan(256 * KiB);
        expect(db.get('hot')!.readBigInt64LE(0)).toBe(expected);
        expect(db.stats().keys).toBe(401);
        db.verify();
      });
    });
  });

  describe('append', () => {
    it('creates, appends, and appends to counters', async () => {
      await withStore(opts('default'), (db) => {
        db.append('a', 'he');
        expect(db.get('a')!.toString()).toBe('he');
        db.append('a', Buffer.from('llo'));
        db.append(Buffer.from('a'), new Uint8Array([0x21]));
        expect(db.get('a')!.toString()).toBe('hello!');
        // Appending nothing creates an empty value.
        db.append('empty', '');
        expect(db.has('empty')).toBe(true);
        expect(db.get('empty')!.length).toBe(0);
        // Appending to a counter makes it a 9+ byte value: no longer a counter.
        db.increment('c', 3);
        db.append('c', Buffer.from([0xaa]));
        const c = db.get('c')!;
        expect(c.length).toBe(9);
        expect(c.readBigInt64LE(0)).toBe(3n);
        expect(c[8]).toBe(0xaa);
        expectThrowsCode(() => db.increment('c'), 'ERR_TYPE_MISMATCH');
        // Appending 8 bytes to an empty value makes a counter.
        db.append('empty', int64Bytes(100n));
        expect(db.increment('empty')).toBe(101n);
        expect(db.stats().keys).toBe(3);
        db.verify();
      });
    });

    it('builds a long value by many appends, also across pages and to disk (tinyPages, tinyMemory)', async () => {
      for (const preset of ['tinyPages', 'tinyMemory'] as const) {
        await withStore(opts(preset), (db) => {
          const parts: Buffer[] = [];
          for (let i = 0; i < 200; i++) {
            const chunk = pseudoRandomBytes(100 + (i % 13) * 17, i);
            parts.push(chunk);
            db.append('log', chunk);
            db.put(`other${i % 40}`, pseudoRandomBytes(700 + i, i)); // grows the log around it
          }
          const want = Buffer.concat(parts);
          expect(db.get('log')!.equals(want)).toBe(true);
          expect(db.stats().keys).toBe(41);
          db.verify();
        });
      }
    });

    it('rejects an append past maxValueBytes with ERR_INVALID_ARG, leaving the value unchanged', async () => {
      await withStore(opts('tinyPages'), (db) => {
        const max = db.limits.maxValueBytes;
        const first = pseudoRandomBytes(max - 10, 3);
        db.append('a', first);
        db.append('a', pseudoRandomBytes(10, 4));
        const full = db.get('a')!;
        expect(full.length).toBe(max);
        expect(full.subarray(0, max - 10).equals(first)).toBe(true);
        expectThrowsCode(() => db.append('a', 'x'), 'ERR_INVALID_ARG');
        expect(db.get('a')!.equals(full)).toBe(true);
        expect(db.stats().keys).toBe(1);
        db.verify();
      });
    });
  });

  describe('getMany', () => {
    it('answers in order, with undefined for missing keys and repeated keys answered each time', async () => {
      await withStore(opts('default'), (db) => {
        expect(db.getMany([])).toEqual([]);
        db.put('a', '1');
        db.put('b', '22');
        db.put('c', '');
        const r = db.getMany(['c', 'missing', 'a', Buffer.from('b'), 'a', 'missing', 'b']);
        expect(r.length).toBe(7);
        expect(r.map((v) => (v === undefined ? undefined : v.toString()))).toEqual(['', undefined, '1', '22', '1', undefined, '22']);
        for (const v of r) if (v !== undefined) expect(Buffer.isBuffer(v)).toBe(true);
        expect(db.getMany(['missing'])).toEqual([undefined]);
      });
    });

    it('returns values bigger than 64 KiB mixed with small and missing ones', async () => {
      await withStore(opts('default'), (db) => {
        const sizes = [0, 1, 70 * KiB, 65536, 65537, 3 * MiB, 17, 1 * MiB + 3];
        const model = new Map<string, Buffer>();
        sizes.forEach((s, i) => {
          const v = pseudoRandomBytes(s, i + 100);
          db.put(`v${i}`, v);
          model.set(`v${i}`, v);
        });
        // Small values first so the chunk estimate is small, then large ones.
        const keys = ['v1', 'v6', 'nope', 'v0', 'v5', 'v2', 'nope2', 'v3', 'v4', 'v7', 'v5', 'v1'];
        const r = db.getMany(keys);
        keys.forEach((k, i) => {
          const want = model.get(k);
          if (want === undefined) expect(r[i]).toBeUndefined();
          else expect(r[i]?.equals(want), `${k} at ${i}`).toBe(true);
        });
      });
    });

    it('returns values totalling more than any internal chunk (> 64 MiB)', async () => {
      await withStore(opts('default'), (db) => {
        const size = Math.min(db.limits.maxValueBytes, 4_100_000);
        const count = Math.ceil((64 * MiB + 1) / size) + 1;
        const keys: string[] = [];
        for (let i = 0; i < count; i++) {
          const v = Buffer.alloc(size, i + 1);
          v.writeUInt32LE(i, 0);
          v.writeUInt32LE(i, size - 4);
          db.put(`big${i}`, v);
          keys.push(`big${i}`, `absent${i}`);
        }
        const r = db.getMany(keys);
        let total = 0;
        for (let i = 0; i < count; i++) {
          const v = r[2 * i]!;
          expect(r[2 * i + 1]).toBeUndefined();
          expect(v.length).toBe(size);
          expect(v.readUInt32LE(0)).toBe(i);
          expect(v.readUInt32LE(size - 4)).toBe(i);
          expect(v[size >> 1]).toBe((i + 1) & 0xff);
          total += v.length;
        }
        expect(total).toBeGreaterThan(64 * MiB);
      });
    });

    it('answers thousands of keys, in memory and on disk', async () => {
      for (const preset of ['default', 'tinyMemory'] as const) {
        await withStore(opts(preset), (db) => {
          const model = new Map<string, Buffer>();
          for (let i = 0; i < 6000; i++) {
            const v = pseudoRandomBytes((i * 37) % 301, i);
            db.put(`key-${i}`, v);
            model.set(`key-${i}`, v);
          }
          const keys: (string | Buffer)[] = [];
          for (let i = 0; i < 10000; i++) {
            const n = (i * 7919) % 7000; // some of them missing, many repeated
            keys.push(i % 5 === 0 ? Buffer.from(`key-${n}`) : `key-${n}`);
          }
          const r = db.getMany(keys);
          expect(r.length).toBe(keys.length);
          keys.forEach((k, i) => {
            const want = model.get(k.toString());
            if (want === undefined) expect(r[i], `${k.toString()}`).toBeUndefined();
            else expect(r[i]?.equals(want), `${k.toString()}`).toBe(true);
          });
          db.verify();
        });
      }
    });
  });

  describe('getMany results', () => {
    it('are not overwritten by later getMany calls (results share allocations)', async () => {
      await withStore(opts('default'), (db) => {
        const model = new Map<string, Buffer>();
        for (let i = 0; i < 200; i++) {
          const v = pseudoRandomBytes(i * 50, i);
          db.put(`k${i}`, v);
          model.set(`k${i}`, v);
        }
        const kept: [string, Buffer | undefined][] = [];
        for (let round = 0; round < 300; round++) {
          const keys = [`k${round % 200}`, `k${(round * 7) % 200}`, 'absent', `k${(round * 13) % 200}`];
          const r = db.getMany(keys);
          keys.forEach((k, i) => kept.push([k, r[i]]));
          if (round % 50 === 0) {
            // A big one in between, which needs a larger allocation.
            const big = pseudoRandomBytes(300 * KiB, round);
            db.put('big', big);
            model.set('big', big);
            const [b] = db.getMany(['big']);
            kept.push(['big', b]);
          }
        }
        for (const [k, v] of kept) {
          const want = k === 'big' ? undefined : model.get(k);
          if (k === 'big') expect(v?.length).toBe(300 * KiB);
          else if (want === undefined) expect(v).toBeUndefined();
          else expect(v?.equals(want), k).toBe(true);
        }
      });
    });
  });

  describe('keys containing NUL characters', () => {
    // Batched calls send string keys joined by NUL and fall back to an array
    // when a key contains NUL; both paths must give the same answers.
    it('are distinct keys in every call, batched or not', async () => {
      await withStore(opts('default'), (db) => {
        const keys = ['a', 'a\0b', 'b', 'a\0', 'c\0d\0'];
        keys.forEach((k, i) => db.put(k, `v${i}`));
        expect(db.stats().keys).toBe(keys.length);
        expect(db.getMany(keys).map((v) => v?.toString())).toEqual(keys.map((_, i) => `v${i}`));
        expect(db.getMany(['a', 'b']).map((v) => v?.toString())).toEqual(['v0', 'v2']);
        expect(db.get('a\0b')?.toString()).toBe('v1');
        db.batch(keys.map((key, i) => ({ type: 'append' as const, key, value: `+${i}` })));
        expect(db.getMany(keys).map((v) => v?.toString())).toEqual(keys.map((_, i) => `v${i}+${i}`));
        db.putMany(keys, keys.map((_, i) => int64Bytes(BigInt(i))));
        expect([...db.incrementMany(keys, 10)]).toEqual(keys.map((_, i) => BigInt(i) + 10n));
        expect(db.stats().keys).toBe(keys.length);
        db.verify();
      });
    });

    // BUG: the NUL-joined key string is split and each piece checked for
    // emptiness before the piece count is known to match, so a batched call
    // with a string key that starts with NUL (or holds two NULs in a row)
    // followed by more keys is rejected with ERR_INVALID_ARG ("keys[0] must not
    // be empty") instead of falling back to the array form. Repro:
    // db.put('\0a', 'x'); db.getMany(['\0a', 'b']) throws; so do
    // db.batch([{ type: 'put', key: '\0a', value: '1' }, { type: 'put', key: 'b', value: '2' }])
    // and db.putMany(['\0a', 'b'], ['1', '2']). Expected: ['x', undefined] / success.
    it('batched calls accept keys that start with NUL or contain two NULs in a row', async () => {
      await withStore(opts('default'), (db) => {
        db.put('\0a', 'x');
        db.put('a\0\0b', 'y');
        expect(db.getMany(['\0a', 'b', 'a\0\0b', 'c']).map((v) => v?.toString())).toEqual(['x', undefined, 'y', undefined]);
        db.batch([
          { type: 'put', key: '\0a', value: '1' },
          { type: 'put', key: 'b', value: '2' },
        ]);
        db.putMany(['a\0\0b', 'b', 'c'], ['3', '4', '5']);
        expect(db.getMany(['\0a', 'b', 'a\0\0b', 'c']).map((v) => v?.toString())).toEqual(['1', '4', '3', '5']);
      });
    });
  });

  describe('putMany / incrementMany', () => {
    it('putMany writes every pair in order (a later duplicate wins)', async () => {
      await withStore(opts('tinyMemory'), (db) => {
        db.putMany([], []);
        const keys: (string | Buffer)[] = [];
        const values: (string | Buffer | Uint8Array)[] = [];
        const model = new Map<string, Buffer>();
        for (let i = 0; i < 3000; i++) {
          const k = `k${i % 1000}`;
          const v = i % 3 === 0 ? `str${i}` : pseudoRandomBytes(100 + (i % 300), i);
          keys.push(i % 2 === 0 ? k : Buffer.from(k));
          values.push(i % 5 === 0 && typeof v !== 'string' ? new Uint8Array(v) : v);
          model.set(k, Buffer.from(v));
        }
        db.putMany(keys, values);
        expect(db.stats().keys).toBe(1000);
        expectState(db, model);
        db.verify();
      });
    });

    it('putMany writes nothing when one value is too large', async () => {
      await withStore(opts('tinyPages'), (db) => {
        db.put('a', 'before');
        expectThrowsCode(() => db.putMany(['a', 'b', 'c'], ['x', 'y', Buffer.alloc(db.limits.maxValueBytes + 1)]), 'ERR_INVALID_ARG');
        expect(db.get('a')?.toString()).toBe('before');
        expect(db.has('b')).toBe(false);
        expect(db.stats().keys).toBe(1);
      });
    });

    it('incrementMany returns each new value, accumulating duplicates, with one delta, per-key deltas or the default', async () => {
      await withStore(opts('default'), (db) => {
        const r0 = db.incrementMany([]);
        expect(r0).toBeInstanceOf(BigInt64Array);
        expect(r0.length).toBe(0);
        db.put('p', int64Bytes(100n));
        expect([...db.incrementMany(['c', 'c', 'd', 'p'])]).toEqual([1n, 2n, 1n, 101n]);
        expect([...db.incrementMany(['c', Buffer.from('d')], 10)]).toEqual([12n, 11n]);
        expect([...db.incrementMany(['c', 'd'], -3n)]).toEqual([9n, 8n]);
        expect([...db.incrementMany(['c', 'd', 'c'], [1, 2n, INT64_MAX - 10n])]).toEqual([10n, 10n, INT64_MAX]);
        expect(db.get('c')!.readBigInt64LE(0)).toBe(INT64_MAX);
        expect(db.stats().keys).toBe(3);
      });
    });

    it('incrementMany writes nothing when one increment fails', async () => {
      await withStore(opts('default'), (db) => {
        db.put('s', 'abc');
        db.put('m', int64Bytes(INT64_MAX));
        db.put('c', int64Bytes(5n));
        expectThrowsCode(() => db.incrementMany(['c', 'new', 's']), 'ERR_TYPE_MISMATCH');
        expectThrowsCode(() => db.incrementMany(['c', 'new', 'm']), 'ERR_OVERFLOW');
        expectThrowsCode(() => db.incrementMany(['c', 'c'], [INT64_MAX - 5n, 1]), 'ERR_OVERFLOW');
        expect(db.get('c')!.readBigInt64LE(0)).toBe(5n);
        expect(db.has('new')).toBe(false);
        expect(db.get('s')!.toString()).toBe('abc');
        expect(db.get('m')!.readBigInt64LE(0)).toBe(INT64_MAX);
        expect(db.stats().keys).toBe(3);
        db.verify();
      });
    });
  });

  describe('batch', () => {
    it('applies all four op types in order; later ops see earlier ones', async () => {
      await withStore(opts('default'), (db) => {
        db.put('e', 'existing');
        db.put('x', 'hello');
        db.batch([]);
        db.batch([
          { type: 'put', key: 'a', value: '1' },
          { type: 'append', key: 'a', value: '2' },
          { type: 'append', key: Buffer.from('a'), value: Buffer.from('3') },
          { type: 'delete', key: 'b' },
          { type: 'put', key: 'b', value: 'x' },
          { type: 'increment', key: 'c', delta: 5 },
          { type: 'increment', key: 'c', delta: -2n },
          { type: 'increment', key: 'c' },
          { type: 'put', key: 'd', value: int64Bytes(10n) },
          { type: 'increment', key: 'd' },
          { type: 'delete', key: 'e' },
          { type: 'put', key: 'f', value: 'gone' },
          { type: 'delete', key: 'f' },
          { type: 'delete', key: 'x' },
          { type: 'increment', key: 'x', delta: 7 }, // x was deleted earlier in the batch: a new counter
          { type: 'append', key: 'g', value: '' },
        ]);
        expect(db.get('a')!.toString()).toBe('123');
        expect(db.get('b')!.toString()).toBe('x');
        expect(db.get('c')!.readBigInt64LE(0)).toBe(4n);
        expect(db.get('d')!.readBigInt64LE(0)).toBe(11n);
        expect(db.get('e')).toBeUndefined();
        expect(db.get('f')).toBeUndefined();
        expect(db.get('x')!.readBigInt64LE(0)).toBe(7n);
        expect(db.get('g')!.length).toBe(0);
        expect(db.stats().keys).toBe(6);
        db.verify();
      });
    });

    it('a batch whose increment fails writes nothing at all', async () => {
      for (const preset of ['default', 'tinyMemory'] as const) {
        await withStore(opts(preset), (db) => {
          const model = new Map<string, Buffer>();
          const set = (k: string, v: Buffer | string) => {
            const b = Buffer.from(v);
            db.put(k, b);
            model.set(k, b);
          };
          set('x', 'hello');
          set('n', int64Bytes(INT64_MAX - 1n));
          set('y', 'to be deleted');
          set('z', 'z0');
          set('k', int64Bytes(5n));
          if (preset === 'tinyMemory') {
            // Push these keys to disk first.
            for (let i = 0; i < 300; i++) set(`pad${i}`, pseudoRandomBytes(1500, i));
          }
          const keys = ['x', 'n', 'y', 'z', 'k', 'p', 'q', 'x2'];
          const check = () => {
            expectState(db, model, keys);
            expect(db.stats().keys).toBe(model.size);
          };

          // Increment on a non-counter, after other ops of every type.
          expectThrowsCode(
            () =>
              db.batch([
                { type: 'put', key: 'p', value: 'new' },
                { type: 'delete', key: 'y' },
                { type: 'increment', key: 'q' },
                { type: 'append', key: 'z', value: '!' },
                { type: 'increment', key: 'k', delta: 10 },
                { type: 'put', key: 'x2', value: int64Bytes(1n) },
                { type: 'increment', key: 'x' },
                { type: 'put', key: 'after', value: 'never' },
              ]),
            'ERR_TYPE_MISMATCH',
          );
          check();
          expect(db.has('after')).toBe(false);

          // Overflow on the second increment of the same key.
          expectThrowsCode(
            () =>
              db.batch([
                { type: 'put', key: 'p', value: 'v' },
                { type: 'increment', key: 'n', delta: 1 },
                { type: 'delete', key: 'z' },
                { type: 'increment', key: 'n', delta: 1n },
              ]),
            'ERR_OVERFLOW',
          );
          check();

          // A put of a non-counter earlier in the batch makes a later increment fail.
          expectThrowsCode(
            () =>
              db.batch([
                { type: 'increment', key: 'k' },
                { type: 'put', key: 'k', value: 'abc' },
                { type: 'increment', key: 'k' },
              ]),
            'ERR_TYPE_MISMATCH',
          );
          check();

          // An append earlier in the batch turns a counter into a non-counter.
          expectThrowsCode(
            () =>
              db.batch([
                { type: 'append', key: 'k', value: 'z' },
                { type: 'increment', key: 'k' },
              ]),
            'ERR_TYPE_MISMATCH',
          );
          check();

          // An append that would grow a value past the limit.
          expectThrowsCode(
            () =>
              db.batch([
                { type: 'put', key: 'p', value: 'v' },
                { type: 'put', key: 'z', value: Buffer.alloc(db.limits.maxValueBytes) },
                { type: 'append', key: 'z', value: 'x' },
              ]),
            'ERR_INVALID_ARG',
          );
          check();

          // And the batches that must succeed.
          db.batch([
            { type: 'put', key: 'x', value: int64Bytes(5n) },
            { type: 'increment', key: 'x' },
            { type: 'increment', key: 'n', delta: 1 },
          ]);
          model.set('x', int64Bytes(6n));
          model.set('n', int64Bytes(INT64_MAX));
          check();
          db.verify();
        });
      }
    });
  });

  describe('stats', () => {
    it('counts keys exactly under puts, deletes, increments, appends and batches', async () => {
      for (const preset of ['default', 'smallIndex', 'tinyMemory'] as const) {
        await withStore(opts(preset), (db) => {
          const live = new Set<string>();
          const check = () => {
            const s = db.stats();
            expect(s.keys).toBe(live.size);
            for (const name of ['keys', 'memoryBytes', 'diskBytes'] as const) {
              expect(Number.isSafeInteger(s[name]), name).toBe(true);
              expect(s[name], name).toBeGreaterThanOrEqual(0);
            }
          };
          check();
          for (let i = 0; i < 500; i++) {
            const k = `k${(i * 13) % 97}`;
            switch (i % 5) {
              case 0:
                db.put(k, pseudoRandomBytes(i * 3, i));
                live.add(k);
                break;
              case 1:
                expect(db.delete(k)).toBe(live.delete(k));
                break;
              case 2:
                if (!live.has(k) || db.get(k)!.length === 8) {
                  db.increment(k, i);
                  live.add(k);
                } else {
                  expectThrowsCode(() => db.increment(k), 'ERR_TYPE_MISMATCH');
                }
                break;
              case 3:
                db.append(k, 'ab');
                live.add(k);
                break;
              case 4:
                db.batch([
                  { type: 'put', key: `b${i % 11}`, value: 'v' },
                  { type: 'delete', key: k },
                  { type: 'append', key: `b${(i + 1) % 11}`, value: 'w' },
                ]);
                live.add(`b${i % 11}`);
                live.delete(k);
                live.add(`b${(i + 1) % 11}`);
                break;
            }
            check();
          }
          expect(db.stats().memoryBytes).toBeGreaterThan(0);
          db.verify();
        });
      }
    });
  });

  describe('compact', () => {
    it('keeps every value intact and shrinks diskBytes after many overwrites (tinyMemory)', async () => {
      await withStore(opts('tinyMemory'), async (db) => {
        const model = new Map<string, Buffer>();
        for (let round = 0; round < 25; round++) {
          for (let i = 0; i < 100; i++) {
            const v = pseudoRandomBytes(1500 + ((round + i) % 7) * 10, round * 1000 + i);
            db.put(`k${i}`, v);
            model.set(`k${i}`, v);
          }
          db.delete(`k${round}`);
          model.delete(`k${round}`);
        }
        const before = db.stats();
        // The hybrid log keeps every overwritten record until compact(); the LSM merges
        // them away in the background, so only the hybrid log is sure to have piled up.
        if (engine === 'hybridlog') expect(before.diskBytes).toBeGreaterThan(10 * 256 * KiB);
        const result = await db.compact();
        for (const name of ['recordsScanned', 'recordsMoved', 'bytesReclaimed', 'filesDeleted', 'longestPauseMicros'] as const) {
          expect(Number.isSafeInteger(result[name]), name).toBe(true);
          expect(result[name], name).toBeGreaterThanOrEqual(0);
        }
        expect(result.recordsScanned).toBeGreaterThan(0);
        const after = db.stats();
        if (engine === 'hybridlog') {
          expect(after.diskBytes).toBeLessThan(before.diskBytes / 4);
        } else {
          // One run of live entries, plus block, index and filter overhead.
          let live = 0;
          for (const [k, v] of model) live += k.length + v.length;
          expect(after.diskBytes).toBeLessThanOrEqual(before.diskBytes);
          expect(after.diskBytes).toBeLessThan(1.5 * live);
        }
        expect(after.keys).toBe(model.size);
        expectState(db, model, Array.from({ length: 100 }, (_, i) => `k${i}`));
        db.verify();
        // Compacting again (nothing much to do) keeps it intact.
        await db.compact();
        expectState(db, model, Array.from({ length: 100 }, (_, i) => `k${i}`));
        db.verify();
      });
    });

    it('keeps serving calls while compact() is in flight', async () => {
      for (const preset of ['tinyMemory', 'tinyPages'] as const) {
        await withStore(opts(preset), async (db) => {
          const model = new Map<string, Buffer>();
          const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
          for (let round = 0; round < 6; round++) {
            for (const [i, k] of keys.entries()) {
              const v = pseudoRandomBytes(1200, round * 1000 + i);
              db.put(k, v);
              model.set(k, v);
            }
          }
          const compacting = db.compact();
          const second = db.compact(); // two in flight: they run one at a time
          let settled = false;
          void compacting.finally(() => (settled = true));
          for (let step = 0; step < 60; step++) {
            const k = keys[(step * 31) % keys.length]!;
            switch (step % 4) {
              case 0: {
                const v = pseudoRandomBytes(900 + step, step);
                db.put(k, v);
                model.set(k, v);
                break;
              }
              case 1:
                expect(db.delete(k)).toBe(model.delete(k));
                break;
              case 2: {
                const base = model.get(k);
                if (base === undefined || base.length === 8) {
                  const r = db.increment(k, step);
                  const want = (base === undefined ? 0n : base.readBigInt64LE(0)) + BigInt(step);
                  expect(r).toBe(want);
                  model.set(k, int64Bytes(want));
                } else {
                  expectThrowsCode(() => db.increment(k), 'ERR_TYPE_MISMATCH');
                }
                break;
              }
              case 3:
                db.append(k, 'tail');
                model.set(k, Buffer.concat([model.get(k) ?? Buffer.alloc(0), Buffer.from('tail')]));
                break;
            }
            const probe = keys[(step * 17) % keys.length]!;
            const got = db.get(probe);
            const want = model.get(probe);
            if (want === undefined) expect(got).toBeUndefined();
            else expect(got?.equals(want)).toBe(true);
            // Let the compaction thread deliver its result between steps.
            await new Promise<void>((r) => setImmediate(r));
          }
          const [r1, r2] = await Promise.all([compacting, second]);
          expect(settled).toBe(true);
          expect(r1.recordsScanned + r2.recordsScanned).toBeGreaterThan(0);
          expect(db.stats().keys).toBe(model.size);
          expectState(db, model, keys);
          db.verify();
        });
      }
    });
  });

  describe('limits', () => {
    it('accepts values up to limits.maxValueBytes and rejects one byte more with ERR_INVALID_ARG', async () => {
      for (const preset of ['default', 'tinyPages', 'tinyMemory'] as const) {
        await withStore(opts(preset), (db) => {
          const max = db.limits.maxValueBytes;
          db.put('before', 'x'); // the log's first record is not the big one (see the crash test below)
          const v = pseudoRandomBytes(max, 5);
          db.put('max', v);
          expect(db.get('max')!.equals(v)).toBe(true);
          expectThrowsCode(() => db.put('max', Buffer.alloc(max + 1)), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.put('max', 'a'.repeat(max + 1)), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.append('new', Buffer.alloc(max + 1)), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.batch([{ type: 'put', key: 'b', value: Buffer.alloc(max + 1) }]), 'ERR_INVALID_ARG');
          expect(db.get('max')!.equals(v)).toBe(true);
          expect(db.has('new')).toBe(false);
          expect(db.has('b')).toBe(false);
          // A string of exactly max UTF-8 bytes, and in a batch.
          db.put('smax', 'é'.repeat(max >> 1) + (max % 2 === 1 ? 'a' : ''));
          expect(db.get('smax')!.length).toBe(max);
          db.batch([{ type: 'put', key: 'bmax', value: v }]);
          expect(db.get('bmax')!.equals(v)).toBe(true);
          // The largest key with a large value.
          const bigKey = Buffer.alloc(db.limits.maxKeyBytes, 0x6b);
          db.put(bigKey, v.subarray(0, max >> 1));
          expect(db.get(bigKey)!.equals(v.subarray(0, max >> 1))).toBe(true);
          db.verify();
        });
      }
    });

    describe('in a child process', () => {
      let lib: { root: string; index: string };
      beforeAll(async () => {
        lib = await transpileLibForChildren();
      });
      afterAll(() => removeTempDir(lib.root));

      // BUG: with the largest key (8 KiB) and the largest value, a record's frame
      // is exactly pageBytes. As the log's first record it is placed at address
      // 64 of page 0 (PagedLog::Allocate skips the does-not-fit check while no
      // tail page is acquired) and overruns the page frame by 64 bytes: heap
      // corruption, the process aborts ("malloc(): corrupted top size").
      it('a record of exactly pageBytes as the very first write does not corrupt memory', async () => {
        const dir = makeTempDir();
        const script = `
          const { open } = require(${JSON.stringify(lib.index)});
          (async () => {
            const db = await open(${JSON.stringify(dir + '/db')}, ${JSON.stringify(opts('tinyPages'))});
            const key = Buffer.alloc(db.limits.maxKeyBytes, 1);
            const value = Buffer.alloc(db.limits.maxValueBytes, 2);
            db.put(key, value);
            db.put('second', Buffer.alloc(1000, 3));
            const ok = db.get(key).equals(value) && db.get('second').length === 1000;
            db.verify();
            await db.close();
            console.log(ok ? 'ok' : 'mismatch');
          })().catch((e) => { console.log('error ' + e.code + ' ' + e.message); });
        `;
        const r = await runNode(script);
        expect(r.stderr).toBe('');
        expect(r.signal).toBeNull();
        expect(r.code).toBe(0);
        expect(r.stdout.trim()).toBe('ok');
      });
    });
  });

  describe('larger than memory (tinyMemory)', () => {
    it('holds 12x the memory budget, reads all of it back, and stays within budget', async () => {
      await withStore(opts('tinyMemory'), async (db) => {
        const budget = opts('tinyMemory').memoryBudgetBytes!;
        const memory = (): number | undefined => dataMemoryBytes(engine, db.stats());
        const model = new Map<string, Buffer>();
        let written = 0;
        for (let i = 0; written < 12 * budget; i++) {
          const v = pseudoRandomBytes(1024 + (i % 1500), i);
          db.put(`key:${i}`, v);
          model.set(`key:${i}`, v);
          written += v.length;
          if (i % 200 === 0) expect(memory()).toBeLessThanOrEqual(budget);
        }
        const s = db.stats();
        expect(dataMemoryBytes(engine, s)).toBeLessThanOrEqual(budget);
        if (engine === 'hybridlog') expect(s['memoryBudgetBytes']).toBe(budget);
        expect(s.diskBytes).toBeGreaterThan(10 * budget);
        expect(s.keys).toBe(model.size);
        // Every value, by get and by getMany.
        for (const [k, v] of model) expect(db.get(k)?.equals(v), k).toBe(true);
        const keys = [...model.keys()];
        const many = db.getMany(keys);
        keys.forEach((k, i) => expect(many[i]?.equals(model.get(k)!), k).toBe(true));
        // Update records that live on disk (read-copy-update from disk).
        for (let i = 0; i < 100; i++) {
          const k = `key:${i}`;
          db.append(k, 'more');
          model.set(k, Buffer.concat([model.get(k)!, Buffer.from('more')]));
        }
        for (let i = 100; i < 150; i++) {
          expect(db.delete(`key:${i}`)).toBe(true);
          model.delete(`key:${i}`);
        }
        for (const [k, v] of model) expect(db.get(k)?.equals(v), k).toBe(true);
        expect(memory()).toBeLessThanOrEqual(budget);
        expect(db.stats().keys).toBe(model.size);
        db.verify();
        await db.compact();
        for (const [k, v] of model) expect(db.get(k)?.equals(v), k).toBe(true);
        expect(memory()).toBeLessThanOrEqual(budget);
        db.verify();
      });
    });
  });

  describe('checkpoints', () => {
    /** Opens `dir` with `options`, runs fn, closes. */
    async function reopened<T>(dir: string, options: OpenOptions, fn: (db: Store) => Promise<T> | T): Promise<T> {
      const db = await open(dir, options);
      try {
        return await fn(db);
      } finally {
        await db.close();
      }
    }

    function freshDir(): string {
      return join(makeTempDir(), 'db');
    }

    it('returns complete info, numbers versions 1, 2, 3 and keeps meta as given', async () => {
      await withStore(opts('default'), async (db) => {
        expect(db.version).toBe(0);
        expect(db.checkpoints()).toEqual([]);
        db.put('a', '1');
        const before = Date.now();
        const first = await db.checkpoint({ meta: 'offset=17' });
        expect(first.version).toBe(1);
        expect(first.meta).toBe('offset=17');
        expect(first.bytesWritten).toBeGreaterThan(0);
        expect(first.totalBytes).toBeGreaterThanOrEqual(first.bytesWritten);
        expect(first.pauseMs).toBeGreaterThanOrEqual(0);
        expect(first.durationMs).toBeGreaterThanOrEqual(first.pauseMs > 0 ? 0 : 0);
        expect(first.createdAt).toBeGreaterThanOrEqual(before - 1000);
        expect(first.createdAt).toBeLessThanOrEqual(Date.now() + 1000);
        const bytes = Buffer.from([0, 255, 1, 0]);
        const second = await db.checkpoint({ meta: bytes });
        expect(Buffer.isBuffer(second.meta)).toBe(true);
        expect((second.meta as Buffer).equals(bytes)).toBe(true);
        const third = await db.checkpoint();
        expect(third.meta).toBeUndefined();
        expect([second.version, third.version]).toEqual([2, 3]);
        expect(db.version).toBe(3);
        const list = db.checkpoints();
        expect(list.map((c) => c.version)).toEqual([1, 2, 3]);
        expect(list[0]!.meta).toBe('offset=17');
        expect(list[0]).toEqual(first);
      });
    });

    it('bytesWritten is exactly the size of the files a checkpoint adds (no log pages flushed here)', async () => {
      await withStore(opts('default'), async (db, dir) => {
        const sizes = () => new Map(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).size]));
        for (let round = 0; round < 3; round++) {
          // The append log's checkpoint also makes durable what was appended to its
          // segment since the last one: each record's frame (24-byte header, key,
          // value, padded to 8), plus the segment's 64-byte header the first time.
          let appended = round === 0 && engine === 'appendlog' ? 64 : 0;
          for (let i = 0; i < 300; i++) {
            const key = `k${i + round * 100}`;
            db.put(key, pseudoRandomBytes(50 + i, round * 1000 + i));
            if (engine === 'appendlog') appended += Math.ceil((24 + key.length + 50 + i) / 8) * 8;
          }
          const before = sizes();
          const info = await db.checkpoint({ meta: 'm'.repeat(round * 200) });
          const added = [...sizes()].filter(([f]) => !before.has(f));
          expect(added.length, added.map(([f]) => f).join(', ')).toBeGreaterThan(0);
          expect(info.bytesWritten).toBe(added.reduce((sum, [, size]) => sum + size, 0) + appended);
        }
      });
    });

    it('rejects bad meta (over 1 MiB too) and bad versions with ERR_INVALID_ARG', async () => {
      await withStore(opts('default'), async (db) => {
        await expectRejectsCode(() => db.checkpoint({ meta: 42 as unknown as string }), 'ERR_INVALID_ARG');
        await expectRejectsCode(() => db.checkpoint('x' as unknown as { meta: string }), 'ERR_INVALID_ARG');
        await expectRejectsCode(() => db.checkpoint({ meta: Buffer.alloc(MiB + 1) }), 'ERR_INVALID_ARG');
        expect(db.version).toBe(0);
        const ok = await db.checkpoint({ meta: Buffer.alloc(MiB) });
        expect(ok.version).toBe(1);
        await expectRejectsCode(() => db.restore(0), 'ERR_INVALID_ARG');
        await expectRejectsCode(() => db.restore(1.5), 'ERR_INVALID_ARG');
        await expectRejectsCode(() => db.restore('1' as unknown as number), 'ERR_INVALID_ARG');
      });
    });

    it('reopening yields exactly the last checkpoint: later writes, deletes and increments are gone', async () => {
      const dir = freshDir();
      const options = opts('default');
      await reopened(dir, options, async (db) => {
        db.put('kept', 'v1');
        db.put('deleted-later', 'x');
        db.increment('counter', 5);
        await db.checkpoint({ meta: 'at-1' });
        db.put('kept', 'v2');
        db.delete('deleted-later');
        db.increment('counter', 100);
        db.put('new', 'not checkpointed');
      });
      await reopened(dir, options, (db) => {
        expect(db.version).toBe(1);
        expect(db.checkpoints().map((c) => c.meta)).toEqual(['at-1']);
        expect(db.get('kept')?.toString()).toBe('v1');
        expect(db.get('deleted-later')?.toString()).toBe('x');
        expect(db.get('counter')?.readBigInt64LE()).toBe(5n);
        expect(db.has('new')).toBe(false);
        expect(db.stats().keys).toBe(3);
        db.verify();
        // In-place updates keep working on recovered records, and new checkpoints continue the numbering.
        expect(db.increment('counter')).toBe(6n);
      });
    });

    it('a store that never completed a checkpoint reopens empty at version 0', async () => {
      const dir = freshDir();
      await reopened(dir, opts('tinyMemory'), (db) => {
        for (let i = 0; i < 2000; i++) db.put(`k${i}`, pseudoRandomBytes(500, i));
        expect(db.stats().diskBytes).toBeGreaterThan(0);
      });
      await reopened(dir, opts('tinyMemory'), (db) => {
        expect(db.version).toBe(0);
        expect(db.stats().keys).toBe(0);
        expect(db.get('k1')).toBeUndefined();
        expect(readdirSync(dir).filter((f) => f !== 'LOCK')).toEqual([]);
      });
    });

    for (const preset of ['default', 'tinyMemory', 'tinyPages', 'smallIndex'] as const) {
      for (const checkpointMode of engine === 'hybridlog' ? (['incremental', 'fold-over'] as const) : (['incremental'] as const)) {
        it(`reopens every version's state through updates, growth and compaction (${preset}, ${checkpointMode})`, async () => {
          const dir = freshDir();
          const options: OpenOptions = { ...opts(preset), checkpointMode, retainCheckpoints: 10 };
          const model = new Map<string, Buffer>();
          const states: Map<string, Buffer>[] = [];
          await reopened(dir, options, async (db) => {
            for (let round = 0; round < 6; round++) {
              for (let i = 0; i < 600; i++) {
                const k = `k${(i * 7 + round * 131) % (400 + round * 150)}`;
                const v = pseudoRandomBytes(20 + ((i * 13 + round) % 700), round * 1000 + i);
                db.put(k, v);
                model.set(k, v);
              }
              for (let i = 0; i < 50; i++) {
                const k = `c${i % 17}`;
                const sum = db.increment(k, i + 1);
                model.set(k, int64Bytes(sum));
              }
              if (round % 2 === 1) {
                for (let i = round; i < 400; i += 9) {
                  db.delete(`k${i}`);
                  model.delete(`k${i}`);
                }
                await db.compact();
              }
              const info = await db.checkpoint({ meta: `round ${round}` });
              expect(info.version).toBe(round + 1);
              states.push(new Map(model));
            }
            db.put('after', 'lost');
          });
          await reopened(dir, options, async (db) => {
            expect(db.version).toBe(6);
            expectState(db, model, [...model.keys(), 'after']);
            expect(db.stats().keys).toBe(model.size);
            db.verify();
            // Roll back through every retained version, newest first.
            for (let v = 5; v >= 1; v--) {
              await db.restore(v);
              expect(db.version).toBe(v);
              expectState(db, states[v - 1]!, new Set([...states[5]!.keys(), ...states[v - 1]!.keys()]));
              expect(db.stats().keys).toBe(states[v - 1]!.size);
              db.verify();
            }
            expect(db.checkpoints().map((c) => c.version)).toEqual([1]);
          });
        });
      }
    }

    it('a checkpoint writes only what changed: 1% of the keys updated costs a small fraction of the first', async () => {
      await withStore(engine === 'hybridlog' ? { ...opts('default'), pageBytes: 256 * KiB } : opts('default'), async (db) => {
        const n = 20_000;
        const keys = Array.from({ length: n }, (_, i) => `user${String(i).padStart(8, '0')}`);
        db.putMany(keys, keys.map((_, i) => pseudoRandomBytes(100, i)));
        const first = await db.checkpoint();
        const changed = keys.filter((_, i) => i % 100 === 0);
        db.putMany(changed, changed.map((_, i) => pseudoRandomBytes(100, 7 * n + i)));
        const delta = await db.checkpoint();
        const changedBytes = changed.length * (12 + 100);
        expect(delta.bytesWritten).toBeLessThan(first.bytesWritten / 20);
        // In place: the changed records with their headers, a manifest, no index chunk.
        expect(delta.bytesWritten).toBeLessThan(2 * changedBytes + 4 * KiB);
      });
    });

    it('restore(v) makes the live state exactly v, discards newer versions and continues at v + 1', async () => {
      await withStore(opts('default'), async (db) => {
        db.put('x', '1');
        await db.checkpoint({ meta: 'one' });
        db.put('x', '2');
        db.put('y', 'only in 2');
        await db.checkpoint({ meta: 'two' });
        db.delete('x');
        await db.checkpoint({ meta: 'three' });
        db.put('z', 'uncheckpointed');
        await db.restore(1);
        expect(db.get('x')?.toString()).toBe('1');
        expect(db.has('y')).toBe(false);
        expect(db.has('z')).toBe(false);
        expect(db.stats().keys).toBe(1);
        expect(db.version).toBe(1);
        expect(db.checkpoints().map((c) => c.meta)).toEqual(['one']);
        await expectRejectsCode(() => db.restore(2), 'ERR_VERSION_NOT_FOUND');
        await expectRejectsCode(() => db.restore(99), 'ERR_VERSION_NOT_FOUND');
        expect(db.get('x')?.toString()).toBe('1'); // a failed restore changes nothing
        db.put('x', 'after restore');
        const next = await db.checkpoint({ meta: 'two again' });
        expect(next.version).toBe(2);
        expect(db.checkpoints().map((c) => c.meta)).toEqual(['one', 'two again']);
      });
    });

    it('every other call fails with ERR_BUSY while restore runs; the store serves calls after', async () => {
      await withStore(opts('default'), async (db) => {
        db.put('a', 'A');
        await db.checkpoint();
        db.put('a', 'B');
        const restoring = db.restore(1);
        expectThrowsCode(() => db.get('a'), 'ERR_BUSY');
        expectThrowsCode(() => db.put('a', 'C'), 'ERR_BUSY');
        expectThrowsCode(() => db.getMany(['a']), 'ERR_BUSY');
        expectThrowsCode(() => db.batch([{ type: 'delete', key: 'a' }]), 'ERR_BUSY');
        expectThrowsCode(() => db.stats(), 'ERR_BUSY');
        expectThrowsCode(() => db.verify(), 'ERR_BUSY');
        expectThrowsCode(() => db.checkpoints(), 'ERR_BUSY');
        await expectRejectsCode(() => db.checkpoint(), 'ERR_BUSY');
        await expectRejectsCode(() => db.restore(1), 'ERR_BUSY');
        await restoring;
        expect(db.get('a')?.toString()).toBe('A');
      });
    });

    it('retains the last retainCheckpoints versions and deletes the files only older ones needed', async () => {
      const dir = freshDir();
      const options: OpenOptions = { ...opts('tinyMemory'), retainCheckpoints: 2 };
      await reopened(dir, options, async (db) => {
        for (let round = 0; round < 8; round++) {
          for (let i = 0; i < 300; i++) db.put(`k${(i + round * 97) % 500}`, pseudoRandomBytes(400, round * 300 + i));
          await db.compact();
          await db.checkpoint({ meta: String(round + 1) });
          expect(db.checkpoints().map((c) => c.version)).toEqual(round === 0 ? [1] : [round, round + 1]);
        }
        await expectRejectsCode(() => db.restore(6), 'ERR_VERSION_NOT_FOUND');
      });
      const manifests = readdirSync(dir).filter((f) => f.endsWith('.manifest'));
      expect(manifests.sort()).toEqual(['checkpoint-00000000000000000007.manifest', 'checkpoint-00000000000000000008.manifest']);
      // Snapshot and index files of a version appear only while some retained manifest names them.
      for (const f of readdirSync(dir).filter((f) => /^(snap|index)-\d{20}\.dat$/.test(f))) {
        const version = Number(f.slice(f.indexOf('-') + 1, -4));
        expect(version, f).toBeLessThanOrEqual(8);
      }
      await reopened(dir, options, async (db) => {
        expect(db.checkpoints().map((c) => c.meta)).toEqual(['7', '8']);
        await db.restore(7);
        expect(db.version).toBe(7);
      });
    });

    it('checkpoints called back to back are written in order, each holding the state at its call', async () => {
      await withStore(opts('tinyPages'), async (db) => {
        const pending: Promise<CheckpointInfo>[] = [];
        const states: Map<string, Buffer>[] = [];
        const model = new Map<string, Buffer>();
        for (let round = 0; round < 5; round++) {
          for (let i = 0; i < 200; i++) {
            const v = pseudoRandomBytes(100 + round, round * 1000 + i);
            db.put(`k${i}`, v);
            model.set(`k${i}`, v);
          }
          pending.push(db.checkpoint({ meta: `r${round}` }));
          states.push(new Map(model));
        }
        const infos = await Promise.all(pending);
        expect(infos.map((i) => i.version)).toEqual([1, 2, 3, 4, 5]);
        expect(infos.map((i) => i.meta)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
        for (const v of [4, 3]) {
          await db.restore(v);
          expectState(db, states[v - 1]!);
        }
      });
    });

    it('close() waits for a checkpoint in flight, which then reopens', async () => {
      const dir = freshDir();
      const db = await open(dir, opts('default'));
      for (let i = 0; i < 5000; i++) db.put(`k${i}`, pseudoRandomBytes(200, i));
      const taking = db.checkpoint({ meta: 'in flight' });
      await db.close();
      expect((await taking).version).toBe(1);
      await expectRejectsCode(() => db.checkpoint(), 'ERR_CLOSED');
      expectThrowsCode(() => db.checkpoints(), 'ERR_CLOSED');
      await expectRejectsCode(() => db.restore(1), 'ERR_CLOSED');
      await reopened(dir, opts('default'), (again) => {
        expect(again.version).toBe(1);
        expect(again.stats().keys).toBe(5000);
        expect(again.get('k4999')?.equals(pseudoRandomBytes(200, 4999))).toBe(true);
      });
    });

    it('reopens with a different memory budget, page-sized records and all', async () => {
      const dir = freshDir();
      const model = new Map<string, Buffer>();
      const small: OpenOptions =
        engine === 'hybridlog' ? { engine, memoryBudgetBytes: 8 * MiB, pageBytes: 64 * KiB, segmentBytes: 256 * KiB } : { engine, memoryBudgetBytes: 8 * MiB };
      const smaller: OpenOptions =
        engine === 'hybridlog' ? { engine, memoryBudgetBytes: 256 * KiB, pageBytes: 64 * KiB, segmentBytes: 256 * KiB } : opts('tinyMemory');
      await reopened(dir, small, async (db) => {
        for (let i = 0; i < 3000; i++) {
          // Hybrid log: records that fill a page. LSM (values up to 64 MiB): records larger than a memtable's share.
          const v = pseudoRandomBytes(i % 50 === 0 ? Math.min(db.limits.maxValueBytes, 96 * KiB) : 300, i);
          db.put(`k${i}`, v);
          model.set(`k${i}`, v);
        }
        await db.checkpoint();
      });
      await reopened(dir, smaller, (db) => {
        expectState(db, model);
        expect(dataMemoryBytes(engine, db.stats())).toBeLessThanOrEqual(smaller.memoryBudgetBytes!);
        db.verify();
      });
    });

    describe('corrupt files', () => {
      /** Two checkpoints in dir; returns the files the newest one added. */
      async function twoCheckpoints(dir: string): Promise<string[]> {
        return reopened(dir, opts('default'), async (db) => {
          db.put('a', 'one');
          await db.checkpoint({ meta: '1' });
          const before = new Set(readdirSync(dir));
          db.put('a', 'two');
          db.put('b', 'new key: an index chunk changes');
          await db.checkpoint({ meta: '2' });
          return readdirSync(dir).filter((f) => !before.has(f));
        });
      }

      for (const kind of ['manifest', ...checkpointFilePrefixes(engine).map((p) => p.slice(0, -1))]) {
        for (const damage of ['bit flip', 'truncation'] as const) {
          it(`a ${damage} in the newest ${kind} file fails open with ERR_CORRUPTION naming it; latest-valid falls back`, async () => {
            const dir = freshDir();
            const added = await twoCheckpoints(dir);
            const file = added.find((f) => f.startsWith(kind === 'manifest' ? 'checkpoint-' : `${kind}-`));
            expect(file, `files added by v2: ${added.join(', ')}`).toBeDefined();
            const path = join(dir, file!);
            const bytes = readFileSync(path);
            if (damage === 'bit flip') {
              bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
              writeFileSync(path, bytes);
            } else {
              writeFileSync(path, bytes.subarray(0, bytes.length - 5));
            }
            const error = await expectRejectsCode(() => open(dir, opts('default')), 'ERR_CORRUPTION');
            expect(error.message).toContain(file!);
            await reopened(dir, { ...opts('default'), recover: 'latest-valid' }, (db) => {
              expect(db.version).toBe(1);
              expect(db.get('a')?.toString()).toBe('one');
              expect(db.checkpoints().map((c) => c.meta)).toEqual(['1']);
            });
          });
        }
      }

      it('with latest-valid and no checkpoint that verifies, open fails with ERR_CORRUPTION', async () => {
        const dir = freshDir();
        await reopened(dir, { ...opts('default'), retainCheckpoints: 1 }, async (db) => {
          db.put('a', 'one');
          await db.checkpoint();
        });
        const manifest = readdirSync(dir).find((f) => f.endsWith('.manifest'))!;
        writeFileSync(join(dir, manifest), Buffer.alloc(64, 7));
        await expectRejectsCode(() => open(dir, { ...opts('default'), recover: 'latest-valid' }), 'ERR_CORRUPTION');
      });
    });

    it('removes files of no checkpoint when it opens (orphans of a crash)', async () => {
      const dir = freshDir();
      await reopened(dir, opts('default'), async (db) => {
        db.put('a', '1');
        await db.checkpoint();
      });
      const keep = new Set(readdirSync(dir));
      for (const name of orphanFileNames(engine)) writeFileSync(join(dir, name), 'left by a crash');
      writeFileSync(join(dir, 'checkpoint-00000000000000000042.manifest.tmp'), 'half-written');
      await reopened(dir, opts('default'), (db) => {
        expect(db.get('a')?.toString()).toBe('1');
      });
      expect(new Set(readdirSync(dir))).toEqual(keep);
    });
  });
});
