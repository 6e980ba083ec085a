// Bad input never crashes the process: every public call with wrong types,
// empty and oversized keys/values, bad batches, bad open() options, and calls
// after close() raise a TidekvError with the exact code, and change nothing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, type Op, type OpenOptions, type Store } from '../lib/index.js';
import {
  ENGINES,
  expectRejectsCode,
  describeValue,
  expectThrowsCode,
  makeTempDir,
  presetOptions,
  removeAllTempDirs,
  withStore,
} from './helpers.js';

afterEach(() => removeAllTempDirs());

/** Neither a string nor a Uint8Array. */
const WRONG_TYPES: ReadonlyArray<readonly [string, unknown]> = [
  ['a number', 42],
  ['zero', 0],
  ['NaN', NaN],
  ['null', null],
  ['undefined', undefined],
  ['a boolean', true],
  ['an object', { key: 'a' }],
  ['an array', ['a']],
  ['an array of bytes', [97]],
  ['a Float64Array', new Float64Array([1, 2])],
  ['an Int8Array', new Int8Array([97])],
  ['a Uint16Array', new Uint16Array([97])],
  ['a Uint8ClampedArray', new Uint8ClampedArray([97])],
  ['a DataView', new DataView(new Uint8Array([97]).buffer)],
  ['an ArrayBuffer', new Uint8Array([97]).buffer],
  ['a symbol', Symbol('k')],
  ['a bigint', 5n],
  ['a function', () => 'a'],
  ['a String object', Object('a')],
  ['a Date', new Date(0)],
];

const EMPTY_KEYS: ReadonlyArray<readonly [string, unknown]> = [
  ["''", ''],
  ['an empty Buffer', Buffer.alloc(0)],
  ['an empty Uint8Array', new Uint8Array(0)],
  ['an empty view of a larger buffer', new Uint8Array(8).subarray(3, 3)],
];

const MAX_KEY = 8 * 1024;
const OVERSIZED_KEYS: ReadonlyArray<readonly [string, unknown]> = [
  ['a Buffer of 8 KiB + 1', Buffer.alloc(MAX_KEY + 1, 0x61)],
  ['a Uint8Array view of 8 KiB + 1', new Uint8Array(MAX_KEY + 10).subarray(5, 5 + MAX_KEY + 1)],
  ['an ASCII string of 8 KiB + 1', 'a'.repeat(MAX_KEY + 1)],
  // .length is under the limit, the UTF-8 encoding is over it.
  ["'é' x 4097 (.length 4097, 8194 bytes)", 'é'.repeat(4097)],
  ["'€' x 2731 (.length 2731, 8193 bytes)", '€'.repeat(2731)],
  ["'😀' x 2049 (.length 4098, 8196 bytes)", '😀'.repeat(2049)],
  ["'a' x 8191 + 'é' (8193 bytes)", 'a'.repeat(MAX_KEY - 1) + 'é'],
  ['a huge string (1 MiB)', 'x'.repeat(1 << 20)],
];

const BOUNDARY_KEYS: ReadonlyArray<readonly [string, string | Buffer]> = [
  ['an ASCII string of 8 KiB', 'a'.repeat(MAX_KEY)],
  ["'é' x 4096 (8192 bytes)", 'é'.repeat(4096)],
  ["'€' x 2730 + 'ab' (8192 bytes)", '€'.repeat(2730) + 'ab'],
  ["'😀' x 2048 (8192 bytes)", '😀'.repeat(2048)],
  ['a Buffer of 8 KiB', Buffer.alloc(MAX_KEY, 0x62)],
];

const BAD_KEYS = [...WRONG_TYPES, ...EMPTY_KEYS, ...OVERSIZED_KEYS];

/** Every public call that takes a key, with that key in it. */
function keyCalls(db: Store, key: unknown): ReadonlyArray<readonly [string, () => unknown]> {
  const k = key as string;
  return [
    ['get', () => db.get(k)],
    ['has', () => db.has(k)],
    ['delete', () => db.delete(k)],
    ['put', () => db.put(k, 'v')],
    ['increment', () => db.increment(k)],
    ['increment with a delta', () => db.increment(k, 2n)],
    ['append', () => db.append(k, 'v')],
    ['getMany (alone)', () => db.getMany([k])],
    ['getMany (after a good key)', () => db.getMany(['seed', k])],
    ['putMany', () => db.putMany(['p', k], ['v', 'v'])],
    ['incrementMany', () => db.incrementMany(['p', k])],
    ['incrementMany with deltas', () => db.incrementMany(['p', k], [1, 2])],
    ['batch put', () => db.batch([{ type: 'put', key: 'p', value: 'v' }, { type: 'put', key: k, value: 'v' }])],
    ['batch delete', () => db.batch([{ type: 'put', key: 'p', value: 'v' }, { type: 'delete', key: k }])],
    ['batch increment', () => db.batch([{ type: 'put', key: 'p', value: 'v' }, { type: 'increment', key: k }])],
    ['batch append', () => db.batch([{ type: 'put', key: 'p', value: 'v' }, { type: 'append', key: k, value: 'v' }])],
  ];
}

/** Every public call that takes a value, with that value in it. */
function valueCalls(db: Store, value: unknown): ReadonlyArray<readonly [string, () => unknown]> {
  const v = value as string;
  return [
    ['put', () => db.put('k', v)],
    ['append', () => db.append('k', v)],
    ['putMany', () => db.putMany(['p', 'k'], ['v', v])],
    ['batch put', () => db.batch([{ type: 'put', key: 'p', value: 'v' }, { type: 'put', key: 'k', value: v }])],
    ['batch append', () => db.batch([{ type: 'put', key: 'p', value: 'v' }, { type: 'append', key: 'k', value: v }])],
  ];
}

/** Asserts the store holds exactly seed -> 'seed value' (bad calls wrote nothing). */
function expectOnlySeed(db: Store): void {
  expect(db.stats().keys).toBe(1);
  expect(db.get('seed')?.toString()).toBe('seed value');
  expect(db.has('p')).toBe(false);
  expect(db.has('k')).toBe(false);
  db.verify();
}

describe.each(ENGINES)('%s: bad input', (engine) => {
  const options = presetOptions(engine, 'default');

  describe('keys', () => {
    for (const [name, key] of BAD_KEYS) {
      it(`rejects ${name} as a key in every call`, async () => {
        await withStore(options, (db) => {
          db.put('seed', 'seed value');
          for (const [call, fn] of keyCalls(db, key)) {
            const err = expectThrowsCode(fn, 'ERR_INVALID_ARG');
            expect(err.message.length, call).toBeGreaterThan(0);
          }
          expectOnlySeed(db);
        });
      });
    }

    it('accepts keys of exactly 8 KiB, however encoded, in every call', async () => {
      await withStore(options, (db) => {
        for (const [name, key] of BOUNDARY_KEYS) {
          expect(Buffer.byteLength(key), name).toBe(MAX_KEY);
          db.put(key, name);
          expect(db.get(Buffer.from(key))?.toString(), name).toBe(name);
          expect(db.has(key), name).toBe(true);
          expect(db.getMany([key, 'x', key]).map((v) => v?.toString()), name).toEqual([name, undefined, name]);
          expect(db.delete(key), name).toBe(true);
          db.batch([{ type: 'increment', key }, { type: 'append', key: Buffer.from(key), value: '' }]);
          expect(db.increment(key), name).toBe(2n);
          db.append(key, 'x');
          expect(db.get(key)?.length, name).toBe(9);
          expect(db.delete(key), name).toBe(true);
        }
        expect(db.stats().keys).toBe(0);
        db.verify();
      });
    });

    it('encodes strings around the internal 1 KiB scratch boundary exactly', async () => {
      // Strings are UTF-8 encoded into a reusable scratch buffer that starts at
      // 1 KiB; a multi-byte character straddling its end must not be cut.
      await withStore(options, (db) => {
        let n = 0;
        for (let ascii = 1012; ascii <= 1030; ascii++) {
          for (const tail of ['é', '€', '😀', 'é€😀']) {
            const s = 'a'.repeat(ascii) + tail;
            db.put(s, s);
            n++;
            const got = db.get(Buffer.from(s, 'utf8'));
            expect(got?.equals(Buffer.from(s, 'utf8')), `${ascii} + ${tail}`).toBe(true);
            // The key without its last character is a different key.
            expect(db.has(s.slice(0, -1).replace(/[\ud800-\udbff]$/, '')), `${ascii} + ${tail} prefix`).toBe(false);
          }
        }
        expect(db.stats().keys).toBe(n);
        db.verify();
      });
    });
  });

  describe('values', () => {
    const badValues = WRONG_TYPES;
    for (const [name, value] of badValues) {
      it(`rejects ${name} as a value in every call`, async () => {
        await withStore(options, (db) => {
          db.put('seed', 'seed value');
          for (const [, fn] of valueCalls(db, value)) expectThrowsCode(fn, 'ERR_INVALID_ARG');
          expectOnlySeed(db);
        });
      });
    }

    it('rejects a value of maxValueBytes + 1 however encoded, in every call', async () => {
      await withStore(presetOptions(engine, 'tinyPages'), (db) => {
        db.put('seed', 'seed value');
        const max = db.limits.maxValueBytes;
        const oversized: unknown[] = [
          Buffer.alloc(max + 1),
          new Uint8Array(max + 1),
          'v'.repeat(max + 1),
          'é'.repeat((max >> 1) + 1), // .length about max / 2, UTF-8 over max
          '😀'.repeat((max >> 2) + 1),
        ];
        for (const v of oversized) for (const [, fn] of valueCalls(db, v)) expectThrowsCode(fn, 'ERR_INVALID_ARG');
        expectOnlySeed(db);
      });
    });

    it('rejects a delta of the wrong type or range in increment and in batch', async () => {
      await withStore(options, (db) => {
        db.put('seed', 'seed value');
        const bad: unknown[] = [null, '1', '', {}, [], [1], true, Symbol('d'), 1.5, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 1n << 63n, -(1n << 63n) - 1n, new Number(1)];
        for (const d of bad) {
          expectThrowsCode(() => db.increment('k', d as number), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.incrementMany(['p', 'k'], d as number), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.incrementMany(['p', 'k'], [1, d as number]), 'ERR_INVALID_ARG');
          expectThrowsCode(
            () => db.batch([{ type: 'put', key: 'p', value: 'v' }, { type: 'increment', key: 'k', delta: d as number }]),
            'ERR_INVALID_ARG',
          );
        }
        expectOnlySeed(db);
      });
    });
  });

  describe('batch', () => {
    it('rejects ops that are not an array', async () => {
      await withStore(options, (db) => {
        db.put('seed', 'seed value');
        const notArrays: unknown[] = [undefined, null, 5, 'put', {}, { length: 1, 0: { type: 'put', key: 'k', value: 'v' } }, new Set([{ type: 'put', key: 'k', value: 'v' }]), new Uint8Array(1), Symbol('ops')];
        for (const ops of notArrays) expectThrowsCode(() => db.batch(ops as Op[]), 'ERR_INVALID_ARG');
        expectOnlySeed(db);
      });
    });

    it('rejects an op that is not an object, has an unknown type, or lacks its key, value or a good delta', async () => {
      await withStore(options, (db) => {
        db.put('seed', 'seed value');
        const badOps: unknown[] = [
          null,
          undefined,
          5,
          'put',
          true,
          Symbol('op'),
          {},
          { type: 'get', key: 'k' },
          { type: 'PUT', key: 'k', value: 'v' },
          { type: undefined, key: 'k', value: 'v' },
          { type: null, key: 'k', value: 'v' },
          { type: 1, key: 'k', value: 'v' },
          { type: Symbol('put'), key: 'k', value: 'v' },
          { type: 'toString', key: 'k', value: 'v' },
          { type: 'constructor', key: 'k', value: 'v' },
          { type: '__proto__', key: 'k', value: 'v' },
          { type: 'hasOwnProperty', key: 'k', value: 'v' },
          { type: 'put', value: 'v' },
          { type: 'delete' },
          { type: 'increment', delta: 1 },
          { type: 'append', value: 'v' },
          { type: 'put', key: 'k' },
          { type: 'append', key: 'k' },
          { type: 'put', key: 'k', value: null },
          { type: 'append', key: 'k', value: 7 },
          { type: 'increment', key: 'k', delta: 0.5 },
          { type: 'increment', key: 'k', delta: '3' },
          { type: 'increment', key: 'k', delta: null },
        ];
        for (const bad of badOps) {
          // A good op before the bad one must not be applied either.
          expectThrowsCode(() => db.batch([{ type: 'put', key: 'p', value: 'v' }, bad as Op]), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.batch([bad as Op]), 'ERR_INVALID_ARG');
        }
        // A sparse array has a hole where an op should be.
        const sparse = [{ type: 'put', key: 'p', value: 'v' }] as Op[];
        sparse[2] = { type: 'put', key: 'k', value: 'v' };
        expectThrowsCode(() => db.batch(sparse), 'ERR_INVALID_ARG');
        expectOnlySeed(db);
      });
    });

    it('accepts limits.maxBatchOps ops and rejects one more', async () => {
      await withStore(options, (db) => {
        db.put('seed', 'seed value');
        const max = db.limits.maxBatchOps;
        const op: Op = { type: 'increment', key: 'k' };
        const tooMany = new Array<Op>(max + 1).fill(op);
        tooMany[0] = { type: 'put', key: 'p', value: 'v' };
        expectThrowsCode(() => db.batch(tooMany), 'ERR_INVALID_ARG');
        expectOnlySeed(db);
        db.batch(new Array<Op>(max).fill(op));
        expect(db.get('k')?.readBigInt64LE(0)).toBe(BigInt(max));
      });
    });
  });

  describe('getMany', () => {
    it('rejects keys that are not an array, and bad elements', async () => {
      await withStore(options, (db) => {
        db.put('seed', 'seed value');
        const notArrays: unknown[] = [undefined, null, 'seed', 5, {}, { length: 1, 0: 'seed' }, new Set(['seed']), Buffer.from('seed'), Symbol('keys')];
        for (const keys of notArrays) expectThrowsCode(() => db.getMany(keys as string[]), 'ERR_INVALID_ARG');
        const sparse: string[] = ['seed'];
        sparse[2] = 'seed';
        expectThrowsCode(() => db.getMany(sparse), 'ERR_INVALID_ARG');
        // A bad key far into a long list (past the first internal chunk).
        const long: unknown[] = new Array(5000).fill('seed');
        long[4500] = 17;
        expectThrowsCode(() => db.getMany(long as string[]), 'ERR_INVALID_ARG');
        expectOnlySeed(db);
      });
    });
  });

  describe('putMany / incrementMany', () => {
    it('reject arguments that are not arrays, or arrays of different lengths', async () => {
      await withStore(options, (db) => {
        db.put('seed', 'seed value');
        const notArrays: unknown[] = [undefined, null, 'k', 5, {}, { length: 1, 0: 'k' }, new Set(['k']), Buffer.from('k')];
        for (const x of notArrays) {
          expectThrowsCode(() => db.putMany(x as string[], ['v']), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.putMany(['k'], x as string[]), 'ERR_INVALID_ARG');
          expectThrowsCode(() => db.incrementMany(x as string[]), 'ERR_INVALID_ARG');
        }
        expectThrowsCode(() => db.putMany(['k', 'p'], ['v']), 'ERR_INVALID_ARG');
        expectThrowsCode(() => db.putMany(['k'], ['v', 'w']), 'ERR_INVALID_ARG');
        expectThrowsCode(() => db.incrementMany(['k', 'p'], [1]), 'ERR_INVALID_ARG');
        expectThrowsCode(() => db.incrementMany(['k'], [1, 2]), 'ERR_INVALID_ARG');
        expectOnlySeed(db);
      });
    });
  });

  describe('open()', () => {
    async function expectOpenRejects(options: unknown, mentions?: string): Promise<void> {
      const base = makeTempDir();
      const dir = join(base, 'db');
      const p = open(dir, options as OpenOptions);
      expect(p).toBeInstanceOf(Promise); // errors are rejections, never synchronous throws
      const err = await expectRejectsCode(p, 'ERR_INVALID_ARG');
      if (mentions !== undefined) expect(err.message).toContain(mentions);
      // Options are checked before any file is touched.
      expect(existsSync(dir), `${describeValue(options)} created the directory`).toBe(false);
    }

    it('rejects an unknown option name', async () => {
      await expectOpenRejects({ foo: 1 }, 'foo');
      await expectOpenRejects({ memoryBudget: 1 << 20 }, 'memoryBudget');
      await expectOpenRejects({ engine, PageBytes: 65536 }, 'PageBytes');
    });

    // BUG: lib/options.ts checks option names with `name in DEFAULT_OPTIONS`,
    // which is true for Object.prototype members, so these unknown options are
    // silently accepted (and ignored) instead of ERR_INVALID_ARG.
    it('rejects option names inherited from Object.prototype (toString, constructor, ...)', async () => {
      await expectOpenRejects({ toString: 1 }, 'toString');
      await expectOpenRejects({ constructor: 1 }, 'constructor');
      await expectOpenRejects({ hasOwnProperty: 1 }, 'hasOwnProperty');
    });

    it('rejects options that are not an object', async () => {
      for (const o of [5, 'x', true, [], [1], () => ({}), Symbol('o'), 1n]) await expectOpenRejects(o);
    });

    it('rejects negative, zero, NaN, infinite, non-integer and non-number sizes', async () => {
      const names = ['memoryBudgetBytes', 'pageBytes', 'segmentBytes', 'indexBuckets', 'compactionSliceMicros'];
      for (const name of names) {
        for (const bad of [-1, 0, NaN, Infinity, -Infinity, 1.5, 65536.5, 2 ** 53, '65536', null, {}, 65536n]) {
          await expectOpenRejects({ [name]: bad }, name);
        }
      }
    });

    it('rejects a pageBytes that is not a power of two in range', async () => {
      for (const pageBytes of [3 * 65536, 100_000, 65536 + 8, 32768, 4096, 1, 2 ** 29]) {
        await expectOpenRejects({ pageBytes, memoryBudgetBytes: 2 ** 32, segmentBytes: 2 ** 32 }, 'pageBytes');
      }
    });

    it('rejects a memory budget below 4 pages', async () => {
      await expectOpenRejects({ pageBytes: 65536, memoryBudgetBytes: 4 * 65536 - 1 }, 'memoryBudgetBytes');
      await expectOpenRejects({ pageBytes: 65536, memoryBudgetBytes: 3 * 65536 }, 'memoryBudgetBytes');
      await expectOpenRejects({ memoryBudgetBytes: 8 * 1024 * 1024 }, 'memoryBudgetBytes'); // default 4 MiB pages
      await expectOpenRejects({ memoryBudgetBytes: 1 }, 'memoryBudgetBytes');
    });

    it('rejects a memory budget of more than 2^20 pages instead of aborting on allocation', async () => {
      await expectOpenRejects(
        { pageBytes: 65536, segmentBytes: 65536, memoryBudgetBytes: (2 ** 32 - 1) * 65536 },
        'memoryBudgetBytes',
      );
      await expectOpenRejects({ pageBytes: 65536, memoryBudgetBytes: (2 ** 20 + 1) * 65536 }, 'memoryBudgetBytes');
    });

    it('rejects a segmentBytes that is not a multiple of pageBytes, and indexBuckets that is not a power of two >= 2', async () => {
      await expectOpenRejects({ pageBytes: 65536, segmentBytes: 65536 + 32768, memoryBudgetBytes: 1 << 20 }, 'segmentBytes');
      await expectOpenRejects({ pageBytes: 65536, segmentBytes: 32768, memoryBudgetBytes: 1 << 20 }, 'segmentBytes');
      await expectOpenRejects({ segmentBytes: 2 ** 33 }, 'segmentBytes');
      await expectOpenRejects({ indexBuckets: 1 }, 'indexBuckets');
      await expectOpenRejects({ indexBuckets: 3 }, 'indexBuckets');
      await expectOpenRejects({ indexBuckets: 1000 }, 'indexBuckets');
      await expectOpenRejects({ indexBuckets: 2 ** 32 }, 'indexBuckets');
    });

    it('rejects a mutableFraction outside (0, 1]', async () => {
      for (const mutableFraction of [0, -0.5, 1.0001, 2, NaN, Infinity, '0.5', null]) {
        await expectOpenRejects({ mutableFraction }, 'mutableFraction');
      }
    });

    // 'lsm' and 'appendlog' are accepted (test/engine-options.test.ts covers their options).
    it('rejects unknown engines', async () => {
      for (const e of ['foo', 'HYBRIDLOG', '', 5, null, {}, Symbol('e')]) await expectOpenRejects({ engine: e });
    });

    it('rejects a dir that is not a non-empty string', async () => {
      for (const dir of [5, undefined, null, {}, [], '', Buffer.from('/tmp/x'), Symbol('d'), new URL('file:///tmp/x')]) {
        const p = open(dir as string);
        expect(p).toBeInstanceOf(Promise);
        await expectRejectsCode(p, 'ERR_INVALID_ARG');
      }
    });

    // BUG: a dir containing a NUL character is passed to the OS as a C string,
    // so it is silently truncated at the NUL: open('<base>/x\0y') creates the
    // directory '<base>/x' and then fails with ERR_IO ("open lock file ...: Is
    // a directory"). Expected: ERR_INVALID_ARG, nothing created (as node:fs
    // does with ERR_INVALID_ARG_VALUE).
    it('rejects a dir containing a NUL character with ERR_INVALID_ARG, creating nothing', async () => {
      const base = makeTempDir();
      await expectRejectsCode(open(join(base, 'x\0y'), options), 'ERR_INVALID_ARG');
      expect(existsSync(join(base, 'x'))).toBe(false);
    });

    it('reports a dir that is an existing file as ERR_IO', async () => {
      const base = makeTempDir();
      const file = join(base, 'file');
      (await import('node:fs')).writeFileSync(file, 'not a directory');
      await expectRejectsCode(open(file, options), 'ERR_IO');
      await expectRejectsCode(open(join(file, 'sub'), options), 'ERR_IO');
    });

    it('accepts the boundary values', async () => {
      const good: OpenOptions[] =
        engine === 'hybridlog'
          ? [
              { mutableFraction: 1 },
              { mutableFraction: Number.MIN_VALUE },
              { pageBytes: 65536, memoryBudgetBytes: 4 * 65536, segmentBytes: 65536 },
              { indexBuckets: 2 },
              { compactionSliceMicros: 1 },
              { pageBytes: undefined, memoryBudgetBytes: undefined },
            ]
          : engine === 'appendlog'
            ? [
                { segmentBytes: 64 * 1024 },
                { segmentBytes: 4 * 1024 * 1024 * 1024 },
                { mergeDeadRatio: 1 },
                { mergeDeadRatio: Number.MIN_VALUE },
                { memoryBudgetBytes: 1024 * 1024 },
                { segmentBytes: undefined, memoryBudgetBytes: undefined },
              ]
          : [
              { memoryBudgetBytes: 4 * 1024 * 1024, memtableBytes: 64 * 1024, maxImmutableMemtables: 1 },
              { bloomBitsPerKey: 0 },
              { blockBytes: 256 },
              { runsPerLevel: 2, slowdownRuns: 2, stopRuns: 3 },
              { levelSizeRatio: 2 },
              { memtableBytes: undefined, memoryBudgetBytes: undefined },
            ];
      for (const o of good) {
        await withStore({ engine, ...o }, (db) => {
          db.put('k', 'v');
          expect(db.get('k')?.toString()).toBe('v');
        });
      }
    });
  });

  describe('after close()', () => {
    it('every method throws ERR_CLOSED, compact() rejects with it, close() resolves again', async () => {
      const dir = join(makeTempDir(), 'db');
      const db = await open(dir, options);
      db.put('k', Buffer.alloc(8));
      const closing = db.close();
      expect(db.closed).toBe(true);
      // Right after close() is called, before it settles, and after.
      for (const phase of ['closing', 'closed']) {
        if (phase === 'closed') await closing;
        expectThrowsCode(() => db.get('k'), 'ERR_CLOSED');
        expectThrowsCode(() => db.has('k'), 'ERR_CLOSED');
        expectThrowsCode(() => db.put('k', 'v'), 'ERR_CLOSED');
        expectThrowsCode(() => db.delete('k'), 'ERR_CLOSED');
        expectThrowsCode(() => db.increment('k'), 'ERR_CLOSED');
        expectThrowsCode(() => db.append('k', 'v'), 'ERR_CLOSED');
        expectThrowsCode(() => db.getMany(['k']), 'ERR_CLOSED');
        expectThrowsCode(() => db.batch([{ type: 'put', key: 'k', value: 'v' }]), 'ERR_CLOSED');
        expectThrowsCode(() => db.putMany(['k'], ['v']), 'ERR_CLOSED');
        expectThrowsCode(() => db.incrementMany(['k']), 'ERR_CLOSED');
        expectThrowsCode(() => db.incrementMany(['k'], [1n]), 'ERR_CLOSED');
        expectThrowsCode(() => db.stats(), 'ERR_CLOSED');
        expectThrowsCode(() => db.verify(), 'ERR_CLOSED');
        await expectRejectsCode(db.compact(), 'ERR_CLOSED');
      }
      await expect(db.close()).resolves.toBeUndefined();
      await expect(Promise.all([db.close(), db.close()])).resolves.toEqual([undefined, undefined]);
      expect(db.closed).toBe(true);
      expect(db.limits.maxKeyBytes).toBe(MAX_KEY); // plain properties still read
      expect(db.engine).toBe(engine);
    });

    // BUG: Store.getMany([]) on a closed store returns [] instead of throwing
    // ERR_CLOSED: the JS loop never calls into native code for an empty list.
    it('getMany([]) throws ERR_CLOSED too', async () => {
      const db = await open(join(makeTempDir(), 'db'), options);
      await db.close();
      expectThrowsCode(() => db.getMany([]), 'ERR_CLOSED');
    });

    // BUG: the same for batch([]), putMany([], []) and incrementMany([]):
    // lib/store.ts returns early when the list is empty, before any native call.
    it('batch([]) throws ERR_CLOSED too', async () => {
      const db = await open(join(makeTempDir(), 'db'), options);
      await db.close();
      expectThrowsCode(() => db.batch([]), 'ERR_CLOSED');
    });
    it('putMany([], []) throws ERR_CLOSED too', async () => {
      const db = await open(join(makeTempDir(), 'db'), options);
      await db.close();
      expectThrowsCode(() => db.putMany([], []), 'ERR_CLOSED');
    });
    it('incrementMany([]) throws ERR_CLOSED too', async () => {
      const db = await open(join(makeTempDir(), 'db'), options);
      await db.close();
      expectThrowsCode(() => db.incrementMany([]), 'ERR_CLOSED');
    });

    it('two close() calls at once both resolve', async () => {
      const db = await open(join(makeTempDir(), 'db'), options);
      db.put('k', 'v');
      const [a, b] = await Promise.allSettled([db.close(), db.close()]);
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('fulfilled');
    });
  });
});
