#!/usr/bin/env node
// Snapshot experiments: what tidekv's checkpoints cost (bytes, time, pause of
// the JS thread, recovery, op latency while one is written), side by side with
// a naive baseline: a JS Map holding the same state that dumps the whole of it
// to one file at every checkpoint and rebuilds the Map from that file.
//
//   node bench/snapshot.mjs [flags]          --help lists them
//
// Experiments (numbered as in the report):
//   1. 1% updates per round (zipfian θ 0.99, and uniform) + checkpoint, 20 rounds:
//      tidekv incremental, tidekv fold-over, full dump.
//   2. Growing state: +10% new keys per round + checkpoint, 8 rounds.
//   3. Recovery: open() and first get after 1, 5 and 20 checkpoints; dump reload.
//   4. Op latency of a YCSB-A loop (single calls) with a checkpoint started every
//      second in the background, against the same loop without checkpoints; free-
//      running, and paced so that ~1% of the keys are dirtied between checkpoints.
//   5. Experiment 1 with a small memory budget (state mostly on disk).
//
// Progress goes to stderr, the markdown tables to stdout, --json FILE writes
// every figure. Every experiment checks what it reads back against the Map (the
// model), so a broken checkpoint cannot pass as a cheap one; any failed check or
// error exits non-zero.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { log, median, sleep } from './common.mjs';
import { VALUE_BYTES, makeKeys, makeValue, rng, zipfianSequence, writeMask } from './workload.mjs';

// dist/ is CommonJS; load it as bench/run.mjs does.
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- options --

const USAGE = `usage: node bench/snapshot.mjs [flags]
  --keys N       keys loaded (default 1M; 20K with --smoke)
  --rounds N     update rounds of experiments 1 and 5 (default 20; 3 with --smoke)
  --seconds S    length of each latency run of experiment 4 (default 10; 1 with --smoke)
  --only LIST    experiments to run, e.g. 1,3 (default 1,2,3,4,5)
  --smoke        tiny sizes, every code path, a few seconds (CI)
  --json FILE    also write every figure to FILE
Numbers take k/M suffixes (decimal).`;

function fail(message) {
  process.stderr.write(`snapshot: ${message}\n`);
  process.exit(2);
}

function parseCount(text, fallback, name) {
  if (text === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  const value = m === null ? NaN : Math.round(Number(m[1]) * { '': 1, k: 1e3, m: 1e6 }[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(value) || value <= 0) fail(`--${name} must be a positive number, got '${text}'`);
  return value;
}

let flags;
try {
  flags = parseArgs({
    options: {
      keys: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      only: { type: 'string' },
      smoke: { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (e) {
  fail(`${e.message}\n${USAGE}`);
}
if (flags.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}

const SMOKE = flags.smoke === true;
const KEYS = parseCount(flags.keys, SMOKE ? 20_000 : 1_000_000, 'keys');
const ROUNDS = parseCount(flags.rounds, SMOKE ? 3 : 20, 'rounds');
const SECONDS = parseCount(flags.seconds, SMOKE ? 1 : 10, 'seconds');
const ONLY = new Set((flags.only ?? '1,2,3,4,5').split(',').map((s) => s.trim()));
for (const e of ONLY) if (!['1', '2', '3', '4', '5'].includes(e)) fail(`--only: unknown experiment '${e}'`);

const UPDATE_SHARE = 0.01; // experiments 1, 3, 5: 1% of the keys per round
const GROWTH_SHARE = 0.1; // experiment 2: +10% keys per round
const GROWTH_ROUNDS = SMOKE ? 3 : 8;
const RECOVERY_STAGES = SMOKE ? [1, 2, 3] : [1, 5, 20]; // checkpoints taken before each measurement
const OPEN_REPS = 3;
// Experiment 4: with --smoke one second holds four checkpoint intervals, so
// the overlapping-checkpoint path still runs.
const CHECKPOINT_EVERY_MS = SMOKE ? 250 : 1000;
const SLICE_OPS = 1000; // ops between yields to the event loop (~1 ms)
// Experiment 5: a budget well below the state (1M × 144 B ≈ 137 MiB of log).
const SMALL_BUDGET = SMOKE ? 256 * 1024 : 32 * 1024 * 1024;
const SMALL_PAGE = SMOKE ? 64 * 1024 : undefined; // tidekv needs >= 4 pages; default 4 MiB otherwise
const LOAD_CHUNK = 10_000;
const SAMPLE_CHECKS = SMOKE ? 500 : 2000; // keys compared against the model per check

// ---------------------------------------------------------------- helpers --

const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));
const pick = (o, names) => Object.fromEntries(names.map((k) => [k, o[k]]));
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const KiB = 1024;
const MiB = 1024 * 1024;
const fmtKiB = (b) => (b / KiB).toFixed(1);
const fmtMiB = (b) => (b / MiB).toFixed(2);
const fmtMs = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const fmtX = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2)) + '×';
const fmtPct = (x) => (100 * x).toFixed(2) + '%';

/** A markdown table to stdout; the first column left-aligned, the others right. */
function printTable(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const out = [line(headers), line(headers.map((_, i) => (i === 0 ? '---' : '---:')))];
  for (const r of rows) out.push(line(r.map(String)));
  process.stdout.write(out.join('\n') + '\n\n');
}
function heading(text) {
  process.stdout.write(`\n## ${text}\n\n`);
}
function note(text) {
  process.stdout.write(text + '\n\n');
}

let checksPassed = 0;
function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  checksPassed++;
}

// Temp dirs and open stores are tracked so an error mid-way still cleans up.
const ROOT_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'tidekv-snapshot-'));
const openStores = new Set();
let dirSeq = 0;
function freshDir(tag) {
  const dir = path.join(ROOT_DIR, `${String(++dirSeq).padStart(2, '0')}-${tag}`);
  fs.mkdirSync(dir);
  return dir;
}
function removeRoot() {
  fs.rmSync(ROOT_DIR, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  removeRoot();
  process.exit(130);
});

/** name -> size of every file in dir. */
function listFiles(dir) {
  const out = new Map();
  for (const name of fs.readdirSync(dir)) out.set(name, fs.statSync(path.join(dir, name)).size);
  return out;
}

/**
 * The files a checkpoint created, by kind (docs/formats/checkpoint.md): its
 * snapshot, index and manifest files. Log pages it made durable cannot be seen
 * in file sizes (a segment file is sized whole when created), so `log` is the
 * rest of the engine's bytesWritten: the breakdown of that figure.
 */
function filesAdded(before, after, bytesWritten) {
  const added = { snap: 0, index: 0, manifest: 0 };
  for (const [name, size] of after) {
    if (before.has(name)) continue;
    if (name.startsWith('snap-')) added.snap += size;
    else if (name.startsWith('index-')) added.index += size;
    else if (name.startsWith('checkpoint-')) added.manifest += size;
  }
  added.log = bytesWritten - added.snap - added.index - added.manifest;
  return added;
}

/** Size of a checkpoint's own file (`snap` or `index`), 0 when it wrote none (or it is gone). */
function fileSize(dir, prefix, version) {
  try {
    return fs.statSync(path.join(dir, `${prefix}-${String(version).padStart(20, '0')}.dat`)).size;
  } catch {
    return 0;
  }
}

/** Bytes of the checkpoint files now in dir, by kind (what recovery may read). */
function filesByKind(dir) {
  const out = { snap: 0, index: 0, manifest: 0, log: 0 };
  for (const [name, size] of listFiles(dir)) {
    if (name.startsWith('snap-')) out.snap += size;
    else if (name.startsWith('index-')) out.index += size;
    else if (name.startsWith('checkpoint-')) out.manifest += size;
    else if (name.startsWith('log-')) out.log += size;
  }
  return out;
}

// --------------------------------------------------------------- workload --

let tidekv; // dist/index.js
let ALL_KEYS; // KEYS × (1 + growth) key strings, `user` + 12 digits
let BASE_VALUE; // 100 bytes from workload.mjs; every written value is a stamped copy
let KEY_BYTES; // bytes of one key (16)

/**
 * Distinct values for the given key indices, as views of one slab: bytes 0-3
 * hold the key index and 4-7 the round, so a stale value read back after
 * recovery is caught by the comparison with the model.
 */
function stampedValues(indices, round) {
  const slab = Buffer.allocUnsafe(indices.length * VALUE_BYTES);
  const values = new Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const v = slab.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES);
    BASE_VALUE.copy(v);
    v.writeUInt32LE(indices[i], 0);
    v.writeUInt32LE(round, 4);
    values[i] = v;
  }
  return values;
}

/** The keys one round updates: `count` picks, zipfian θ 0.99 (repeats) or uniform distinct. */
function roundPicks(dist, n, count, seed) {
  if (dist === 'zipfian') return zipfianSequence(n, count, 0.99, seed);
  // Uniform without repeats: the clean "1% dirty" case. Rejection sampling is
  // cheap while count << n.
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

function countDistinct(picks, n) {
  const seen = new Uint8Array(n);
  let distinct = 0;
  for (const k of picks) {
    if (seen[k] === 0) {
      seen[k] = 1;
      distinct++;
    }
  }
  return distinct;
}

/**
 * Writes keys[indices[i]] = a stamped value into every store and the model, in
 * chunks (putMany: one native call per chunk; the checkpoint cost does not
 * depend on how the writes arrived). Repeated picks overwrite, in order.
 */
function applyWrites(stores, model, indices, round) {
  for (let at = 0; at < indices.length; at += LOAD_CHUNK) {
    const idx = indices.subarray(at, Math.min(indices.length, at + LOAD_CHUNK));
    const keys = Array.from(idx, (i) => ALL_KEYS[i]);
    const values = stampedValues(idx, round);
    for (const s of stores) s.db.putMany(keys, values);
    for (let i = 0; i < keys.length; i++) model.set(keys[i], values[i]);
  }
}

const range = (from, to) => Uint32Array.from({ length: to - from }, (_, i) => from + i);

/** Compares a sample of keys (plus the given hot ones) between a store and the model. */
function checkAgainstModel(db, model, n, what, extra = []) {
  const random = rng(n + checksPassed);
  const idx = [...extra.slice(0, 100), ...Array.from({ length: SAMPLE_CHECKS }, () => Math.floor(random() * n))];
  for (const i of idx) {
    const key = ALL_KEYS[i];
    const got = db.get(key);
    const want = model.get(key);
    check(got !== undefined && want !== undefined && got.equals(want), `${what}: value of ${key}`);
  }
  check(db.stats().keys === model.size, `${what}: key count ${db.stats().keys} = ${model.size}`);
}

// --------------------------------------------------------------- systems --

/** A tidekv store in its own directory, remembered for cleanup. */
async function openStore(tag, options, dir = freshDir(tag)) {
  const db = await tidekv.open(dir, options);
  const store = { tag, dir, options, db };
  openStores.add(store);
  return store;
}
async function closeStore(store) {
  await store.db.close();
  openStores.delete(store);
}

/**
 * Takes a checkpoint and waits for it. callMs: how long the checkpoint() call
 * itself held the JS thread (JS wrapper + the cut), against the engine's
 * pauseMs; wallMs: call to durable, against durationMs.
 */
async function checkpointStore(store, meta) {
  const before = listFiles(store.dir);
  const t0 = performance.now();
  const promise = store.db.checkpoint({ meta });
  const callMs = performance.now() - t0;
  const info = await promise;
  const wallMs = performance.now() - t0;
  const added = filesAdded(before, listFiles(store.dir), info.bytesWritten);
  check(info.meta === meta, `${store.tag}: checkpoint meta round-trips`);
  return {
    version: info.version,
    bytesWritten: info.bytesWritten,
    totalBytes: info.totalBytes,
    pauseMs: info.pauseMs,
    durationMs: info.durationMs,
    callMs,
    wallMs,
    added,
  };
}

/**
 * The naive baseline: the whole state serialized into one Buffer (u32 key
 * length, u32 value length, key, value; an 8-byte count up front), written to
 * a temp file, fsynced, renamed over the previous dump, directory fsynced: a
 * fair, crash-safe full dump. It runs on the JS thread, so its pause is all of
 * it. No checksum (tidekv checksums everything), which favours the baseline.
 */
class FullDump {
  constructor(dir) {
    this.dir = dir;
    this.file = path.join(dir, 'state.dump');
  }

  checkpoint(model) {
    const t0 = performance.now();
    let bytes = 8;
    for (const [k, v] of model) bytes += 8 + Buffer.byteLength(k) + v.length;
    const buf = Buffer.allocUnsafe(bytes);
    buf.writeBigUInt64LE(BigInt(model.size), 0);
    let at = 8;
    for (const [k, v] of model) {
      const kl = buf.write(k, at + 8);
      buf.writeUInt32LE(kl, at);
      buf.writeUInt32LE(v.length, at + 4);
      v.copy(buf, at + 8 + kl);
      at += 8 + kl + v.length;
    }
    const t1 = performance.now();
    const tmp = this.file + '.tmp';
    const fd = fs.openSync(tmp, 'w');
    for (let off = 0; off < bytes; ) off += fs.writeSync(fd, buf, off, bytes - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, this.file);
    const dfd = fs.openSync(this.dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
    const t2 = performance.now();
    return { bytesWritten: bytes, serializeMs: t1 - t0, writeMs: t2 - t1, durationMs: t2 - t0, pauseMs: t2 - t0 };
  }

  /** Recovery: read the file, rebuild the Map (values are views of the file's buffer: the cheapest rebuild). */
  recover() {
    const t0 = performance.now();
    const buf = fs.readFileSync(this.file);
    const t1 = performance.now();
    const count = Number(buf.readBigUInt64LE(0));
    const map = new Map();
    let at = 8;
    for (let i = 0; i < count; i++) {
      const kl = buf.readUInt32LE(at);
      const vl = buf.readUInt32LE(at + 4);
      const key = buf.toString('utf8', at + 8, at + 8 + kl);
      map.set(key, buf.subarray(at + 8 + kl, at + 8 + kl + vl));
      at += 8 + kl + vl;
    }
    const t2 = performance.now();
    return { map, readMs: t1 - t0, rebuildMs: t2 - t1, totalMs: t2 - t0 };
  }
}

/** Options of a store whose state is mostly on disk (experiments 3 and 5). */
const smallOptions = () => ({ memoryBudgetBytes: SMALL_BUDGET, ...(SMALL_PAGE ? { pageBytes: SMALL_PAGE } : {}) });

/** Bytes of a full dump of `keys` records, for runs that do not write one (experiment 5). */
const dumpBytesOf = (keys) => 8 + keys * (8 + KEY_BYTES + VALUE_BYTES);

// -------------------------------------------- experiments 1 and 5: updates --

/**
 * Load KEYS, checkpoint (base), then `rounds` × (update 1% of the keys; checkpoint)
 * in tidekv incremental, tidekv fold-over and (withDump) the full dump.
 */
async function updateRounds({ label, dist, options, withDump }) {
  log(`${label}: loading ${KEYS} keys`);
  const inc = await openStore(`${label}-incremental`, { ...options, checkpointMode: 'incremental' });
  const fold = await openStore(`${label}-fold-over`, { ...options, checkpointMode: 'fold-over' });
  const dump = withDump ? new FullDump(freshDir(`${label}-dump`)) : null;
  const model = new Map();
  applyWrites([inc, fold], model, range(0, KEYS), 0);

  // The record frame on disk (24-byte header + key + value, 8-aligned,
  // docs/formats/record.md), checked against the log: KEYS records were
  // appended and nothing else, plus padding where a record would straddle a page.
  const frameBytes = Math.ceil((24 + KEY_BYTES + VALUE_BYTES) / 8) * 8;
  const st = inc.db.stats();
  const perRecord = (st.tailAddress - st.beginAddress) / KEYS;
  check(perRecord >= frameBytes && perRecord < frameBytes * 1.05, `${label}: ${perRecord} log bytes per record ≈ frame of ${frameBytes} B`);

  const base = {
    incremental: await checkpointStore(inc, 'round 0'),
    foldOver: await checkpointStore(fold, 'round 0'),
    dump: dump?.checkpoint(model) ?? null,
  };
  log(`${label}: base checkpoint ${fmtMiB(base.incremental.bytesWritten)} MiB`);

  const rounds = [];
  const picksPerRound = Math.max(1, Math.round(KEYS * UPDATE_SHARE));
  let picks = new Uint32Array(0);
  for (let r = 1; r <= ROUNDS; r++) {
    picks = roundPicks(dist, KEYS, picksPerRound, 1000 + r);
    const distinct = countDistinct(picks, KEYS);
    applyWrites([inc, fold], model, picks, r);
    const row = {
      round: r,
      picks: picks.length,
      distinct,
      changedBytes: distinct * (KEY_BYTES + VALUE_BYTES),
      changedFrameBytes: distinct * frameBytes,
      incremental: await checkpointStore(inc, `round ${r}`),
      foldOver: await checkpointStore(fold, `round ${r}`),
      dump: dump?.checkpoint(model) ?? { bytesWritten: dumpBytesOf(model.size), computedOnly: true },
    };
    rounds.push(row);
    if (r === 1 || r === ROUNDS || r % 5 === 0) {
      log(`${label}: round ${r}: ${distinct} distinct keys, incremental ${fmtKiB(row.incremental.bytesWritten)} KiB`);
    }
  }

  // The stores hold what the model holds (and, under --smoke, every invariant).
  for (const s of [inc, fold]) {
    checkAgainstModel(s.db, model, KEYS, s.tag, Array.from(picks)); // includes the hottest keys
    if (SMOKE) s.db.verify();
  }
  const stats = { incremental: inc.db.stats(), foldOver: fold.db.stats() };
  await closeStore(inc);
  await closeStore(fold);
  return { label, dist, options, withDump, keys: KEYS, frameBytes, base, rounds, stats };
}

function summarizeUpdates(res) {
  const changed = sum(res.rounds.map((r) => r.changedBytes));
  const changedFrames = sum(res.rounds.map((r) => r.changedFrameBytes));
  const per = (sys) => {
    const rs = res.rounds.map((r) => r[sys]);
    const bytes = sum(rs.map((c) => c.bytesWritten));
    return {
      bytes,
      meanBytes: bytes / rs.length,
      durationMs: sum(rs.map((c) => c.durationMs ?? NaN)),
      meanDurationMs: sum(rs.map((c) => c.durationMs ?? NaN)) / rs.length,
      maxPauseMs: Math.max(...rs.map((c) => c.pauseMs ?? NaN)),
      medianPauseMs: median(rs.map((c) => c.pauseMs ?? NaN)),
      bytesPerChanged: bytes / changed,
      bytesPerChangedFrame: bytes / changedFrames,
      maxRoundBytesPerChanged: Math.max(...res.rounds.map((r) => r[sys].bytesWritten / r.changedBytes)),
    };
  };
  const out = { changedBytes: changed, changedFrameBytes: changedFrames, incremental: per('incremental'), foldOver: per('foldOver'), dump: per('dump') };
  out.incremental.dumpOverThis = out.dump.bytes / out.incremental.bytes;
  out.foldOver.dumpOverThis = out.dump.bytes / out.foldOver.bytes;
  out.dump.dumpOverThis = 1;
  return out;
}

function reportUpdates(title, res) {
  const sum_ = summarizeUpdates(res);
  res.summary = sum_;
  heading(title);
  const o = res.options.memoryBudgetBytes ? `memoryBudgetBytes ${fmtMiB(res.options.memoryBudgetBytes)} MiB` : 'default options (256 MiB budget)';
  note(
    `${res.keys} keys × ${VALUE_BYTES} B, ${o}; ${res.rounds.length} rounds of ${Math.round(res.keys * UPDATE_SHARE)} updates ` +
      `(${res.dist === 'zipfian' ? 'zipfian θ 0.99, repeats counted once' : 'uniform, all distinct'}), each followed by a checkpoint. ` +
      `changed = distinct keys × ${KEY_BYTES + VALUE_BYTES} B (key + value); a record is ${res.frameBytes} B on disk ` +
      `(24-byte header + key + value, 8-aligned; checked against the log tail). Bytes = the engine's bytesWritten; ` +
      `dump = the whole state.` + (res.withDump ? '' : ' The dump is not written here: its size is computed, see experiment 1 for its times.'),
  );
  const b = res.base;
  note(
    `Base checkpoint: incremental ${fmtMiB(b.incremental.bytesWritten)} MiB in ${fmtMs(b.incremental.durationMs)} ms (pause ${fmtMs(b.incremental.pauseMs)} ms); ` +
      `fold-over ${fmtMiB(b.foldOver.bytesWritten)} MiB in ${fmtMs(b.foldOver.durationMs)} ms (pause ${fmtMs(b.foldOver.pauseMs)} ms)` +
      (b.dump ? `; dump ${fmtMiB(b.dump.bytesWritten)} MiB in ${fmtMs(b.dump.durationMs)} ms.` : '.'),
  );
  printTable(
    ['round', 'distinct', 'changed KiB', 'incr KiB', 'incr/changed', 'incr ms', 'incr pause ms', 'fold KiB', 'fold ms', 'fold pause ms', 'dump MiB', 'dump ms', 'dump/incr'],
    res.rounds.map((r) => [
      r.round,
      r.distinct,
      fmtKiB(r.changedBytes),
      fmtKiB(r.incremental.bytesWritten),
      fmtX(r.incremental.bytesWritten / r.changedBytes),
      fmtMs(r.incremental.durationMs),
      r.incremental.pauseMs.toFixed(3),
      fmtKiB(r.foldOver.bytesWritten),
      fmtMs(r.foldOver.durationMs),
      r.foldOver.pauseMs.toFixed(3),
      fmtMiB(r.dump.bytesWritten),
      r.dump.durationMs === undefined ? '—' : fmtMs(r.dump.durationMs),
      fmtX(r.dump.bytesWritten / r.incremental.bytesWritten),
    ]),
  );
  const s = sum_;
  printTable(
    ['system (rounds 1..N)', 'Σ MiB', 'mean KiB/round', 'Σ ms', 'mean ms', 'median / max pause ms', '÷ changed (116 B)', `÷ changed (${res.frameBytes} B)`, 'worst round ÷ changed', 'dump ÷ this'],
    [
      ['tidekv incremental', s.incremental],
      ['tidekv fold-over', s.foldOver],
      ['full dump', s.dump],
    ].map(([name, x]) => [
      name,
      fmtMiB(x.bytes),
      fmtKiB(x.meanBytes),
      Number.isNaN(x.durationMs) ? '—' : fmtMs(x.durationMs),
      Number.isNaN(x.meanDurationMs) ? '—' : fmtMs(x.meanDurationMs),
      Number.isNaN(x.maxPauseMs) ? '—' : `${x.medianPauseMs.toFixed(3)} / ${x.maxPauseMs.toFixed(3)}`,
      fmtX(x.bytesPerChanged),
      fmtX(x.bytesPerChangedFrame),
      fmtX(x.maxRoundBytesPerChanged),
      fmtX(x.dumpOverThis),
    ]),
  );
  const added = res.rounds.map((r) => r.incremental.added);
  note(
    `incremental files added per round (median): snap ${fmtKiB(median(added.map((a) => a.snap)))} KiB, index ${fmtKiB(median(added.map((a) => a.index)))} KiB, ` +
      `manifest ${median(added.map((a) => a.manifest))} B, log pages (rest of bytesWritten) ${fmtKiB(Math.max(0, median(added.map((a) => a.log))))} KiB. ` +
      `fold-over: snap ${fmtKiB(median(res.rounds.map((r) => r.foldOver.added.snap)))} KiB, index ${fmtKiB(median(res.rounds.map((r) => r.foldOver.added.index)))} KiB, ` +
      `log ${fmtKiB(median(res.rounds.map((r) => r.foldOver.added.log)))} KiB. ` +
      `Log tail after the last round: incremental ${fmtMiB(res.stats.incremental.tailAddress)} MiB, fold-over ${fmtMiB(res.stats.foldOver.tailAddress)} MiB ` +
      `(fold-over copies each updated record to the tail, and its tail is page-aligned after every checkpoint). ` +
      `Targets: incremental ≤ 2× changed → ${s.incremental.bytesPerChanged <= 2 ? 'met' : 'MISSED'} (${fmtX(s.incremental.bytesPerChanged)}); ` +
      `≥ 20× less than the dump → ${s.incremental.dumpOverThis >= 20 ? 'met' : 'MISSED'} (${fmtX(s.incremental.dumpOverThis)}).`,
  );
}

// --------------------------------------------------- experiment 2: growth --

async function growthExperiment() {
  const label = 'growth';
  log(`${label}: loading ${KEYS} keys`);
  const inc = await openStore(`${label}-incremental`, {});
  const dump = new FullDump(freshDir(`${label}-dump`));
  const model = new Map();
  applyWrites([inc], model, range(0, KEYS), 0);
  const base = { incremental: await checkpointStore(inc, 'round 0'), dump: dump.checkpoint(model) };
  const perRound = Math.round(KEYS * GROWTH_SHARE);
  const rounds = [];
  for (let r = 1; r <= GROWTH_ROUNDS; r++) {
    const from = KEYS + (r - 1) * perRound;
    applyWrites([inc], model, range(from, from + perRound), r);
    const st = inc.db.stats();
    const row = {
      round: r,
      keys: model.size,
      inserted: perRound,
      insertedBytes: perRound * (KEY_BYTES + VALUE_BYTES),
      indexBytes: st.indexBytes,
      indexGrows: st.indexGrows,
      incremental: await checkpointStore(inc, `round ${r}`),
      dump: dump.checkpoint(model),
    };
    rounds.push(row);
    log(`${label}: round ${r}: ${row.keys} keys, incremental ${fmtMiB(row.incremental.bytesWritten)} MiB, dump ${fmtMiB(row.dump.bytesWritten)} MiB`);
  }
  checkAgainstModel(inc.db, model, KEYS + GROWTH_ROUNDS * perRound, label, [KEYS + GROWTH_ROUNDS * perRound - 1]);
  if (SMOKE) inc.db.verify();
  await closeStore(inc);
  const sys = (name) => {
    const rs = rounds.map((r) => r[name]);
    const bytes = sum(rs.map((c) => c.bytesWritten));
    const ms = sum(rs.map((c) => c.durationMs));
    return {
      bytes,
      durationMs: ms,
      meanBytes: bytes / rs.length,
      meanDurationMs: ms / rs.length,
      lastOverFirstBytes: rs.at(-1).bytesWritten / rs[0].bytesWritten,
      lastOverFirstMs: rs.at(-1).durationMs / rs[0].durationMs,
    };
  };
  return { keys: KEYS, perRound, base, rounds, summary: { incremental: sys('incremental'), dump: sys('dump') } };
}

function reportGrowth(res) {
  heading('2. Growing state: +10% new keys per round, then a checkpoint');
  note(
    `Start: ${res.keys} keys checkpointed (incremental base ${fmtMiB(res.base.incremental.bytesWritten)} MiB in ${fmtMs(res.base.incremental.durationMs)} ms; ` +
      `dump ${fmtMiB(res.base.dump.bytesWritten)} MiB in ${fmtMs(res.base.dump.durationMs)} ms). Each round inserts ${res.perRound} new keys ` +
      `(${fmtMiB(res.perRound * (KEY_BYTES + VALUE_BYTES))} MiB of key + value). tidekv with default options (256 MiB budget: the log outgrows it in the last rounds). ` +
      `incr split = the checkpoint's snapshot file / index file / log pages made durable (the rest of bytesWritten), MiB.`,
  );
  printTable(
    ['round', 'keys', 'incr MiB', 'incr split snap/index/log', 'incr ms', 'pause ms', 'index MiB (grows)', 'dump MiB', 'dump ms', 'dump pause ms'],
    res.rounds.map((r) => {
      const a = r.incremental.added;
      return [
        r.round,
        r.keys,
        fmtMiB(r.incremental.bytesWritten),
        `${fmtMiB(a.snap)} / ${fmtMiB(a.index)} / ${fmtMiB(Math.max(0, a.log))}`,
        fmtMs(r.incremental.durationMs),
        r.incremental.pauseMs.toFixed(3),
        `${fmtMiB(r.indexBytes)} (${r.indexGrows})`,
        fmtMiB(r.dump.bytesWritten),
        fmtMs(r.dump.durationMs),
        fmtMs(r.dump.pauseMs),
      ];
    }),
  );
  const s = res.summary;
  printTable(
    ['system', 'Σ MiB', 'mean MiB/round', 'last ÷ first round (bytes)', 'Σ ms', 'mean ms/round', 'last ÷ first round (ms)'],
    [
      ['tidekv incremental', s.incremental],
      ['full dump', s.dump],
    ].map(([name, x]) => [name, fmtMiB(x.bytes), fmtMiB(x.meanBytes), fmtX(x.lastOverFirstBytes), fmtMs(x.durationMs), fmtMs(x.meanDurationMs), fmtX(x.lastOverFirstMs)]),
  );
  note(
    `Inserted key + value bytes per round: ${fmtMiB(res.perRound * (KEY_BYTES + VALUE_BYTES))} MiB; tidekv wrote ` +
      `${fmtX(s.incremental.meanBytes / (res.perRound * (KEY_BYTES + VALUE_BYTES)))} that per round on average, the dump ${fmtX(s.dump.meanBytes / (res.perRound * (KEY_BYTES + VALUE_BYTES)))}.`,
  );
}

// ------------------------------------------------- experiment 3: recovery --

/** Opens dir `reps` times; the last open is kept and returned. */
async function timeOpens(dir, options, model, expectVersion, reps) {
  const samples = [];
  let store;
  const probe = ALL_KEYS[KEYS >> 1];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const db = await tidekv.open(dir, options);
    const t1 = performance.now();
    const first = db.get(probe);
    const t2 = performance.now();
    store = { tag: 'recovery', dir, options, db };
    openStores.add(store);
    check(db.version === expectVersion, `recovery: version ${db.version} = ${expectVersion}`);
    check(first !== undefined && first.equals(model.get(probe)), 'recovery: first get');
    samples.push({ openMs: t1 - t0, firstGetMs: t2 - t1, openToFirstGetMs: t2 - t0 });
    checkAgainstModel(db, model, KEYS, `recovery after ${expectVersion} checkpoints`);
    if (i < reps - 1) await closeStore(store);
  }
  return { samples, store };
}

/**
 * withDump: also time reloading the dump at each stage (once is enough: it
 * does not depend on the store's options).
 */
async function recoveryExperiment(label, options, withDump) {
  let store = await openStore(label, options);
  const dir = store.dir;
  const dump = new FullDump(freshDir(`${label}-dump`));
  const model = new Map();
  log(`${label}: loading ${KEYS} keys`);
  applyWrites([store], model, range(0, KEYS), 0);
  const picksPerRound = Math.max(1, Math.round(KEYS * UPDATE_SHARE));
  const stages = [];
  let taken = 0;
  for (const stage of RECOVERY_STAGES) {
    // Checkpoint 1 is the base (the load); each later one follows 1% zipfian updates.
    while (taken < stage) {
      if (taken > 0) applyWrites([store], model, roundPicks('zipfian', KEYS, picksPerRound, 5000 + taken), taken);
      const c = await checkpointStore(store, `round ${taken}`);
      taken = c.version;
    }
    if (withDump) dump.checkpoint(model);
    await closeStore(store);
    const files = filesByKind(dir);
    const opened = await timeOpens(dir, options, model, stage, OPEN_REPS);
    store = opened.store;
    const dumps = [];
    for (let i = 0; i < (withDump ? OPEN_REPS : 0); i++) {
      const rec = dump.recover();
      check(rec.map.size === model.size, 'dump recovery: key count');
      const k = ALL_KEYS[KEYS >> 1];
      check(rec.map.get(k).equals(model.get(k)), 'dump recovery: a value');
      dumps.push({ readMs: rec.readMs, rebuildMs: rec.rebuildMs, totalMs: rec.totalMs });
    }
    stages.push({ checkpoints: stage, files, tidekv: opened.samples, dump: dumps, dumpBytes: withDump ? fs.statSync(dump.file).size : null });
    log(`${label}: after ${stage} checkpoints: open ${fmtMs(median(opened.samples.map((s) => s.openMs)))} ms`);
  }
  await closeStore(store);
  return { label, options, keys: KEYS, stages };
}

function reportRecovery(res, small) {
  heading('3. Recovery: open() after N checkpoints, against reloading the dump');
  note(
    `${res.keys} keys × ${VALUE_BYTES} B, default options (256 MiB budget: the whole log is in the in-memory region), and again with a ` +
      `${fmtMiB(SMALL_BUDGET)} MiB budget (most of the log in segment files, which open maps rather than reads). Checkpoint 1 is the base (the load); ` +
      `each later one follows 1% zipfian updates. After the Nth, close, then ${OPEN_REPS}× (open() until resolved, then one get), in this process, ` +
      `page cache warm; median (all samples). Files = checkpoint files in the directory at that point (retainCheckpoints 3; log segments are sized ` +
      `whole when created). Dump: readFileSync + rebuild of the Map (values left as views of the file's buffer).`,
  );
  const dashes = ['—', '—', '—', '—'];
  printTable(
    ['budget', 'checkpoints', 'snap files MiB', 'index files MiB', 'log segs MiB', 'open ms median (all)', 'first get ms', 'dump MiB', 'dump read ms', 'dump rebuild ms', 'dump total ms median (all)'],
    [...res.stages.map((s) => [res, s]), ...(small ? small.stages.map((s) => [small, s]) : [])].map(([r, s]) => {
      const opens = s.tidekv.map((x) => x.openMs);
      const totals = s.dump.map((x) => x.totalMs);
      return [
        r.options.memoryBudgetBytes ? `${fmtMiB(r.options.memoryBudgetBytes)} MiB` : 'default',
        s.checkpoints,
        fmtMiB(s.files.snap),
        fmtMiB(s.files.index),
        fmtMiB(s.files.log),
        `${fmtMs(median(opens))} (${opens.map(fmtMs).join(', ')})`,
        median(s.tidekv.map((x) => x.firstGetMs)).toFixed(3),
        ...(s.dump.length === 0
          ? dashes
          : [
              fmtMiB(s.dumpBytes),
              fmtMs(median(s.dump.map((x) => x.readMs))),
              fmtMs(median(s.dump.map((x) => x.rebuildMs))),
              `${fmtMs(median(totals))} (${totals.map(fmtMs).join(', ')})`,
            ]),
      ];
    }),
  );
  const med = res.stages.map((s) => median(s.tidekv.map((x) => x.openMs)));
  note(
    `Targets (default options): open ≤ 100 ms → ${med.every((m) => m <= 100) ? 'met' : 'MISSED'} (${med.map(fmtMs).join(' / ')} ms); ` +
      `not growing with the number of checkpoints → last ÷ first ${fmtX(med.at(-1) / med[0])}.`,
  );
}

// --------------------------------------------- experiment 4: op latency --

/**
 * One slice of YCSB-A single calls. Each op's latency is the time between
 * consecutive hrtime.bigint() stamps: the call plus the loop's own overhead
 * and one timer read (the floor is measured by timerFloor()). Puts stamp their
 * key in `marks` with the interval's generation, so the keys dirtied per
 * interval are counted once each.
 */
function opsSlice(db, run, count) {
  const { seq, mask, value, lat, marks, keys } = run;
  let pos = run.pos;
  let n = run.n;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const k = seq[pos];
    if (mask[pos] === 1) {
      db.put(keys[k], value);
      if (marks[k] !== run.gen) {
        marks[k] = run.gen;
        run.dirty++;
      }
    } else if (db.get(keys[k])?.length !== VALUE_BYTES) {
      throw new Error(`latency run: get of ${keys[k]} returned no ${VALUE_BYTES}-byte value`);
    }
    pos = pos + 1 === seq.length ? 0 : pos + 1;
    const t1 = process.hrtime.bigint();
    const ns = Number(t1 - t0);
    lat[n++] = ns;
    // Rare: remember ops over 1 ms and whether a checkpoint was being written.
    if (ns > 1e6) run.slow.push({ ns, checkpointInFlight: run.inFlight > 0 });
    t0 = t1;
  }
  run.pos = pos;
  run.n = n;
}

/** The same loop with no store call: what the per-op figure costs by itself. */
function timerFloor(count) {
  const lat = new Uint32Array(count);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const t1 = process.hrtime.bigint();
    lat[i] = Number(t1 - t0);
    t0 = t1;
  }
  return percentiles(lat);
}

function percentiles(lat) {
  lat.sort();
  const at = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  return { count: lat.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: lat[lat.length - 1] };
}

/**
 * Runs the loop for SECONDS. withCheckpoints: at every interval boundary a
 * checkpoint is started and not awaited (its promise settles in the
 * background while the loop goes on). opsPerSec: pace the loop (sleep when
 * ahead of schedule) instead of running flat out.
 */
async function latencyRun({ db, dir }, shared, { withCheckpoints, opsPerSec, seconds = SECONDS }) {
  // Start from a clean cut, so that the first checkpoint of the run covers
  // this run's writes only, not those of the run before (the free runs dirty
  // ~16% of the keys per second).
  if (withCheckpoints) await db.checkpoint({ meta: 'latency run start' });
  const run = { ...shared, pos: 0, n: 0, gen: ++shared.genCounter, dirty: 0, inFlight: 0, slow: [] };
  const intervals = [];
  const checkpoints = [];
  const pending = [];
  const errors = [];
  const start = performance.now();
  let boundary = start + CHECKPOINT_EVERY_MS;
  for (;;) {
    const now = performance.now();
    if (now - start >= seconds * 1000 || run.n + SLICE_OPS > run.lat.length) break;
    if (now >= boundary) {
      intervals.push(run.dirty);
      run.dirty = 0;
      run.gen = ++shared.genCounter;
      boundary += CHECKPOINT_EVERY_MS;
      if (withCheckpoints) {
        const t0 = performance.now();
        const p = db.checkpoint({ meta: `latency ${checkpoints.length + pending.length}` });
        const callMs = performance.now() - t0;
        run.inFlight++;
        pending.push(
          p.then(
            (info) => {
              run.inFlight--;
              checkpoints.push({ ...info, callMs, snapBytes: fileSize(dir, 'snap', info.version), indexBytes: fileSize(dir, 'index', info.version) });
            },
            (e) => errors.push(e),
          ),
        );
      }
    }
    let count = SLICE_OPS;
    if (opsPerSec !== undefined) {
      const due = Math.floor((opsPerSec * (now - start)) / 1000) - run.n;
      if (due <= 0) {
        await sleep(1);
        continue;
      }
      count = Math.min(SLICE_OPS, due);
    }
    opsSlice(db, run, count);
    await yieldToEventLoop(); // lets checkpoint completions and timers run
  }
  const elapsedMs = performance.now() - start;
  await Promise.all(pending);
  if (errors.length > 0) throw errors[0];
  checkpoints.sort((a, b) => a.version - b.version);
  return {
    withCheckpoints,
    opsPerSec: opsPerSec ?? null,
    ops: run.n,
    elapsedMs,
    mopsPerSec: run.n / elapsedMs / 1000,
    latencyNs: percentiles(run.lat.subarray(0, run.n)),
    dirtyPerInterval: intervals,
    checkpoints: checkpoints.map((c) => ({
      version: c.version,
      bytesWritten: c.bytesWritten,
      snapBytes: c.snapBytes,
      indexBytes: c.indexBytes,
      pauseMs: c.pauseMs,
      callMs: c.callMs,
      durationMs: c.durationMs,
    })),
    // Where the log stands after the run: copy-on-write appends during checkpoint
    // writes grow it, and past the mutable region pages are flushed to segments.
    log: pick(db.stats(), ['tailAddress', 'readOnlyAddress', 'flushedUntilAddress', 'pagesFlushed', 'flushWaits', 'appendedRecords', 'inPlaceUpdates']),
    slowOps: run.slow.length,
    slowOpsDuringCheckpoint: run.slow.filter((x) => x.checkpointInFlight).length,
    slowestNs: run.slow.map((x) => x.ns).sort((a, b) => b - a).slice(0, 5),
  };
}

/**
 * Ops per interval that dirty ~1% of the keys with this sequence: scan it,
 * counting distinct put keys, until 1% of KEYS is reached (zipfian repeats
 * mean more puts than keys).
 */
function opsForDirtyShare(seq, mask, share) {
  const target = Math.max(1, Math.round(KEYS * share));
  const seen = new Uint8Array(KEYS);
  let distinct = 0;
  for (let i = 0; i < seq.length; i++) {
    if (mask[i] === 1 && seen[seq[i]] === 0) {
      seen[seq[i]] = 1;
      if (++distinct >= target) return i + 1;
    }
  }
  return seq.length;
}

async function latencyExperiment() {
  const label = 'latency';
  log(`${label}: loading ${KEYS} keys`);
  const store = await openStore(label, {});
  const model = new Map();
  applyWrites([store], model, range(0, KEYS), 0);
  model.clear(); // the loop's values are not tracked; only presence and length are checked
  await checkpointStore(store, 'base');
  // The loop cycles through a pre-drawn sequence (drawing is slow, BigInt PRNG).
  const seqLen = SMOKE ? 200_000 : 4_000_000;
  const seq = zipfianSequence(KEYS, seqLen, 0.99, 77);
  const mask = writeMask(seqLen, 0.5, 78);
  const shared = {
    keys: ALL_KEYS,
    seq,
    mask,
    value: stampedValues([0], 99)[0],
    lat: new Uint32Array(Math.ceil(SECONDS * 4e6)),
    marks: new Uint32Array(KEYS),
    genCounter: 0,
  };
  const floor = timerFloor(1_000_000);
  const pacedOps = Math.round((opsForDirtyShare(seq, mask, UPDATE_SHARE) * 1000) / CHECKPOINT_EVERY_MS);
  log(`${label}: paced runs at ${pacedOps} ops/s (~1% of keys dirtied per ${CHECKPOINT_EVERY_MS} ms)`);

  const runs = {};
  // Warm-up: JIT and caches, not reported.
  await latencyRun(store, shared, { withCheckpoints: false, seconds: SMOKE ? 0.2 : 2 });
  for (const [name, cfg] of [
    ['free, no checkpoints', { withCheckpoints: false }],
    ['free, checkpoint every interval', { withCheckpoints: true }],
    ['paced 1%, no checkpoints', { withCheckpoints: false, opsPerSec: pacedOps }],
    ['paced 1%, checkpoint every interval', { withCheckpoints: true, opsPerSec: pacedOps }],
  ]) {
    runs[name] = await latencyRun(store, shared, cfg);
    const r = runs[name];
    log(`${label}: ${name}: ${r.ops} ops, p99 ${(r.latencyNs.p99 / 1000).toFixed(2)} µs, ${r.checkpoints.length} checkpoints`);
    if (cfg.withCheckpoints) check(r.checkpoints.length >= 1, `${name}: checkpoints were taken`);
  }
  if (SMOKE) store.db.verify();
  await closeStore(store);
  return { keys: KEYS, seconds: SECONDS, intervalMs: CHECKPOINT_EVERY_MS, sliceOps: SLICE_OPS, pacedOps, timerFloorNs: floor, runs };
}

function reportLatency(res) {
  heading('4. Op latency of YCSB-A (single calls) while checkpointing');
  note(
    `${res.keys} keys, zipfian θ 0.99, 50% get / 50% put, one call per op, ${res.seconds} s per run after a warm-up run. A checkpoint is started every ` +
      `${res.intervalMs} ms at a slice boundary and not awaited (the loop yields to the event loop every ${res.sliceOps} ops). ` +
      `Latency of each op = time between consecutive process.hrtime.bigint() stamps around it: the call + loop overhead + one timer read ` +
      `(that floor alone: p50 ${res.timerFloorNs.p50} ns, p99 ${res.timerFloorNs.p99} ns). The checkpoint() call itself runs between slices, so its ` +
      `hold of the JS thread is reported as "call ms", not in the op latencies. Paced runs: ${res.pacedOps} ops/s, which dirties ~1% of the keys per interval.`,
  );
  const us = (ns) => (ns / 1000).toFixed(2);
  const rows = Object.entries(res.runs).map(([name, r]) => {
    const d = r.dirtyPerInterval.map((x) => x / res.keys);
    const c = r.checkpoints;
    return [
      name,
      r.ops,
      r.mopsPerSec.toFixed(2),
      d.length ? `${fmtPct(median(d))} / ${fmtPct(Math.max(...d))}` : '—',
      us(r.latencyNs.p50),
      us(r.latencyNs.p99),
      us(r.latencyNs.p999),
      us(r.latencyNs.max),
      c.length,
      c.length ? `${median(c.map((x) => x.pauseMs)).toFixed(3)} / ${Math.max(...c.map((x) => x.pauseMs)).toFixed(3)}` : '—',
      c.length ? `${median(c.map((x) => x.callMs)).toFixed(3)} / ${Math.max(...c.map((x) => x.callMs)).toFixed(3)}` : '—',
      c.length ? fmtMs(median(c.map((x) => x.durationMs))) : '—',
      c.length
        ? `${fmtKiB(median(c.map((x) => x.bytesWritten)))} (${fmtKiB(median(c.map((x) => x.snapBytes)))} / ${fmtKiB(median(c.map((x) => x.indexBytes)))})`
        : '—',
      `${r.slowOps} (${r.slowOpsDuringCheckpoint})`,
    ];
  });
  printTable(
    ['run', 'ops', 'M ops/s', 'dirty/interval median / max', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'ckpts', 'pause ms median / max', 'call ms median / max', 'ckpt ms median', 'ckpt KiB median (snap / index)', 'ops > 1 ms (while a ckpt was written)'],
    rows,
  );
  const r = res.runs;
  const ratio = (a, b) => r[a].latencyNs.p99 / r[b].latencyNs.p99;
  const freeRatio = ratio('free, checkpoint every interval', 'free, no checkpoints');
  const pacedRatio = ratio('paced 1%, checkpoint every interval', 'paced 1%, no checkpoints');
  const pacedPauses = r['paced 1%, checkpoint every interval'].checkpoints.map((c) => c.pauseMs);
  const freePauses = r['free, checkpoint every interval'].checkpoints.map((c) => c.pauseMs);
  res.summary = { freeP99Ratio: freeRatio, pacedP99Ratio: pacedRatio, pacedMaxPauseMs: Math.max(...pacedPauses), freeMaxPauseMs: Math.max(...freePauses) };
  note(
    `pauseMs of each checkpoint — free: ${freePauses.map((p) => p.toFixed(3)).join(', ')}; paced 1%: ${pacedPauses.map((p) => p.toFixed(3)).join(', ')}.\n\n` +
      `Targets: p99 with ÷ without checkpoints ≤ 2× → free ${fmtX(freeRatio)}, paced 1% ${fmtX(pacedRatio)} (${pacedRatio <= 2 ? 'met' : 'MISSED'} at 1%); ` +
      `pause ≤ 1 ms at 1% dirty → max ${Math.max(...pacedPauses).toFixed(3)} ms (${Math.max(...pacedPauses) <= 1 ? 'met' : 'MISSED'}).`,
  );
}

// ------------------------------------------------------------------- main --

async function main() {
  tidekv = require('../dist/index.js');
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, os: `${os.type()} ${os.release()}` };
  log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}; keys ${KEYS}, rounds ${ROUNDS}, temp ${ROOT_DIR}`);
  const growthKeys = ONLY.has('2') ? Math.round(KEYS * GROWTH_SHARE) * GROWTH_ROUNDS : 0;
  ALL_KEYS = makeKeys(KEYS + growthKeys);
  KEY_BYTES = Buffer.byteLength(ALL_KEYS[0]);
  BASE_VALUE = makeValue();

  const results = { machine, command: `node bench/snapshot.mjs ${process.argv.slice(2).join(' ')}`.trim(), config: { keys: KEYS, rounds: ROUNDS, seconds: SECONDS, smoke: SMOKE } };
  process.stdout.write(`# tidekv checkpoints against a full dump\n\n`);
  note(`${machine.cpu}, ${machine.cores} cores, ${machine.os}, Node ${machine.node}. Command: \`${results.command}\`. Temp files under ${os.tmpdir()}.`);

  if (ONLY.has('1')) {
    results.exp1 = {};
    for (const dist of ['zipfian', 'uniform']) {
      const res = await updateRounds({ label: `exp1-${dist}`, dist, options: {}, withDump: true });
      reportUpdates(`1${dist === 'zipfian' ? 'a' : 'b'}. 1% updates (${dist}) + checkpoint, ${ROUNDS} rounds`, res);
      results.exp1[dist] = res;
    }
  }
  if (ONLY.has('2')) {
    results.exp2 = await growthExperiment();
    reportGrowth(results.exp2);
  }
  if (ONLY.has('3')) {
    results.exp3 = await recoveryExperiment('recovery', {}, true);
    results.exp3small = await recoveryExperiment('recovery-small', smallOptions(), false);
    reportRecovery(results.exp3, results.exp3small);
  }
  if (ONLY.has('4')) {
    results.exp4 = await latencyExperiment();
    reportLatency(results.exp4);
  }
  if (ONLY.has('5')) {
    results.exp5 = {};
    const options = smallOptions();
    for (const dist of ['zipfian', 'uniform']) {
      const res = await updateRounds({ label: `exp5-${dist}`, dist, options, withDump: false });
      reportUpdates(`5${dist === 'zipfian' ? 'a' : 'b'}. Larger than memory (${fmtMiB(SMALL_BUDGET)} MiB budget): 1% updates (${dist}) + checkpoint`, res);
      results.exp5[dist] = res;
    }
  }
  results.checksPassed = checksPassed;
  note(`${checksPassed} checks passed (values read back against the model, key counts, versions, metas).`);
  if (flags.json) fs.writeFileSync(flags.json, JSON.stringify(results, null, 1));
  log('done');
}

try {
  await main();
} catch (e) {
  process.stderr.write(`snapshot: ${e.stack ?? e}\n`);
  process.exitCode = 1;
} finally {
  for (const s of [...openStores]) await s.db.close().catch(() => {});
  removeRoot();
}
