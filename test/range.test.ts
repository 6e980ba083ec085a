// Range scans and capabilities: engines without order refuse range(); the
// ordered engine ('lsm') is checked against a sorted model (fast-check),
// for the consistency of its view, binary keys, chunking, and bad input.
//
//   TIDEKV_SEED=1234 npx vitest run test/range.test.ts   replay a model run
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { open, type OpenOptions, type RangeOptions, type Store } from '../lib/index.js';
import {
  expectRejectsCode,
  expectThrowsCode,
  int64Bytes,
  makeTempDir,
  propertyRuns,
  pseudoRandomBytes,
  removeAllTempDirs,
  removeTempDir,
  runNode,
  transpileLibForChildren,
  withStore,
} from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

afterEach(() => removeAllTempDirs());

/** Small memtables and tables, so that ranges merge the memtable with several tables and levels. */
const LSM_PRESETS: ReadonlyArray<readonly [string, OpenOptions]> = [
  ['default', { engine: 'lsm' }],
  ['small tables', { engine: 'lsm', memtableBytes: 64 * KiB, targetTableBytes: 64 * KiB, blockBytes: 1024 }],
  ['size-tiered', { engine: 'lsm', compactionStyle: 'size-tiered', memtableBytes: 64 * KiB, runsPerLevel: 2 }],
];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const entriesHex = (entries: Iterable<[Buffer, Buffer]>): string[][] => [...entries].map(([k, v]) => [hex(k), hex(v)]);

/** What range(options) must yield from `model` (key bytes -> value), as [key hex, value hex] pairs. */
function expectedRange(model: ReadonlyMap<string, Buffer>, options: RangeOptions = {}): string[][] {
  const bytes = (k: string | Uint8Array): Buffer => (typeof k === 'string' ? Buffer.from(k, 'utf8') : Buffer.from(k));
  const lower = options.gt ?? options.gte;
  const upper = options.lt ?? options.lte;
  let keys = [...model.keys()].map((k) => Buffer.from(k, 'hex')).sort(Buffer.compare);
  if (lower !== undefined) {
    const b = bytes(lower);
    keys = keys.filter((k) => (options.gt !== undefined ? Buffer.compare(k, b) > 0 : Buffer.compare(k, b) >= 0));
  }
  if (upper !== undefined) {
    const b = bytes(upper);
    keys = keys.filter((k) => (options.lt !== undefined ? Buffer.compare(k, b) < 0 : Buffer.compare(k, b) <= 0));
  }
  if (options.reverse === true) keys.reverse();
  if (options.limit !== undefined) keys = keys.slice(0, options.limit);
  return keys.map((k) => [hex(k), hex(model.get(hex(k))!)]);
}

// ---- engines without order ----

describe('hybridlog: no ordered iteration', () => {
  it('reports capabilities.ordered false, the same frozen object each time', async () => {
    await withStore({ engine: 'hybridlog' }, (db) => {
      expect(db.capabilities).toEqual({ ordered: false });
      expect(db.capabilities).toBe(db.capabilities);
      expect(Object.isFrozen(db.capabilities)).toBe(true);
    });
  });

  it('range() throws ERR_UNSUPPORTED synchronously at the call, whatever the options', async () => {
    await withStore({}, (db) => {
      db.put('a', '1');
      const err = expectThrowsCode(() => db.range(), 'ERR_UNSUPPORTED');
      expect(err.message).toContain('lsm');
      expectThrowsCode(() => db.range({ gte: 'a', lt: 'z' }), 'ERR_UNSUPPORTED');
      expectThrowsCode(() => db.range({ gt: 'a', gte: 'b' }), 'ERR_UNSUPPORTED');
      expect(db.get('a')?.toString()).toBe('1');
    });
  });

  it('range() after close() throws ERR_CLOSED', async () => {
    const db = await open(join(makeTempDir(), 'db'));
    await db.close();
    expectThrowsCode(() => db.range(), 'ERR_CLOSED');
    expect(db.capabilities.ordered).toBe(false); // a plain property still reads
  });
});

// ---- the ordered engine ----

describe('lsm: range scans', () => {
  it('reports capabilities.ordered true', async () => {
    await withStore({ engine: 'lsm' }, (db) => {
      expect(db.engine).toBe('lsm');
      expect(db.capabilities).toEqual({ ordered: true });
    });
  });

  it('yields fresh Buffers in key order, within bounds, reversed and limited', async () => {
    await withStore({ engine: 'lsm' }, (db) => {
      const model = new Map<string, Buffer>();
      for (const k of ['b', 'a', 'd', 'c', 'e', 'aa', 'ab', 'b\0', 'é', '🦀']) {
        const v = Buffer.from(`v:${k}`);
        db.put(k, v);
        model.set(hex(Buffer.from(k)), v);
      }
      const cases: RangeOptions[] = [
        {},
        { reverse: true },
        { gte: 'b' },
        { gt: 'b' },
        { lt: 'c' },
        { lte: 'c' },
        { gte: 'aa', lt: 'c' },
        { gt: 'a', lte: 'd', reverse: true },
        { limit: 3 },
        { limit: 3, reverse: true },
        { limit: 0 },
        { gte: 'c', lte: 'c' },
        { gt: 'c', lt: 'c' },
        { gt: 'd', lt: 'b' }, // empty: lower above upper
        { gte: Buffer.from('b'), lt: new Uint8Array([0x64]) },
        { gte: 'z' },
        { lt: '\0' },
      ];
      for (const options of cases) {
        expect(entriesHex(db.range(options)), JSON.stringify(options)).toEqual(expectedRange(model, options));
      }
      const [first] = db.range({ limit: 1 });
      expect(first![0].toString()).toBe('a');
      first![0][0] = 0x7a; // the caller owns it: changing it changes nothing stored
      expect(db.get('a')?.toString()).toBe('v:a');
      expect(Buffer.isBuffer(first![1])).toBe(true);
    });
  });

  it('orders binary keys bytewise, with 0x00 and 0xff bytes, and takes Buffer and string bounds', async () => {
    await withStore({ engine: 'lsm' }, (db) => {
      const keys = [[0x00], [0x00, 0x00], [0x00, 0xff], [0x01], [0x61], [0x61, 0x00], [0x7f], [0x80], [0xc3, 0xa9], [0xff], [0xff, 0x00], [0xff, 0xff], [0xff, 0xff, 0xff]];
      const model = new Map<string, Buffer>();
      // Written in a scrambled order.
      for (const [i, k] of keys.map((k, i) => [i, k] as const).sort((x, y) => ((x[0] * 7) % 13) - ((y[0] * 7) % 13))) {
        db.put(Buffer.from(k), int64Bytes(BigInt(i)));
        model.set(hex(Buffer.from(k)), int64Bytes(BigInt(i)));
      }
      expect(entriesHex(db.range()).map(([k]) => k)).toEqual(keys.map((k) => hex(Buffer.from(k))));
      const cases: RangeOptions[] = [
        { gt: Buffer.from([0x00]) },
        { gte: Buffer.from([0x00, 0x00]), lt: Buffer.from([0xff]) },
        { gt: Buffer.from([0xff]), reverse: true },
        { lte: Buffer.from([0x00, 0xff]) },
        { gte: 'a', lt: 'é' }, // strings are their UTF-8 bytes: 61 .. c3 a9
        { gt: 'a\0', lte: Buffer.from([0xc3, 0xa9]), reverse: true },
        { gte: Buffer.from([0xff, 0xff]), limit: 1 },
      ];
      for (const options of cases) {
        expect(entriesHex(db.range(options)), JSON.stringify(options)).toEqual(expectedRange(model, options));
      }
    });
  });

  it('fetches many entries and large values in chunks (values larger than the chunk buffer too)', async () => {
    await withStore({ engine: 'lsm' }, (db) => {
      const model = new Map<string, Buffer>();
      const put = (k: string, v: Buffer): void => {
        db.put(k, v);
        model.set(hex(Buffer.from(k)), v);
      };
      for (let i = 0; i < 5000; i++) put(`k${String(i).padStart(5, '0')}`, pseudoRandomBytes(i % 50, i));
      put('k02500x', pseudoRandomBytes(200 * KiB, 1)); // over the 64 KiB chunk buffer
      put('k02501x', pseudoRandomBytes(2 * MiB, 2)); // over the largest kept chunk buffer
      put('k02502x', Buffer.alloc(0));
      for (const options of [{}, { reverse: true }, { gte: 'k02499', limit: 6 }, { lt: 'k02502', reverse: true, limit: 3 }]) {
        expect(entriesHex(db.range(options)), JSON.stringify(options)).toEqual(expectedRange(model, options));
      }
    });
  });

  it('keeps the view taken at the call: later writes, deletes, checkpoints and compactions do not show', async () => {
    await withStore({ engine: 'lsm', memtableBytes: 64 * KiB }, async (db) => {
      const model = new Map<string, Buffer>();
      for (let i = 0; i < 300; i++) {
        const k = `k${String(i).padStart(3, '0')}`;
        const v = pseudoRandomBytes(100, i);
        db.put(k, v);
        model.set(hex(Buffer.from(k)), v);
      }
      const snapshot = new Map(model);
      const forward = db.range(); // opened before anything below
      const backward = db.range({ reverse: true, gte: 'k100' });
      const head = [forward.next().value!, forward.next().value!];
      for (let i = 0; i < 300; i += 2) db.delete(`k${String(i).padStart(3, '0')}`);
      for (let i = 1; i < 300; i += 3) db.put(`k${String(i).padStart(3, '0')}`, 'overwritten');
      db.put('k0005', 'new key inside the range');
      db.increment('k999');
      await db.checkpoint();
      for (let i = 0; i < 2000; i++) db.put(`fill${i}`, pseudoRandomBytes(200, i)); // flushes and compactions
      await db.compact();
      db.append('k001', 'more');
      await db.checkpoint();
      expect(entriesHex([...head, ...forward])).toEqual(expectedRange(snapshot));
      expect(entriesHex(backward)).toEqual(expectedRange(snapshot, { reverse: true, gte: 'k100' }));
      // A range opened now sees the new state.
      const now = db.range({ gte: 'k0', lt: 'k1' });
      expect([...now].map(([k]) => k.toString())).toContain('k0005');
      expect(db.range({ gte: 'k000', lte: 'k000' }).next().done).toBe(true); // deleted
    });
  });

  it('keeps the view across restore(); next() throws ERR_BUSY while the restore runs', async () => {
    await withStore({ engine: 'lsm' }, async (db) => {
      db.put('a', '1');
      db.put('b', '2');
      await db.checkpoint();
      db.put('c', '3');
      const it = db.range();
      expect(it.next().value![0].toString()).toBe('a');
      const restoring = db.restore(1);
      expectThrowsCode(() => it.next(), 'ERR_BUSY');
      expectThrowsCode(() => db.range(), 'ERR_BUSY');
      await restoring;
      expect([...it].map(([k, v]) => `${k}=${v}`)).toEqual(['b=2', 'c=3']);
      expect([...db.range()].map(([k, v]) => `${k}=${v}`)).toEqual(['a=1', 'b=2']);
    });
  });

  it('break (return()) frees the cursor; the iterator is then done', async () => {
    await withStore({ engine: 'lsm' }, (db) => {
      for (let i = 0; i < 100; i++) db.put(`k${i}`, 'v');
      const it = db.range();
      let seen = 0;
      for (const entry of it) {
        expect(entry).toHaveLength(2);
        if (++seen === 3) break;
      }
      expect(it.next()).toEqual({ done: true, value: undefined });
      expect(it.return!()).toEqual({ done: true, value: undefined }); // twice is fine
      // Many abandoned iterators: freed by close() (below) or GC, never an error.
      for (let i = 0; i < 1000; i++) db.range({ gte: `k${i % 100}` }).next();
    });
  });

  it('rejects bad options with ERR_INVALID_ARG and reads nothing', async () => {
    await withStore({ engine: 'lsm' }, (db) => {
      db.put('a', '1');
      const bad: unknown[] = [
        { gt: 'a', gte: 'a' },
        { lt: 'z', lte: 'z' },
        { gt: 'a', gte: 'b', lt: 'z' },
        { gt: 5 },
        { gte: null },
        { lt: {} },
        { lte: ['a'] },
        { gt: new Uint16Array([1]) },
        { gt: Symbol('k') },
        { gte: '' },
        { lt: Buffer.alloc(0) },
        { gt: 'x'.repeat(8 * KiB + 1) },
        { limit: -1 },
        { limit: 1.5 },
        { limit: NaN },
        { limit: Infinity },
        { limit: 2 ** 53 },
        { limit: '3' },
        { limit: 3n },
        { reverse: 'yes' },
        { reverse: 1 },
        { start: 'a' },
        5,
        'a',
        null,
        [],
      ];
      for (const options of bad) {
        expectThrowsCode(() => db.range(options as RangeOptions), 'ERR_INVALID_ARG');
      }
      expect(entriesHex(db.range({ gt: undefined, lte: undefined, limit: undefined }))).toEqual([[hex(Buffer.from('a')), hex(Buffer.from('1'))]]);
    });
  });

  it('throws ERR_CLOSED from range() after close(), and from next() of an iterator opened before', async () => {
    const db = await open(join(makeTempDir(), 'db'), { engine: 'lsm' });
    for (let i = 0; i < 10; i++) db.put(`k${i}`, 'v');
    const open1 = db.range();
    open1.next();
    const open2 = db.range({ reverse: true });
    const finished = db.range({ limit: 1 });
    expect([...finished]).toHaveLength(1);
    const closing = db.close();
    expectThrowsCode(() => db.range(), 'ERR_CLOSED');
    expectThrowsCode(() => open1.next(), 'ERR_CLOSED');
    await closing;
    expectThrowsCode(() => db.range({ gte: 'a' }), 'ERR_CLOSED');
    expectThrowsCode(() => open1.next(), 'ERR_CLOSED');
    expectThrowsCode(() => open2.next(), 'ERR_CLOSED');
    expect(finished.next().done).toBe(true); // an exhausted iterator stays done
    expect(open2.return!()).toEqual({ done: true, value: undefined }); // closing after close() is fine
  });
});

// ---- cursor lifecycle (child processes: GC and worker teardown) ----

describe('lsm: cursor lifecycle', () => {
  let lib: { root: string; index: string };
  beforeAll(async () => {
    lib = await transpileLibForChildren();
  });
  afterAll(() => removeTempDir(lib.root));

  it('abandoned iterators are freed by GC, with their store alive and together with an unclosed store', async () => {
    const base = makeTempDir();
    const r = await runNode(
      `
      const { open } = require(${JSON.stringify(lib.index)});
      const collected = new Set();
      const registry = new FinalizationRegistry((what) => collected.add(what));
      // Separate functions: an async function keeps its locals alive across awaits.
      function abandon(db, n) {
        for (let i = 0; i < n; i++) {
          const it = db.range({ gte: 'k' + (i % 50), reverse: i % 2 === 1 });
          if (i % 3 > 0) it.next();
          if (i % 3 === 2) [...it];
          registry.register(it, 'iterator');
        }
      }
      async function openAndDrop(dir) {
        const db = await open(dir, { engine: 'lsm' });
        for (let i = 0; i < 200; i++) db.put('k' + i, Buffer.alloc(100, i));
        abandon(db, 100);
        registry.register(db, 'dropped store');
      }
      async function collect(what) {
        for (let attempt = 0; attempt < 200 && !collected.has(what); attempt++) {
          global.gc();
          await new Promise((r) => setTimeout(r, 5));
        }
        return collected.has(what);
      }
      (async () => {
        const kept = await open(${JSON.stringify(join(base, 'kept'))}, { engine: 'lsm', memtableBytes: 64 * 1024 });
        for (let i = 0; i < 2000; i++) kept.put('k' + i, Buffer.alloc(100, i));
        abandon(kept, 1000);
        const iterators = await collect('iterator');
        let n = 0;
        for (const _ of kept.range()) n++;
        await openAndDrop(${JSON.stringify(join(base, 'dropped'))});
        const store = await collect('dropped store');
        await kept.close();
        console.log(JSON.stringify({ iterators, n, store }));
      })();
    `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ iterators: true, n: 2000, store: true });
  });

  it('a worker terminated with iterators open exits cleanly; the data is intact', async () => {
    const dir = join(makeTempDir(), 'db');
    const r = await runNode(`
      const { Worker } = require('node:worker_threads');
      const worker = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads');
        const { open } = require(workerData.lib);
        (async () => {
          const db = await open(workerData.dir, { engine: 'lsm' });
          for (let i = 0; i < 500; i++) db.put('k' + i, 'v' + i);
          await db.checkpoint();
          globalThis.iterators = [];
          for (let i = 0; i < 50; i++) { const it = db.range(); it.next(); globalThis.iterators.push(it); }
          parentPort.postMessage('ready');
          setInterval(() => {}, 1000);
        })();
      \`, { eval: true, workerData: { lib: ${JSON.stringify(lib.index)}, dir: ${JSON.stringify(dir)} } });
      worker.once('message', async () => {
        await worker.terminate();
        console.log('terminated');
      });
    `);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('terminated');
    const db = await open(dir, { engine: 'lsm' });
    try {
      expect([...db.range()]).toHaveLength(500);
    } finally {
      await db.close();
    }
  });
});

// ---- model-based ----

/** Key bytes from a small alphabet so that bounds land between, on and around keys. */
const keyByteArb = fc.constantFrom(0x00, 0x61, 0x62, 0x63, 0xff);
const keyBytesArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(keyByteArb, { minLength: 1, maxLength: 2 }) }, // 30 keys: ranges hit
  { weight: 1, arbitrary: fc.array(keyByteArb, { minLength: 3, maxLength: 3 }) },
);
const boundArb = fc.option(fc.record({ key: keyBytesArb, inclusive: fc.boolean() }), { nil: undefined });

type RangeOp =
  | { op: 'put'; key: number[]; len: number; seed: number }
  | { op: 'delete'; key: number[] }
  | { op: 'increment'; key: number[]; delta: number }
  | { op: 'append'; key: number[]; len: number; seed: number }
  | { op: 'range'; lower?: { key: number[]; inclusive: boolean } | undefined; upper?: { key: number[]; inclusive: boolean } | undefined; reverse: boolean; limit?: number | undefined; take?: number | undefined }
  /** Opens an iterator now and checks it later (at `drain`, or before a reopen). */
  | { op: 'openIterator'; reverse: boolean }
  | { op: 'drain' }
  | { op: 'fill'; n: number; seed: number }
  | { op: 'checkpoint' }
  | { op: 'restore'; pick: number }
  | { op: 'compact' }
  | { op: 'reopen' };

const rangeOpArb: fc.Arbitrary<RangeOp> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyBytesArb, len: fc.integer({ min: 0, max: 40 }), seed: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyBytesArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('increment' as const), key: keyBytesArb, delta: fc.integer({ min: -5, max: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('append' as const), key: keyBytesArb, len: fc.integer({ min: 0, max: 8 }), seed: fc.nat() }) },
  {
    weight: 8,
    arbitrary: fc.record(
      {
        op: fc.constant('range' as const),
        lower: boundArb,
        upper: boundArb,
        reverse: fc.boolean(),
        limit: fc.option(fc.nat(8), { nil: undefined }),
        take: fc.option(fc.nat(4), { nil: undefined }),
      },
      { requiredKeys: ['op', 'reverse'] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('openIterator' as const), reverse: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ op: 'drain' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fill' as const), n: fc.integer({ min: 1, max: 400 }), seed: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ op: 'checkpoint' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('restore' as const), pick: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A key as the store is given it: a string when its bytes are ASCII (so both forms are used), else a Buffer. */
function keyArg(bytes: number[]): string | Buffer {
  return bytes.every((b) => b < 0x80) && bytes.length % 2 === 1 ? Buffer.from(bytes).toString('latin1') : Buffer.from(bytes);
}

function rangeOptionsOf(op: Extract<RangeOp, { op: 'range' }>): RangeOptions {
  const options: RangeOptions = { reverse: op.reverse };
  if (op.lower !== undefined) options[op.lower.inclusive ? 'gte' : 'gt'] = keyArg(op.lower.key);
  if (op.upper !== undefined) options[op.upper.inclusive ? 'lte' : 'lt'] = keyArg(op.upper.key);
  if (op.limit !== undefined) options.limit = op.limit;
  return options;
}

async function runRangeCase(options: OpenOptions, ops: readonly RangeOp[]): Promise<void> {
  const dir = join(makeTempDir(), 'db');
  let db: Store = await open(dir, options);
  let model = new Map<string, Buffer>();
  const versions = new Map<number, Map<string, Buffer>>();
  let retained: number[] = [];
  let next = 1;
  let iterators: { it: IterableIterator<[Buffer, Buffer]>; want: string[][] }[] = [];
  const drain = (): void => {
    for (const { it, want } of iterators) expect(entriesHex(it), 'an iterator opened earlier').toEqual(want);
    iterators = [];
  };
  try {
    for (const [step, op] of ops.entries()) {
      const where = `step ${step} ${JSON.stringify(op)}`;
      switch (op.op) {
        case 'put': {
          const v = pseudoRandomBytes(op.len, op.seed);
          db.put(keyArg(op.key), v);
          model.set(hex(Buffer.from(op.key)), v);
          break;
        }
        case 'delete':
          expect(db.delete(keyArg(op.key)), where).toBe(model.delete(hex(Buffer.from(op.key))));
          break;
        case 'increment': {
          const k = hex(Buffer.from(op.key));
          const cur = model.get(k);
          if (cur !== undefined && cur.length !== 8) {
            expectThrowsCode(() => db.increment(keyArg(op.key), op.delta), 'ERR_TYPE_MISMATCH');
            break;
          }
          const sum = (cur === undefined ? 0n : cur.readBigInt64LE(0)) + BigInt(op.delta);
          if (sum < INT64_MIN || sum > INT64_MAX) {
            expectThrowsCode(() => db.increment(keyArg(op.key), op.delta), 'ERR_OVERFLOW');
            break;
          }
          expect(db.increment(keyArg(op.key), op.delta), where).toBe(sum);
          model.set(k, int64Bytes(sum));
          break;
        }
        case 'append': {
          const bytes = pseudoRandomBytes(op.len, op.seed);
          db.append(keyArg(op.key), bytes);
          const k = hex(Buffer.from(op.key));
          model.set(k, Buffer.concat([model.get(k) ?? Buffer.alloc(0), bytes]));
          break;
        }
        case 'range': {
          const options = rangeOptionsOf(op);
          const want = expectedRange(model, options);
          const it = db.range(options);
          if (op.take === undefined) {
            expect(entriesHex(it), where).toEqual(want);
          } else {
            const got: [Buffer, Buffer][] = [];
            for (const entry of it) {
              if (got.length === op.take) break;
              got.push(entry);
            }
            expect(entriesHex(got), where).toEqual(want.slice(0, op.take));
          }
          break;
        }
        case 'openIterator':
          iterators.push({ it: db.range({ reverse: op.reverse }), want: expectedRange(model, { reverse: op.reverse }) });
          break;
        case 'drain':
          drain();
          break;
        case 'fill':
          for (let i = 0; i < op.n; i++) {
            const k = Buffer.from(`f${(op.seed + i) % 97}`);
            const v = pseudoRandomBytes(100 + (i % 200), op.seed + i);
            db.put(k, v);
            model.set(hex(k), v);
          }
          break;
        case 'checkpoint': {
          const info = await db.checkpoint();
          expect(info.version, where).toBe(next);
          versions.set(next, new Map(model));
          retained = [...retained, next].slice(-3);
          next++;
          expect(db.checkpoints().map((c) => c.version), where).toEqual(retained);
          break;
        }
        case 'restore': {
          if (retained.length === 0) {
            await expectRejectsCode(() => db.restore(1), 'ERR_VERSION_NOT_FOUND');
            break;
          }
          const v = retained[op.pick % retained.length]!;
          await db.restore(v);
          model = new Map(versions.get(v)!);
          retained = retained.filter((r) => r <= v);
          next = v + 1;
          expect(entriesHex(db.range()), where).toEqual(expectedRange(model));
          break;
        }
        case 'compact':
          await db.compact();
          break;
        case 'reopen': {
          drain();
          const stale = db.range();
          await db.close();
          expectThrowsCode(() => stale.next(), 'ERR_CLOSED');
          db = await open(dir, options);
          const last = retained[retained.length - 1];
          model = last === undefined ? new Map() : new Map(versions.get(last)!);
          expect(db.version, where).toBe(last ?? 0);
          break;
        }
      }
    }
    drain();
    expect(entriesHex(db.range()), 'final state').toEqual(expectedRange(model));
    expect(entriesHex(db.range({ reverse: true })), 'final state, reversed').toEqual(expectedRange(model, { reverse: true }));
  } finally {
    await db.close();
  }
}

const seedFromEnv = process.env['TIDEKV_SEED'];
const SEED = seedFromEnv !== undefined && seedFromEnv !== '' ? Number(seedFromEnv) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

describe('lsm: range scans against a sorted model', () => {
  const runs = propertyRuns(25);
  it.each(LSM_PRESETS)('random op sequences agree with the model (%s)', async (_name, options) => {
    console.log(`range.test.ts: seed ${SEED} (replay with TIDEKV_SEED=${SEED}), ${runs} runs`);
    await fc.assert(
      fc.asyncProperty(fc.array(rangeOpArb, { minLength: 1, maxLength: 80, size: 'large' }), (ops) => runRangeCase(options, ops)),
      { numRuns: runs, seed: SEED },
    );
  });
});
