// open() options: defaults, documentation and validation at the door, so a
// mistake is reported with the option's name before any file is touched.
//
// Each engine takes the shared options and its own; an option of another
// engine given explicitly is an error naming the engines, never silently ignored.
import { invalidArgument } from './errors.js';
import {
  CompactionStyleCode,
  type NativeAppendLogOptions,
  type NativeHybridLogOptions,
  type NativeLsmOptions,
} from './native.js';

export type EngineName = 'hybridlog' | 'lsm' | 'appendlog';

export interface OpenOptions {
  /**
   * Storage engine (default `'hybridlog'`): `'hybridlog'` (hash index over a hybrid log,
   * after FASTER: fastest point updates, no ordered iteration), `'lsm'` (LSM tree: keys
   * kept in order, so `range()` works) or `'appendlog'` (after Bitcask: every write
   * appended to a segment file, an in-memory directory of where each key is; suits large
   * values). bench/ENGINES.md compares them.
   */
  engine?: EngineName | undefined;

  // ---- every engine ----

  /**
   * Bound on the engine's in-memory data (default 256 MiB); state beyond it lives in
   * files read through mmap. Hybrid log: the in-memory log pages (at least 4 pages;
   * the hash index is extra, about 16 bytes per key, reported as `stats().indexBytes`).
   * LSM: the memtables, and a cache of table blocks in what they leave.
   */
  memoryBudgetBytes?: number | undefined;
  /** Checkpoints kept on disk; older ones (and files only they need) are deleted (default 3). */
  retainCheckpoints?: number | undefined;
  /**
   * What open does when the newest checkpoint fails verification: `'strict'` (default)
   * fails with ERR_CORRUPTION naming the file; `'latest-valid'` falls back to the newest
   * checkpoint that verifies (and deletes the newer, damaged ones).
   */
  recover?: RecoverMode | undefined;

  // ---- engine 'hybridlog' only ----

  /**
   * Log page size, a power of two from 64 KiB to 256 MiB (default 4 MiB). A key
   * and value must fit in one page: the largest value is about pageBytes - 8 KiB.
   */
  pageBytes?: number | undefined;
  /**
   * Segment file size (default 64 MiB): the unit of disk reclamation. Hybrid log: a
   * multiple of pageBytes. Append log: 64 KiB to 4 GiB; a record larger than this gets a
   * segment of its own.
   */
  segmentBytes?: number | undefined;
  /** Share of in-memory pages updated in place, in (0, 1] (default 0.9). */
  mutableFraction?: number | undefined;
  /** Initial hash index buckets, a power of two (default 16384); the index doubles as it fills. */
  indexBuckets?: number | undefined;
  /** Longest time compaction holds the store lock at once, in microseconds (default 1000). */
  compactionSliceMicros?: number | undefined;
  /**
   * How a checkpoint captures the in-memory log. `'incremental'` (default) writes the
   * records changed since the previous checkpoint and keeps updating hot records in
   * place; `'fold-over'` flushes the whole log and makes every record read-only (the next
   * update of each copies it to the tail). See bench/RESULTS.md for both measured.
   */
  checkpointMode?: CheckpointMode | undefined;

  // ---- engine 'lsm' only ----

  /**
   * A memtable is frozen and flushed to a table once it holds this many bytes
   * (at least 64 KiB; default memoryBudgetBytes / 8, at most 64 MiB). memtableBytes ×
   * (maxImmutableMemtables + 1) must fit in memoryBudgetBytes; the rest caches table blocks.
   */
  memtableBytes?: number | undefined;
  /** Frozen memtables waiting for the flush thread at most; one more switch waits for it (default 2). */
  maxImmutableMemtables?: number | undefined;
  /**
   * `'leveled'` (default): one sorted run per level below level 0, each level
   * levelSizeRatio times the one above; low read and space amplification.
   * `'size-tiered'`: up to runsPerLevel runs per level, merged into one run of the
   * next level when the level is full; low write amplification, more runs to read.
   */
  compactionStyle?: CompactionStyle | undefined;
  /** Runs of level 0 (leveled) or of any level (size-tiered) that trigger its compaction (default 4). */
  runsPerLevel?: number | undefined;
  /** Leveled: level n+1 holds this many times the bytes of level n (default 10). */
  levelSizeRatio?: number | undefined;
  /** Leveled: the size of level 1 (default: 4 memtables). */
  level1Bytes?: number | undefined;
  /** A compaction closes an output table at this size (default: memtableBytes). */
  targetTableBytes?: number | undefined;
  /** Writes slow down once level 0 (leveled) or the fullest level (size-tiered) holds this many runs (default 12). */
  slowdownRuns?: number | undefined;
  /** ... and wait for compaction once it holds this many (default 24). */
  stopRuns?: number | undefined;
  /** Bloom filter bits per key, 0 for no filters (default 10: about 1% false positives). */
  bloomBitsPerKey?: number | undefined;
  /** Table data block size, the unit a read checks the CRC of (default 4096). */
  blockBytes?: number | undefined;

  // ---- engine 'appendlog' only (and segmentBytes above) ----

  /**
   * A sealed segment is merged (its live records rewritten, the file dropped) by a
   * background thread once this share of its bytes is dead, in (0, 1] (default 0.5).
   */
  mergeDeadRatio?: number | undefined;
}

export type CheckpointMode = 'incremental' | 'fold-over';
export type RecoverMode = 'strict' | 'latest-valid';
export type CompactionStyle = 'leveled' | 'size-tiered';

interface SharedResolved {
  retainCheckpoints: number;
  recover: RecoverMode;
  memoryBudgetBytes: number;
}

export interface ResolvedHybridLogOptions extends SharedResolved {
  engine: 'hybridlog';
  checkpointMode: CheckpointMode;
  pageBytes: number;
  segmentBytes: number;
  mutableFraction: number;
  indexBuckets: number;
  compactionSliceMicros: number;
}

export interface ResolvedLsmOptions extends SharedResolved {
  engine: 'lsm';
  compactionStyle: CompactionStyle;
  // undefined: derived by the engine from other options (see OpenOptions).
  memtableBytes: number | undefined;
  level1Bytes: number | undefined;
  targetTableBytes: number | undefined;
  maxImmutableMemtables: number;
  runsPerLevel: number;
  levelSizeRatio: number;
  slowdownRuns: number;
  stopRuns: number;
  bloomBitsPerKey: number;
  blockBytes: number;
}

export interface ResolvedAppendLogOptions extends SharedResolved {
  engine: 'appendlog';
  segmentBytes: number;
  mergeDeadRatio: number;
}

export type ResolvedOptions = ResolvedHybridLogOptions | ResolvedLsmOptions | ResolvedAppendLogOptions;

const SHARED_DEFAULTS: Readonly<SharedResolved> = {
  retainCheckpoints: 3,
  recover: 'strict',
  memoryBudgetBytes: 256 * 1024 * 1024,
};

export const DEFAULT_OPTIONS: Readonly<ResolvedHybridLogOptions> = Object.freeze({
  ...SHARED_DEFAULTS,
  engine: 'hybridlog',
  checkpointMode: 'incremental',
  pageBytes: 4 * 1024 * 1024,
  segmentBytes: 64 * 1024 * 1024,
  mutableFraction: 0.9,
  indexBuckets: 16384,
  compactionSliceMicros: 1000,
});

export const DEFAULT_LSM_OPTIONS: Readonly<ResolvedLsmOptions> = Object.freeze({
  ...SHARED_DEFAULTS,
  engine: 'lsm',
  compactionStyle: 'leveled',
  memtableBytes: undefined,
  level1Bytes: undefined,
  targetTableBytes: undefined,
  maxImmutableMemtables: 2,
  runsPerLevel: 4,
  levelSizeRatio: 10,
  slowdownRuns: 12,
  stopRuns: 24,
  bloomBitsPerKey: 10,
  blockBytes: 4096,
});

export const DEFAULT_APPENDLOG_OPTIONS: Readonly<ResolvedAppendLogOptions> = Object.freeze({
  ...SHARED_DEFAULTS,
  engine: 'appendlog',
  segmentBytes: 64 * 1024 * 1024,
  mergeDeadRatio: 0.5,
});

const ENGINE_NAMES: readonly EngineName[] = ['hybridlog', 'lsm', 'appendlog'];
const SHARED_OPTION_NAMES: ReadonlySet<string> = new Set(['engine', 'memoryBudgetBytes', 'retainCheckpoints', 'recover']);
/** Names a user may pass to every engine, checked by each (only the hybrid log has fold-over checkpoints). */
const ACCEPTED_BY_ALL: ReadonlySet<string> = new Set(['checkpointMode']);
/** The options each engine takes beyond the shared ones. */
const ENGINE_OPTION_NAMES: Readonly<Record<EngineName, ReadonlySet<string>>> = {
  hybridlog: new Set(Object.keys(DEFAULT_OPTIONS).filter((name) => !SHARED_OPTION_NAMES.has(name))),
  lsm: new Set(Object.keys(DEFAULT_LSM_OPTIONS).filter((name) => !SHARED_OPTION_NAMES.has(name))),
  appendlog: new Set(Object.keys(DEFAULT_APPENDLOG_OPTIONS).filter((name) => !SHARED_OPTION_NAMES.has(name))),
};

const MAX_U32 = 2 ** 32 - 1;

const HYBRIDLOG_INTEGER_OPTIONS = ['pageBytes', 'segmentBytes', 'indexBuckets', 'compactionSliceMicros'] as const;
// Byte sizes the engine keeps in 64 bits, and counts it keeps in 32.
const LSM_SIZE_OPTIONS = ['memtableBytes', 'level1Bytes', 'targetTableBytes'] as const;
const LSM_COUNT_OPTIONS = [
  'maxImmutableMemtables',
  'runsPerLevel',
  'levelSizeRatio',
  'slowdownRuns',
  'stopRuns',
  'blockBytes',
] as const;

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined || options === null) return { ...DEFAULT_OPTIONS };
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options must be an object');
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!SHARED_OPTION_NAMES.has(name) && !ENGINE_NAMES.some((e) => ENGINE_OPTION_NAMES[e].has(name))) {
      throw invalidArgument(`unknown option '${name}'`);
    }
  }
  const engine = given['engine'] === undefined ? 'hybridlog' : given['engine'];
  if (!ENGINE_NAMES.includes(engine as EngineName)) {
    throw invalidArgument(`option engine must be 'hybridlog', 'lsm' or 'appendlog', got ${describe(engine)}`);
  }
  const chosen = engine as EngineName;
  for (const name of Object.keys(given)) {
    if (given[name] === undefined || SHARED_OPTION_NAMES.has(name) || ACCEPTED_BY_ALL.has(name)) continue;
    if (ENGINE_OPTION_NAMES[chosen].has(name)) continue;
    const owners = ENGINE_NAMES.filter((e) => ENGINE_OPTION_NAMES[e].has(name)).map((e) => `'${e}'`);
    const belongs = owners.length === 1 ? `engine ${owners[0]}` : `engines ${owners.join(' and ')}`;
    throw invalidArgument(`option ${name} belongs to ${belongs}; engine '${chosen}' does not take it`);
  }
  const shared: SharedResolved = { ...SHARED_DEFAULTS };
  for (const name of ['memoryBudgetBytes', 'retainCheckpoints'] as const) {
    const value = readInteger(given, name, 1, Number.MAX_SAFE_INTEGER);
    if (value !== undefined) shared[name] = value;
  }
  const recover = given['recover'];
  if (recover !== undefined) {
    if (recover !== 'strict' && recover !== 'latest-valid') {
      throw invalidArgument(`option recover must be 'strict' or 'latest-valid', got ${describe(recover)}`);
    }
    shared.recover = recover;
  }
  switch (chosen) {
    case 'lsm':
      return resolveLsm(given, shared);
    case 'appendlog':
      return resolveAppendLog(given, shared);
    case 'hybridlog':
      return resolveHybridLog(given, shared);
  }
}

function resolveAppendLog(given: Record<string, unknown>, shared: SharedResolved): ResolvedAppendLogOptions {
  const resolved: ResolvedAppendLogOptions = { ...DEFAULT_APPENDLOG_OPTIONS, ...shared };
  const mode = given['checkpointMode'];
  if (mode !== undefined && mode !== 'incremental') {
    throw invalidArgument(
      `option checkpointMode: engine 'appendlog' checkpoints are always incremental (they add the bytes appended since), got ${describe(mode)}`,
    );
  }
  const segmentBytes = readInteger(given, 'segmentBytes', 1, Number.MAX_SAFE_INTEGER);
  if (segmentBytes !== undefined) resolved.segmentBytes = segmentBytes;
  const ratio = given['mergeDeadRatio'];
  if (ratio !== undefined) {
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) {
      throw invalidArgument(`option mergeDeadRatio must be a number in (0, 1], got ${describe(ratio)}`);
    }
    resolved.mergeDeadRatio = ratio;
  }
  return resolved;
}

function resolveHybridLog(given: Record<string, unknown>, shared: SharedResolved): ResolvedHybridLogOptions {
  const resolved: ResolvedHybridLogOptions = { ...DEFAULT_OPTIONS, ...shared };
  for (const name of HYBRIDLOG_INTEGER_OPTIONS) {
    const value = readInteger(given, name, 1, Number.MAX_SAFE_INTEGER);
    if (value !== undefined) resolved[name] = value;
  }
  const mode = given['checkpointMode'];
  if (mode !== undefined) {
    if (mode !== 'incremental' && mode !== 'fold-over') {
      throw invalidArgument(`option checkpointMode must be 'incremental' or 'fold-over', got ${describe(mode)}`);
    }
    resolved.checkpointMode = mode;
  }
  const fraction = given['mutableFraction'];
  if (fraction !== undefined) {
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
      throw invalidArgument(`option mutableFraction must be a number in (0, 1], got ${describe(fraction)}`);
    }
    resolved.mutableFraction = fraction;
  }
  return resolved;
}

// Types and integer ranges are checked here; the engine checks how the
// options relate (e.g. the memtable within the budget) and names the option.
function resolveLsm(given: Record<string, unknown>, shared: SharedResolved): ResolvedLsmOptions {
  const resolved: ResolvedLsmOptions = { ...DEFAULT_LSM_OPTIONS, ...shared };
  const mode = given['checkpointMode'];
  if (mode !== undefined && mode !== 'incremental') {
    throw invalidArgument(
      `option checkpointMode: engine 'lsm' checkpoints are always incremental (they add only new tables), got ${describe(mode)}`,
    );
  }
  for (const name of LSM_SIZE_OPTIONS) {
    const value = readInteger(given, name, 1, Number.MAX_SAFE_INTEGER);
    if (value !== undefined) resolved[name] = value;
  }
  for (const name of LSM_COUNT_OPTIONS) {
    const value = readInteger(given, name, 1, MAX_U32);
    if (value !== undefined) resolved[name] = value;
  }
  const bloom = readInteger(given, 'bloomBitsPerKey', 0, MAX_U32);
  if (bloom !== undefined) resolved.bloomBitsPerKey = bloom;
  const style = given['compactionStyle'];
  if (style !== undefined) {
    if (style !== 'leveled' && style !== 'size-tiered') {
      throw invalidArgument(`option compactionStyle must be 'leveled' or 'size-tiered', got ${describe(style)}`);
    }
    resolved.compactionStyle = style;
  }
  return resolved;
}

/** given[name] as an integer in [min, max], or undefined when absent. */
function readInteger(given: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = given[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = min === 0 ? 'a non-negative integer' : 'a positive integer';
    const bound = max === MAX_U32 ? ` of at most ${MAX_U32}` : '';
    throw invalidArgument(`option ${name} must be ${range}${bound}, got ${describe(value)}`);
  }
  return value;
}

export function nativeHybridLogOptions(o: ResolvedHybridLogOptions): NativeHybridLogOptions {
  return {
    memoryBudgetBytes: o.memoryBudgetBytes,
    pageBytes: o.pageBytes,
    segmentBytes: o.segmentBytes,
    mutableFraction: o.mutableFraction,
    indexBuckets: o.indexBuckets,
    compactionSliceMicros: o.compactionSliceMicros,
    retainCheckpoints: o.retainCheckpoints,
    foldOver: o.checkpointMode === 'fold-over',
    recoverLatestValid: o.recover === 'latest-valid',
  };
}

export function nativeLsmOptions(o: ResolvedLsmOptions): NativeLsmOptions {
  return {
    memoryBudgetBytes: o.memoryBudgetBytes,
    memtableBytes: o.memtableBytes,
    maxImmutableMemtables: o.maxImmutableMemtables,
    compactionStyle: o.compactionStyle === 'size-tiered' ? CompactionStyleCode.SizeTiered : CompactionStyleCode.Leveled,
    runsPerLevel: o.runsPerLevel,
    levelSizeRatio: o.levelSizeRatio,
    level1Bytes: o.level1Bytes,
    targetTableBytes: o.targetTableBytes,
    slowdownRuns: o.slowdownRuns,
    stopRuns: o.stopRuns,
    bloomBitsPerKey: o.bloomBitsPerKey,
    blockBytes: o.blockBytes,
    retainCheckpoints: o.retainCheckpoints,
    recoverLatestValid: o.recover === 'latest-valid',
  };
}

export function nativeAppendLogOptions(o: ResolvedAppendLogOptions): NativeAppendLogOptions {
  return {
    memoryBudgetBytes: o.memoryBudgetBytes,
    segmentBytes: o.segmentBytes,
    mergeDeadRatio: o.mergeDeadRatio,
    retainCheckpoints: o.retainCheckpoints,
    recoverLatestValid: o.recover === 'latest-valid',
  };
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
