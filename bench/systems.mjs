// The stores bench/engines.mjs compares, and how each is opened: tidekv's
// engines at their default options (what a user gets from
// `open(dir, { engine })`), lmdb-js and classic-level as bench/run.mjs opens
// them. Shared with bench/memory-probe.mjs, which measures one of them in a
// process of its own.
import { createRequire } from 'node:module';
import { loadWithRetry } from './common.mjs';

const require = createRequire(import.meta.url);

export const ENGINE_NAMES = ['hybridlog', 'lsm', 'appendlog'];
export const PEER_NAMES = ['lmdb', 'classic-level'];

/** 'tidekv', 'lmdb' or 'level': which calls a system takes. */
export const kindOf = (name) => (ENGINE_NAMES.includes(name) ? 'tidekv' : name === 'lmdb' ? 'lmdb' : 'level');

// lmdb-js as bench/run.mjs opens it: no fsync (tidekv syncs only at
// checkpoints), raw Buffers, no zero-fill of new pages. The map (the largest
// the file may grow to) holds the large-value section's gigabyte with room.
const LMDB_OPTIONS = { noSync: true, encoding: 'binary', noMemInit: true, mapSize: 8 * 1024 ** 3 };
// classic-level at its defaults (4 MiB write buffer, snappy), Buffers out.
const LEVEL_OPTIONS = { keyEncoding: 'utf8', valueEncoding: 'buffer' };

export const OPTIONS_TEXT = {
  tidekv: '`open(dir, { engine })`: default options (memoryBudgetBytes 256 MiB)',
  lmdb: 'lmdb-js `open({ noSync: true, encoding: "binary", noMemInit: true, mapSize: 8 GiB })`',
  level: 'classic-level defaults (LevelDB: 4 MiB write buffer, 8 MiB block cache, snappy, no sync), `valueEncoding: "buffer"`',
};

let tidekv;
let lmdbOpen;
let ClassicLevel;

/** Loads the module behind a system (tidekv may be mid-rebuild: retried); openStore does it when needed. */
export async function loadSystem(name) {
  const kind = kindOf(name);
  if (kind === 'tidekv') tidekv ??= await loadWithRetry('dist/index.js', () => require('../dist/index.js'));
  else if (kind === 'lmdb') lmdbOpen ??= (await import('lmdb')).open;
  else ClassicLevel ??= (await import('classic-level')).ClassicLevel;
}

/** Opens the named system's store in dir (an empty directory for a new one). */
export async function openStore(name, dir) {
  const kind = kindOf(name);
  await loadSystem(name);
  if (kind === 'tidekv') return tidekv.open(dir, { engine: name });
  if (kind === 'lmdb') return lmdbOpen({ path: dir, ...LMDB_OPTIONS });
  const db = new ClassicLevel(dir, LEVEL_OPTIONS);
  await db.open();
  return db;
}
