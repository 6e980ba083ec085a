#!/usr/bin/env node
// tidekv's storage engines side by side, with lmdb-js and classic-level as
// peers, in one run; writes bench/ENGINES.md and its charts.
//
//   npm run bench [-- flags]          node bench/engines.mjs [flags]     (--help lists them)
//
// Sections:
//   1. YCSB: load, A (50/50 read/update), B (95/5), C (read only) and RMW
//      (increment an int64 counter), zipfian and uniform keys, 1M records of
//      100 B. Each system through its fastest API: batches of 1000 ops
//      (tidekv putMany / getMany / incrementMany; lmdb one transactionSync per
//      batch; classic-level awaited batch() and getMany()).
//   2. Large values: 4 KiB and 64 KiB values, about 1 GiB of each: load
//      throughput into a fresh store, then uniformly random reads.
//   3. Checkpoint cost (tidekv engines): load, checkpoint, change 1% of the
//      keys, checkpoint again: bytes written ÷ bytes changed, and the time
//      to reopen after 1, 5 and 20 checkpoints.
//   4. Memory per key: the engine's in-memory index as stats() reports it,
//      and the resident memory the process grew by (each store measured in a
//      child process of its own: bench/memory-probe.mjs).
//
// An engine whose open() fails (today 'appendlog', until it lands) is noted on
// stderr and in the report and left out; nothing else changes.
//
// How it measures (as bench/run.mjs and bench/lsm.mjs): hand-timed loops
// (process.hrtime) over key sequences drawn before timing, every system
// replaying the same sequence; warmed up; repeated --reps times with the
// systems interleaved (rep 1 of every system, then rep 2, the order rotated
// each time) so that drift on a noisy machine hits them alike; the median
// reported. A section that would run for long (the slow peers) is shortened to
// a prefix of the same sequence (--max-seconds). A full GC runs before each
// timed section. Every section checks its own results (bytes read, keys
// loaded, counter values, the values found after reopening), so a broken call
// cannot be measured as a fast one.
//
// Progress goes to stderr, the report to stdout and to --out (bench/ENGINES.md;
// with --smoke a temporary file, so CI leaves the repository clean), SVG charts
// to charts/ beside it, the raw numbers to --json FILE.
//
// tidekv is loaded from dist/ (npm run build:ts) and build/Release/tidekv.node.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  ROOT,
  T_START,
  commandLine,
  createCli,
  createTempDirs,
  log,
  machineInfo,
  median,
  readI64,
  table,
  waitUntilStill,
  writeI64,
  i64Buffer,
} from './common.mjs';
import { groupedBarChart } from './svg.mjs';
import { ENGINE_NAMES, OPTIONS_TEXT, PEER_NAMES, kindOf, openStore } from './systems.mjs';
import {
  VALUE_BYTES,
  counterKeyName,
  makeCounterKeys,
  makeKeys,
  permutation,
  rng,
  uniformSequence,
  valuePool,
  writeMask,
  zipfianSequence,
} from './workload.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

// ---------------------------------------------------------------- options --

const SECTIONS = ['ycsb', 'large', 'checkpoint', 'memory'];
const USAGE = `usage: node bench/engines.mjs [flags]          (npm run bench [-- flags])
  --engines a,b      tidekv engines: ${ENGINE_NAMES.join(',')} (default all; one whose open()
                     fails is noted on stderr and left out)
  --peers a,b        ${PEER_NAMES.join(',')}, or none (default both)
  --only a,b         sections: ${SECTIONS.join(',')} (default all)
  --records N        records of the YCSB, checkpoint and memory sections (default 1M; 20K with --smoke)
  --ops N            operations per timed YCSB section (default 2M; 50K with --smoke)
  --large-bytes N    bytes of values loaded per large value size (default 1G; 8M with --smoke)
  --value-sizes a,b  the large value sizes (default 4K,64K)
  --max-seconds S    shorten a timed section to about S seconds (a prefix of the same sequence)
                     when it would take longer; 0: never (default 3; 0.5 with --smoke)
  --reps N           timed repetitions, interleaved across systems, median reported
                     (default 3; 1 with --smoke)
  --chunk N          ops per batched call (default 1000)
  --out FILE         the markdown report (default bench/ENGINES.md; with --smoke a file in a
                     new temporary directory); the SVG charts go to charts/ beside it
  --json FILE        also write the raw numbers to FILE
  --smoke            tiny sizes, one repetition, every code path (CI: well under a minute)
Numbers take k/M/G suffixes (decimal for counts; binary for --large-bytes and --value-sizes).`;
const { fail, parseCount, parseFlags } = createCli('bench/engines', USAGE);
const { tempDir, removeDir, removeAllDirs } = createTempDirs('engines');

const parsed = parseFlags({
  engines: { type: 'string' },
  peers: { type: 'string' },
  only: { type: 'string' },
  records: { type: 'string' },
  ops: { type: 'string' },
  'large-bytes': { type: 'string' },
  'value-sizes': { type: 'string' },
  'max-seconds': { type: 'string' },
  reps: { type: 'string' },
  chunk: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'string' },
  smoke: { type: 'boolean' },
});

function parseList(text, allowed, name) {
  const out = new Set();
  for (const raw of text.split(',')) {
    const item = raw.trim().toLowerCase();
    if (item === '') continue;
    if (!allowed.includes(item)) fail(`--${name}: unknown '${item}' (one of ${allowed.join(', ')})`);
    out.add(item);
  }
  return allowed.filter((a) => out.has(a));
}

const SMOKE = parsed.smoke === true;
const REQUESTED_ENGINES = parseList(parsed.engines ?? ENGINE_NAMES.join(','), ENGINE_NAMES, 'engines');
const REQUESTED_PEERS = parsed.peers?.trim().toLowerCase() === 'none' ? [] : parseList(parsed.peers ?? PEER_NAMES.join(','), PEER_NAMES, 'peers');
const ONLY = parseList(parsed.only ?? SECTIONS.join(','), SECTIONS, 'only');
if (ONLY.length === 0) fail('--only is empty');
const RECORDS = parseCount(parsed.records, SMOKE ? 20_000 : 1_000_000, 'records');
const OPS = parseCount(parsed.ops, SMOKE ? 50_000 : 2_000_000, 'ops');
const LARGE_BYTES = parseCount(parsed['large-bytes'], SMOKE ? 8 << 20 : 1 << 30, 'large-bytes', true);
const VALUE_SIZES = (parsed['value-sizes'] ?? '4K,64K')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map((x) => parseCount(x, undefined, 'value-sizes', true));
if (VALUE_SIZES.length === 0) fail('--value-sizes is empty');
const MAX_SECONDS = parsed['max-seconds'] === undefined ? (SMOKE ? 0.5 : 3) : Number(parsed['max-seconds']);
if (!(MAX_SECONDS >= 0)) fail(`--max-seconds must be a number >= 0, got '${parsed['max-seconds']}'`);
const REPS = parseCount(parsed.reps, SMOKE ? 1 : 3, 'reps');
const CHUNK = Math.min(parseCount(parsed.chunk, 1000, 'chunk'), OPS, RECORDS);
const OUT = parsed.out ?? (SMOKE ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tidekv-engines-report-')), 'ENGINES.md') : path.join(ROOT, 'bench', 'ENGINES.md'));
const CHARTS_DIR = path.join(path.dirname(OUT), 'charts');

const KEY_BYTES = 16; // `user` / `cntr` + 12 digits
const RECORD_BYTES = KEY_BYTES + VALUE_BYTES; // the user's bytes of one record
const VALUE_COUNT = 1 << 16; // distinct 100-byte values (see valuePool)
const LARGE_BATCH_BYTES = 4 << 20; // large values: a batched call carries about this many value bytes
const LARGE_POOL_BYTES = 16 << 20; // large values: distinct values cycled through
const CHECKPOINT_STAGES = SMOKE ? [1, 2, 3] : [1, 5, 20]; // reopen after this many checkpoints
const OPEN_REPS = 3; // reopen timings per stage (median reported)
const UPDATE_SHARE = 0.01; // checkpoint section: 1% of the keys per round
const SETTLE = { stableMs: SMOKE ? 200 : 1000, maxMs: SMOKE ? 5000 : 60_000 };
const WRITE_SHARE = { A: 0.5, B: 0.05, C: 0, RMW: 0 };
const SEQ_SEED = { A: 101, B: 102, C: 103, RMW: 104 }; // as bench/run.mjs: the same sequences
const WORKLOADS = ['A', 'B', 'C', 'RMW'];
const DISTS = ['zipfian', 'uniform'];
// Okabe-Ito colours for the engines (told apart with colour-blindness too), greys for the peers.
const COLORS = { hybridlog: '#0072B2', lsm: '#E69F00', appendlog: '#009E73', lmdb: '#AAAAAA', 'classic-level': '#555555' };
// What each default run reads; a report made with other sizes says so at the top.
const DEFAULT_SIZES = { records: 1_000_000, ops: 2_000_000, largeBytes: 1 << 30 };

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    removeAllDirs();
    process.exit(code);
  });
}

// ---------------------------------------------------------------- helpers --

class CheckError extends Error {}
let checks = 0;
function check(ok, what) {
  if (!ok) throw new CheckError(`check failed: ${what}`);
  checks++;
}

const loadSamples = []; // 1-minute load average at each section's start: other work on the machine
const noteLoad = () => loadSamples.push(os.loadavg()[0]);

async function timeSection(fn) {
  gc();
  const t0 = process.hrtime.bigint();
  let out = fn();
  if (out instanceof Promise) out = await out;
  return { ns: Number(process.hrtime.bigint() - t0), out };
}

/** The order systems run in repetition `rep` (1-based): rotated, so none always follows the same one. */
function rotated(list, rep) {
  const shift = (rep - 1) % Math.max(1, list.length);
  return [...list.slice(shift), ...list.slice(0, shift)];
}

/** Two significant digits, rounded down: 437 -> 430 (section sizes that read well). */
function roundDown(n) {
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1);
  return Math.max(1, Math.floor(n / unit) * unit);
}

/**
 * How many chunks a section times: all of them, or fewer when that would
 * clearly take over MAX_SECONDS. Short probes underestimate a fast system
 * (cold caches, the GC before each run), so only a projection over twice the
 * limit shortens a section, to about MAX_SECONDS at the rate of a second,
 * warmer probe (bench/run.mjs's rule). Then warms up on a tenth of it.
 * run(chunks) runs untimed and returns nanoseconds.
 */
async function sizeAndWarm(run, maxChunks) {
  let n = maxChunks;
  const probe = Math.max(1, Math.floor(maxChunks / 200));
  if (MAX_SECONDS > 0 && 2 * probe < maxChunks) {
    await run(probe);
    const chunksPerSecond = (2 * probe) / ((await run(2 * probe)) / 1e9);
    if (maxChunks / chunksPerSecond > 2 * MAX_SECONDS) n = Math.min(maxChunks, Math.max(2 * probe, roundDown(chunksPerSecond * MAX_SECONDS)));
  }
  await run(Math.max(1, Math.floor(n / 10)));
  return n;
}

const mops = (opsPerSec) => (opsPerSec >= 1e5 ? (opsPerSec / 1e6).toFixed(2) : (opsPerSec / 1e6).toFixed(3));
const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const kib = (bytes) => (bytes / 1024).toFixed(1);
const sizeName = (bytes) => (bytes % (1 << 20) === 0 ? `${bytes >> 20} MiB` : bytes % 1024 === 0 ? `${bytes >> 10} KiB` : `${bytes} B`);
const compact = (n) => (n >= 1e6 && n % 1e5 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}K` : String(n));
const spreadOf = (xs) => (xs.length < 2 ? 0 : (Math.max(...xs) - Math.min(...xs)) / median(xs));

// ------------------------------------------------------------- workloads --
// A chunk is what one batched call carries: its reads (one getMany), then its
// writes (one putMany / batch / transaction). A chunk's reads do not see its
// own writes, for every system alike.

/** Chunks writing keys[idx[i]] = valueOf(idx[i]) (withOps: also as batch() op objects, for classic-level). */
function writeChunks(keys, idx, valueOf, chunkOps, withOps) {
  const chunks = [];
  for (let s = 0; s < idx.length; s += chunkOps) {
    const writeKeys = [];
    const writeValues = [];
    const writeOps = withOps ? [] : null;
    for (let i = s; i < Math.min(idx.length, s + chunkOps); i++) {
      const k = keys[idx[i]];
      const v = valueOf(idx[i]);
      writeKeys.push(k);
      writeValues.push(v);
      if (withOps) writeOps.push({ type: 'put', key: k, value: v });
    }
    chunks.push({ reads: [], writeKeys, writeValues, writeOps });
  }
  return chunks;
}

/** Chunks of a mix: op i reads keys[seq[i]], or writes it when mask[i] is 1 (mask null: reads only). */
function mixChunks(keys, seq, mask, valueOf, chunkOps, withOps) {
  const chunks = [];
  for (let s = 0; s < seq.length; s += chunkOps) {
    const reads = [];
    const writeKeys = [];
    const writeValues = [];
    const writeOps = withOps ? [] : null;
    for (let i = s; i < Math.min(seq.length, s + chunkOps); i++) {
      const k = keys[seq[i]];
      if (mask !== null && mask[i] === 1) {
        const v = valueOf(seq[i]);
        writeKeys.push(k);
        writeValues.push(v);
        if (withOps) writeOps.push({ type: 'put', key: k, value: v });
      } else {
        reads.push(k);
      }
    }
    chunks.push({ reads, writeKeys, writeValues, writeOps });
  }
  return chunks;
}

/** Chunks of counter increments (withOps: also as batch() increment ops, for an engine without incrementMany). */
function rmwChunks(ckeys, seq, chunkOps, withOps) {
  const chunks = [];
  for (let s = 0; s < seq.length; s += chunkOps) {
    const keys = [];
    for (let i = s; i < Math.min(seq.length, s + chunkOps); i++) keys.push(ckeys[seq[i]]);
    chunks.push({ keys, incrementOps: withOps ? keys.map((key) => ({ type: 'increment', key })) : null });
  }
  return chunks;
}

/** readsBefore[c] = reads in the first c chunks: the bytes a prefix must return. */
function readPrefix(chunks) {
  const out = new Float64Array(chunks.length + 1);
  for (let c = 0; c < chunks.length; c++) out[c + 1] = out[c] + chunks[c].reads.length;
  return out;
}

/** `count` distinct uniformly random indices below n (the clean "1% of the keys changed"). */
function distinctUniform(n, count, seed) {
  const random = rng(seed);
  const taken = new Uint8Array(n);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; ) {
    const k = Math.floor(random() * n);
    if (taken[k] === 1) continue;
    taken[k] = 1;
    out[i++] = k;
  }
  return out;
}

// ------------------------------------------------------------- hot loops --
// One function per (kind of store, call shape), so call sites see one store
// class each. c = chunks to run. Reads return the bytes they saw.

function tidekvWrite(db, chunks, c) {
  for (let j = 0; j < c; j++) db.putMany(chunks[j].writeKeys, chunks[j].writeValues);
}
function tidekvRead(db, chunks, c) {
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const r = db.getMany(chunks[j].reads);
    for (let i = 0; i < r.length; i++) {
      const v = r[i];
      if (v !== undefined) bytes += v.length;
    }
  }
  return bytes;
}
function tidekvMix(db, chunks, c) {
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const ch = chunks[j];
    if (ch.reads.length > 0) {
      const r = db.getMany(ch.reads);
      for (let i = 0; i < r.length; i++) {
        const v = r[i];
        if (v !== undefined) bytes += v.length;
      }
    }
    if (ch.writeKeys.length > 0) db.putMany(ch.writeKeys, ch.writeValues);
  }
  return bytes;
}
function tidekvIncrementMany(db, chunks, c) {
  for (let j = 0; j < c; j++) db.incrementMany(chunks[j].keys);
}
function tidekvIncrementBatch(db, chunks, c) {
  for (let j = 0; j < c; j++) db.batch(chunks[j].incrementOps);
}

// lmdb-js: writes in one transactionSync per chunk, reads with getBinaryFast
// (a view of the mapped page, valid until the next call: only its length is
// used); its fastest modes in bench/RESULTS.md section 1.
function lmdbWrite(db, chunks, c) {
  for (let j = 0; j < c; j++) {
    const { writeKeys, writeValues } = chunks[j];
    db.transactionSync(() => {
      for (let i = 0; i < writeKeys.length; i++) db.put(writeKeys[i], writeValues[i]);
    });
  }
}
function lmdbRead(db, chunks, c) {
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const reads = chunks[j].reads;
    for (let i = 0; i < reads.length; i++) {
      const v = db.getBinaryFast(reads[i]);
      if (v !== undefined) bytes += v.length;
    }
  }
  return bytes;
}
function lmdbMix(db, chunks, c) {
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const { reads, writeKeys, writeValues } = chunks[j];
    db.transactionSync(() => {
      for (let i = 0; i < reads.length; i++) {
        const v = db.getBinaryFast(reads[i]);
        if (v !== undefined) bytes += v.length;
      }
      for (let i = 0; i < writeKeys.length; i++) db.put(writeKeys[i], writeValues[i]);
    });
  }
  return bytes;
}
const lmdbScratch = Buffer.alloc(8);
function lmdbRmw(db, chunks, c) {
  for (let j = 0; j < c; j++) {
    const keys = chunks[j].keys;
    db.transactionSync(() => {
      for (let i = 0; i < keys.length; i++) {
        const b = db.getBinaryFast(keys[i]);
        writeI64(lmdbScratch, (b === undefined ? 0 : readI64(b)) + 1);
        db.put(keys[i], lmdbScratch);
      }
    });
  }
}

// classic-level: one awaited batch() / getMany() per chunk.
async function levelWrite(db, chunks, c) {
  for (let j = 0; j < c; j++) await db.batch(chunks[j].writeOps);
}
async function levelRead(db, chunks, c) {
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const r = await db.getMany(chunks[j].reads);
    for (let i = 0; i < r.length; i++) {
      const v = r[i];
      if (v !== undefined) bytes += v.length;
    }
  }
  return bytes;
}
async function levelMix(db, chunks, c) {
  let bytes = 0;
  for (let j = 0; j < c; j++) {
    const ch = chunks[j];
    if (ch.reads.length > 0) {
      const r = await db.getMany(ch.reads);
      for (let i = 0; i < r.length; i++) {
        const v = r[i];
        if (v !== undefined) bytes += v.length;
      }
    }
    if (ch.writeOps.length > 0) await db.batch(ch.writeOps);
  }
  return bytes;
}
async function levelRmw(db, chunks, c) {
  const pending = new Map(); // a key repeated in a chunk counts on from its pending value
  for (let j = 0; j < c; j++) {
    const keys = chunks[j].keys;
    const values = await db.getMany(keys);
    pending.clear();
    for (let i = 0; i < keys.length; i++) {
      let current = pending.get(keys[i]);
      if (current === undefined) current = values[i] === undefined ? 0 : readI64(values[i]);
      pending.set(keys[i], current + 1);
    }
    const ops = [];
    for (const [key, v] of pending) ops.push({ type: 'put', key, value: i64Buffer(v) });
    await db.batch(ops);
  }
}

// ---------------------------------------------------------------- systems --
// A system: one store kind called one way. inst = { dir, db } of one store.

const KINDS = {
  tidekv: {
    api: {
      write: 'putMany(1000 keys, values)',
      read: 'getMany(1000 keys)',
      mix: 'getMany(the chunk\'s reads) + putMany(its writes)',
    },
    write: tidekvWrite,
    read: tidekvRead,
    mix: tidekvMix,
    count: (inst) => inst.db.stats().keys,
    get: (inst, key) => inst.db.get(key),
    signature: (inst) => JSON.stringify(inst.db.stats()),
  },
  lmdb: {
    api: {
      write: 'one transactionSync per 1000 puts',
      read: 'getBinaryFast per key (no transaction)',
      mix: 'one transactionSync per chunk: getBinaryFast reads, then puts',
      rmw: 'one transactionSync per chunk: getBinaryFast + put per increment',
    },
    write: lmdbWrite,
    read: lmdbRead,
    mix: lmdbMix,
    rmw: lmdbRmw,
    count: (inst) => inst.db.getStats().entryCount,
    get: (inst, key) => inst.db.get(key),
    signature: () => '',
  },
  level: {
    api: {
      write: 'await batch(1000 puts)',
      read: 'await getMany(1000 keys)',
      mix: 'await getMany(reads) + await batch(writes)',
      rmw: 'await getMany(keys) + await batch(the new values)',
    },
    write: levelWrite,
    read: levelRead,
    mix: levelMix,
    rmw: levelRmw,
    count: () => null, // no cheap count: a sample of keys is checked instead
    get: (inst, key) => inst.db.get(key),
    signature: (inst) => inst.db.getProperty('leveldb.stats'),
  },
};

/** A measured system: its name, how it is called, and its stores. */
function makeSystem(name, rmwApi) {
  const kind = kindOf(name);
  const calls = KINDS[kind];
  const rmw = kind !== 'tidekv' ? calls.rmw : rmwApi === 'incrementMany' ? tidekvIncrementMany : rmwApi === 'batch' ? tidekvIncrementBatch : null;
  return {
    name,
    kind,
    color: COLORS[name],
    api: { ...calls.api, ...(kind === 'tidekv' ? { rmw: rmwApi === null ? 'not run (no increment in batches)' : rmwApi === 'incrementMany' ? 'incrementMany(1000 keys)' : 'batch(1000 increment ops)' } : {}) },
    needsOps: kind === 'level',
    needsIncrementOps: kind === 'tidekv' && rmwApi === 'batch',
    write: calls.write,
    read: calls.read,
    mix: calls.mix,
    rmw,
    async open(tag) {
      const dir = tempDir(`${name}-${tag}`);
      return { dir, db: await openStore(name, dir), expected: new Map() };
    },
    async close(inst) {
      await inst.db.close();
      removeDir(inst.dir);
    },
    count: calls.count,
    get: calls.get,
    async counter(inst, key) {
      const b = await calls.get(inst, key);
      return b === undefined ? NaN : readI64(b);
    },
    /** Waits for flushes, merges and compactions to go quiet (see waitUntilStill). */
    async settle(inst) {
      return waitUntilStill(() => calls.signature(inst), SETTLE);
    },
  };
}

/**
 * Which systems can run here: each requested engine must open, take a write
 * and read it back. One that cannot (an engine still being written) is left
 * out with a note rather than failing the run. Also finds how the engine
 * takes increments in batches (incrementMany, else batch() of increments).
 */
async function availableSystems() {
  const systems = [];
  const missing = [];
  for (const name of [...REQUESTED_ENGINES, ...REQUESTED_PEERS]) {
    const dir = tempDir(`${name}-probe`);
    let db;
    try {
      db = await openStore(name, dir);
      let rmwApi = null;
      if (kindOf(name) === 'tidekv') {
        db.put('probe', 'value');
        check(db.get('probe')?.toString() === 'value', `${name}: a put reads back`);
        for (const [api, call] of [
          ['incrementMany', () => db.incrementMany(['counter'])],
          ['batch', () => db.batch([{ type: 'increment', key: 'counter' }])],
        ]) {
          try {
            call();
            rmwApi = api;
            break;
          } catch (err) {
            log(`${name}: ${api} of increments failed (${err.code ?? err.message}); ${api === 'batch' ? 'RMW is not run' : 'trying batch()'}`);
          }
        }
      }
      systems.push(makeSystem(name, rmwApi));
    } catch (err) {
      if (err instanceof CheckError) throw err;
      const why = `${err.code ? err.code + ': ' : ''}${err.message.split('\n')[0]}`;
      process.stderr.write(`bench/engines: '${name}' is left out of this run: opening it failed (${why})\n`);
      missing.push({ name, why });
    } finally {
      if (db !== undefined) await db.close();
      removeDir(dir);
    }
  }
  return { systems, missing };
}

/** Every record of a sample is there with valueBytes bytes, and the count (where cheap) is expected. */
async function checkLoaded(sys, inst, keys, expected, valueBytes, what) {
  const count = sys.count(inst);
  if (count !== null) check(count === expected, `${sys.name} ${what}: ${count} keys, expected ${expected}`);
  const step = Math.max(1, Math.floor(keys.length / 200));
  for (let i = 0; i < keys.length; i += step) {
    const v = await sys.get(inst, keys[i]);
    check(v !== undefined && v.length === valueBytes, `${sys.name} ${what}: ${keys[i]} holds ${valueBytes} bytes`);
  }
}

// ----------------------------------------------------------- 1. YCSB ------

const ycsb = {}; // system -> workload ('load' | 'A' ...) -> dist ('-' | 'zipfian' | 'uniform') -> cell
function recordCell(results, system, workload, dist, ops, ns) {
  const cell = (((results[system] ??= {})[workload] ??= {})[dist] ??= { ops, opsPerSec: [], median: 0 });
  cell.ops = ops;
  cell.opsPerSec.push(ops / (ns / 1e9));
  cell.median = median(cell.opsPerSec);
  return cell;
}

/** Counter indices whose values are checked after each RMW section: the hottest and a few others. */
function counterSamples(seq) {
  const counts = new Uint32Array(RECORDS);
  let hottest = seq[0];
  for (let i = 0; i < seq.length; i++) if (++counts[seq[i]] > counts[hottest]) hottest = seq[i];
  return [...new Set([hottest, seq[0], seq[seq.length >> 1], seq[seq.length - 1]])];
}

async function runYcsb(systems) {
  log('ycsb: drawing keys, values and sequences');
  const keys = makeKeys(RECORDS);
  const ckeys = makeCounterKeys(RECORDS);
  const pool = valuePool(VALUE_COUNT, VALUE_BYTES);
  const loadValue = (i) => pool[i & (VALUE_COUNT - 1)];
  const updateValue = (i) => pool[(i + 7919) & (VALUE_COUNT - 1)];
  const zero = Buffer.alloc(8);
  const withOps = systems.some((s) => s.needsOps);
  const order = permutation(RECORDS);
  const loadPlan = writeChunks(keys, order, loadValue, CHUNK, withOps);
  const sample = Array.from({ length: 200 }, (_, i) => keys[Math.floor((i * RECORDS) / 200)]);

  // Load: every record into a fresh store, per system and repetition.
  noteLoad();
  const warmChunks = Math.max(1, Math.floor(loadPlan.length / 10));
  log(`ycsb load: warm-up (${warmChunks * CHUNK} records into a fresh store each)`);
  for (const sys of systems) {
    const inst = await sys.open('warm');
    await sys.write(inst.db, loadPlan, warmChunks);
    await sys.close(inst);
  }
  for (let rep = 1; rep <= REPS; rep++) {
    for (const sys of rotated(systems, rep)) {
      const inst = await sys.open('load');
      const { ns } = await timeSection(() => sys.write(inst.db, loadPlan, loadPlan.length));
      await checkLoaded(sys, inst, sample, RECORDS, VALUE_BYTES, 'load');
      const cell = recordCell(ycsb, sys.name, 'load', '-', RECORDS, ns);
      log(`ycsb load rep ${rep}/${REPS} ${sys.name.padEnd(13)} ${mops(cell.opsPerSec.at(-1))} M ops/s`);
      await sys.close(inst);
    }
  }

  // A, B, C, RMW: one loaded store per system, records + one zero counter per record.
  const insts = new Map();
  try {
    const counterPlan = writeChunks(ckeys, Uint32Array.from({ length: RECORDS }, (_, i) => i), () => zero, 10_000, withOps);
    for (const sys of systems) {
      log(`ycsb: ${sys.name}: loading ${RECORDS} records + ${RECORDS} counters (untimed)`);
      const inst = await sys.open('shared');
      insts.set(sys, inst);
      await sys.write(inst.db, loadPlan, loadPlan.length);
      await sys.write(inst.db, counterPlan, counterPlan.length);
      const count = sys.count(inst);
      if (count !== null) check(count === 2 * RECORDS, `${sys.name}: ${count} keys after loading ${2 * RECORDS}`);
      const settled = await sys.settle(inst);
      log(`ycsb: ${sys.name}: background work went on for ${settled.busyMs} ms${settled.timedOut ? ' (gave up waiting)' : ''}`);
    }
    const rmwSeqs = Object.fromEntries(DISTS.map((d) => [d, d === 'zipfian' ? zipfianSequence(RECORDS, OPS, 0.99, SEQ_SEED.RMW) : uniformSequence(RECORDS, OPS, SEQ_SEED.RMW + 1000)]));
    const rmwSamples = [...new Set(DISTS.flatMap((d) => counterSamples(rmwSeqs[d])))];

    for (const w of WORKLOADS) {
      for (const d of DISTS) {
        noteLoad();
        const seq = w === 'RMW' ? rmwSeqs[d] : d === 'zipfian' ? zipfianSequence(RECORDS, OPS, 0.99, SEQ_SEED[w]) : uniformSequence(RECORDS, OPS, SEQ_SEED[w] + 1000);
        const runners = systems.filter((s) => (w === 'RMW' ? s.rmw !== null : true));
        const mask = WRITE_SHARE[w] > 0 ? writeMask(OPS, WRITE_SHARE[w], 3 + SEQ_SEED[w]) : null;
        const chunks = w === 'RMW' ? rmwChunks(ckeys, seq, CHUNK, runners.some((s) => s.needsIncrementOps)) : mixChunks(keys, seq, mask, updateValue, CHUNK, withOps);
        const readsBefore = w === 'RMW' ? null : readPrefix(chunks);

        const runOne = async (sys, c, timed) => {
          const inst = insts.get(sys);
          const call = w === 'RMW' ? sys.rmw : w === 'C' ? sys.read : sys.mix;
          const { ns, out } = await timeSection(() => call(inst.db, chunks, c));
          const ops = Math.min(OPS, c * CHUNK);
          if (w !== 'RMW') {
            const want = readsBefore[c] * VALUE_BYTES;
            check(out === want, `${sys.name} ${w} ${d}: read ${out} bytes, expected ${want}`);
          } else {
            for (const s of rmwSamples) {
              let add = 0;
              for (let i = 0; i < ops; i++) if (seq[i] === s) add++;
              inst.expected.set(s, (inst.expected.get(s) ?? 0) + add);
              const got = await sys.counter(inst, counterKeyName(s));
              check(got === inst.expected.get(s), `${sys.name} RMW ${d}: counter ${counterKeyName(s)} is ${got}, expected ${inst.expected.get(s)}`);
            }
          }
          if (timed) {
            const cell = recordCell(ycsb, sys.name, w, d, ops, ns);
            log(`ycsb ${w} ${d} ${sys.name.padEnd(13)} ${mops(cell.opsPerSec.at(-1))} M ops/s (${ops} ops)`);
          }
          return ns;
        };

        log(`ycsb ${w} ${d}: sizing and warm-up`);
        const sizes = new Map();
        for (const sys of runners) sizes.set(sys, await sizeAndWarm((c) => runOne(sys, c, false), chunks.length));
        for (let rep = 1; rep <= REPS; rep++) {
          for (const sys of rotated(runners, rep)) await runOne(sys, sizes.get(sys), true);
        }
      }
    }
  } finally {
    for (const [sys, inst] of insts) await sys.close(inst);
  }
}

// ----------------------------------------------------- 2. large values ----

const large = []; // one row per (value size, system)

async function runLarge(systems) {
  for (const size of VALUE_SIZES) {
    noteLoad();
    const records = Math.max(1, Math.floor(LARGE_BYTES / size));
    const chunkOps = Math.max(1, Math.min(CHUNK, Math.floor(LARGE_BATCH_BYTES / size)));
    log(`large ${sizeName(size)}: ${records} records (${mib(records * size)} MiB of values), ${chunkOps} per batched call`);
    const keys = makeKeys(records);
    const pool = valuePool(Math.max(2, Math.min(records, Math.floor(LARGE_POOL_BYTES / size))), size, 9);
    const valueOf = (i) => pool[i % pool.length];
    const withOps = systems.some((s) => s.needsOps);
    const loadPlan = writeChunks(keys, permutation(records, 21), valueOf, chunkOps, withOps);
    const readPlan = mixChunks(keys, uniformSequence(records, records, 22), null, null, chunkOps, false);
    const readsBefore = readPrefix(readPlan);
    const sample = Array.from({ length: Math.min(records, 200) }, (_, i) => keys[Math.floor((i * records) / Math.min(records, 200))]);
    const rows = new Map(systems.map((s) => [s, { size, system: s.name, records, chunkOps, loadOpsPerSec: [], readOpsPerSec: [], backgroundMs: [], backgroundTimedOut: false, readOps: 0 }]));

    const warmChunks = Math.max(1, Math.floor(loadPlan.length / 10));
    log(`large ${sizeName(size)}: warm-up (${warmChunks * chunkOps} records into a fresh store each)`);
    for (const sys of systems) {
      const inst = await sys.open('large-warm');
      await sys.write(inst.db, loadPlan, warmChunks);
      await sys.close(inst);
    }
    for (let rep = 1; rep <= REPS; rep++) {
      for (const sys of rotated(systems, rep)) {
        const row = rows.get(sys);
        const inst = await sys.open('large');
        try {
          const { ns } = await timeSection(() => sys.write(inst.db, loadPlan, loadPlan.length));
          row.loadOpsPerSec.push(records / (ns / 1e9));
          await checkLoaded(sys, inst, sample, records, size, `${sizeName(size)} load`);
          // Reads are timed once flushes and compactions are done: what a
          // store settles to, not a race with its own background work.
          const settled = await sys.settle(inst);
          row.backgroundMs.push(settled.busyMs);
          row.backgroundTimedOut ||= settled.timedOut;
          const readOnce = async (c) => {
            const { ns: readNs, out } = await timeSection(() => sys.read(inst.db, readPlan, c));
            check(out === readsBefore[c] * size, `${sys.name} ${sizeName(size)} reads: ${out} bytes, expected ${readsBefore[c] * size}`);
            return readNs;
          };
          let c = row.readChunks;
          if (c === undefined) c = row.readChunks = await sizeAndWarm(readOnce, readPlan.length);
          else await readOnce(Math.max(1, Math.floor(c / 10)));
          const readNs = await readOnce(c);
          row.readOps = readsBefore[c];
          row.readOpsPerSec.push(readsBefore[c] / (readNs / 1e9));
          log(
            `large ${sizeName(size)} rep ${rep}/${REPS} ${sys.name.padEnd(13)} load ${((row.loadOpsPerSec.at(-1) * size) / 1e6).toFixed(0)} MB/s, ` +
              `background ${settled.busyMs} ms, reads ${((row.readOpsPerSec.at(-1) * size) / 1e6).toFixed(0)} MB/s (${row.readOps} reads)`,
          );
        } finally {
          await sys.close(inst);
        }
      }
    }
    for (const row of rows.values()) {
      delete row.readChunks;
      large.push({ ...row, loadMedian: median(row.loadOpsPerSec), readMedian: median(row.readOpsPerSec), backgroundMsMedian: median(row.backgroundMs) });
    }
  }
}

// ---------------------------------------------- 3. checkpoint cost ------

const checkpointCost = []; // one per engine

async function runCheckpointCost(sys) {
  noteLoad();
  const keys = makeKeys(RECORDS);
  const pool = valuePool(VALUE_COUNT, VALUE_BYTES, 2);
  // The value of key i written in round r: distinct across rounds, so a stale
  // value found after reopening fails the comparison with the model.
  const valueFor = (i, round) => pool[(i + round * 7919) & (VALUE_COUNT - 1)];
  const model = new Int32Array(RECORDS); // key index -> round of its value
  const perRound = Math.max(1, Math.round(RECORDS * UPDATE_SHARE));
  const out = { engine: sys.name, records: RECORDS, perRound, base: null, rounds: [], recovery: [] };
  let inst = await sys.open('checkpoint');
  try {
    log(`checkpoint ${sys.name}: loading ${RECORDS} records`);
    for (let s = 0; s < RECORDS; s += 10_000) {
      const ks = keys.slice(s, s + 10_000);
      inst.db.putMany(ks, ks.map((_, j) => valueFor(s + j, 0)));
    }
    const take = async () => {
      const t0 = process.hrtime.bigint();
      const info = await inst.db.checkpoint();
      return { version: info.version, bytesWritten: info.bytesWritten, totalBytes: info.totalBytes, pauseMs: info.pauseMs, durationMs: info.durationMs, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
    };
    out.base = await take();
    log(`checkpoint ${sys.name}: 1 (the load): ${mib(out.base.bytesWritten)} MiB in ${out.base.durationMs.toFixed(1)} ms`);

    const reopen = async (version, probe) => {
      const samples = [];
      for (let rep = 0; rep < OPEN_REPS; rep++) {
        await inst.db.close();
        gc();
        const t0 = process.hrtime.bigint();
        inst.db = await openStore(sys.name, inst.dir);
        const t1 = process.hrtime.bigint();
        const v = inst.db.get(keys[probe]);
        const t2 = process.hrtime.bigint();
        check(v !== undefined && v.equals(valueFor(probe, model[probe])), `${sys.name}: after reopening at checkpoint ${version}, ${keys[probe]} holds its last value`);
        samples.push({ openMs: Number(t1 - t0) / 1e6, firstGetMs: Number(t2 - t1) / 1e6 });
      }
      check(inst.db.version === version, `${sys.name}: reopened at checkpoint ${inst.db.version}, expected ${version}`);
      check(inst.db.stats().keys === RECORDS, `${sys.name}: ${inst.db.stats().keys} keys after reopening, expected ${RECORDS}`);
      for (let i = 0; i < RECORDS; i += Math.max(1, Math.floor(RECORDS / 500))) {
        const v = inst.db.get(keys[i]);
        check(v !== undefined && v.equals(valueFor(i, model[i])), `${sys.name}: ${keys[i]} after reopening at checkpoint ${version}`);
      }
      const row = { checkpoints: version, samples, openMsMedian: median(samples.map((s) => s.openMs)), firstGetMsMedian: median(samples.map((s) => s.firstGetMs)), diskBytes: inst.db.stats().diskBytes };
      out.recovery.push(row);
      log(`checkpoint ${sys.name}: reopened after ${version}: open ${samples.map((s) => s.openMs.toFixed(1)).join(', ')} ms`);
    };

    await reopen(1, 0);
    for (let version = 2; version <= CHECKPOINT_STAGES.at(-1); version++) {
      const picks = distinctUniform(RECORDS, perRound, 800 + version);
      for (let s = 0; s < picks.length; s += CHUNK) {
        const idx = picks.subarray(s, s + CHUNK);
        inst.db.putMany(Array.from(idx, (i) => keys[i]), Array.from(idx, (i) => valueFor(i, version)));
        for (const i of idx) model[i] = version;
      }
      const c = await take();
      check(c.version === version, `${sys.name}: checkpoint ${c.version}, expected ${version}`);
      const changedBytes = picks.length * RECORD_BYTES;
      out.rounds.push({ ...c, changedBytes, ratio: c.bytesWritten / changedBytes });
      if (version === 2 || CHECKPOINT_STAGES.includes(version)) {
        log(`checkpoint ${sys.name}: ${version}: ${kib(c.bytesWritten)} KiB = ${(c.bytesWritten / changedBytes).toFixed(2)}× the changed bytes, ${c.durationMs.toFixed(1)} ms`);
      }
      if (CHECKPOINT_STAGES.includes(version)) await reopen(version, picks[picks.length - 1]);
    }
  } finally {
    await sys.close(inst);
  }
  const ratios = out.rounds.map((r) => r.ratio);
  // Amortized: an LSM checkpoint that follows a compaction carries its output.
  out.ratioTotal = out.rounds.reduce((sum, r) => sum + r.bytesWritten, 0) / out.rounds.reduce((sum, r) => sum + r.changedBytes, 0);
  out.largeRounds = out.rounds.filter((r) => r.ratio > 10).map((r) => r.version);
  out.second = out.rounds[0];
  out.ratioMedian = median(ratios);
  out.ratioMin = Math.min(...ratios);
  out.ratioMax = Math.max(...ratios);
  out.durationMsMedian = median(out.rounds.map((r) => r.durationMs));
  checkpointCost.push(out);
}

// ------------------------------------------------- 4. memory per key ----

const memory = []; // one per system

/** Runs bench/memory-probe.mjs for one system and returns its JSON. */
function probeMemory(name) {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'memory-probe.mjs');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', script, name, String(RECORDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`memory probe of ${name} exited with ${code}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

async function runMemory(systems) {
  for (const sys of systems) {
    noteLoad();
    log(`memory ${sys.name}: loading ${RECORDS} records in a child process`);
    const r = await probeMemory(sys.name);
    check(r.records === RECORDS, `memory ${sys.name}: the probe loaded ${r.records} records`);
    // Per key loaded: from after open() (what an empty store costs is its
    // own column) to after the load.
    const growth = (field) => (r.afterLoad[field] - r.afterOpen[field]) / RECORDS;
    const stats = r.stats;
    const index = stats === null ? null : stats.indexBytes !== undefined ? { field: 'indexBytes', bytes: stats.indexBytes } : { field: 'memoryBytes', bytes: stats.memoryBytes };
    const indexAfterCheckpoint = index === null ? null : r.statsAfterCheckpoint[index.field];
    memory.push({
      system: sys.name,
      records: RECORDS,
      indexField: index?.field ?? null,
      indexBytesPerKey: index === null ? null : index.bytes / RECORDS,
      indexBytesPerKeyAfterCheckpoint: indexAfterCheckpoint === null ? null : indexAfterCheckpoint / RECORDS,
      memoryBytesPerKey: stats === null ? null : stats.memoryBytes / RECORDS,
      rssPerKey: growth('VmRSS'),
      rssAnonPerKey: growth('RssAnon'),
      rssFilePerKey: growth('RssFile'),
      openBytes: r.afterOpen.VmRSS - r.before.VmRSS,
      raw: r,
    });
    const m = memory.at(-1);
    log(
      `memory ${sys.name}: ${index === null ? '' : `${index.field} ${m.indexBytesPerKey.toFixed(1)} B/key, `}RSS +${m.rssPerKey.toFixed(1)} B/key (anon ${m.rssAnonPerKey.toFixed(1)}, file ${m.rssFilePerKey.toFixed(1)})`,
    );
  }
}

// ---------------------------------------------------------------- report --

const WHICH_ENGINE = '## Which engine for which state';
const DRAFT_MARK = '<!-- generated draft: bench/engines.mjs rewrites this section on every run while this line is here; delete the line to keep what you write -->';
const times = (v) => `${v.toFixed(2)}×`;

/** The section as the engineers wrote it in an earlier report, or null while it is still the generated draft. */
function keptWhichEngineSection() {
  let text;
  try {
    text = fs.readFileSync(OUT, 'utf8');
  } catch {
    return null;
  }
  const start = text.indexOf(`\n${WHICH_ENGINE}\n`);
  if (start < 0) return null;
  const next = text.indexOf('\n## ', start + WHICH_ENGINE.length + 1);
  const section = text.slice(start + 1, next < 0 ? text.length : next + 1).trimEnd();
  return section.includes(DRAFT_MARK) ? null : section;
}

/** Best median of a system over the YCSB cells, for the draft. */
const ycsbMedian = (system, w, d) => ycsb[system]?.[w]?.[d]?.median;

function draftWhichEngine(report) {
  const L = [WHICH_ENGINE, '', DRAFT_MARK, ''];
  L.push(
    '> **To be written by the engineers from the numbers below.** Until then, this is a *draft generated from this run* ' +
      '(its figures only; what each engine is for comes from the README), not a recommendation.',
    '',
  );
  const engines = report.systems.filter((s) => kindOf(s) === 'tidekv');
  const ratioRange = (a, b) => {
    const rs = [];
    for (const w of ['load', ...WORKLOADS]) {
      for (const d of w === 'load' ? ['-'] : DISTS) {
        const va = ycsbMedian(a, w, d);
        const vb = ycsbMedian(b, w, d);
        if (va !== undefined && vb !== undefined) rs.push(va / vb);
      }
    }
    return rs.length === 0 ? null : `${times(Math.min(...rs))}–${times(Math.max(...rs))}`;
  };
  const facts = (e) => {
    const out = [];
    const z = ['A', 'C', 'RMW'].map((w) => ycsbMedian(e, w, 'zipfian'));
    if (z.every((v) => v !== undefined)) out.push(`YCSB A / C / RMW zipfian ${z.map((v) => mops(v)).join(' / ')} M ops/s`);
    for (const other of engines.filter((o) => o !== e)) {
      const r = ratioRange(e, other);
      if (r !== null) out.push(`${r} the throughput of ${other} across the YCSB rows`);
    }
    for (const peer of report.systems.filter((s) => kindOf(s) !== 'tidekv')) {
      const r = ratioRange(e, peer);
      if (r !== null) out.push(`${r} that of ${peer}`);
    }
    for (const row of large.filter((r) => r.system === e)) out.push(`${sizeName(row.size)} values: load ${((row.loadMedian * row.size) / 1e6).toFixed(0)} MB/s, reads ${((row.readMedian * row.size) / 1e6).toFixed(0)} MB/s`);
    const c = checkpointCost.find((r) => r.engine === e);
    if (c !== undefined) {
      out.push(
        `a checkpoint after 1% of the keys changed writes ${times(c.second.ratio)} the changed bytes (${times(c.ratioTotal)} over checkpoints 2–${c.rounds.at(-1).version} together); ` +
          `reopening after ${c.recovery.at(-1).checkpoints} checkpoints takes ${c.recovery.at(-1).openMsMedian.toFixed(0)} ms`,
      );
    }
    const m = memory.find((r) => r.system === e);
    if (m !== undefined && m.indexField !== null) out.push(`${m.indexField} ${m.indexBytesPerKey.toFixed(0)} B per key, resident memory +${m.rssPerKey.toFixed(0)} B per key`);
    return out;
  };
  const README_SAYS = {
    hybridlog:
      'skewed, update-heavy point state (counters, aggregates) whose keys fit a hash index in memory; no key order',
    lsm: 'state that needs key order (`range()` scans) or whose keys do not fit a hash index in memory',
    appendlog: 'large values written whole and read by key (every write appends the whole value; a small in-memory directory per key, values on disk)',
  };
  for (const e of engines) {
    L.push(`- **${e}** — README: ${README_SAYS[e]}. This run: ${facts(e).join('; ') || 'no figures'}.`);
  }
  for (const m of report.missing.filter((r) => kindOf(r.name) === 'tidekv')) L.push(`- **${m.name}** — not measured in this run (${m.why}).`);
  L.push('');
  return L.join('\n');
}

function sectionCommand(report, section) {
  const args = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only' || a === '--out' || a === '--json') i++;
    else if (!/^--(only|out|json)=/.test(a)) args.push(a);
  }
  return `\`${report.command}\` (this section alone: \`node bench/engines.mjs ${[...args, '--only', section].join(' ')}\`)`;
}

function renderMarkdown(report) {
  const L = [];
  const m = report.machine;
  L.push('# tidekv engines side by side', '');
  L.push(
    `Generated by \`npm run bench\` (= \`node bench/engines.mjs\`, ${report.checks} correctness checks passed). Every table and chart below comes from one run of one process; ` +
      're-running the command rewrites this file and `charts/`.',
    '',
  );
  L.push(`- command: \`${report.command}\``);
  L.push(`- date: ${report.date}; run time ${(report.seconds / 60).toFixed(1)} min`);
  L.push(`- tidekv commit ${m.commit}`);
  L.push(`- machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, ${m.os}; Node ${m.node}`);
  L.push(
    `- 1-minute load average at the start of each section: ${Math.min(...report.loadAverage).toFixed(1)}–${Math.max(...report.loadAverage).toFixed(1)} ` +
      `(median ${median(report.loadAverage).toFixed(1)}) on ${m.cores} cores`,
  );
  const notAsked = [...ENGINE_NAMES, ...PEER_NAMES].filter((name) => !report.systems.includes(name) && !report.missing.some((r) => r.name === name));
  L.push(
    `- systems: ${report.systems.join(', ')}` +
      (report.missing.length > 0 ? `; **not measured**: ${report.missing.map((r) => `${r.name} (${r.why})`).join('; ')}` : '') +
      (notAsked.length > 0 ? `; left out by --engines / --peers: ${notAsked.join(', ')}` : ''),
  );
  L.push(`- options: tidekv ${OPTIONS_TEXT.tidekv}; ${OPTIONS_TEXT.lmdb}; ${OPTIONS_TEXT.level}`);
  const c = report.config;
  if (c.smoke) L.push('- **smoke sizes: the numbers are not meaningful**');
  else if (c.records !== DEFAULT_SIZES.records || c.ops !== DEFAULT_SIZES.ops || c.largeBytes !== DEFAULT_SIZES.largeBytes) {
    L.push(
      `- **not the default sizes** (${compact(c.records)} records, ${compact(c.ops)} ops, ${sizeName(c.largeBytes)} per large value size; ` +
        `the default is ${compact(DEFAULT_SIZES.records)}, ${compact(DEFAULT_SIZES.ops)}, ${sizeName(DEFAULT_SIZES.largeBytes)}): a preliminary run, to be replaced by \`npm run bench\``,
    );
  }
  L.push('');
  L.push(report.whichEngine.trimEnd(), '');

  const systems = report.systems;
  if (report.sections.includes('ycsb')) {
    L.push('## 1. YCSB (M ops/s, median)', '');
    L.push(`Command: ${sectionCommand(report, 'ycsb')}`, '');
    L.push(
      `${compact(c.records)} records (\`user\` + 12 digits, ${VALUE_BYTES}-byte values, ${VALUE_COUNT.toLocaleString('en')} distinct random ones), inserted in shuffled order; ` +
        `${compact(c.ops)} ops per timed section, fewer (a prefix of the same sequence) where that would take over ~${c.maxSeconds} s; ` +
        `batches of ${c.chunk}; median of ${c.reps} interleaved repetitions after a warm-up.`,
      '',
    );
    const rows = [];
    for (const w of ['load', ...WORKLOADS]) {
      for (const d of w === 'load' ? ['-'] : DISTS) {
        const values = systems.map((s) => ycsbMedian(s, w, d));
        if (values.every((v) => v === undefined)) continue;
        const best = Math.max(...values.filter((v) => v !== undefined));
        rows.push([
          w === 'load' ? 'load (fresh store)' : `${w} ${d}`,
          ...values.map((v) => (v === undefined ? 'n/a' : v === best ? `**${mops(v)}**` : mops(v))),
        ]);
      }
    }
    L.push(table(['workload', ...systems], rows), '');
    L.push('![YCSB throughput per workload and system](charts/ycsb.svg)', '');
    L.push(
      'A = 50% reads / 50% updates, B = 95 / 5, C = reads only, RMW = increment an int64 counter key (`cntr` + 12 digits; lmdb and classic-level read, add and write it back); ' +
        'zipfian = scrambled zipfian θ 0.99, uniform = uniformly random keys (the sequences of `npm run bench:ycsb`). Bold: the fastest in the row. ' +
        'load = every record into a fresh store, timed until the last write returns (background flushes and compactions may still run); the other rows share one loaded store per system.',
      '',
    );
    L.push(
      table(
        ['system', 'load', 'C (reads)', 'A, B (mixed)', 'RMW'],
        systems.map((s) => {
          const api = report.api[s];
          return [s, api.write, api.read, api.mix, api.rmw];
        }),
        5,
      ),
      '',
    );
    const spreadRows = [];
    for (const w of ['load', ...WORKLOADS]) {
      for (const d of w === 'load' ? ['-'] : DISTS) {
        const cells = systems.map((s) => ycsb[s]?.[w]?.[d]);
        if (cells.every((cell) => cell === undefined)) continue;
        spreadRows.push([w === 'load' ? 'load' : `${w} ${d}`, ...cells.map((cell) => (cell === undefined ? 'n/a' : `${(spreadOf(cell.opsPerSec) * 100).toFixed(0)}% (${compact(cell.ops)})`))]);
      }
    }
    L.push('<details><summary>spread of the repetitions, (max − min) ÷ median, and (ops timed)</summary>', '');
    L.push(table(['workload', ...systems], spreadRows), '', '</details>', '');
  }

  if (report.sections.includes('large')) {
    L.push('## 2. Large values', '');
    L.push(`Command: ${sectionCommand(report, 'large')}`, '');
    L.push(
      `About ${sizeName(c.largeBytes)} of values per size (${VALUE_SIZES.map((s) => `${Math.floor(c.largeBytes / s).toLocaleString('en')} × ${sizeName(s)}`).join(', ')}; distinct random values), ` +
        `loaded in shuffled key order into a fresh store in batches of about ${sizeName(LARGE_BATCH_BYTES)} (same calls as the YCSB load), timed until the last write returns; ` +
        'then, once background work settled, uniformly random reads in batches of the same size. "background work after load": how long the store\'s flushes, merges and compactions ' +
        `went on after the last write returned (its stats() or LevelDB\'s stats kept changing; 0 for lmdb, which has none; "≥": the run stopped waiting after ${SETTLE.maxMs / 1000} s and read while it went on). MB/s = values moved (10^6 B per second). ` +
        `Median of ${c.reps} repetitions, each a fresh store, systems interleaved.`,
      '',
    );
    L.push(
      table(
        ['value size', 'system', 'records', 'load MB/s', 'load K ops/s', 'background work after load s', 'random reads MB/s', 'reads K ops/s', 'reads timed'],
        large.map((r) => [
          sizeName(r.size),
          r.system,
          r.records.toLocaleString('en'),
          ((r.loadMedian * r.size) / 1e6).toFixed(0),
          (r.loadMedian / 1e3).toFixed(1),
          `${r.backgroundTimedOut ? '≥ ' : ''}${(r.backgroundMsMedian / 1e3).toFixed(1)}`,
          ((r.readMedian * r.size) / 1e6).toFixed(0),
          (r.readMedian / 1e3).toFixed(1),
          r.readOps.toLocaleString('en'),
        ]),
        2,
      ),
      '',
    );
    L.push('![Large values: load throughput](charts/large-values-load.svg)', '');
    L.push('![Large values: random-read throughput](charts/large-values-reads.svg)', '');
  }

  if (report.sections.includes('checkpoint') && checkpointCost.length > 0) {
    L.push('## 3. Checkpoint cost and recovery', '');
    L.push(`Command: ${sectionCommand(report, 'checkpoint')}`, '');
    L.push(
      `${compact(c.records)} records of ${VALUE_BYTES} B loaded; checkpoint 1 holds the load. Each later checkpoint follows ${compact(checkpointCost[0].perRound)} puts of new values to ` +
        `distinct uniformly random keys (1% of them): changed = keys × ${RECORD_BYTES} B (key + value). written = the checkpoint's \`bytesWritten\`; duration = its \`durationMs\` (cut to durable). ` +
        `Reopen = close, then \`open()\` of the directory (page cache warm), median of ${OPEN_REPS}, after ${CHECKPOINT_STAGES.join(', ')} checkpoints; ` +
        'the first `get` after it, the key count, the version and a sample of values are checked against a model.',
      '',
    );
    L.push(
      table(
        [
          'engine',
          'checkpoint 1 MiB (ms)',
          'checkpoint 2: written KiB',
          'written ÷ changed',
          'duration ms',
          'pause ms',
          `checkpoints 2–${CHECKPOINT_STAGES.at(-1)}: ÷ changed median (range)`,
          'Σ written ÷ Σ changed',
          ...CHECKPOINT_STAGES.map((s) => `reopen after ${s}: ms median (range)`),
        ],
        checkpointCost.map((r) => [
          r.engine,
          `${mib(r.base.bytesWritten)} (${r.base.durationMs.toFixed(0)})`,
          kib(r.second.bytesWritten),
          `**${times(r.second.ratio)}**`,
          r.second.durationMs.toFixed(1),
          r.second.pauseMs.toFixed(3),
          `${times(r.ratioMedian)} (${times(r.ratioMin)}–${times(r.ratioMax)})`,
          times(r.ratioTotal),
          ...r.recovery.map((s) => {
            const ms = s.samples.map((sample) => sample.openMs);
            return `**${s.openMsMedian.toFixed(1)}** (${Math.min(...ms).toFixed(1)}–${Math.max(...ms).toFixed(1)})`;
          }),
        ]),
      ),
      '',
    );
    const compactionCarriers = checkpointCost.filter((r) => r.largeRounds.length > 0);
    if (compactionCarriers.length > 0) {
      L.push(
        compactionCarriers.map((r) => `${r.engine}: checkpoint${r.largeRounds.length > 1 ? 's' : ''} ${r.largeRounds.join(', ')} wrote over 10× the changed bytes`).join('; ') +
          '. An LSM checkpoint writes the tables made since the previous one, so one that follows a compaction carries that compaction\'s output; Σ written ÷ Σ changed is the cost over all the rounds.',
        '',
      );
    }
    L.push('![Checkpoint cost: bytes written per byte changed](charts/checkpoint-bytes.svg)', '');
    L.push('![Recovery: reopening after N checkpoints](charts/recovery.svg)', '');
  }

  if (report.sections.includes('memory') && memory.length > 0) {
    L.push('## 4. Memory per key', '');
    L.push(`Command: ${sectionCommand(report, 'memory')}`, '');
    L.push(
      `${compact(c.records)} records of ${VALUE_BYTES} B (16-byte keys) loaded into a fresh store in a child process of its own (\`bench/memory-probe.mjs\`: a clean allocator), ` +
        'in batches of 10,000, background work settled, after a full GC. "index" is the engine\'s own figure from `stats()`; ' +
        'resident = growth of the process\'s VmRSS from just after `open()` to after the load (what the empty store took at open is its own column), split into RssAnon (heap and anonymous mappings) and RssFile (mapped files: page cache the kernel can drop).',
      '',
    );
    L.push(
      table(
        ['system', 'index field', 'index B/key', 'after a checkpoint', 'stats().memoryBytes B/key', 'resident B/key', 'RssAnon', 'RssFile', 'empty store MiB'],
        memory.map((r) => [
          r.system,
          r.indexField === null ? '—' : `\`${r.indexField}\``,
          r.indexBytesPerKey === null ? '—' : `**${r.indexBytesPerKey.toFixed(1)}**`,
          r.indexBytesPerKeyAfterCheckpoint === null ? '—' : r.indexBytesPerKeyAfterCheckpoint.toFixed(1),
          r.memoryBytesPerKey === null ? '—' : r.memoryBytesPerKey.toFixed(1),
          r.rssPerKey.toFixed(1),
          r.rssAnonPerKey.toFixed(1),
          r.rssFilePerKey.toFixed(1),
          mib(r.openBytes),
        ]),
        2,
      ),
      '',
    );
    // What each figure holds, so that a reader compares like with like.
    const INCLUDES = {
      hybridlog: '`indexBytes` is the hash index alone (64-byte buckets, doubled when full): the values and the log pages are not in it (they are in `memoryBytes`, up to memoryBudgetBytes, and on disk beyond it)',
      lsm: 'the LSM has no per-key index in memory: `memoryBytes` is its memtables plus its block cache, bounded by memoryBudgetBytes whatever the number of keys (each table\'s fence keys and the mapped bloom filters are outside it; they show in resident memory)',
      appendlog: '`indexBytes` is its in-memory key directory (a slot per key, with where its newest value is); whatever else it keeps in memory is in `memoryBytes`',
    };
    for (const r of memory.filter((row) => INCLUDES[row.system] !== undefined)) L.push(`- ${r.system}: ${INCLUDES[r.system]}.`);
    L.push(
      '- resident memory holds everything the store keeps in memory: the hybrid log\'s in-memory log pages (all of the values while they fit its budget), the LSM\'s memtables and cached blocks, ' +
        'lmdb\'s mapped file pages (RssFile) and LevelDB\'s memtable and caches; freed memory the allocator kept counts too.',
      '- "after a checkpoint": the index figure once a checkpoint finished (the LSM flushes its memtables then).',
      '',
    );
    L.push('![Memory per key](charts/memory.svg)', '');
  }

  L.push('## How it measures', '');
  L.push(
    '- One process runs every section (the memory section starts one child per store). Key sequences are drawn before timing; every system replays the same sequence. ' +
      'Each timed section is warmed up, then repeated with the systems interleaved (the order rotated each repetition); a full GC runs before each.',
    '- Every section checks its own results: bytes read against the reads made, key counts and a sample of values after each load, counter values after RMW, ' +
      'the values, key count and version after every reopen. A failed check stops the run.',
    `- Engines that could not be opened are listed above and left out of every table; see \`node bench/engines.mjs --help\` for the flags.`,
    '',
  );
  return L.join('\n');
}

// ---------------------------------------------------------------- charts --

function writeCharts(report) {
  fs.mkdirSync(CHARTS_DIR, { recursive: true });
  const series = (names) => names.map((name) => ({ name, color: COLORS[name] }));
  const note = `${report.command} · tidekv commit ${report.machine.commit} · ${report.date.slice(0, 10)} · ${report.machine.cores} cores, Node ${report.machine.node}`;
  const written = [];
  const write = (file, svg) => {
    fs.writeFileSync(path.join(CHARTS_DIR, file), svg);
    written.push(file);
  };
  if (report.sections.includes('ycsb')) {
    const groups = [];
    for (const w of ['load', ...WORKLOADS]) {
      for (const d of w === 'load' ? ['-'] : DISTS) {
        groups.push({ label: w === 'load' ? 'load' : `${w} ${d}`, values: report.systems.map((s) => (ycsbMedian(s, w, d) ?? NaN) / 1e6) });
      }
    }
    write(
      'ycsb.svg',
      groupedBarChart({
        title: 'YCSB throughput, batched calls',
        subtitle: `${compact(report.config.records)} records × ${VALUE_BYTES} B, median of ${report.config.reps}; higher is better`,
        axisLabel: 'M ops/s',
        series: series(report.systems),
        groups,
        note,
      }),
    );
  }
  if (report.sections.includes('large')) {
    // Loads and reads apart: reads run up to ten times faster, which would
    // flatten the load bars on a shared axis.
    for (const [file, title, field] of [
      ['large-values-load.svg', 'Large values: load into a fresh store', 'loadMedian'],
      ['large-values-reads.svg', 'Large values: uniformly random reads', 'readMedian'],
    ]) {
      write(
        file,
        groupedBarChart({
          title,
          subtitle: `about ${sizeName(report.config.largeBytes)} of values per size, median of ${report.config.reps}; higher is better`,
          axisLabel: 'MB/s of values',
          series: series(report.systems),
          groups: VALUE_SIZES.map((size) => ({
            label: `${sizeName(size)} values`,
            values: report.systems.map((s) => {
              const r = large.find((row) => row.system === s && row.size === size);
              return r === undefined ? NaN : (r[field] * size) / 1e6;
            }),
          })),
          format: (v) => v.toFixed(0),
          note,
        }),
      );
    }
  }
  if (report.sections.includes('checkpoint') && checkpointCost.length > 0) {
    const engines = checkpointCost.map((r) => r.engine);
    write(
      'checkpoint-bytes.svg',
      groupedBarChart({
        title: 'Checkpoint cost: bytes written per byte changed',
        subtitle: `after 1% of ${compact(report.config.records)} keys changed; lower is better`,
        axisLabel: 'bytesWritten ÷ changed bytes (key + value)',
        series: series(engines),
        groups: [
          { label: 'checkpoint 2', values: checkpointCost.map((r) => r.second.ratio) },
          { label: `checkpoints 2–${CHECKPOINT_STAGES.at(-1)}, median`, values: checkpointCost.map((r) => r.ratioMedian) },
          { label: `checkpoints 2–${CHECKPOINT_STAGES.at(-1)} together`, values: checkpointCost.map((r) => r.ratioTotal) },
        ],
        format: (v) => `${v.toFixed(2)}×`,
        note,
      }),
    );
    write(
      'recovery.svg',
      groupedBarChart({
        title: 'Recovery: open() after N checkpoints',
        subtitle: `${compact(report.config.records)} keys, median of ${OPEN_REPS} opens; lower is better`,
        axisLabel: 'ms',
        series: series(engines),
        groups: CHECKPOINT_STAGES.map((stage) => ({
          label: `after ${stage} checkpoint${stage === 1 ? '' : 's'}`,
          values: checkpointCost.map((r) => r.recovery.find((s) => s.checkpoints === stage)?.openMsMedian ?? NaN),
        })),
        format: (v) => v.toFixed(1),
        note,
      }),
    );
  }
  if (report.sections.includes('memory') && memory.length > 0) {
    const names = memory.map((r) => r.system);
    write(
      'memory.svg',
      groupedBarChart({
        title: 'Memory per key',
        subtitle: `${compact(report.config.records)} keys × ${VALUE_BYTES} B values; index = stats() indexBytes, or memoryBytes (memtables + block cache) for lsm; lower is better`,
        axisLabel: 'bytes per key',
        series: series(names),
        groups: [
          { label: 'index, after the load', values: memory.map((r) => r.indexBytesPerKey ?? NaN) },
          { label: 'index, after a checkpoint', values: memory.map((r) => r.indexBytesPerKeyAfterCheckpoint ?? NaN) },
          { label: 'resident memory (VmRSS)', values: memory.map((r) => r.rssPerKey) },
        ],
        format: (v) => v.toFixed(0),
        note,
      }),
    );
  }
  return written;
}

// ------------------------------------------------------------------ main --

async function main() {
  const machine = machineInfo();
  const command = commandLine();
  log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}, commit ${machine.commit}`);
  log(`records ${RECORDS}, ops ${OPS}, large ${sizeName(LARGE_BYTES)} × ${VALUE_SIZES.map(sizeName).join(',')}, reps ${REPS}, sections ${ONLY.join(',')}`);
  noteLoad();
  const { systems, missing } = await availableSystems();
  log(`systems: ${systems.map((s) => s.name).join(', ')}${missing.length > 0 ? `; left out: ${missing.map((r) => r.name).join(', ')}` : ''}`);
  const engines = systems.filter((s) => s.kind === 'tidekv');
  const report = {
    machine,
    command,
    date: new Date().toISOString(),
    config: { records: RECORDS, ops: OPS, largeBytes: LARGE_BYTES, valueSizes: VALUE_SIZES, maxSeconds: MAX_SECONDS, reps: REPS, chunk: CHUNK, smoke: SMOKE },
    sections: ONLY,
    systems: systems.map((s) => s.name),
    api: Object.fromEntries(systems.map((s) => [s.name, s.api])),
    missing,
    ycsb,
    large,
    checkpoint: checkpointCost,
    memory,
    checks: 0,
    loadAverage: loadSamples,
    seconds: 0,
  };
  try {
    if (ONLY.includes('ycsb') && systems.length > 0) await runYcsb(systems);
    if (ONLY.includes('large') && systems.length > 0) await runLarge(systems);
    if (ONLY.includes('checkpoint')) for (const sys of engines) await runCheckpointCost(sys);
    if (ONLY.includes('memory')) await runMemory(systems);
  } finally {
    removeAllDirs();
  }
  noteLoad();
  report.checks = checks;
  report.seconds = (Date.now() - T_START) / 1000;
  report.whichEngine = keptWhichEngineSection() ?? draftWhichEngine(report);
  const markdown = renderMarkdown(report);
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, markdown + '\n');
  const charts = writeCharts(report);
  log(`wrote ${OUT} and ${charts.map((f) => path.join(path.relative(path.dirname(OUT), CHARTS_DIR), f)).join(', ')} beside it`);
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
