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
  getMany(keys: readonly NativeKey[], start: number, out: Uint8Array, lengths: Int32Array): number;
  has(key: NativeKey): boolean;
  put(key: NativeKey, value: NativeKey): void;
  delete(key: NativeKey): boolean;
  increment(key: NativeKey, delta?: number | bigint): bigint;
  append(key: NativeKey, bytes: NativeKey): void;
  applyBatch(types: Uint8Array, keys: readonly unknown[], values: readonly unknown[]): void;
  stats(): Record<string, number>;
  maxValueBytes(): number;
  verify(): void;
  compact(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export interface NativeHybridLogOptions {
  memoryBudgetBytes?: number;
  pageBytes?: number;
  segmentBytes?: number;
  mutableFraction?: number;
  indexBuckets?: number;
  compactionSliceMicros?: number;
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
