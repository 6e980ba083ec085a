// open() options: defaults, documentation and validation at the door, so a
// mistake is reported with the option's name before any file is touched.
import { invalidArgument, TidekvError } from './errors.js';

export type EngineName = 'hybridlog' | 'lsm' | 'appendlog';

export interface OpenOptions {
  /** Storage engine. Default `'hybridlog'`. `'lsm'` and `'appendlog'` are not available yet. */
  engine?: EngineName | undefined;
  /**
   * Bound on the engine's in-memory data pages (default 256 MiB). State beyond it
   * lives in files read through mmap. The hash index is extra: about 16 bytes per
   * key, reported as `stats().indexBytes`.
   */
  memoryBudgetBytes?: number | undefined;
  /**
   * Log page size, a power of two from 64 KiB to 256 MiB (default 4 MiB). A key
   * and value must fit in one page: the largest value is about pageBytes - 8 KiB.
   */
  pageBytes?: number | undefined;
  /** Segment file size, a multiple of pageBytes (default 64 MiB): the unit of disk reclamation. */
  segmentBytes?: number | undefined;
  /** Share of in-memory pages updated in place, in (0, 1] (default 0.9). */
  mutableFraction?: number | undefined;
  /** Initial hash index buckets, a power of two (default 16384); the index doubles as it fills. */
  indexBuckets?: number | undefined;
  /** Longest time compaction holds the store lock at once, in microseconds (default 1000). */
  compactionSliceMicros?: number | undefined;
  /** Checkpoints kept on disk; older ones (and files only they need) are deleted (default 3). */
  retainCheckpoints?: number | undefined;
  /**
   * How a checkpoint captures the in-memory log. `'incremental'` (default) writes the
   * records changed since the previous checkpoint and keeps updating hot records in
   * place; `'fold-over'` flushes the whole log and makes every record read-only (the next
   * update of each copies it to the tail). See bench/RESULTS.md for both measured.
   */
  checkpointMode?: CheckpointMode | undefined;
  /**
   * What open does when the newest checkpoint fails verification: `'strict'` (default)
   * fails with ERR_CORRUPTION naming the file; `'latest-valid'` falls back to the newest
   * checkpoint that verifies (and deletes the newer, damaged ones).
   */
  recover?: RecoverMode | undefined;
}

export type CheckpointMode = 'incremental' | 'fold-over';
export type RecoverMode = 'strict' | 'latest-valid';

export interface ResolvedOptions {
  engine: EngineName;
  retainCheckpoints: number;
  checkpointMode: CheckpointMode;
  recover: RecoverMode;
  memoryBudgetBytes: number;
  pageBytes: number;
  segmentBytes: number;
  mutableFraction: number;
  indexBuckets: number;
  compactionSliceMicros: number;
}

export const DEFAULT_OPTIONS: Readonly<ResolvedOptions> = Object.freeze({
  engine: 'hybridlog',
  retainCheckpoints: 3,
  checkpointMode: 'incremental',
  recover: 'strict',
  memoryBudgetBytes: 256 * 1024 * 1024,
  pageBytes: 4 * 1024 * 1024,
  segmentBytes: 64 * 1024 * 1024,
  mutableFraction: 0.9,
  indexBuckets: 16384,
  compactionSliceMicros: 1000,
});

const INTEGER_OPTIONS = [
  'memoryBudgetBytes',
  'pageBytes',
  'segmentBytes',
  'indexBuckets',
  'compactionSliceMicros',
  'retainCheckpoints',
] as const;

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined || options === null) return { ...DEFAULT_OPTIONS };
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options must be an object');
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(DEFAULT_OPTIONS, name)) throw invalidArgument(`unknown option '${name}'`);
  }
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS };
  const engine = given['engine'];
  if (engine !== undefined) {
    if (engine === 'lsm' || engine === 'appendlog') {
      throw new TidekvError('ERR_INVALID_ARG', `engine '${engine}' is not available yet; use 'hybridlog'`);
    }
    if (engine !== 'hybridlog') {
      throw invalidArgument(`option engine must be 'hybridlog', 'lsm' or 'appendlog', got ${describe(engine)}`);
    }
    resolved.engine = engine;
  }
  for (const name of INTEGER_OPTIONS) {
    const value = given[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw invalidArgument(`option ${name} must be a positive integer, got ${describe(value)}`);
    }
    resolved[name] = value;
  }
  const mode = given['checkpointMode'];
  if (mode !== undefined) {
    if (mode !== 'incremental' && mode !== 'fold-over') {
      throw invalidArgument(`option checkpointMode must be 'incremental' or 'fold-over', got ${describe(mode)}`);
    }
    resolved.checkpointMode = mode;
  }
  const recover = given['recover'];
  if (recover !== undefined) {
    if (recover !== 'strict' && recover !== 'latest-valid') {
      throw invalidArgument(`option recover must be 'strict' or 'latest-valid', got ${describe(recover)}`);
    }
    resolved.recover = recover;
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

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
