// Store: one engine, in this thread, synchronous point operations.
//
// Reads avoid the dominant cost of the boundary (a Buffer created in native
// code costs ~10x a lookup): the addon copies a value into an output buffer
// this object owns, and JS copies the bytes into a fresh Buffer from Node's
// pool. getMany packs every result of a chunk into one fresh buffer and hands
// out views of it. range() fetches entries in chunks packed into one reusable
// buffer and copies each key and value out of it.
import { markAsUntransferable } from 'node:worker_threads';
import { invalidArgument, TidekvError } from './errors.js';
import { BatchCode, type NativeRangeCursor, type NativeRangeOptions, type NativeStore } from './native.js';
import { describe, type EngineName } from './options.js';

export type Key = Uint8Array | string;
export type Value = Uint8Array | string;

export type Op =
  | { type: 'put'; key: Key; value: Value }
  | { type: 'delete'; key: Key }
  | { type: 'increment'; key: Key; delta?: number | bigint | undefined }
  | { type: 'append'; key: Key; value: Value };

export interface Stats {
  /** Live keys. */
  readonly keys: number;
  /** Memory the engine holds for data and index. */
  readonly memoryBytes: number;
  /** Bytes of the engine's data files. */
  readonly diskBytes: number;
  /** Engine-specific counters (hybrid log: logMemoryBytes, indexBytes, headAddress, pagesFlushed, ...). */
  readonly [counter: string]: number;
}

export interface CompactionResult {
  readonly recordsScanned: number;
  readonly recordsMoved: number;
  readonly bytesReclaimed: number;
  readonly filesDeleted: number;
  /** Longest time foreground calls were held off by one compaction slice. */
  readonly longestPauseMicros: number;
}

export interface CheckpointInfo {
  /** 1, 2, 3, ... in the order checkpoints were taken (restore continues after the restored one). */
  readonly version: number;
  /** Bytes this checkpoint added to disk: its snapshot, index and manifest files and new log pages. */
  readonly bytesWritten: number;
  /** Bytes of every file this checkpoint needs (shared with other checkpoints). */
  readonly totalBytes: number;
  /** How long the calling thread was held for the cut. */
  readonly pauseMs: number;
  /** From the cut to the manifest being durable. */
  readonly durationMs: number;
  /** When the cut was taken, in milliseconds since the Unix epoch. */
  readonly createdAt: number;
  /** The meta given to checkpoint(), as given (a string stays a string). */
  readonly meta: Buffer | string | undefined;
}

/**
 * Bounds and order of range(). At most one of gt / gte and one of lt / lte;
 * an omitted end is open. Keys compare bytewise (strings by their UTF-8 bytes).
 */
export interface RangeOptions {
  /** Keys after this one. */
  gt?: Key | undefined;
  /** Keys from this one on. */
  gte?: Key | undefined;
  /** Keys before this one. */
  lt?: Key | undefined;
  /** Keys up to and including this one. */
  lte?: Key | undefined;
  /** From the upper end down (default false). */
  reverse?: boolean | undefined;
  /** At most this many entries (a non-negative integer; default no limit). */
  limit?: number | undefined;
}

export interface Capabilities {
  /** Ordered iteration (range scans): LSM only. */
  readonly ordered: boolean;
}

export interface Limits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxBatchOps: number;
}

export const MAX_KEY_BYTES = 8 * 1024; // native/common/limits.h kMaxKeyBytes
export const MAX_BATCH_OPS = 1 << 20; // kMaxBatchOps

const OUTPUT_SLAB_BYTES = 64 * 1024;
// range() chunks: the reusable buffer grows up to RANGE_OUT_MAX_BYTES; an
// entry larger than that gets a buffer of its own for one call.
const RANGE_OUT_BYTES = 64 * 1024;
const RANGE_OUT_MAX_BYTES = 1024 * 1024;
const RANGE_OPTION_NAMES: ReadonlySet<string> = new Set(['gt', 'gte', 'lt', 'lte', 'reverse', 'limit']);
const GET_MANY_CHUNK = 4096;
const SLAB_BYTES = 256 * 1024;

const BATCH_CODES: Readonly<Record<string, BatchCode>> = {
  put: BatchCode.Put,
  delete: BatchCode.Delete,
  increment: BatchCode.Increment,
  append: BatchCode.Append,
};

const constructing = Symbol('tidekv.Store');

/**
 * Memory that results are handed out from. The addon keeps a pointer into
 * get()'s slab between calls, and users receive views of it: an ArrayBuffer
 * transferred to a worker or by structuredClone would be detached and the
 * addon would write into freed memory. Untransferable buffers are copied,
 * never detached, by every transfer path.
 */
function newSlab(bytes: number): Buffer {
  const slab = Buffer.allocUnsafeSlow(bytes);
  markAsUntransferable(slab.buffer);
  return slab;
}

function busy(): TidekvError {
  return new TidekvError('ERR_BUSY', 'a restore is in progress');
}

/** Checks range()'s options and copies them into a plain object for the addon. */
function rangeArguments(options: unknown): NativeRangeOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`range options must be an object, got ${describe(options)}`);
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!RANGE_OPTION_NAMES.has(name)) throw invalidArgument(`unknown range option '${name}'`);
  }
  const result: NativeRangeOptions = {};
  for (const [exclusive, inclusive] of [['gt', 'gte'], ['lt', 'lte']] as const) {
    const ex = given[exclusive];
    const inc = given[inclusive];
    if (ex !== undefined && inc !== undefined) {
      throw invalidArgument(`range options ${exclusive} and ${inclusive} cannot both be given`);
    }
    for (const [name, key] of [[exclusive, ex], [inclusive, inc]] as const) {
      if (key === undefined) continue;
      if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
        throw invalidArgument(`range option ${name} must be a string or a Uint8Array, got ${describe(key)}`);
      }
      result[name] = key;
    }
  }
  const reverse = given['reverse'];
  if (reverse !== undefined) {
    if (typeof reverse !== 'boolean') throw invalidArgument(`range option reverse must be a boolean, got ${describe(reverse)}`);
    result.reverse = reverse;
  }
  const limit = given['limit'];
  if (limit !== undefined) {
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
      throw invalidArgument(`range option limit must be a non-negative integer, got ${describe(limit)}`);
    }
    result.limit = limit;
  }
  return result;
}

/**
 * What range() returns. Entries come from the addon a chunk at a time; the
 * native cursor is freed when the range is exhausted, by return() (a `break`
 * out of for..of), when the store closes, or by GC of an abandoned iterator.
 */
class RangeIterator implements IterableIterator<[Buffer, Buffer]> {
  readonly #check: () => void;
  readonly #fetch: (into: [Buffer, Buffer][]) => boolean;
  readonly #close: () => void;
  #entries: [Buffer, Buffer][] = [];
  #index = 0;
  #more = true; // the native cursor may hold more entries

  /**
   * check throws while the store cannot be read (closed, restoring); fetch
   * appends the next chunk's entries and returns false once the range is
   * exhausted; close frees the native cursor.
   */
  constructor(check: () => void, fetch: (into: [Buffer, Buffer][]) => boolean, close: () => void) {
    this.#check = check;
    this.#fetch = fetch;
    this.#close = close;
  }

  next(): IteratorResult<[Buffer, Buffer], undefined> {
    if (this.#index === this.#entries.length && !this.#more) return { done: true, value: undefined };
    // ERR_CLOSED / ERR_BUSY leave the iterator as it is (after a restore it goes on).
    this.#check();
    if (this.#index === this.#entries.length) {
      this.#entries = [];
      this.#index = 0;
      try {
        this.#more = this.#fetch(this.#entries);
      } catch (e) {
        // The addon freed the cursor; like a generator, the iterator is done after a throw.
        this.#more = false;
        throw e;
      }
      if (this.#entries.length === 0) return { done: true, value: undefined };
    }
    return { done: false, value: this.#entries[this.#index++]! };
  }

  return(): IteratorResult<[Buffer, Buffer], undefined> {
    if (this.#more) {
      this.#more = false;
      this.#close();
    }
    this.#entries = [];
    this.#index = 0;
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): this {
    return this;
  }
}

function allStrings(keys: readonly unknown[]): boolean {
  for (let i = 0; i < keys.length; i++) if (typeof keys[i] !== 'string') return false;
  return true;
}

const TWO_32 = 2 ** 32;

/** Writes each operation's bytes back to back (deltas as int64 LE). */
function packValues(types: Uint8Array, values: readonly unknown[], out: Uint8Array, lengths: Int32Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let offset = 0;
  for (let i = 0; i < types.length; i++) {
    const code = types[i];
    if (code === BatchCode.Delete) continue;
    if (code === BatchCode.Increment) {
      const delta = values[i];
      if (typeof delta === 'bigint') {
        if (delta < -(2n ** 63n) || delta >= 2n ** 63n) throw invalidArgument(`ops[${i}].delta is outside the int64 range`);
        view.setBigInt64(offset, delta, true);
      } else {
        const d = delta === undefined ? 1 : (delta as number);
        const high = Math.floor(d / TWO_32);
        view.setUint32(offset, d - high * TWO_32, true);
        view.setInt32(offset + 4, high, true);
      }
      lengths[i] = 8;
      offset += 8;
    } else {
      const bytes = values[i] as Uint8Array;
      out.set(bytes, offset);
      lengths[i] = bytes.length;
      offset += bytes.length;
    }
  }
}

export class Store {
  readonly #native: NativeStore;
  readonly #engine: EngineName;
  readonly #limits: Limits;
  readonly #capabilities: Capabilities;
  #rangeOut: Buffer | undefined; // range()'s chunk buffer, shared by its iterators
  #out: Buffer; // get()'s slab; its ArrayBuffer starts at offset 0
  #outCursor = 0;
  #lengths = new Int32Array(GET_MANY_CHUNK);
  #slab = newSlab(SLAB_BYTES);
  #slabOffset = 0;
  #averageValueBytes = 128;
  #closed = false;
  #closing: Promise<void> | undefined;
  #restoring = false;

  /** @internal Stores are made by open(). */
  constructor(token: symbol, native: NativeStore, engine: EngineName) {
    if (token !== constructing) throw new TypeError('use open() to create a Store');
    this.#native = native;
    this.#engine = engine;
    this.#out = newSlab(OUTPUT_SLAB_BYTES);
    native.setOutput(this.#out);
    this.#limits = Object.freeze({
      maxKeyBytes: MAX_KEY_BYTES,
      maxValueBytes: native.maxValueBytes(),
      maxBatchOps: MAX_BATCH_OPS,
    });
    this.#capabilities = Object.freeze({ ordered: native.capabilities().ordered === true });
  }

  /** @internal */
  static create(native: NativeStore, engine: EngineName): Store {
    return new Store(constructing, native, engine);
  }

  get engine(): EngineName {
    return this.#engine;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get capabilities(): Capabilities {
    return this.#capabilities;
  }
  get limits(): Limits {
    return this.#limits;
  }

  /**
   * The value of key, or undefined. The Buffer is the caller's: the store never
   * writes to it again. Like Buffer.allocUnsafe results, small values share an
   * underlying ArrayBuffer (a 64 KiB slab the addon filled directly).
   */
  get(key: Key): Buffer | undefined {
    if (this.#restoring) throw busy();
    const n = this.#native.get(key);
    if (n >= 0) {
      // The addon wrote the value at the cursor and moved its cursor the same way.
      const offset = this.#outCursor;
      this.#outCursor = offset + ((n + 7) & ~7);
      return Buffer.from(this.#out.buffer, offset, n);
    }
    if (n === -1) return undefined;
    this.#newOutput(-n - 2);
    return this.get(key);
  }

  /**
   * Values of many keys in one native call; results in the order of keys.
   * The returned Buffers are views of one shared allocation (like Node's
   * Buffer pool): copy one with Buffer.from(value) to keep it on its own.
   */
  getMany(keys: readonly Key[]): (Buffer | undefined)[] {
    this.#checkOpen();
    if (!Array.isArray(keys)) throw invalidArgument(`keys must be an array, got ${describe(keys)}`);
    const results: (Buffer | undefined)[] = new Array<Buffer | undefined>(keys.length);
    for (let base = 0; base < keys.length; base += GET_MANY_CHUNK) {
      const end = Math.min(keys.length, base + GET_MANY_CHUNK);
      this.#getChunk(base === 0 && end === keys.length ? keys : keys.slice(base, end), results, base);
    }
    return results;
  }

  #getChunk(keys: readonly Key[], results: (Buffer | undefined)[], resultBase: number): void {
    const lengths = this.#lengths;
    // One string for the whole chunk when every key is a string: the addon
    // converts it once instead of once per key.
    let source: readonly Key[] | string = allStrings(keys) ? keys.join('\0') : keys;
    let start = 0;
    let bytes = this.#chunkBytes(keys.length);
    while (start < keys.length) {
      const region = this.#slabFor(bytes);
      const out = region.out;
      const answered = this.#native.getMany(source, keys.length, start, out, lengths);
      if (answered <= 0) {
        this.#slabUsed(region, 0);
        if (answered === -1) source = keys; // a key contains '\0': send the array
        else bytes = Math.max(bytes * 2, -(lengths[0] ?? -2) - 2);
        continue;
      }
      let offset = 0;
      for (let i = 0; i < answered; i++) {
        const length = lengths[i]!;
        if (length < 0) {
          results[resultBase + start + i] = undefined;
        } else {
          results[resultBase + start + i] = out.subarray(offset, offset + length);
          offset += length;
        }
      }
      this.#slabUsed(region, offset);
      if (offset > 0) this.#averageValueBytes = Math.ceil(offset / answered);
      start += answered;
      bytes = this.#chunkBytes(keys.length - start);
    }
  }

  // getMany results are carved from slabs so that a chunk costs no
  // allocation of its own; a slab is reclaimed by GC when no view of it is
  // left. The region is reserved before the native call: reading the keys
  // can run JS (a getter) that calls getMany again, and that call must get
  // the space after this one.
  #slabFor(bytes: number): { out: Buffer; slab: Buffer; end: number } {
    const reserved = (bytes + 7) & ~7;
    if (this.#slab.length - this.#slabOffset < reserved) {
      this.#slab = newSlab(Math.max(SLAB_BYTES, reserved));
      this.#slabOffset = 0;
    }
    const start = this.#slabOffset;
    this.#slabOffset = start + reserved;
    return { out: this.#slab.subarray(start, start + bytes), slab: this.#slab, end: start + reserved };
  }

  // Returns the unused end of a reservation, unless a nested call took space after it.
  #slabUsed(region: { out: Buffer; slab: Buffer; end: number }, used: number): void {
    if (this.#slab === region.slab && this.#slabOffset === region.end) {
      this.#slabOffset = region.end - ((region.out.length + 7) & ~7) + ((used + 7) & ~7);
    }
  }

  has(key: Key): boolean {
    if (this.#restoring) throw busy();
    return this.#native.has(key);
  }

  put(key: Key, value: Value): void {
    if (this.#restoring) throw busy();
    this.#native.put(key, value);
  }

  /** Removes key; true when a live value was removed. */
  delete(key: Key): boolean {
    if (this.#restoring) throw busy();
    return this.#native.delete(key);
  }

  /**
   * Adds delta (default 1) to the int64 little-endian counter at key, created at 0,
   * and returns the new value. ERR_TYPE_MISMATCH when the value is not 8 bytes,
   * ERR_OVERFLOW when the sum leaves int64.
   */
  increment(key: Key, delta?: number | bigint): bigint {
    if (this.#restoring) throw busy();
    return this.#native.increment(key, delta);
  }

  /** Appends bytes to the value at key (created empty). */
  append(key: Key, bytes: Value): void {
    if (this.#restoring) throw busy();
    this.#native.append(key, bytes);
  }

  /**
   * Applies ops in order in one native call. Increments and appends are checked
   * against the stored data first, so a batch that fails for them writes nothing.
   */
  batch(ops: readonly Op[]): void {
    this.#checkOpen();
    if (!Array.isArray(ops)) throw invalidArgument(`ops must be an array, got ${describe(ops)}`);
    const n = ops.length;
    if (n === 0) return;
    const types = new Uint8Array(n);
    const keys = new Array<unknown>(n);
    const values = new Array<unknown>(n);
    let keysAreStrings = true;
    // Values travel packed in one buffer when every one is bytes (or a delta).
    let packable = true;
    let packedBytes = 0;
    for (let i = 0; i < n; i++) {
      const op = ops[i] as Partial<Record<string, unknown>> | undefined;
      if (op === null || typeof op !== 'object') throw invalidArgument(`ops[${i}] must be an object`);
      const code = BATCH_CODES[op['type'] as string];
      if (code === undefined) {
        throw invalidArgument(`ops[${i}].type must be 'put', 'delete', 'increment' or 'append', got ${describe(op['type'])}`);
      }
      types[i] = code;
      const key = op['key'];
      keys[i] = key;
      if (typeof key !== 'string') keysAreStrings = false;
      if (code === BatchCode.Increment) {
        const delta = op['delta'];
        values[i] = delta;
        packedBytes += 8;
        if (delta !== undefined && typeof delta !== 'bigint' && !Number.isSafeInteger(delta)) packable = false;
      } else if (code !== BatchCode.Delete) {
        const value = op['value'];
        values[i] = value;
        if (value instanceof Uint8Array) packedBytes += value.length;
        else packable = false;
      }
    }
    this.#apply(types, keys, keysAreStrings, values, packable ? packedBytes : -1);
  }

  /** Puts keys[i] = values[i] for every i, in one native call (the fastest way to write many values). */
  putMany(keys: readonly Key[], values: readonly Value[]): void {
    this.#checkOpen();
    if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length) {
      throw invalidArgument('putMany(keys, values) takes two arrays of the same length');
    }
    const n = keys.length;
    if (n === 0) return;
    let packedBytes = 0;
    for (let i = 0; i < n && packedBytes >= 0; i++) {
      const value = values[i];
      packedBytes = value instanceof Uint8Array ? packedBytes + value.length : -1;
    }
    this.#apply(new Uint8Array(n).fill(BatchCode.Put), keys, allStrings(keys), values, packedBytes);
  }

  /**
   * Adds deltas[i] (or `deltas` to every key, default 1) to the counter at keys[i],
   * in one native call; returns the new values. All-or-nothing like batch().
   */
  incrementMany(keys: readonly Key[], deltas?: number | bigint | readonly (number | bigint)[]): BigInt64Array {
    this.#checkOpen();
    if (!Array.isArray(keys)) throw invalidArgument(`keys must be an array, got ${describe(keys)}`);
    const n = keys.length;
    const results = new BigInt64Array(n);
    if (n === 0) return results;
    let values: readonly unknown[];
    if (Array.isArray(deltas)) {
      if (deltas.length !== n) throw invalidArgument('incrementMany: deltas must have one entry per key');
      values = deltas;
    } else {
      values = new Array<unknown>(n).fill(deltas);
    }
    let packable = true;
    for (let i = 0; i < n && packable; i++) {
      const d = values[i];
      packable = d === undefined || typeof d === 'bigint' || Number.isSafeInteger(d);
    }
    this.#apply(new Uint8Array(n).fill(BatchCode.Increment), keys, allStrings(keys), values, packable ? 8 * n : -1, results);
    return results;
  }

  // packedBytes >= 0: every value is bytes or a delta and they total this many
  // bytes: send them packed in one buffer. -1: send the array.
  #apply(
    types: Uint8Array,
    keys: readonly unknown[],
    keysAreStrings: boolean,
    values: readonly unknown[],
    packedBytes: number,
    addResults?: BigInt64Array,
  ): void {
    let packedValues: Uint8Array | undefined;
    let valueLengths: Int32Array | undefined;
    if (packedBytes >= 0) {
      packedValues = Buffer.allocUnsafe(packedBytes);
      valueLengths = new Int32Array(types.length);
      packValues(types, values, packedValues, valueLengths);
    }
    // One string for all keys when they are strings: converted once, not per key.
    const keySource = keysAreStrings ? (keys as string[]).join('\0') : keys;
    const result = this.#native.applyBatch(types, keySource, packedValues ?? values, valueLengths, addResults);
    if (result === -1) {
      // a key contains '\0': send the array
      this.#native.applyBatch(types, keys, packedValues ?? values, valueLengths, addResults);
    }
  }

  /**
   * The entries with keys in range, in key order (bytewise), or reverse order
   * with `reverse`: an iterator of [key, value] pairs, both fresh Buffers the
   * caller owns. The view is taken at this call: writes, deletes,
   * checkpoints, compactions and restores after it do not change what the
   * iterator yields. Leave a for..of early with `break` (or call return())
   * and the view is freed at once; an abandoned iterator holds it until GC.
   * Next calls throw ERR_CLOSED once the store is closed and ERR_BUSY during
   * a restore. Only ordered engines ('lsm'; see capabilities) have it:
   * others throw ERR_UNSUPPORTED.
   */
  range(options?: RangeOptions): IterableIterator<[Buffer, Buffer]> {
    this.#checkOpen();
    if (!this.#capabilities.ordered) {
      throw new TidekvError('ERR_UNSUPPORTED', `range() needs an ordered engine ('lsm'); engine '${this.#engine}' hashes its keys`);
    }
    const cursor = this.#native.rangeOpen(rangeArguments(options));
    return new RangeIterator(
      () => this.#checkOpen(),
      (into) => this.#rangeChunk(cursor, into),
      () => this.#native.rangeClose(cursor),
    );
  }

  // Appends the cursor's next chunk of entries to `into`; false once the
  // range is exhausted. Entries are copied out of the chunk buffer at once, so
  // the iterators of one store can share it.
  #rangeChunk(cursor: NativeRangeCursor, into: [Buffer, Buffer][]): boolean {
    let out = (this.#rangeOut ??= Buffer.allocUnsafeSlow(RANGE_OUT_BYTES));
    for (;;) {
      const n = this.#native.rangeNext(cursor, out);
      if (n === 0) return false;
      if (n < 0) {
        const needed = -n;
        if (needed > RANGE_OUT_MAX_BYTES) {
          out = Buffer.allocUnsafeSlow(needed); // one large entry: not kept
        } else {
          out = this.#rangeOut = Buffer.allocUnsafeSlow(Math.max(needed, 2 * this.#rangeOut.length));
        }
        continue;
      }
      let offset = 0;
      for (let i = 0; i < n; i++) {
        const keyBytes = out.readUInt32LE(offset);
        const valueBytes = out.readUInt32LE(offset + 4);
        const keyStart = offset + 8;
        const valueStart = keyStart + keyBytes;
        offset = valueStart + valueBytes;
        const key = Buffer.allocUnsafe(keyBytes);
        out.copy(key, 0, keyStart, valueStart);
        const value = Buffer.allocUnsafe(valueBytes);
        out.copy(value, 0, valueStart, offset);
        into.push([key, value]);
      }
      return true;
    }
  }

  stats(): Stats {
    if (this.#restoring) throw busy();
    return this.#native.stats() as Stats;
  }

  /** Reclaims dead records on a native thread; calls keep working meanwhile. */
  async compact(): Promise<CompactionResult> {
    this.#checkOpen();
    return (await this.#native.compact()) as unknown as CompactionResult;
  }

  /**
   * Walks every structure and checks invariants and on-disk checksums; throws
   * ERR_CORRUPTION on a problem. O(data), synchronous: for tests and tools.
   */
  verify(): void {
    if (this.#restoring) throw busy();
    this.#native.verify();
  }

  /**
   * Takes a checkpoint: the state as of this call (calls made after it are not
   * in it), written in the background; resolves once it is durable. `meta` is
   * stored with it (a stream processor keeps its source offsets there).
   * Checkpoints are written one after another, in order.
   */
  checkpoint(options?: { meta?: Uint8Array | string | undefined }): Promise<CheckpointInfo> {
    this.#checkOpen();
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      return Promise.reject(invalidArgument('checkpoint options must be an object'));
    }
    return this.#native.checkpoint(options?.meta);
  }

  /** The retained checkpoints, oldest first. */
  checkpoints(): CheckpointInfo[] {
    this.#checkOpen();
    return this.#native.checkpoints();
  }

  /** The version of the newest completed checkpoint (0 = none). */
  get version(): number {
    this.#checkOpen();
    return this.#native.version();
  }

  /**
   * Makes the live state exactly checkpoint `version` (a retained one) and
   * discards the newer checkpoints; the next checkpoint is version + 1. Other
   * calls throw ERR_BUSY until it settles. ERR_VERSION_NOT_FOUND for a version
   * that is not retained.
   */
  async restore(version: number): Promise<void> {
    this.#checkOpen();
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
      throw invalidArgument(`version must be a positive integer, got ${describe(version)}`);
    }
    this.#restoring = true;
    try {
      await this.#native.restore(version);
    } finally {
      this.#restoring = false;
    }
  }

  /**
   * Closes the store; later calls throw ERR_CLOSED. Closing twice is fine.
   * Checkpoints already taken are finished first; close does not take one.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = this.#native.close();
    }
    return this.#closing;
  }

  // Batched calls check here so that an empty batch on a closed store also
  // throws (the native side is not reached for it).
  #checkOpen(): void {
    if (this.#closed) throw new TidekvError('ERR_CLOSED', 'store is closed');
    if (this.#restoring) throw new TidekvError('ERR_BUSY', 'a restore is in progress');
  }



  // A fresh slab for get(): the old one stays alive while values point into it.
  #newOutput(needed: number): void {
    if (needed > this.#limits.maxValueBytes) {
      throw new TidekvError('ERR_CORRUPTION', `a stored value claims ${needed} bytes, over the limit`);
    }
    this.#out = newSlab(Math.max(OUTPUT_SLAB_BYTES, (needed + 7) & ~7));
    this.#outCursor = 0;
    this.#native.setOutput(this.#out);
  }

  #chunkBytes(keys: number): number {
    const wanted = Math.min(keys, GET_MANY_CHUNK) * (this.#averageValueBytes + 16);
    return Math.max(4096, Math.min(wanted, 64 * 1024 * 1024));
  }
}
