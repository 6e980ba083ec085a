// Store: one engine, in this thread, synchronous point operations.
//
// Reads avoid the dominant cost of the boundary (a Buffer created in native
// code costs ~10x a lookup): the addon copies a value into an output buffer
// this object owns, and JS copies the bytes into a fresh Buffer from Node's
// pool. getMany packs every result of a chunk into one fresh buffer and hands
// out views of it.
import { invalidArgument, TidekvError } from './errors.js';
import { BatchCode, type NativeStore } from './native.js';
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

const INITIAL_OUTPUT_BYTES = 64 * 1024;
const GET_MANY_CHUNK = 4096;

const BATCH_CODES: Readonly<Record<string, BatchCode>> = {
  put: BatchCode.Put,
  delete: BatchCode.Delete,
  increment: BatchCode.Increment,
  append: BatchCode.Append,
};

const constructing = Symbol('tidekv.Store');

export class Store {
  readonly #native: NativeStore;
  readonly #engine: EngineName;
  readonly #limits: Limits;
  #out: Buffer;
  #lengths = new Int32Array(GET_MANY_CHUNK);
  #averageValueBytes = 128;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Stores are made by open(). */
  constructor(token: symbol, native: NativeStore, engine: EngineName) {
    if (token !== constructing) throw new TypeError('use open() to create a Store');
    this.#native = native;
    this.#engine = engine;
    this.#out = Buffer.allocUnsafeSlow(INITIAL_OUTPUT_BYTES);
    native.setOutput(this.#out);
    this.#limits = Object.freeze({
      maxKeyBytes: MAX_KEY_BYTES,
      maxValueBytes: native.maxValueBytes(),
      maxBatchOps: MAX_BATCH_OPS,
    });
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
    return { ordered: false };
  }
  get limits(): Limits {
    return this.#limits;
  }

  /** The value of key (a new Buffer), or undefined. */
  get(key: Key): Buffer | undefined {
    const n = this.#native.get(key);
    if (n >= 0) {
      const value = Buffer.allocUnsafe(n);
      this.#out.copy(value, 0, 0, n);
      return value;
    }
    if (n === -1) return undefined;
    this.#growOutput(-n - 2);
    return this.get(key);
  }

  /** Values of many keys in one native call; results in the order of keys. */
  getMany(keys: readonly Key[]): (Buffer | undefined)[] {
    if (!Array.isArray(keys)) throw invalidArgument(`keys must be an array, got ${describe(keys)}`);
    const results: (Buffer | undefined)[] = new Array<Buffer | undefined>(keys.length);
    const lengths = this.#lengths;
    let start = 0;
    let bytes = this.#chunkBytes(keys.length);
    while (start < keys.length) {
      // A fresh buffer per chunk: the returned Buffers are views of it.
      const out = Buffer.allocUnsafeSlow(bytes);
      const answered = this.#native.getMany(keys, start, out, lengths);
      if (answered === 0) {
        bytes = Math.max(bytes * 2, -(lengths[0] ?? -2) - 2);
        continue;
      }
      let offset = 0;
      for (let i = 0; i < answered; i++) {
        const length = lengths[i]!;
        if (length < 0) {
          results[start + i] = undefined;
        } else {
          results[start + i] = out.subarray(offset, offset + length);
          offset += length;
        }
      }
      if (answered > 0 && offset > 0) this.#averageValueBytes = Math.ceil(offset / answered);
      start += answered;
      bytes = this.#chunkBytes(keys.length - start);
    }
    return results;
  }

  has(key: Key): boolean {
    return this.#native.has(key);
  }

  put(key: Key, value: Value): void {
    this.#native.put(key, value);
  }

  /** Removes key; true when a live value was removed. */
  delete(key: Key): boolean {
    return this.#native.delete(key);
  }

  /**
   * Adds delta (default 1) to the int64 little-endian counter at key, created at 0,
   * and returns the new value. ERR_TYPE_MISMATCH when the value is not 8 bytes,
   * ERR_OVERFLOW when the sum leaves int64.
   */
  increment(key: Key, delta?: number | bigint): bigint {
    return this.#native.increment(key, delta);
  }

  /** Appends bytes to the value at key (created empty). */
  append(key: Key, bytes: Value): void {
    this.#native.append(key, bytes);
  }

  /**
   * Applies ops in order in one native call. Increments and appends are checked
   * against the stored data first, so a batch that fails for them writes nothing.
   */
  batch(ops: readonly Op[]): void {
    if (!Array.isArray(ops)) throw invalidArgument(`ops must be an array, got ${describe(ops)}`);
    const n = ops.length;
    const types = new Uint8Array(n);
    const keys = new Array<unknown>(n);
    const values = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const op = ops[i] as Partial<Record<string, unknown>> | undefined;
      if (op === null || typeof op !== 'object') throw invalidArgument(`ops[${i}] must be an object`);
      const code = BATCH_CODES[op['type'] as string];
      if (code === undefined) {
        throw invalidArgument(`ops[${i}].type must be 'put', 'delete', 'increment' or 'append', got ${describe(op['type'])}`);
      }
      types[i] = code;
      keys[i] = op['key'];
      values[i] = code === BatchCode.Increment ? op['delta'] : op['value'];
    }
    this.#native.applyBatch(types, keys, values);
  }

  stats(): Stats {
    return this.#native.stats() as Stats;
  }

  /** Reclaims dead records on a native thread; calls keep working meanwhile. */
  async compact(): Promise<CompactionResult> {
    return (await this.#native.compact()) as unknown as CompactionResult;
  }

  /**
   * Walks every structure and checks invariants and on-disk checksums; throws
   * ERR_CORRUPTION on a problem. O(data), synchronous: for tests and tools.
   */
  verify(): void {
    this.#native.verify();
  }

  /** Closes the store; later calls throw ERR_CLOSED. Closing twice is fine. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = this.#native.close();
    }
    return this.#closing;
  }

  #growOutput(needed: number): void {
    if (needed > this.#limits.maxValueBytes) {
      throw new TidekvError('ERR_CORRUPTION', `a stored value claims ${needed} bytes, over the limit`);
    }
    let size = this.#out.length;
    while (size < needed) size *= 2;
    this.#out = Buffer.allocUnsafeSlow(size);
    this.#native.setOutput(this.#out);
  }

  #chunkBytes(keys: number): number {
    const wanted = Math.min(keys, GET_MANY_CHUNK) * (this.#averageValueBytes + 16);
    return Math.max(4096, Math.min(wanted, 64 * 1024 * 1024));
  }
}
