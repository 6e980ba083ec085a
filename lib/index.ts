// tidekv: an embedded, transactional state store for stream processors.
// This file is the whole public API; everything else in lib/ is internal.
import { invalidArgument } from './errors.js';
import { addon } from './native.js';
import {
  describe,
  nativeAppendLogOptions,
  nativeHybridLogOptions,
  nativeLsmOptions,
  resolveOptions,
  type OpenOptions,
} from './options.js';
import { Store } from './store.js';

export { TidekvError, type TidekvErrorCode } from './errors.js';
export type { CheckpointMode, CompactionStyle, EngineName, OpenOptions, RecoverMode } from './options.js';
export type {
  Capabilities,
  CheckpointInfo,
  CompactionResult,
  Key,
  Limits,
  Op,
  RangeOptions,
  Stats,
  Value,
} from './store.js';
export { Store };

/**
 * Opens (creating if needed) the store in directory `dir` and recovers its
 * newest checkpoint: the state is exactly what that checkpoint holds (writes
 * after it are gone by design; replay them from the offsets in its `meta`).
 * The directory is owned by one open store at a time: a second open gets
 * ERR_LOCKED.
 */
export async function open(dir: string, options?: OpenOptions): Promise<Store> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw invalidArgument(`dir must be a non-empty string, got ${describe(dir)}`);
  }
  if (dir.includes('\0')) throw invalidArgument('dir must not contain NUL characters');
  const resolved = resolveOptions(options);
  const native =
    resolved.engine === 'lsm'
      ? await addon.openLsm(dir, nativeLsmOptions(resolved))
      : resolved.engine === 'appendlog'
        ? await addon.openAppendLog(dir, nativeAppendLogOptions(resolved))
        : await addon.openHybridLog(dir, nativeHybridLogOptions(resolved));
  return Store.create(native, resolved.engine);
}
