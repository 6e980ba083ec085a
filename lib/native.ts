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
  capabilities(): { ordered: boolean };
  /**
   * Opens a cursor over the range (the view is taken now; ERR_UNSUPPORTED on
   * an engine that is not ordered). It is freed by rangeClose, once
   * exhausted, when the store closes, or by GC.
   */
  rangeOpen(options: NativeRangeOptions): NativeRangeCursor;
  /**
   * Packs the next entries into `out` from offset 0, each as u32 LE key
   * length, u32 LE value length, key bytes, value bytes. Returns n > 0: n
   * entries packed; 0: the range is exhausted; n < 0: the next entry needs
   * -n bytes of `out` (nothing packed). ERR_CLOSED after close().
   */
  rangeNext(cursor: NativeRangeCursor, out: Uint8Array): number;
  rangeClose(cursor: NativeRangeCursor): void;
}

/** A native range cursor: an opaque, type-tagged External. */
export interface NativeRangeCursor {
  readonly __nativeRangeCursor: never;
}

/** At most one of gt / gte and of lt / lte; omitted ends are open. */
export interface NativeRangeOptions {
  gt?: NativeKey | undefined;
  gte?: NativeKey | undefined;
  lt?: NativeKey | undefined;
  lte?: NativeKey | undefined;
  reverse?: boolean | undefined;
  /** A non-negative safe integer; no limit when absent. */
  limit?: number | undefined;
}

/** LsmOptions::compaction_style (native/lsm/lsm_engine.h LsmCompactionStyle). */
export const enum CompactionStyleCode {
  Leveled = 1,
  SizeTiered = 2,
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

/** native/lsm/lsm_engine.h LsmOptions; absent = the engine's default. */
export interface NativeLsmOptions {
  memoryBudgetBytes?: number | undefined;
  memtableBytes?: number | undefined;
  maxImmutableMemtables?: number | undefined;
  compactionStyle?: CompactionStyleCode | undefined;
  runsPerLevel?: number | undefined;
  levelSizeRatio?: number | undefined;
  level1Bytes?: number | undefined;
  targetTableBytes?: number | undefined;
  slowdownRuns?: number | undefined;
  stopRuns?: number | undefined;
  bloomBitsPerKey?: number | undefined;
  blockBytes?: number | undefined;
  retainCheckpoints?: number | undefined;
  recoverLatestValid?: boolean | undefined;
}

/** native/appendlog/append_log.h AppendLogOptions; absent = the engine's default. */
export interface NativeAppendLogOptions {
  memoryBudgetBytes?: number | undefined;
  segmentBytes?: number | undefined;
  mergeDeadRatio?: number | undefined;
  retainCheckpoints?: number | undefined;
  recoverLatestValid?: boolean | undefined;
}

interface Addon {
  setErrorFactory(factory: (status: number, message: string) => Error): void;
  openHybridLog(dir: string, options: NativeHybridLogOptions): Promise<NativeStore>;
  openLsm(dir: string, options: NativeLsmOptions): Promise<NativeStore>;
  openAppendLog(dir: string, options: NativeAppendLogOptions): Promise<NativeStore>;
  noop(): void;
  statusCodeCount: number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const addon: Addon = require('../build/Release/tidekv.node') as Addon;
addon.setErrorFactory(errorFromStatus);
