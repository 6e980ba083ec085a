#!/usr/bin/env node
// The LSM engine (engine: 'lsm') side by side with tidekv's hybrid log and
// classic-level (LevelDB), all in one process, on the same pre-drawn key
// sequences (issue 4):
//
//   - throughput, db_bench style and YCSB: fillrandom, fillseq, overwrite,
//     readrandom (hits), readmissing (misses), YCSB A / B / C zipfian, RMW,
//     scans of 100 keys from random start keys;
//   - write stalls: batch latency percentiles and the engine's stall counters
//     during a heavy overwrite with small memtables, leveled and size-tiered;
//   - space amplification after 10x overwrite, before and after compact();
//   - checkpoints: bytes written against the bytes changed by 1% updates, and
//     recovery time (open + first get) after 1, 5 and 20 checkpoints.
//
//   node bench/lsm.mjs [flags]           --help lists them
//
// Progress goes to stderr, the markdown report to stdout; --json FILE writes
// the raw numbers. Each system is called through its fastest API for the
// workload (batched: putMany / getMany / incrementMany for tidekv, awaited
// batch() / chained batch / getMany per 1000 ops for classic-level) and through
// single calls (tidekv get / put / increment; classic-level getSync and awaited
// put). Throughput cells are hand-timed loops over a pre-drawn sequence, warmed
// up, repeated --reps times with the systems interleaved (order rotated each
// repetition) and the median reported, as in bench/run.mjs. Every section checks
// what it read (bytes, entries, counter values, the values after recovery), so
// a broken call cannot be measured as a fast one.
//
// tidekv is loaded from dist/ (npm run build:ts) and build/Release/tidekv.node.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { T_START, createCli, createTempDirs, gitCommit, i64Buffer, loadWithRetry, log, median, readI64, sleep, table } from './common.mjs';
import { VALUE_BYTES, counterKeyName, makeCounterKeys, makeKeys, permutation, rng, uniformSequence, writeMask, zipfianSequence } from './workload.mjs';

const require = createRequire(import.meta.url);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

// ---------------------------------------------------------------- options --

const THROUGHPUT = ['fillrandom', 'fillseq', 'overwrite', 'readrandom', 'readmissing', 'ycsb-a', 'ycsb-b', 'ycsb-c', 'rmw', 'scan'];
const ALL_EXPERIMENTS = [...THROUGHPUT, 'stall', 'space', 'checkpoint'];
const ALIASES = {
  throughput: THROUGHPUT,
  fill: ['fillrandom', 'fillseq'],
  reads: ['readrandom', 'readmissing'],
  ycsb: ['ycsb-a', 'ycsb-b', 'ycsb-c'],
};
const ALL_SYSTEMS = ['lsm-many', 'lsm-single', 'hl-many', 'hl-single', 'level-batch', 'level-chained', 'level-sync', 'level-iter', 'level-seek'];

const USAGE = `usage: node bench/lsm.mjs [flags]
  --records N         records (16-byte keys, 100-byte values) (default 1M; 20K with --smoke)
  --ops N             operations per timed throughput section (default = records)
  --scans N           range scans of 100 keys per timed section (default 200K; 2K with --smoke)
  --max-seconds S     shorten a throughput section to about S seconds (a prefix of the same
                      sequence) when it would take longer; 0: never (default 3; 0.5 with --smoke)
  --chunk N           ops per batched call (default 1000)
  --reps N            timed repetitions per throughput section, median reported (default 3; 1 with --smoke)
  --only a,b          experiments: ${ALL_EXPERIMENTS.join(',')}
                      (aliases: throughput, fill, reads, ycsb; default all)
  --systems a,b       throughput modes: ${ALL_SYSTEMS.join(',')} (default all)
  --stall-ops N       overwrites in the write-stall experiment (default 2x records)
  --stall-memtable L  memtableBytes of the write-stall runs, a list (default 4M,1M; 256K with --smoke);
                      classic-level gets the same writeBufferSize
  --space-rounds N    overwrite rounds of the space experiment (default 10)
  --smoke             tiny sizes, one repetition, every code path (CI: < 30 s)
  --json FILE         also write the raw numbers to FILE
Numbers take k/M/G suffixes (decimal; binary for --stall-memtable).`;
const { fail, parseCount, parseFlags } = createCli('bench/lsm', USAGE);
const { tempDir, removeDir, removeAllDirs } = createTempDirs('lsmbench');

function parseList(text, allowed, name, aliases = {}) {
  if (text === undefined) return [...allowed];
  const out = new Set();
  for (const raw of text.split(',')) {
    const item = raw.trim().toLowerCase();
    if (item === '') continue;
    const expanded = aliases[item] ?? [item];
    for (const e of expanded) {
      if (!allowed.includes(e)) fail(`--${name}: unknown '${item}' (one of ${allowed.join(', ')}${Object.keys(aliases).length ? '; aliases ' + Object.keys(aliases).join(', ') : ''})`);
      out.add(e);
    }
  }
  if (out.size === 0) fail(`--${name} is empty`);
  return allowed.filter((a) => out.has(a));
}

const parsed = parseFlags({
    records: { type: 'string' },
    ops: { type: 'string' },
    scans: { type: 'string' },
    'max-seconds': { type: 'string' },
    chunk: { type: 'string' },
    reps: { type: 'string' },
    only: { type: 'string' },
    systems: { type: 'string' },
    'stall-ops': { type: 'string' },
    'stall-memtable': { type: 'string' },
    'space-rounds': { type: 'string' },
    smoke: { type: 'boolean' },
    json: { type: 'string' },
});

const SMOKE = parsed.smoke === true;
const RECORDS = parseCount(parsed.records, SMOKE ? 20_000 : 1_000_000, 'records');
const OPS = parseCount(parsed.ops, RECORDS, 'ops');
const SCANS = parseCount(parsed.scans, SMOKE ? 2_000 : 200_000, 'scans');
const CHUNK = Math.min(parseCount(parsed.chunk, 1000, 'chunk'), OPS, RECORDS);
const REPS = parseCount(parsed.reps, SMOKE ? 1 : 3, 'reps');
const MAX_SECONDS = parsed['max-seconds'] === undefined ? (SMOKE ? 0.5 : 3) : Number(parsed['max-seconds']);
if (!(MAX_SECONDS >= 0)) fail(`--max-seconds must be a number >= 0, got '${parsed['max-seconds']}'`);
const EXPERIMENTS = parseList(parsed.only, ALL_EXPERIMENTS, 'only', ALIASES);
const SYSTEMS = parseList(parsed.systems, ALL_SYSTEMS, 'systems');
const STALL_OPS = parseCount(parsed['stall-ops'], 2 * RECORDS, 'stall-ops');
const STALL_MEMTABLES = (parsed['stall-memtable'] ?? (SMOKE ? '256K' : '4M,1M'))
  .split(',')
  .filter((x) => x.trim() !== '')
  .map((x) => parseCount(x, undefined, 'stall-memtable', true));
if (STALL_MEMTABLES.length === 0) fail('--stall-memtable is empty');
const SPACE_ROUNDS = parseCount(parsed['space-rounds'], 10, 'space-rounds');
const SCAN_LENGTH = 100;
const KEY_BYTES = 16;
const RECORD_BYTES = KEY_BYTES + VALUE_BYTES; // the user's bytes of one record
const CHECKPOINT_STAGES = [1, 5, 20]; // recovery measured after this many checkpoints
const UPDATE_SHARE = 0.01; // checkpoint experiment: 1% of the keys per round
// Background work counts as settled once its counters stood still this long.
const SETTLE_STABLE_MS = SMOKE ? 300 : 1000;

// ---------------------------------------------------------------- helpers --

const loadSamples = []; // 1-minute load average at the start of each section: the other work on the machine
function noteLoad() {
  loadSamples.push(os.loadavg()[0]);
}

/** Nearest-rank percentile of a sorted array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

class CheckError extends Error {}
let checks = 0;
function check(ok, what) {
  if (!ok) throw new CheckError(`check failed: ${what}`);
  checks++;
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    removeAllDirs();
    process.exit(code);
  });
}

/** Apparent bytes of every file under dir (what the files hold, not blocks). */
function dirBytes(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

// int64 little-endian counters for classic-level, through a Number (exact to 2^53).
const fmt = (opsPerSec) => (opsPerSec >= 1e5 ? (opsPerSec / 1e6).toFixed(2) : (opsPerSec / 1e6).toFixed(3));
const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const kib = (bytes) => (bytes / 1024).toFixed(0);
const compact = (n) => (n >= 1e6 && n % 1e5 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}K` : String(n));
const ms = (ns) => ns / 1e6;

// ------------------------------------------------------------------ data --

// Values: 64K distinct random 100-byte values (incompressible, so LevelDB's
// snappy gains nothing a real payload would not give it); the value of key i
// in round r is VALUES[(i + r * 7919) & 0xffff].
const VALUE_COUNT = 1 << 16;
function makeValues() {
  const random = rng(1);
  let x = Math.floor(random() * 2 ** 32) >>> 0 || 1;
  const pool = Buffer.allocUnsafe(VALUE_COUNT * VALUE_BYTES);
  for (let i = 0; i < pool.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pool.writeUInt32LE(x >>> 0, i);
  }
  const out = new Array(VALUE_COUNT);
  for (let i = 0; i < VALUE_COUNT; i++) out[i] = pool.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES);
  return out;
}
let VALUES;
const valueIndex = (i, round) => (i + round * 7919) & (VALUE_COUNT - 1);
const valueFor = (i, round) => VALUES[valueIndex(i, round)];

/** Keys that are not stored but fall between stored ones: 'user' + 11 digits + 'x'. */
function makeMissKeys(records) {
  const n = Math.max(1, Math.floor(records / 10));
  const out = new Array(n);
  for (let j = 0; j < n; j++) out[j] = Buffer.from('user' + String(j * 10).padStart(12, '0').slice(0, 11) + 'x', 'latin1').toString('latin1');
  return out;
}

/**
 * An op sequence resolved to keys and values, and its chunks for batched calls.
 * idx: record indices; mask: 1 = write (null: all reads, or all writes if allWrites).
 */
function makeSection(keyList, idx, mask, round, allWrites = false) {
  const n = idx.length;
  const k = new Array(n);
  const v = new Array(n);
  for (let i = 0; i < n; i++) {
    k[i] = keyList[idx[i]];
    v[i] = valueFor(idx[i], round);
  }
  const chunks = [];
  for (let s = 0; s < n; s += CHUNK) {
    const end = Math.min(n, s + CHUNK);
    const reads = [];
    const writeKeys = [];
    const writeValues = [];
    const ops = [];
    for (let i = s; i < end; i++) {
      if (allWrites || (mask !== null && mask[i] === 1)) {
        writeKeys.push(k[i]);
        writeValues.push(v[i]);
        ops.push({ type: 'put', key: k[i], value: v[i] });
      } else {
        reads.push(k[i]);
      }
    }
    chunks.push({ reads, writeKeys, writeValues, ops });
  }
  return { n, keys: k, values: v, mask: allWrites ? null : mask, allWrites, chunks, idx };
}

// ------------------------------------------------------------- hot loops --
// Write loops take whole chunks (c = chunks to run) or single ops (n).
// Read / mix loops return the bytes read (checked by the caller).

function tkvManyWrite(db, sec, c) {
  const ch = sec.chunks;
  for (let j = 0; j < c; j++) db.putMany(ch[j].writeKeys, ch[j].writeValues);
}
function tkvSingleWrite(db, sec, n) {
  const { keys, values } = sec;
  for (let i = 0; i < n; i++) db.put(keys[i], values[i]);
}
function tkvManyMix(db, sec, c) {
  const ch = sec.chunks;
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const x = ch[j];
    if (x.reads.length > 0) {
      const r = db.getMany(x.reads);
      for (let i = 0; i < r.length; i++) {
        const v = r[i];
        if (v !== undefined) bytes += v.length;
      }
    }
    if (x.writeKeys.length > 0) db.putMany(x.writeKeys, x.writeValues);
  }
  return bytes;
}
function tkvSingleMix(db, sec, n) {
  const { keys, values, mask } = sec;
  let bytes = 0;
  if (mask === null) {
    for (let i = 0; i < n; i++) {
      const v = db.get(keys[i]);
      if (v !== undefined) bytes += v.length;
    }
    return bytes;
  }
  for (let i = 0; i < n; i++) {
    if (mask[i] === 1) {
      db.put(keys[i], values[i]);
    } else {
      const v = db.get(keys[i]);
      if (v !== undefined) bytes += v.length;
    }
  }
  return bytes;
}
function tkvManyRmw(db, sec, c) {
  const ch = sec.chunks;
  for (let j = 0; j < c; j++) db.incrementMany(ch[j].reads);
}
function tkvSingleRmw(db, sec, n) {
  const keys = sec.keys;
  let last = 0n;
  for (let i = 0; i < n; i++) last = db.increment(keys[i]);
  return last;
}
function tkvScan(db, starts, n) {
  let entries = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    for (const e of db.range({ gte: starts[i], limit: SCAN_LENGTH })) {
      entries++;
      bytes += e[1].length;
    }
  }
  return { entries, bytes };
}

async function levelBatchWrite(db, sec, c) {
  const ch = sec.chunks;
  for (let j = 0; j < c; j++) await db.batch(ch[j].ops);
}
async function levelChainedWrite(db, sec, c) {
  const ch = sec.chunks;
  for (let j = 0; j < c; j++) {
    const { writeKeys, writeValues } = ch[j];
    const b = db.batch();
    for (let i = 0; i < writeKeys.length; i++) b.put(writeKeys[i], writeValues[i]);
    await b.write();
  }
}
async function levelSingleWrite(db, sec, n) {
  const { keys, values } = sec;
  for (let i = 0; i < n; i++) await db.put(keys[i], values[i]);
}
async function levelBatchMix(db, sec, c) {
  const ch = sec.chunks;
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const x = ch[j];
    if (x.reads.length > 0) {
      const r = await db.getMany(x.reads);
      for (let i = 0; i < r.length; i++) {
        const v = r[i];
        if (v !== undefined) bytes += v.length;
      }
    }
    if (x.ops.length > 0) await db.batch(x.ops);
  }
  return bytes;
}
function levelSyncRead(db, sec, n) {
  const keys = sec.keys;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const v = db.getSync(keys[i]);
    if (v !== undefined) bytes += v.length;
  }
  return bytes;
}
async function levelSyncMix(db, sec, n) {
  const { keys, values, mask } = sec;
  if (mask === null) return levelSyncRead(db, sec, n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i] === 1) {
      await db.put(keys[i], values[i]);
    } else {
      const v = db.getSync(keys[i]);
      if (v !== undefined) bytes += v.length;
    }
  }
  return bytes;
}
async function levelBatchRmw(db, sec, c) {
  const ch = sec.chunks;
  const pending = new Map(); // a key repeated in a chunk counts from its pending value
  for (let j = 0; j < c; j++) {
    const ks = ch[j].reads;
    const vals = await db.getMany(ks);
    pending.clear();
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i];
      let cur = pending.get(k);
      if (cur === undefined) {
        const b = vals[i];
        cur = b === undefined ? 0 : readI64(b);
      }
      pending.set(k, cur + 1);
    }
    const ops = [];
    for (const [k, v] of pending) ops.push({ type: 'put', key: k, value: i64Buffer(v) });
    await db.batch(ops);
  }
}
async function levelSyncRmw(db, sec, n) {
  const keys = sec.keys;
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    const b = db.getSync(k);
    await db.put(k, i64Buffer((b === undefined ? 0 : readI64(b)) + 1));
  }
}
async function levelIterScan(db, starts, n) {
  let entries = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const it = db.iterator({ gte: starts[i], limit: SCAN_LENGTH });
    const es = await it.nextv(SCAN_LENGTH);
    await it.close();
    entries += es.length;
    for (let j = 0; j < es.length; j++) bytes += es[j][1].length;
  }
  return { entries, bytes };
}
async function levelSeekScan(db, starts, n) {
  let entries = 0;
  let bytes = 0;
  const it = db.iterator();
  try {
    for (let i = 0; i < n; i++) {
      it.seek(starts[i]);
      const es = await it.nextv(SCAN_LENGTH);
      entries += es.length;
      for (let j = 0; j < es.length; j++) bytes += es[j][1].length;
    }
  } finally {
    await it.close();
  }
  return { entries, bytes };
}

// ---------------------------------------------------------------- engines --

let tidekv; // dist/index.js
let ClassicLevel;

const ENGINES = {
  lsm: {
    label: 'tidekv lsm',
    async create(options = {}) {
      const dir = tempDir('lsm');
      return { dir, db: await tidekv.open(dir, { engine: 'lsm', ...options }) };
    },
    async destroy(inst) {
      await inst.db.close();
      removeDir(inst.dir);
    },
    count: async (inst) => inst.db.stats().keys,
    async fill(inst, keys, order, round, values = null) {
      for (let s = 0; s < order.length; s += 10_000) {
        const ks = [];
        const vs = [];
        for (let i = s; i < Math.min(order.length, s + 10_000); i++) {
          ks.push(keys[order[i]]);
          vs.push(values ?? valueFor(order[i], round));
        }
        inst.db.putMany(ks, vs);
      }
    },
    counter: async (inst, k) => {
      const b = inst.db.get(k);
      return b === undefined ? NaN : Number(b.readBigInt64LE(0));
    },
    settle: settleLsm,
  },
  hl: {
    label: 'tidekv hybridlog',
    async create(options = {}) {
      const dir = tempDir('hl');
      return { dir, db: await tidekv.open(dir, { engine: 'hybridlog', ...options }) };
    },
    destroy: (inst) => ENGINES.lsm.destroy(inst),
    count: async (inst) => inst.db.stats().keys,
    fill: (...args) => ENGINES.lsm.fill(...args),
    counter: (...args) => ENGINES.lsm.counter(...args),
    async settle() {
      await sleep(SETTLE_STABLE_MS / 5);
      return { ms: SETTLE_STABLE_MS / 5, timedOut: false };
    },
  },
  level: {
    label: 'classic-level',
    async create(options = {}) {
      const dir = tempDir('level');
      const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer', ...options });
      await db.open();
      return { dir, db };
    },
    async destroy(inst) {
      await inst.db.close();
      removeDir(inst.dir);
    },
    /** No cheap count: every record of a sample must be there. */
    async sampleCount(inst, keys, records) {
      const sample = [];
      const step = Math.max(1, Math.floor(records / 1000));
      for (let i = 0; i < records; i += step) sample.push(keys[i]);
      sample.push(keys[records - 1]);
      const got = await inst.db.getMany(sample);
      return got.every((v) => v !== undefined && v.length === VALUE_BYTES) ? records : -1;
    },
    async fill(inst, keys, order, round, values = null) {
      for (let s = 0; s < order.length; s += 10_000) {
        const ops = [];
        for (let i = s; i < Math.min(order.length, s + 10_000); i++) {
          ops.push({ type: 'put', key: keys[order[i]], value: values ?? valueFor(order[i], round) });
        }
        await inst.db.batch(ops);
      }
    },
    counter: async (inst, k) => {
      const b = await inst.db.get(k);
      return b === undefined ? NaN : readI64(b);
    },
    settle: settleLevel,
  },
};

/** Waits until the LSM's flush and compaction counters stop moving (at most maxMs). */
async function settleLsm(inst, maxMs = 60_000) {
  const t0 = Date.now();
  let last = '';
  let stableSince = Date.now();
  while (Date.now() - t0 < maxMs) {
    const s = inst.db.stats();
    const sig = `${s.flushes}/${s.compactions}/${s.immutableMemtables}/${s.runs}/${s.tables}`;
    if (sig !== last) {
      last = sig;
      stableSince = Date.now();
    } else if (s.immutableMemtables === 0 && Date.now() - stableSince >= SETTLE_STABLE_MS) {
      return { ms: Date.now() - t0, timedOut: false };
    }
    await sleep(100);
  }
  return { ms: Date.now() - t0, timedOut: true };
}

/** Waits until LevelDB's compaction stats stop moving (at most maxMs). */
async function settleLevel(inst, maxMs = 60_000) {
  const t0 = Date.now();
  let last = '';
  let stableSince = Date.now();
  while (Date.now() - t0 < maxMs) {
    const sig = inst.db.getProperty('leveldb.stats');
    if (sig !== last) {
      last = sig;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= SETTLE_STABLE_MS) {
      return { ms: Date.now() - t0, timedOut: false };
    }
    await sleep(100);
  }
  return { ms: Date.now() - t0, timedOut: true };
}

// ------------------------------------------------------------------ modes --
// A mode is one way of calling an engine. batched: runs whole chunks.

const MODES = {
  'lsm-many': {
    engine: 'lsm',
    kind: 'batched',
    label: 'tidekv lsm batched',
    how: 'putMany(1000 keys, values) / getMany(1000 keys) / incrementMany(1000 keys); YCSB A/B: getMany(the chunk\'s reads) + putMany(its writes)',
    write: (db, sec, n) => tkvManyWrite(db, sec, n / CHUNK),
    mix: (db, sec, n) => tkvManyMix(db, sec, n / CHUNK),
    rmw: (db, sec, n) => tkvManyRmw(db, sec, n / CHUNK),
  },
  'lsm-single': {
    engine: 'lsm',
    kind: 'single',
    label: 'tidekv lsm single calls',
    how: 'put / get / increment, one call per op; scans: range({ gte, limit: 100 }) iterated with for..of',
    write: tkvSingleWrite,
    mix: tkvSingleMix,
    rmw: tkvSingleRmw,
    scan: tkvScan,
  },
  'hl-many': {
    engine: 'hl',
    kind: 'batched',
    label: 'tidekv hybridlog batched',
    how: 'as lsm batched',
    write: (db, sec, n) => tkvManyWrite(db, sec, n / CHUNK),
    mix: (db, sec, n) => tkvManyMix(db, sec, n / CHUNK),
    rmw: (db, sec, n) => tkvManyRmw(db, sec, n / CHUNK),
  },
  'hl-single': {
    engine: 'hl',
    kind: 'single',
    label: 'tidekv hybridlog single calls',
    how: 'as lsm single calls; no range() (the hybrid log hashes its keys)',
    write: tkvSingleWrite,
    mix: tkvSingleMix,
    rmw: tkvSingleRmw,
  },
  'level-batch': {
    engine: 'level',
    kind: 'batched',
    label: 'classic-level batch',
    how: 'await db.batch(array of 1000 puts) / await db.getMany(1000 keys); YCSB A/B: getMany(reads) + batch(writes); RMW: getMany + batch of the new values',
    write: (db, sec, n) => levelBatchWrite(db, sec, n / CHUNK),
    mix: (db, sec, n) => levelBatchMix(db, sec, n / CHUNK),
    rmw: (db, sec, n) => levelBatchRmw(db, sec, n / CHUNK),
  },
  'level-chained': {
    engine: 'level',
    kind: 'batched',
    label: 'classic-level chained batch',
    how: 'b = db.batch(); b.put(k, v) x 1000; await b.write() (writes only)',
    write: (db, sec, n) => levelChainedWrite(db, sec, n / CHUNK),
  },
  'level-sync': {
    engine: 'level',
    kind: 'single',
    label: 'classic-level single calls',
    how: 'db.getSync(key) per read; await db.put(key, value) per write; RMW getSync + await put',
    write: levelSingleWrite,
    mix: levelSyncMix,
    rmw: levelSyncRmw,
  },
  'level-iter': {
    engine: 'level',
    kind: 'single',
    label: 'classic-level iterator per scan',
    how: 'it = db.iterator({ gte, limit: 100 }); await it.nextv(100); await it.close()',
    scan: levelIterScan,
  },
  'level-seek': {
    engine: 'level',
    kind: 'single',
    label: 'classic-level one iterator, seek',
    how: 'one db.iterator() per timed section (its snapshot taken then); it.seek(start); await it.nextv(100)',
    scan: levelSeekScan,
  },
};

// Which modes run in which experiment, and how.
const EXPERIMENT_DEFS = {
  fillrandom: { title: 'fillrandom', what: 'insert every record into a fresh store, keys in shuffled order', call: 'write', fresh: true },
  fillseq: { title: 'fillseq', what: 'insert every record into a fresh store, keys in ascending order', call: 'write', fresh: true },
  overwrite: { title: 'overwrite', what: 'put uniformly random existing keys (new values) into the loaded store', call: 'write' },
  readrandom: { title: 'readrandom (hits)', what: 'get uniformly random existing keys', call: 'mix' },
  readmissing: { title: 'readrandom (misses)', what: "get absent keys that fall between stored ones ('user' + 11 digits + 'x')", call: 'mix' },
  'ycsb-a': { title: 'YCSB A zipfian', what: '50% read / 50% update, scrambled zipfian θ 0.99', call: 'mix' },
  'ycsb-b': { title: 'YCSB B zipfian', what: '95% read / 5% update, zipfian', call: 'mix' },
  'ycsb-c': { title: 'YCSB C zipfian', what: '100% read, zipfian', call: 'mix' },
  rmw: { title: 'RMW zipfian', what: 'increment an int64 counter key (`cntr` + 12 digits); classic-level reads and writes it (int64 LE through a Number)', call: 'rmw' },
  scan: { title: 'scan 100', what: 'read the 100 entries from a uniformly random existing start key on (fewer near the end)', call: 'scan' },
};

function modesFor(exp) {
  const call = EXPERIMENT_DEFS[exp].call;
  return SYSTEMS.filter((m) => {
    const def = MODES[m];
    if (def[call] === undefined) return false;
    if (m === 'level-sync' && EXPERIMENT_DEFS[exp].fresh) return false; // a million awaited puts: not a fill mode
    return true;
  });
}

// ------------------------------------------------------------- timing ----

async function timeSection(fn) {
  gc();
  const t0 = process.hrtime.bigint();
  let out = fn();
  if (out instanceof Promise) out = await out;
  return { ns: Number(process.hrtime.bigint() - t0), out };
}

const wholeChunks = (n, max) => Math.min(max, Math.max(CHUNK, Math.ceil(n / CHUNK) * CHUNK));
function roundOps(n, max) {
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1);
  return Math.min(max, Math.max(CHUNK, Math.floor((Math.floor(n / unit) * unit) / CHUNK) * CHUNK));
}

/**
 * Ops of a section: max, or fewer when max would clearly take more than
 * MAX_SECONDS (as in bench/run.mjs: only a projection over twice the limit
 * shortens a section); then warms up on a tenth of it. runUntimed(n) -> ns.
 */
async function sizeAndWarm(runUntimed, max) {
  const probe = wholeChunks(Math.floor(max / 200), max);
  let n = max;
  if (MAX_SECONDS > 0 && 2 * probe < max) {
    await runUntimed(probe);
    const rate = (2 * probe) / ((await runUntimed(2 * probe)) / 1e9);
    if (max / rate > 2 * MAX_SECONDS) n = Math.min(max, Math.max(2 * probe, roundOps(rate * MAX_SECONDS, max)));
  }
  await runUntimed(wholeChunks(Math.floor(n / 10), max));
  return n;
}

// ------------------------------------------------------------ throughput --

const results = {}; // experiment -> mode -> { ops, opsPerSec[], median }
const lsmShape = {}; // experiment -> the shared lsm store's tree when the section began
function record(exp, mode, n, ns) {
  const cell = ((results[exp] ??= {})[mode] ??= { ops: n, opsPerSec: [], median: 0 });
  cell.ops = n;
  cell.opsPerSec.push(n / (ns / 1e9));
  cell.median = median(cell.opsPerSec);
  return cell;
}

async function runFill(exp, keys) {
  const modes = modesFor(exp);
  if (modes.length === 0) return;
  const order = exp === 'fillrandom' ? permutation(RECORDS) : Uint32Array.from({ length: RECORDS }, (_, i) => i);
  const sec = makeSection(keys, order, null, 0, true);
  noteLoad();
  const warmN = wholeChunks(Math.floor(RECORDS / 10), RECORDS);
  log(`${exp}: warm-up (${warmN} records into a fresh store each)`);
  for (const m of modes) {
    const inst = await ENGINES[MODES[m].engine].create();
    await MODES[m].write(inst.db, sec, warmN);
    await ENGINES[MODES[m].engine].destroy(inst);
  }
  for (let rep = 1; rep <= REPS; rep++) {
    const shift = (rep - 1) % modes.length;
    for (const m of [...modes.slice(shift), ...modes.slice(0, shift)]) {
      const def = MODES[m];
      const engine = ENGINES[def.engine];
      const inst = await engine.create();
      const { ns } = await timeSection(() => def.write(inst.db, sec, RECORDS));
      const n = def.engine === 'level' ? await engine.sampleCount(inst, keys, RECORDS) : await engine.count(inst);
      check(n === RECORDS, `${m} ${exp}: ${n} keys after inserting ${RECORDS}`);
      const cell = record(exp, m, RECORDS, ns);
      log(`${exp} rep ${rep}/${REPS} ${m.padEnd(13)} ${fmt(cell.opsPerSec.at(-1))} M ops/s`);
      await engine.destroy(inst);
    }
  }
}

/** The loaded stores of the throughput sections after fill: one per engine, shared by its modes. */
async function openShared(engines, keys, counterKeys) {
  const insts = {};
  const order = permutation(RECORDS, 12);
  const zero = Buffer.alloc(8);
  for (const e of engines) {
    log(`${e}: opening and loading ${RECORDS} records + ${RECORDS} counters (untimed, shuffled order)`);
    const inst = await ENGINES[e].create();
    insts[e] = inst;
    await ENGINES[e].fill(inst, keys, order, 0);
    await ENGINES[e].fill(inst, counterKeys, order, 0, zero);
    inst.expected = new Map(); // counter index -> increments applied
    if (e !== 'level') {
      const n = await ENGINES[e].count(inst);
      check(n === 2 * RECORDS, `${e} holds ${n} keys after loading ${2 * RECORDS}`);
    } else {
      check((await ENGINES.level.sampleCount(inst, keys, RECORDS)) === RECORDS, 'classic-level holds a sample of the records');
    }
  }
  return insts;
}

async function settleAll(insts, why) {
  for (const [e, inst] of Object.entries(insts)) {
    const r = await ENGINES[e].settle(inst);
    log(`${e}: background work settled in ${r.ms} ms${r.timedOut ? ' (gave up waiting)' : ''} (${why})`);
  }
}

/** Counter indices whose values are checked after each RMW section: the hottest and a few others. */
function counterSamples(seq) {
  const counts = new Map();
  let hottest = seq[0];
  for (let i = 0; i < seq.length; i++) {
    const c = (counts.get(seq[i]) ?? 0) + 1;
    counts.set(seq[i], c);
    if (c > counts.get(hottest)) hottest = seq[i];
  }
  return [...new Set([hottest, seq[0], seq[seq.length >> 1], seq[seq.length - 1]])];
}

async function runOnShared(exp, insts, sections) {
  const modes = modesFor(exp).filter((m) => insts[MODES[m].engine] !== undefined);
  if (modes.length === 0) return;
  const call = EXPERIMENT_DEFS[exp].call;
  const sec = sections[exp];
  const max = call === 'scan' ? sec.starts.length : sec.n;
  const samples = call === 'rmw' ? counterSamples(sec.idx) : null;

  const runOne = async (m, n, timed) => {
    const def = MODES[m];
    const inst = insts[def.engine];
    const { ns, out } = await timeSection(() => (call === 'scan' ? def.scan(inst.db, sec.starts, n) : def[call](inst.db, sec, n)));
    if (call === 'mix') {
      const want = sec.readsPrefix(n) * (exp === 'readmissing' ? 0 : VALUE_BYTES);
      check(out === want, `${m} ${exp}: read ${out} bytes, expected ${want}`);
    } else if (call === 'scan') {
      const want = sec.entriesPrefix(n);
      check(out.entries === want && out.bytes === want * VALUE_BYTES, `${m} scan: ${out.entries} entries / ${out.bytes} bytes, expected ${want} / ${want * VALUE_BYTES}`);
    } else if (call === 'write') {
      // The section's last write reads back (every mode writes the same values).
      const got = def.engine === 'level' ? await inst.db.get(sec.keys[n - 1]) : inst.db.get(sec.keys[n - 1]);
      check(got !== undefined && got.equals(sec.values[n - 1]), `${m} ${exp}: the last key written reads back its value`);
    } else if (call === 'rmw') {
      const engine = ENGINES[def.engine];
      for (const s of samples) {
        let add = 0;
        for (let i = 0; i < n; i++) if (sec.idx[i] === s) add++;
        inst.expected.set(s, (inst.expected.get(s) ?? 0) + add);
        const got = await engine.counter(inst, counterKeyName(s));
        check(got === inst.expected.get(s), `${m} rmw: counter ${s} is ${got}, expected ${inst.expected.get(s)}`);
      }
    }
    if (timed) {
      const cell = record(exp, m, n, ns);
      log(`${exp} ${m.padEnd(13)} ${fmt(cell.opsPerSec.at(-1))} M ops/s (${n} ops)`);
    }
    return ns;
  };

  noteLoad();
  if (insts.lsm !== undefined) {
    const st = insts.lsm.db.stats();
    lsmShape[exp] = { memtableBytes: st.memtableBytes, immutableMemtables: st.immutableMemtables, level0Runs: st.level0Runs, runs: st.runs, tables: st.tables, levels: st.levels, liveTableBytes: st.liveTableBytes };
  }
  log(`${exp}: sizing and warm-up`);
  const sizes = {};
  for (const m of modes) {
    const mmax = MODES[m].kind === 'batched' ? Math.floor(max / CHUNK) * CHUNK : max;
    sizes[m] = await sizeAndWarm((n) => runOne(m, MODES[m].kind === 'batched' ? wholeChunks(n, mmax) : n, false), mmax);
  }
  for (let rep = 1; rep <= REPS; rep++) {
    const shift = (rep - 1) % modes.length;
    for (const m of [...modes.slice(shift), ...modes.slice(0, shift)]) await runOne(m, sizes[m], true);
  }
}

function buildSections(keys, counterKeys, missKeys) {
  const sections = {};
  const want = (e) => EXPERIMENTS.includes(e);
  const prefixReads = (mask) => {
    if (mask === null) return (n) => n;
    const cum = new Uint32Array(mask.length + 1);
    for (let i = 0; i < mask.length; i++) cum[i + 1] = cum[i] + (mask[i] === 0 ? 1 : 0);
    return (n) => cum[n];
  };
  if (want('overwrite')) sections.overwrite = makeSection(keys, uniformSequence(RECORDS, OPS, 201), null, 1, true);
  if (want('readrandom')) sections.readrandom = makeSection(keys, uniformSequence(RECORDS, OPS, 202), null, 0);
  if (want('readmissing')) sections.readmissing = makeSection(missKeys, uniformSequence(missKeys.length, OPS, 203), null, 0);
  for (const [e, share, seed] of [['ycsb-a', 0.5, 101], ['ycsb-b', 0.05, 102], ['ycsb-c', 0, 103]]) {
    if (!want(e)) continue;
    const mask = share === 0 ? null : writeMask(OPS, share, 3 + seed);
    sections[e] = makeSection(keys, zipfianSequence(RECORDS, OPS, 0.99, seed), mask, 2);
  }
  if (want('rmw')) sections.rmw = makeSection(counterKeys, zipfianSequence(RECORDS, OPS, 0.99, 104), null, 0);
  for (const s of Object.values(sections)) s.readsPrefix = prefixReads(s.mask);
  if (want('scan')) {
    const idx = uniformSequence(RECORDS, SCANS, 205);
    const starts = Array.from(idx, (i) => keys[i]);
    const cum = new Float64Array(SCANS + 1);
    for (let i = 0; i < SCANS; i++) cum[i + 1] = cum[i] + Math.min(SCAN_LENGTH, RECORDS - idx[i]);
    sections.scan = { starts, entriesPrefix: (n) => cum[n] };
  }
  return sections;
}

// ---------------------------------------------------------- write stalls --

async function runStall(keys) {
  const out = [];
  const order = permutation(RECORDS, 13);
  const seq = uniformSequence(RECORDS, STALL_OPS, 301);
  const systems = STALL_MEMTABLES.flatMap((memtable) => [
    { name: 'lsm leveled', memtable, engine: 'lsm', options: { memtableBytes: memtable, compactionStyle: 'leveled' } },
    { name: 'lsm size-tiered', memtable, engine: 'lsm', options: { memtableBytes: memtable, compactionStyle: 'size-tiered' } },
    { name: 'classic-level', memtable, engine: 'level', options: { writeBufferSize: memtable } },
  ]);
  for (const sys of systems) {
    if (sys.engine === 'level' && !SYSTEMS.some((s) => s.startsWith('level'))) continue;
    if (sys.engine === 'lsm' && !SYSTEMS.some((s) => s.startsWith('lsm'))) continue;
    noteLoad();
    log(`stall ${sys.name}: loading ${RECORDS} records (memtable ${mib(sys.memtable)} MiB)`);
    const engine = ENGINES[sys.engine];
    const inst = await engine.create(sys.options);
    try {
      await engine.fill(inst, keys, order, 0);
      const before = sys.engine === 'lsm' ? inst.db.stats() : null;
      const batches = Math.floor(STALL_OPS / CHUNK);
      const lat = new Float64Array(batches);
      const ks = new Array(CHUNK);
      const vs = new Array(CHUNK);
      let maxBacklog = 0;
      let maxImmutable = 0;
      let worstAt = 0;
      log(`stall ${sys.name}: ${batches * CHUNK} overwrites in batches of ${CHUNK}, each timed`);
      gc();
      const t0 = process.hrtime.bigint();
      for (let b = 0; b < batches; b++) {
        const base = b * CHUNK;
        if (sys.engine === 'lsm') {
          for (let i = 0; i < CHUNK; i++) {
            ks[i] = keys[seq[base + i]];
            vs[i] = valueFor(seq[base + i], 3);
          }
          const s = process.hrtime.bigint();
          inst.db.putMany(ks, vs);
          lat[b] = Number(process.hrtime.bigint() - s);
          if ((b & 31) === 0) {
            const st = inst.db.stats();
            maxBacklog = Math.max(maxBacklog, sys.options.compactionStyle === 'leveled' ? st.level0Runs : st.runs);
            maxImmutable = Math.max(maxImmutable, st.immutableMemtables);
          }
        } else {
          const ops = new Array(CHUNK);
          for (let i = 0; i < CHUNK; i++) ops[i] = { type: 'put', key: keys[seq[base + i]], value: valueFor(seq[base + i], 3) };
          const s = process.hrtime.bigint();
          await inst.db.batch(ops);
          lat[b] = Number(process.hrtime.bigint() - s);
          if ((b & 31) === 0) maxBacklog = Math.max(maxBacklog, Number(inst.db.getProperty('leveldb.num-files-at-level0')));
        }
        if (lat[b] > lat[worstAt]) worstAt = b;
      }
      const totalNs = Number(process.hrtime.bigint() - t0);
      const after = sys.engine === 'lsm' ? inst.db.stats() : null;
      const sorted = Float64Array.from(lat).sort();
      const r = {
        name: sys.name,
        memtable: sys.memtable,
        ops: batches * CHUNK,
        opsPerSec: (batches * CHUNK) / (totalNs / 1e9),
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        p999: percentile(sorted, 99.9),
        max: sorted[sorted.length - 1],
        over100ms: sorted.filter((x) => x > 100e6).length,
        over1s: sorted.filter((x) => x > 1e9).length,
        worstAtSeconds: (() => {
          let s = 0;
          for (let b = 0; b < worstAt; b++) s += lat[b];
          return s / 1e9;
        })(),
        maxBacklog,
        maxImmutable,
        statsBefore: before,
        statsAfter: after,
      };
      if (after !== null) {
        for (const k of ['writeDelayMicros', 'writeStopMicros', 'stalls', 'compactions', 'flushes', 'compactionBytesRead', 'compactionBytesWritten', 'bytesFlushed']) {
          r[k] = after[k] - before[k];
        }
        r.longestStallMicros = after.longestStallMicros;
        r.longestStallMicrosLoad = before.longestStallMicros;
      }
      // Every overwritten key reads back its new value (a sample).
      const probe = [seq[0], seq[(batches * CHUNK) >> 1], seq[batches * CHUNK - 1]];
      for (const i of probe) {
        let last = -1;
        for (let j = batches * CHUNK - 1; j >= 0; j--) if (seq[j] === i) { last = j; break; }
        const got = sys.engine === 'lsm' ? inst.db.get(keys[i]) : await inst.db.get(keys[i]);
        check(got !== undefined && got.equals(valueFor(i, last >= 0 ? 3 : 0)), `stall ${sys.name}: key ${i} reads back its last value`);
      }
      if (sys.engine === 'lsm') r.settle = await settleLsm(inst, 120_000);
      out.push(r);
      log(
        `stall ${sys.name} ${mib(sys.memtable)} MiB: ${fmt(r.opsPerSec)} M ops/s; batch p50 ${ms(r.p50).toFixed(2)} ms, p99 ${ms(r.p99).toFixed(2)}, p99.9 ${ms(r.p999).toFixed(2)}, max ${ms(r.max).toFixed(1)} ms` +
          (after ? `; delay ${(r.writeDelayMicros / 1e3).toFixed(0)} ms, stop ${(r.writeStopMicros / 1e3).toFixed(0)} ms, stalls ${r.stalls}, longest ${(r.longestStallMicros / 1e3).toFixed(1)} ms` : ''),
      );
    } finally {
      await engine.destroy(inst);
    }
  }
  return out;
}

// ----------------------------------------------------------------- space --

async function runSpace(keys) {
  const out = [];
  const systems = [
    { name: 'lsm leveled', engine: 'lsm', options: { compactionStyle: 'leveled' } },
    { name: 'lsm size-tiered', engine: 'lsm', options: { compactionStyle: 'size-tiered' } },
    { name: 'classic-level', engine: 'level', options: {} },
    { name: 'hybridlog', engine: 'hl', options: {} },
  ].filter((s) => SYSTEMS.some((m) => MODES[m].engine === s.engine));
  const logical = RECORDS * RECORD_BYTES;
  const orders = [];
  for (let r = 0; r <= SPACE_ROUNDS; r++) orders.push(permutation(RECORDS, 400 + r));
  for (const sys of systems) {
    const engine = ENGINES[sys.engine];
    const inst = await engine.create(sys.options);
    try {
      noteLoad();
    log(`space ${sys.name}: load + ${SPACE_ROUNDS} overwrite rounds of ${RECORDS} records`);
      const t0 = process.hrtime.bigint();
      for (let r = 0; r <= SPACE_ROUNDS; r++) await engine.fill(inst, keys, orders[r], r);
      const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const settled = await engine.settle(inst, 120_000);
      const measure = () => {
        const s = sys.engine === 'level' ? null : inst.db.stats();
        return {
          diskBytes: s === null ? null : s.diskBytes,
          memoryBytes: s === null ? null : s.memoryBytes,
          memtableBytes: s === null ? null : s.memtableBytes ?? null,
          liveTableBytes: s === null ? null : s.liveTableBytes ?? null,
          dirBytes: dirBytes(inst.dir),
          stats: s,
        };
      };
      const before = measure();
      const tc = process.hrtime.bigint();
      let compactResult = null;
      if (sys.engine === 'level') await inst.db.compactRange('a', 'z');
      else compactResult = await inst.db.compact();
      const compactMs = Number(process.hrtime.bigint() - tc) / 1e6;
      if (sys.engine !== 'level') await sleep(200); // file deletion may trail the promise
      const afterCompact = measure();
      // And what a durable copy costs: a checkpoint after compact() (classic-level: its files are durable).
      let afterCheckpoint = null;
      if (sys.engine !== 'level') {
        const info = await inst.db.checkpoint();
        afterCheckpoint = { ...measure(), bytesWritten: info.bytesWritten };
      }
      // The newest values survived (a sample).
      for (const i of [0, RECORDS >> 1, RECORDS - 1]) {
        const got = sys.engine === 'level' ? await inst.db.get(keys[i]) : inst.db.get(keys[i]);
        check(got !== undefined && got.equals(valueFor(i, SPACE_ROUNDS)), `space ${sys.name}: key ${i} holds its round-${SPACE_ROUNDS} value`);
      }
      const r = { name: sys.name, logical, writeSeconds, settled, before, afterCompact, afterCheckpoint, compactMs, compactResult };
      out.push(r);
      const amp = (m) => (m.diskBytes ?? m.dirBytes) / logical;
      log(
        `space ${sys.name}: before compact ${amp(before).toFixed(2)}x (dir ${mib(before.dirBytes)} MiB), after ${amp(afterCompact).toFixed(2)}x (dir ${mib(afterCompact.dirBytes)} MiB), compact ${compactMs.toFixed(0)} ms`,
      );
    } finally {
      await engine.destroy(inst);
    }
  }
  return out;
}

// ------------------------------------------------------------ checkpoints --

async function runCheckpoint(keys) {
  const out = { base: null, rounds: [], recovery: [] };
  const dir = tempDir('lsm-ckpt');
  const options = { engine: 'lsm' };
  const model = new Int32Array(RECORDS).fill(0); // record index -> round of its value
  const perRound = Math.max(1, Math.round(RECORDS * UPDATE_SHARE));
  let db = await tidekv.open(dir, options);
  try {
    noteLoad();
    log(`checkpoint: loading ${RECORDS} records`);
    const order = permutation(RECORDS, 500);
    await ENGINES.lsm.fill({ db }, keys, order, 0);
    let t0 = process.hrtime.bigint();
    let info = await db.checkpoint();
    out.base = { ...pickInfo(info), wallMs: Number(process.hrtime.bigint() - t0) / 1e6, statsAfter: db.stats() };
    log(`checkpoint 1 (base): ${mib(info.bytesWritten)} MiB in ${info.durationMs.toFixed(1)} ms`);
    let version = 1;
    const lastStage = CHECKPOINT_STAGES[CHECKPOINT_STAGES.length - 1];
    const maybeRecover = async () => {
      if (!CHECKPOINT_STAGES.includes(version)) return;
      const samples = [];
      for (let rep = 0; rep < 3; rep++) {
        await db.close();
        gc();
        const ta = process.hrtime.bigint();
        db = await tidekv.open(dir, options);
        const tb = process.hrtime.bigint();
        const probe = version === 1 ? 0 : out.rounds.at(-1).lastKey;
        const v = db.get(keys[probe]);
        const tc = process.hrtime.bigint();
        check(v !== undefined && v.equals(valueFor(probe, model[probe])), `checkpoint: after reopening at version ${version}, key ${probe} holds its latest value`);
        samples.push({ openMs: Number(tb - ta) / 1e6, firstGetMs: Number(tc - tb) / 1e6 });
      }
      const st = db.stats();
      check(st.keys === RECORDS, `checkpoint: ${st.keys} keys after reopening, expected ${RECORDS}`);
      check(db.version === version, `checkpoint: reopened at version ${db.version}, expected ${version}`);
      // A sample of the model.
      for (let i = 0; i < RECORDS; i += Math.max(1, Math.floor(RECORDS / 500))) {
        const v = db.get(keys[i]);
        check(v !== undefined && v.equals(valueFor(i, model[i])), `checkpoint: key ${i} after reopening at version ${version}`);
      }
      const files = fs.readdirSync(dir);
      out.recovery.push({
        checkpoints: version,
        samples,
        openMsMedian: median(samples.map((s) => s.openMs)),
        firstGetMsMedian: median(samples.map((s) => s.firstGetMs)),
        tables: st.tables,
        runs: st.runs,
        levels: st.levels,
        diskBytes: st.diskBytes,
        files: files.length,
        dirBytes: dirBytes(dir),
      });
      log(`recovery after ${version} checkpoints: open ${samples.map((s) => s.openMs.toFixed(1)).join(', ')} ms; first get ${samples.map((s) => s.firstGetMs.toFixed(3)).join(', ')} ms`);
    };
    await maybeRecover();
    // Rounds alternate zipfian and uniform 1% updates; each is followed by a checkpoint.
    for (let round = 1; version < lastStage; round++) {
      const dist = round % 2 === 1 ? 'zipfian' : 'uniform';
      const idx = dist === 'zipfian' ? zipfianSequence(RECORDS, perRound, 0.99, 600 + round) : uniformSequence(RECORDS, perRound, 700 + round);
      const ks = new Array(perRound);
      const vs = new Array(perRound);
      const distinct = new Set();
      const valueRound = 100 + round; // a value no earlier round wrote
      for (let i = 0; i < perRound; i++) {
        ks[i] = keys[idx[i]];
        vs[i] = valueFor(idx[i], valueRound);
        model[idx[i]] = valueRound;
        distinct.add(idx[i]);
      }
      for (let s = 0; s < perRound; s += CHUNK) db.putMany(ks.slice(s, s + CHUNK), vs.slice(s, s + CHUNK));
      t0 = process.hrtime.bigint();
      info = await db.checkpoint();
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      version++;
      check(info.version === version, `checkpoint: version ${info.version}, expected ${version}`);
      const changedBytes = distinct.size * RECORD_BYTES;
      out.rounds.push({ round, version, dist, updates: perRound, distinct: distinct.size, changedBytes, ...pickInfo(info), wallMs, lastKey: idx[perRound - 1] });
      log(`checkpoint ${version} (${dist}, ${distinct.size} keys): ${kib(info.bytesWritten)} KiB = ${(info.bytesWritten / changedBytes).toFixed(2)}x changed, ${info.durationMs.toFixed(1)} ms`);
      await maybeRecover();
    }
  } finally {
    await db.close();
    removeDir(dir);
  }
  return out;
}
function pickInfo(info) {
  return { bytesWritten: info.bytesWritten, totalBytes: info.totalBytes, pauseMs: info.pauseMs, durationMs: info.durationMs };
}

// ---------------------------------------------------------------- report --

const ENGINE_OF = (m) => MODES[m].engine;
function best(exp, engine, kind = null) {
  let top;
  let name;
  for (const [m, cell] of Object.entries(results[exp] ?? {})) {
    if (ENGINE_OF(m) !== engine || (kind !== null && MODES[m].kind !== kind)) continue;
    if (top === undefined || cell.median > top) [top, name] = [cell.median, m];
  }
  return top === undefined ? undefined : { value: top, mode: name };
}
const ratio = (a, b) => (a === undefined || b === undefined ? 'n/a' : `${(a.value / b.value).toFixed(2)}×`);
const cellText = (b) => (b === undefined ? 'n/a' : fmt(b.value));

function renderMarkdown(rep) {
  const L = [];
  const { machine: m } = rep;
  L.push('# tidekv LSM benchmark', '');
  L.push(`- command: \`${rep.command}\``);
  L.push(`- date: ${rep.date}; machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, ${m.os}; Node ${m.node}; tidekv commit ${m.commit}`);
  L.push(
    `- ${RECORDS.toLocaleString('en')} records: 16-byte keys (\`user\` + 12 digits), 100-byte values (64K distinct random values: incompressible); ` +
      `${compact(OPS)} ops per throughput section (${compact(SCANS)} scans), fewer (a prefix of the same sequence) where that would take over ~${MAX_SECONDS} s; ` +
      `batches of ${CHUNK}; median of ${REPS} interleaved repetitions after a warm-up${SMOKE ? '; **smoke sizes: numbers are not meaningful**' : ''}`,
  );
  L.push(
    '- engines at default options: tidekv lsm (leveled; 256 MiB budget: 32 MiB memtables, the rest a block cache; bloom 10 bits/key), tidekv hybridlog (256 MiB budget), ' +
      'classic-level 3.0 (LevelDB: 4 MiB write buffer, 8 MiB block cache, 2 MiB files, snappy, bloom 10 bits/key, no sync)',
  );
  L.push(
    `- ${rep.checks} correctness checks passed; run time ${(rep.seconds / 60).toFixed(1)} min; ` +
      `1-minute load average at the start of each section ${rep.loadAverage.min.toFixed(1)}–${rep.loadAverage.max.toFixed(1)} (median ${rep.loadAverage.median.toFixed(1)}) on ${m.cores} cores: other work shared the machine`,
  );
  L.push('');

  const ran = THROUGHPUT.filter((e) => results[e] !== undefined);
  if (ran.length > 0) {
    L.push('## Throughput (M ops/s, median; scans: M scans/s)', '');
    L.push(
      table(
        ['experiment', 'lsm batched', 'lsm single', 'hybridlog batched', 'hybridlog single', 'level batched', 'level single', 'lsm / level', 'lsm / hybridlog'],
        ran.map((e) => {
          const lsmB = best(e, 'lsm');
          const hlB = best(e, 'hl');
          const lvB = best(e, 'level');
          const levelBatched = best(e, 'level', 'batched');
          return [
            EXPERIMENT_DEFS[e].title,
            cellText(best(e, 'lsm', 'batched')),
            cellText(best(e, 'lsm', 'single')),
            cellText(best(e, 'hl', 'batched')),
            cellText(best(e, 'hl', 'single')),
            levelBatched === undefined ? 'n/a' : `${fmt(levelBatched.value)}${levelBatched.mode === 'level-chained' ? ' (chained)' : ''}`,
            (() => {
              const s = best(e, 'level', 'single');
              return s === undefined ? 'n/a' : `${fmt(s.value)}${s.mode === 'level-seek' ? ' (seek)' : ''}`;
            })(),
            ratio(lsmB, lvB),
            ratio(lsmB, hlB),
          ];
        }),
      ),
      '',
    );
    L.push(
      'Ratios are best against best: the fastest lsm mode against the fastest classic-level mode (or hybridlog mode) of the same experiment. ' +
        'Batched = 1000 ops per call (tidekv putMany / getMany / incrementMany; classic-level awaited batch() or chained batch, getMany); ' +
        'single = one call per op (tidekv put / get / increment; classic-level getSync and awaited put; scans: one range() / iterator per scan, ' +
        '"(seek)" = one classic-level iterator re-seeked per scan). n/a: no such mode (hybridlog has no range(); classic-level single puts are not run as a fill).',
      '',
    );
    const targetRows = [];
    for (const e of ['fillrandom', 'readrandom']) {
      const a = best(e, 'lsm');
      const b = best(e, 'level');
      if (a === undefined || b === undefined) continue;
      const r = a.value / b.value;
      targetRows.push([`lsm / classic-level, ${e}`, `${fmt(a.value)} (${a.mode})`, `${fmt(b.value)} (${b.mode})`, `${r.toFixed(2)}×`, '≥ 3×', r >= 3 ? 'met' : '**not met**']);
    }
    if (targetRows.length > 0) {
      L.push('### Targets', '');
      L.push(table(['ratio, each with its fastest API', 'lsm M ops/s', 'classic-level M ops/s', 'ratio', 'target', 'met'], targetRows, 1), '');
    }
    L.push('<details><summary>every mode of every experiment, the calls made, and how</summary>', '');
    for (const e of ran) {
      const lvB = best(e, 'level');
      const hlB = best(e, 'hl');
      L.push(`#### ${EXPERIMENT_DEFS[e].title}: ${EXPERIMENT_DEFS[e].what}`, '');
      L.push(
        table(
          ['mode', 'M ops/s', 'spread', 'ops timed', '÷ best classic-level', '÷ best hybridlog'],
          SYSTEMS.filter((mo) => results[e][mo] !== undefined).map((mo) => {
            const c = results[e][mo];
            const spread = ((Math.max(...c.opsPerSec) - Math.min(...c.opsPerSec)) / c.median) * 100;
            const self = { value: c.median };
            return [mo, fmt(c.median), REPS > 1 ? `${spread.toFixed(0)}%` : '-', compact(c.ops), ratio(self, lvB), ratio(self, hlB)];
          }),
        ),
        '',
      );
    }
    const shaped = ran.filter((e) => rep.lsmShape[e] !== undefined);
    if (shaped.length > 0) {
      L.push('The shared lsm store when each section began:', '');
      L.push(
        table(
          ['section', 'memtable MiB', 'frozen memtables', 'level-0 runs', 'runs', 'tables', 'levels', 'table MiB'],
          shaped.map((e) => {
            const t = rep.lsmShape[e];
            return [EXPERIMENT_DEFS[e].title, mib(t.memtableBytes), t.immutableMemtables, t.level0Runs, t.runs, t.tables, t.levels, mib(t.liveTableBytes)];
          }),
        ),
        '',
      );
    }
    const modeNames = SYSTEMS.filter((mo) => ran.some((e) => results[e][mo] !== undefined));
    L.push(table(['mode', 'what is called'], modeNames.map((mo) => [`${mo}: ${MODES[mo].label}`, MODES[mo].how]), 2), '');
    L.push(
      table(
        ['experiment', 'what'],
        ran.map((e) => [EXPERIMENT_DEFS[e].title, EXPERIMENT_DEFS[e].what]),
        2,
      ),
      '',
    );
    L.push(
      '- Fills use a fresh store in a fresh directory per mode and repetition, timed until the last write returns (db_bench style: background flushes and compactions may still run). ' +
        'The other sections share one store per engine, loaded untimed with the records and one 8-byte zero counter per record, and let settle (flushes and compactions idle) after overwrite. ' +
        'classic-level writes its WAL on every batch (not synced); tidekv has no WAL (durability at checkpoints).',
      '- Batched YCSB A/B split each chunk of 1000 ops into its reads (one getMany) and its writes (one putMany / batch); a chunk\'s reads do not see its own writes.',
      '</details>',
      '',
    );
  }

  if (rep.stall !== null && rep.stall.length > 0) {
    L.push(`## Write stalls: overwrite with small memtables`, '');
    L.push(
      `${RECORDS.toLocaleString('en')} records loaded, then ${compact(rep.stall[0].ops)} uniformly random overwrites in batches of ${CHUNK} (lsm: putMany; classic-level: await batch(), ` +
        'its writeBufferSize set to the same size); latency of each batch of 1000; the stall counters are the engine\'s, as deltas over the overwrite phase ' +
        '(the longest stall is kept since open: the figure in brackets is the one at the end of the load).',
      '',
    );
    L.push(
      table(
        ['system', 'memtable', 'M ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms (at s)', 'batches > 100 ms / > 1 s', 'writeDelay ms', 'writeStop ms', 'stalls', 'longest stall ms (load)', 'max L0 / runs', 'compactions', 'write amp.'],
        rep.stall.map((r) => [
          r.name,
          `${mib(r.memtable)} MiB`,
          fmt(r.opsPerSec),
          ms(r.p50).toFixed(2),
          ms(r.p99).toFixed(2),
          ms(r.p999).toFixed(2),
          `${ms(r.max).toFixed(1)} (${r.worstAtSeconds.toFixed(1)})`,
          `${r.over100ms} / ${r.over1s}`,
          r.writeDelayMicros === undefined ? '—' : (r.writeDelayMicros / 1e3).toFixed(0),
          r.writeStopMicros === undefined ? '—' : (r.writeStopMicros / 1e3).toFixed(0),
          r.stalls === undefined ? '—' : String(r.stalls),
          r.longestStallMicros === undefined ? '—' : `${(r.longestStallMicros / 1e3).toFixed(1)} (${(r.longestStallMicrosLoad / 1e3).toFixed(1)})`,
          String(r.maxBacklog),
          r.compactions === undefined ? '—' : String(r.compactions),
          r.compactionBytesWritten === undefined ? '—' : `${((r.compactionBytesWritten + r.bytesFlushed) / (r.ops * RECORD_BYTES)).toFixed(1)}×`,
        ]),
        2,
      ),
      '',
    );
    L.push(
      '"max L0 / runs": the most level-0 runs (leveled; classic-level: level-0 files) or runs in all levels (size-tiered) seen, sampled every 32 batches; tidekv slows writes down at 12 runs and stops them at 24 ' +
        '(level 0 for leveled, the fullest level for size-tiered), LevelDB at 8 and 12 level-0 files. "at s": seconds into the overwrite. ' +
        'Write amplification: (bytes flushed + bytes compactions wrote) ÷ (overwrites × 116 B).',
      '',
    );
  }

  if (rep.space !== null && rep.space.length > 0) {
    const logical = RECORDS * RECORD_BYTES;
    L.push(`## Space amplification after ${SPACE_ROUNDS}× overwrite`, '');
    L.push(
      `${RECORDS.toLocaleString('en')} records loaded, then every key overwritten ${SPACE_ROUNDS} times (shuffled order each round, batches of 10,000: putMany / batch()); ` +
        `amplification = bytes on disk ÷ ${(logical / 1e6).toFixed(0)} MB (records × (16 + 100) B). "disk" is stats().diskBytes for tidekv, the directory's files for classic-level; "dir" is every file in the directory. ` +
        'Measured after background work settled, then after `await db.compact()` (classic-level: `compactRange()` over all keys), then after a checkpoint (tidekv).',
      '',
    );
    const a = (m) => ((m.diskBytes ?? m.dirBytes) / logical).toFixed(2);
    L.push(
      table(
        ['system', 'disk ÷ data before', 'dir MiB before', 'in memory MiB before', 'disk ÷ data after compact', 'dir MiB after', 'compact s', 'dir ÷ data after checkpoint (MiB)', 'write s'],
        rep.space.map((r) => [
          r.name,
          `${a(r.before)}×`,
          mib(r.before.dirBytes),
          r.before.memoryBytes === null ? '—' : mib(r.before.memoryBytes),
          `${a(r.afterCompact)}×`,
          mib(r.afterCompact.dirBytes),
          (r.compactMs / 1000).toFixed(1),
          r.afterCheckpoint === null ? '—' : `${(r.afterCheckpoint.dirBytes / logical).toFixed(2)}× (${mib(r.afterCheckpoint.dirBytes)})`,
          r.writeSeconds.toFixed(1),
        ]),
      ),
      '',
    );
  }

  if (rep.checkpoint !== null) {
    const c = rep.checkpoint;
    L.push('## Checkpoints (lsm, default options)', '');
    L.push(
      `${RECORDS.toLocaleString('en')} records loaded, base checkpoint: ${mib(c.base.bytesWritten)} MiB written in ${c.base.durationMs.toFixed(0)} ms (pause ${c.base.pauseMs.toFixed(3)} ms). ` +
        `Then rounds of ${Math.round(RECORDS * UPDATE_SHARE).toLocaleString('en')} updates (1% of the keys; zipfian θ 0.99 and uniform rounds alternating), each followed by a checkpoint; ` +
        'changed = distinct keys updated × 116 B.',
      '',
    );
    const rows = [];
    for (const d of ['zipfian', 'uniform']) {
      const rs = c.rounds.filter((r) => r.dist === d);
      if (rs.length === 0) continue;
      const mean = (f) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
      rows.push([
        `${d} (${rs.length} rounds, ~${Math.round(mean((r) => r.distinct)).toLocaleString('en')} distinct keys)`,
        kib(mean((r) => r.changedBytes)),
        kib(median(rs.map((r) => r.bytesWritten))),
        `**${median(rs.map((r) => r.bytesWritten / r.changedBytes)).toFixed(2)}×**`,
        kib(mean((r) => r.bytesWritten)),
        `${mean((r) => r.bytesWritten / r.changedBytes).toFixed(2)}×`,
        `${Math.min(...rs.map((r) => r.bytesWritten / r.changedBytes)).toFixed(2)}–${Math.max(...rs.map((r) => r.bytesWritten / r.changedBytes)).toFixed(2)}×`,
        median(rs.map((r) => r.durationMs)).toFixed(1),
        Math.max(...rs.map((r) => r.durationMs)).toFixed(1),
        median(rs.map((r) => r.pauseMs)).toFixed(3),
      ]);
    }
    L.push(
      table(
        ['1% updates, per checkpoint', 'changed KiB (mean)', 'written KiB median', 'written ÷ changed median', 'written KiB mean', 'written ÷ changed mean', 'range', 'duration ms median', 'max', 'pause ms median'],
        rows,
      ),
      '',
    );
    const big = c.rounds.filter((r) => r.bytesWritten > 10 * r.changedBytes);
    L.push(
      `Every checkpoint in order (KiB written): ${c.rounds.map((r) => `${r.version}${r.dist === 'zipfian' ? 'z' : 'u'} ${kib(r.bytesWritten)}`).join(', ')}. ` +
        `${big.length} of ${c.rounds.length} wrote over 10× the changed bytes (${big.map((r) => r.version).join(', ') || 'none'}): a checkpoint writes the tables made since the previous one, ` +
        'so one that follows a compaction carries that compaction\'s output (these match the size of the whole data set\'s tables).',
      '',
    );
    L.push('Recovery: close, then `open()` of the directory (its newest checkpoint) and a first `get` (3 times each, page cache warm):', '');
    L.push(
      table(
        ['checkpoints', 'open ms median (all)', 'first get ms', 'tables / runs / levels', 'files, dir MiB', 'target', 'met'],
        c.recovery.map((r) => [
          String(r.checkpoints),
          `**${r.openMsMedian.toFixed(1)}** (${r.samples.map((s) => s.openMs.toFixed(1)).join(', ')})`,
          r.firstGetMsMedian.toFixed(3),
          `${r.tables} / ${r.runs} / ${r.levels}`,
          `${r.files}, ${mib(r.dirBytes)}`,
          '≤ 100 ms',
          r.openMsMedian + r.firstGetMsMedian <= 100 ? 'met' : '**not met**',
        ]),
      ),
      '',
    );
  }
  return L.join('\n');
}

// ------------------------------------------------------------------ main --

async function main() {
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: gitCommit(),
  };
  const command = `node ${path.relative(process.cwd(), process.argv[1]) || process.argv[1]}${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}, commit ${machine.commit}`);
  log(`records ${RECORDS}, ops ${OPS}, scans ${SCANS}, chunk ${CHUNK}, reps ${REPS}, experiments ${EXPERIMENTS.join(',')}, modes ${SYSTEMS.join(',')}`);

  tidekv = await loadWithRetry('dist/index.js', () => require('../dist/index.js'));
  ClassicLevel = (await import('classic-level')).ClassicLevel;

  log('drawing keys, values and sequences');
  VALUES = makeValues();
  const keys = makeKeys(RECORDS);
  const counterKeys = makeCounterKeys(RECORDS);
  const missKeys = makeMissKeys(RECORDS);
  for (let i = 0; i < Math.min(missKeys.length, 3); i++) check(missKeys[i].length === KEY_BYTES && keys[0].length === KEY_BYTES, 'keys are 16 bytes');

  noteLoad();
  const report = { machine, command, date: new Date().toISOString(), records: RECORDS, ops: OPS, scans: SCANS, chunk: CHUNK, reps: REPS, smoke: SMOKE, results, stall: null, space: null, checkpoint: null, checks: 0, seconds: 0 };
  let insts = {};
  try {
    for (const e of ['fillrandom', 'fillseq']) if (EXPERIMENTS.includes(e)) await runFill(e, keys);

    const shared = THROUGHPUT.filter((e) => !EXPERIMENT_DEFS[e].fresh && EXPERIMENTS.includes(e));
    if (shared.length > 0) {
      const engines = [...new Set(shared.flatMap((e) => modesFor(e).map(ENGINE_OF)))];
      const sections = buildSections(keys, counterKeys, missKeys);
      insts = await openShared(engines, keys, counterKeys);
      await settleAll(insts, 'after loading');
      for (const e of shared) {
        await runOnShared(e, insts, sections);
        if (e === 'overwrite') await settleAll(insts, 'after overwrite');
      }
      for (const [e, inst] of Object.entries(insts)) {
        await ENGINES[e].destroy(inst);
        delete insts[e];
      }
    }
    if (EXPERIMENTS.includes('stall')) report.stall = await runStall(keys);
    if (EXPERIMENTS.includes('space')) report.space = await runSpace(keys);
    if (EXPERIMENTS.includes('checkpoint') && SYSTEMS.some((s) => s.startsWith('lsm'))) report.checkpoint = await runCheckpoint(keys);
  } finally {
    for (const [e, inst] of Object.entries(insts)) {
      try {
        await ENGINES[e].destroy(inst);
      } catch (err) {
        log(`closing ${e}: ${err.message}`);
      }
    }
    removeAllDirs();
  }
  noteLoad();
  report.checks = checks;
  report.loadAverage = { min: Math.min(...loadSamples), median: median(loadSamples), max: Math.max(...loadSamples), samples: loadSamples };
  report.lsmShape = lsmShape;
  report.seconds = (Date.now() - T_START) / 1000;
  const markdown = renderMarkdown(report);
  if (parsed.json !== undefined) {
    fs.writeFileSync(parsed.json, JSON.stringify(report, null, 2) + '\n');
    log(`wrote ${parsed.json}`);
  }
  log(`done in ${report.seconds.toFixed(0)} s: ${checks} checks passed`);
  return markdown;
}

main().then(
  (markdown) => {
    process.stdout.write(markdown + '\n', () => process.exit(0));
  },
  (err) => {
    removeAllDirs();
    log(err instanceof CheckError ? err.message : err.stack ?? String(err));
    process.exit(1);
  },
);
