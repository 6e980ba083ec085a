// The addon's surface, typed. Only lib/ talks to it; users see Store.
import { errorFromStatus } from './errors.js';

export type NativeKey = Uint8Array | string;

/** Operation codes of applyBatch (native/binding/engine_handle.cc BatchCode). */
export const enum BatchCode {
  Put = 1,
  Delete = 2,
  Increment = 3,
  Append = 4,
}

export interface NativeStore {
  setOutput(out: Uint8Array): void;
  /** >= 0: value length in the output buffer; -1: absent; <= -2: needs -n - 2 bytes. */
  get(key: NativeKey): number;
  /** keys: an array, or every key joined by '\0' (-1: the joined form did not split into `total` keys). */
  getMany(keys: readonly NativeKey[] | string, total: number, start: number, out: Uint8Array, lengths: Int32Array): number;
  has(key: NativeKey): boolean;
  put(key: NativeKey, value: NativeKey): void;
  delete(key: NativeKey): boolean;
  increment(key: NativeKey, delta?: number | bigint): bigint;
  append(key: NativeKey, bytes: NativeKey): void;
  /**
   * keys: an array, or every key joined by '\0'; values: an array, or every
   * operation's bytes back to back (deltas as int64 LE) with their lengths.
   * Returns -1 when the joined keys did not split into types.length keys.
   */
  applyBatch(
    types: Uint8Array,
    keys: readonly unknown[] | string,
    values: readonly unknown[] | Uint8Array,
    valueLengths?: Int32Array,
    addResults?: BigInt64Array,
  ): number;
  stats(): Record<string, number>;
  maxValueBytes(): number;
  verify(): void;
  compact(): Promise<Record<string, number>>;
  checkpoint(meta?: Uint8Array | string): Promise<NativeCheckpointInfo>;
  checkpoints(): NativeCheckpointInfo[];
  version(): number;
  restore(version: number): Promise<void>;
  close(): Promise<void>;
}

export interface NativeCheckpointInfo {
  version: number;
  bytesWritten: number;
  totalBytes: number;
  pauseMs: number;
  durationMs: number;
  createdAt: number;
  meta: Buffer | string | undefined;
}

export interface NativeHybridLogOptions {
  memoryBudgetBytes?: number;
  pageBytes?: number;
  segmentBytes?: number;
  mutableFraction?: number;
  indexBuckets?: number;
  compactionSliceMicros?: number;
  retainCheckpoints?: number;
  foldOver?: boolean;
  recoverLatestValid?: boolean;
}

interface Addon {
  setErrorFactory(factory: (status: number, message: string) => Error): void;
  openHybridLog(dir: string, options: NativeHybridLogOptions): Promise<NativeStore>;
  noop(): void;
  statusCodeCount: number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const addon: Addon = require('../build/Release/tidekv.node') as Addon;
addon.setErrorFactory(errorFromStatus);
