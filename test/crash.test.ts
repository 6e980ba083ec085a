// Crash tests: the durability contract (README "Durability contract") under
// SIGKILL at random instants, and under worker.terminate() mid-checkpoint.
//
// A child (test/fixtures/crash-child.mjs) writes a seeded random workload,
// compacts, and checkpoints with meta = `v<version> <digest>`, announcing each
// checkpoint on stdout before calling it (`pending <v> <digest>`, the digest
// of its model at the cut) and when it resolved (`done <v> <digest>`). The
// test kills it at a seeded moment (after the n-th line of some kind, plus a
// random delay: during writes, during a checkpoint's write, during
// compaction, before any checkpoint, during recovery), reopens the directory
// and accepts exactly: the last `done` version, or a `pending` version after
// it (in flight at the kill, may have completed), with the state digest and
// meta that version was announced with. Every seed runs two rounds on one
// directory (the second child recovers, writes on and is killed again, also
// during or right after recovery), then continues in this process: restore,
// checkpoint, close, reopen.
//
//   TIDEKV_CRASH_ITERATIONS=200 npx vitest run test/crash.test.ts   # more seeds
//   TIDEKV_CRASH_SEED=123456 npx vitest run test/crash.test.ts      # one seed
//   TIDEKV_CRASH_BASE_SEED=7 ...                                    # another seed list
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, type OpenOptions, type Store } from '../lib/index.js';
import { ENGINES, makeTempDir, presetOptions, removeTempDir, ROOT, transpileLibForChildren, type EngineUnderTest } from './helpers.js';

const CHILD = join(ROOT, 'test', 'fixtures', 'crash-child.mjs');
const KiB = 1024;
const EMPTY_DIGEST = createHash('sha256').digest('hex');

// The package for the children: lib/ transpiled to a temp dir (dist/ is
// rebuilt concurrently by test/package.test.ts).
let lib: { root: string; index: string };
beforeAll(async () => {
  lib = await transpileLibForChildren();
});
afterAll(() => removeTempDir(lib.root));

// ---- seeds ----

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

// 32 seeds (64 kills) take about 20 s on a 2-core VM.
const ITERATIONS = envInt('TIDEKV_CRASH_ITERATIONS') ?? 32;
const BASE_SEED = envInt('TIDEKV_CRASH_BASE_SEED') ?? 20251122;
const ONE_SEED = envInt('TIDEKV_CRASH_SEED');
const SEEDS = ONE_SEED !== undefined ? [ONE_SEED] : Array.from({ length: ITERATIONS }, (_, i) => mix32(BASE_SEED + Math.imul(i + 1, 0x9e3779b9)));

/** mulberry32, as in the child. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

// ---- state digests (the same definition as the child's, implemented independently) ----

const keyOf = (i: number): string => `k${i}`;

function readState(db: Store, pool: number): Map<string, Buffer> {
  const state = new Map<string, Buffer>();
  for (let i = 0; i < pool; i++) {
    const v = db.get(keyOf(i));
    if (v !== undefined) state.set(keyOf(i), Buffer.from(v));
  }
  return state;
}

function digestOf(state: Map<string, Buffer>, pool: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < pool; i++) {
    const v = state.get(keyOf(i));
    if (v === undefined) continue;
    h.update(`${keyOf(i)}\0${v.length}\0`);
    h.update(v);
  }
  return h.digest('hex');
}

// ---- per-seed plan ----

interface ChildConfig {
  dir: string;
  options: OpenOptions;
  pool: number;
  seed: number;
  iterations: number;
  burst: number;
  compactChance: number;
  checkpointChance: number;
  quietIterations: number;
}

type Trigger = 'opening' | 'ready' | 'tick' | 'pending' | 'done' | 'compact-start';
interface KillPlan {
  name: string;
  on: Trigger;
  nth: number;
  delayMs: number;
}

const tinyMemory = { memoryBudgetBytes: 256 * KiB, pageBytes: 64 * KiB, segmentBytes: 256 * KiB };

function planOptions(engine: EngineUnderTest, rng: Rng): { profile: string; options: OpenOptions } {
  if (engine !== 'hybridlog') {
    const profile = rng.pick(['default', 'tinyMemory', 'tinyMemory', 'tinyPages', 'smallIndex'] as const);
    const retain = rng.pick([undefined, 1, 2, 3, 5] as const);
    const base = presetOptions(engine, profile);
    return { profile: `${engine}-${profile}`, options: retain === undefined ? base : { ...base, retainCheckpoints: retain } };
  }
  const profile = rng.pick(['default', 'tinyMemory', 'tinyMemory', 'fold-over', 'fold-over-tiny', 'tinyPages'] as const);
  const retain = rng.pick([undefined, 1, 2, 3, 5] as const);
  const base: OpenOptions =
    profile === 'default'
      ? {}
      : profile === 'tinyMemory'
        ? { ...tinyMemory }
        : profile === 'fold-over'
          ? { checkpointMode: 'fold-over' }
          : profile === 'fold-over-tiny'
            ? { ...tinyMemory, checkpointMode: 'fold-over' }
            : { pageBytes: 64 * KiB, memoryBudgetBytes: 1024 * KiB };
  return { profile, options: retain === undefined ? base : { ...base, retainCheckpoints: retain } };
}

function planKill(rng: Rng, config: ChildConfig, round: number): KillPlan {
  const kinds = ['early', 'checkpoint', 'checkpoint', 'done', 'compaction', 'writes'];
  if (round === 2) kinds.push('recovery', 'recovery', 'after-recovery');
  const kind = rng.pick(kinds);
  switch (kind) {
    case 'early': // before any checkpoint of this round (or at its cut)
      return rng.chance(0.5)
        ? { name: kind, on: 'ready', nth: 1, delayMs: rng.int(0, 3) }
        : { name: kind, on: config.quietIterations > 0 ? 'tick' : 'pending', nth: Math.max(1, config.quietIterations), delayMs: 0 };
    case 'checkpoint': // while a checkpoint is being written
      return { name: kind, on: 'pending', nth: rng.int(1, 6), delayMs: rng.chance(0.3) ? 0 : rng.int(0, 25) };
    case 'done':
      return { name: kind, on: 'done', nth: rng.int(1, 6), delayMs: rng.chance(0.5) ? 0 : rng.int(0, 3) };
    case 'compaction':
      return { name: kind, on: 'compact-start', nth: rng.int(1, 5), delayMs: rng.chance(0.4) ? 0 : rng.int(0, 8) };
    case 'writes':
      return { name: kind, on: 'tick', nth: rng.int(1, config.iterations), delayMs: 0 };
    case 'recovery': // while open() recovers (or just before / after)
      return { name: kind, on: 'opening', nth: 1, delayMs: rng.int(0, 12) };
    default: // right after recovery
      return { name: kind, on: 'ready', nth: 1, delayMs: 0 };
  }
}

// ---- running a child until the kill ----

interface RoundResult {
  lines: string[];
  stderr: string;
  killedOn: string; // what triggered the kill
}

function runUntilKill(config: ChildConfig, plan: KillPlan): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, 'run', JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TIDEKV_LIB: lib.index },
    });
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    let seen = 0;
    let killedOn = '';
    let killed = false;
    const kill = (why: string) => {
      if (killed) return;
      killed = true;
      killedOn = why;
      child.kill('SIGKILL');
    };
    const onLine = (line: string) => {
      lines.push(line);
      if (killedOn !== '' || killed) return;
      const kind = line.split(' ', 1)[0];
      if (kind === plan.on && ++seen === plan.nth) {
        killedOn = `${plan.on} #${plan.nth} + ${plan.delayMs} ms`;
        if (plan.delayMs === 0) kill(killedOn);
        else setTimeout(() => kill(killedOn), plan.delayMs);
      } else if (kind === 'idle') {
        kill('idle (trigger never came)');
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => kill('timeout'), 60_000);
    // 'close' comes after 'exit' and after stdout/stderr ended: every line is in.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial !== '') lines.push(partial);
      if (signal !== 'SIGKILL' || killedOn === 'timeout') {
        reject(new Error(`child ended by itself (code ${code}, signal ${signal}, ${killedOn})\nlast lines:\n${tail(lines)}\nstderr:\n${stderr}`));
      } else {
        resolve({ lines, stderr, killedOn });
      }
    });
    child.on('error', reject);
  });
}

function tail(lines: string[], n = 14): string {
  // Ticks are many and dull: keep the last one only, with the lines around it.
  const out: string[] = [];
  for (let i = lines.length - 1; i >= 0 && out.length < n; i--) {
    const l = lines[i]!;
    if (l.startsWith('tick ') && out.some((o) => o.startsWith('tick '))) continue;
    out.unshift(l);
  }
  return out.map((l) => `    ${l.length > 90 ? l.slice(0, 90) + '…' : l}`).join('\n');
}

/** What a round's output allows: versions lo..hi and the digest each was announced with. */
interface Analysis {
  ready: { version: number; digest: string } | undefined;
  lastDone: number | undefined;
  pendings: Map<number, string>;
  maxPending: number | undefined;
  inCheckpoint: boolean;
  inCompaction: boolean;
  errors: string[];
}

function analyse(lines: string[]): Analysis {
  const a: Analysis = { ready: undefined, lastDone: undefined, pendings: new Map(), maxPending: undefined, inCheckpoint: false, inCompaction: false, errors: [] };
  let compacting = 0;
  for (const line of lines) {
    const [kind, x, y] = line.split(' ');
    if (kind === 'ready') a.ready = { version: Number(x), digest: y! };
    else if (kind === 'pending') {
      a.pendings.set(Number(x), y!);
      a.maxPending = Number(x);
    } else if (kind === 'done') {
      if (a.pendings.get(Number(x)) !== y) a.errors.push(`done without matching pending: ${line}`);
      a.lastDone = Math.max(a.lastDone ?? 0, Number(x)); // they complete in version order
    } else if (kind === 'compact-start') compacting++;
    else if (kind === 'compact-done') compacting--;
    else if (kind === 'error') a.errors.push(line);
  }
  a.inCheckpoint = a.maxPending !== undefined && a.maxPending !== a.lastDone;
  a.inCompaction = compacting > 0;
  return a;
}

// ---- outcome counts (printed after the run) ----

const outcomes = {
  seeds: 0,
  kills: 0,
  killedInCheckpointWrite: 0,
  inFlightCheckpointSurvived: 0,
  killedInCompaction: 0,
  noCheckpointYet: 0,
  killedDuringRecovery: 0,
  restores: 0,
  byTrigger: {} as Record<string, number>,
  byProfile: {} as Record<string, number>,
};
afterAll(() => {
  console.log(`[crash] ${JSON.stringify(outcomes)}`);
});

// ---- checking a reopened store ----

function listDir(dir: string): string {
  try {
    return readdirSync(dir)
      .sort()
      .map((f) => `${f}(${statSync(join(dir, f)).size})`)
      .join(' ');
  } catch (e) {
    return String(e);
  }
}

interface Lineage {
  /** version -> digest announced for it, for the checkpoints of the surviving history. */
  digests: Map<number, string>;
}

/**
 * Opens dir and checks it holds exactly one of versions lo..hi, with the
 * digest and meta announced for it. Returns the open store and its state.
 */
async function openAndCheck(
  dir: string,
  options: OpenOptions,
  pool: number,
  lineage: Lineage,
  lo: number,
  hi: number,
  ctx: () => string,
): Promise<{ db: Store; version: number; state: Map<string, Buffer> }> {
  let db: Store;
  try {
    db = await open(dir, options);
  } catch (e) {
    const err = e as Error & { code?: string };
    throw new Error(`${ctx()}\n  open() failed: ${err.code ?? ''} ${err.message}\n  files: ${listDir(dir)}`);
  }
  try {
    const version = db.version;
    const fail = (what: string) => new Error(`${ctx()}\n  ${what}`);
    if (version < lo || version > hi) throw fail(`recovered version ${version}, allowed ${lo}..${hi}`);
    const state = readState(db, pool);
    const digest = digestOf(state, pool);
    const expected = version === 0 ? EMPTY_DIGEST : lineage.digests.get(version);
    if (digest !== expected) throw fail(`version ${version}: state digest ${digest}, expected ${expected} (${state.size} keys present)`);
    if (db.stats().keys !== state.size) throw fail(`stats().keys ${db.stats().keys}, but ${state.size} keys of the pool are present (and no others were ever written)`);
    const list = db.checkpoints();
    if (version === 0) {
      if (list.length !== 0) throw fail(`version 0 but checkpoints() lists ${list.map((c) => c.version).join(',')}`);
    } else {
      const retain = options.retainCheckpoints ?? 3;
      const versions = list.map((c) => c.version);
      const consecutive = versions.every((v, i) => i === 0 || v === versions[i - 1]! + 1);
      if (list.length < 1 || list.length > retain || !consecutive || versions.at(-1) !== version) {
        throw fail(`checkpoints() lists [${versions.join(',')}] for version ${version}, retain ${retain}`);
      }
      for (const c of list) {
        const want = `v${c.version} ${lineage.digests.get(c.version)}`;
        if (c.meta !== want) throw fail(`checkpoint ${c.version} meta ${String(c.meta)}, expected ${want}`);
      }
    }
    db.verify();
    for (const v of [...lineage.digests.keys()]) if (v > version) lineage.digests.delete(v);
    return { db, version, state };
  } catch (e) {
    await db.close();
    throw e;
  }
}

// ---- one seed ----

async function runSeed(engine: EngineUnderTest, seed: number): Promise<void> {
  const rng = prng(seed);
  const { profile, options } = planOptions(engine, rng);
  const pool = rng.int(200, 3000);
  const base = makeTempDir('tidekv-crash-');
  const dir = join(base, 'db');
  const lineage: Lineage = { digests: new Map() };
  const log: string[] = [`seed ${seed} (TIDEKV_CRASH_SEED=${seed}), profile ${profile}, options ${JSON.stringify(options)}, pool ${pool}`];
  const ctx = () => log.join('\n');
  outcomes.seeds++;
  outcomes.byProfile[profile] = (outcomes.byProfile[profile] ?? 0) + 1;
  let recovered = 0;
  try {
    for (const round of [1, 2]) {
      const config: ChildConfig = {
        dir,
        options,
        pool,
        seed: rng.int(1, 2 ** 31),
        iterations: rng.int(20, 70),
        burst: rng.int(30, 400),
        compactChance: rng.pick([0.05, 0.15, 0.3]),
        checkpointChance: rng.pick([0.15, 0.3, 0.5]),
        quietIterations: rng.int(0, 4),
      };
      const plan = planKill(rng, config, round);
      const r = await runUntilKill(config, plan);
      const a = analyse(r.lines);
      log.push(
        `round ${round}: child seed ${config.seed}, kill plan ${JSON.stringify(plan)}, killed on ${r.killedOn}`,
        `  child's last lines:\n${tail(r.lines)}`,
      );
      if (r.stderr !== '') log.push(`  child stderr: ${r.stderr}`);
      if (a.errors.length > 0) throw new Error(`${ctx()}\n  child reported: ${a.errors.join('; ')}`);
      if (a.ready !== undefined) {
        // The child recovered what this process recovered before.
        const want = recovered === 0 ? EMPTY_DIGEST : lineage.digests.get(recovered);
        if (a.ready.version !== recovered || a.ready.digest !== want) {
          throw new Error(`${ctx()}\n  child recovered version ${a.ready.version} digest ${a.ready.digest}, expected version ${recovered} digest ${want}`);
        }
      }
      for (const [v, d] of a.pendings) lineage.digests.set(v, d);
      const lo = a.lastDone ?? recovered;
      const hi = Math.max(lo, a.maxPending ?? 0);
      log.push(`  allowed versions ${lo}..${hi}`);

      outcomes.kills++;
      outcomes.byTrigger[plan.name] = (outcomes.byTrigger[plan.name] ?? 0) + 1;
      if (a.inCheckpoint) outcomes.killedInCheckpointWrite++;
      if (a.inCompaction) outcomes.killedInCompaction++;
      if (lo === 0) outcomes.noCheckpointYet++;
      if (round === 2 && a.ready === undefined) outcomes.killedDuringRecovery++;

      const { db, version } = await openAndCheck(dir, options, pool, lineage, lo, hi, ctx);
      if (version > lo) outcomes.inFlightCheckpointSurvived++;
      log.push(`  recovered version ${version}`);
      recovered = version;
      if (round === 2) await continueInProcess(db, dir, options, pool, lineage, rng, ctx, log);
      else await db.close();
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.message.startsWith('seed ')) throw e;
    throw new Error(`${ctx()}\n  ${err.code ?? ''} ${err.message}`, { cause: e });
  } finally {
    removeTempDir(base);
  }
}

/** After the crashes: restore (sometimes), write, checkpoint, close, reopen. */
async function continueInProcess(
  db: Store,
  dir: string,
  options: OpenOptions,
  pool: number,
  lineage: Lineage,
  rng: Rng,
  ctx: () => string,
  log: string[],
): Promise<void> {
  let closed = false;
  try {
    let version = db.version;
    const retained = db.checkpoints();
    if (retained.length >= 2 && rng.chance(0.4)) {
      const v = retained[0]!.version;
      await db.restore(v);
      outcomes.restores++;
      log.push(`  restored version ${v}`);
      const d = digestOf(readState(db, pool), pool);
      expect(db.version, ctx()).toBe(v);
      expect(d, `${ctx()}\n  digest after restore(${v})`).toBe(lineage.digests.get(v));
      db.verify();
      for (const k of [...lineage.digests.keys()]) if (k > v) lineage.digests.delete(k);
      version = v;
    }
    const state = readState(db, pool);
    for (let i = 0; i < 300; i++) {
      const k = keyOf(rng.int(0, pool - 1));
      if (rng.chance(0.25)) {
        db.delete(k);
        state.delete(k);
      } else {
        const v = Buffer.alloc(rng.chance(0.05) ? rng.int(4000, 20000) : rng.int(0, 300), rng.int(0, 255));
        db.put(k, v);
        state.set(k, v);
      }
    }
    const digest = digestOf(state, pool);
    const info = await db.checkpoint({ meta: `v${version + 1} ${digest}` });
    expect(info.version, `${ctx()}\n  version of the checkpoint after recovery`).toBe(version + 1);
    lineage.digests.set(version + 1, digest);
    db.put(keyOf(0), 'after the last checkpoint: gone on reopen');
    await db.close();
    closed = true;
    const again = await openAndCheck(dir, options, pool, lineage, version + 1, version + 1, ctx);
    await again.db.close();
  } finally {
    if (!closed) await db.close();
  }
}

describe.each(ENGINES)('%s crash: SIGKILL of a writing child at random instants', (engine) => {
  it.each(SEEDS)('seed %i', async (seed) => {
    await runSeed(engine, seed);
  });
});

// ---- found by the crash test, reduced ----

describe('crash: reduced cases', () => {
  // Regression (found by seed 3668712074 of the SIGKILL test, where it
  // appeared after a crash; no crash is needed): once compact() moved the
  // log's begin above bytes of a snapshot file the checkpoint chain still
  // held, the next checkpoint named that file in its chain and open()
  // rejected it with ERR_CORRUPTION "snap-…: a block lies outside its log
  // range" (LoadCheckpoint checked every block against state.begin), so the
  // store could not be reopened at all, and restore() of such a checkpoint
  // failed the same way (closing the store). Seeds of the SIGKILL test that
  // hit it (base seed 20251122, 200 iterations): 3668712074, 1492264042,
  // 2265860334 (in restore()), 1372808160, 2897850313.
  it.each([
    ['tinyPages', { pageBytes: 64 * KiB, memoryBudgetBytes: 1024 * KiB }, 5],
    ['tinyMemory', tinyMemory, 2],
  ] as const)('%s: close and reopen after checkpoints, growth, compact() and a checkpoint', async (_name, options, rounds) => {
    const base = makeTempDir('tidekv-crash-reduced-');
    try {
      const dir = join(base, 'db');
      const db = await open(dir, options);
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < 200; i++) db.put(keyOf(i), Buffer.alloc(400 * (r + 1), r));
        await db.checkpoint();
      }
      const compaction = await db.compact();
      expect(compaction.bytesReclaimed).toBeGreaterThan(0);
      const state = readState(db, 200);
      await db.checkpoint({ meta: 'after compact' });
      const version = db.version;
      await db.close();
      const again = await open(dir, options); // was ERR_CORRUPTION
      expect(again.version).toBe(version);
      expect(digestOf(readState(again, 200), 200)).toBe(digestOf(state, 200));
      again.verify();
      await again.close();
    } finally {
      removeTempDir(base);
    }
  });
});

// ---- worker threads ----

describe('crash: worker thread terminated mid-checkpoint', () => {
  // The worker runs in a child process (the host): a termination that went
  // wrong in native code must fail this test, not abort the test runner.
  it('the host reopens the dir after the worker exits and finds one announced checkpoint, exactly', async () => {
    const delays = [0, 0, 1, 2, 4, 8, 15, 30];
    const seen: Record<number, number> = {};
    let inFlightAtTerminate = 0;
    let lockedAfterExit = 0; // rounds where open() right after the exit got ERR_LOCKED (then retried)
    let slowestTerminateMs = 0;
    for (let round = 0; round < delays.length; round++) {
      const base = makeTempDir('tidekv-crash-worker-');
      try {
        const config = {
          dir: join(base, 'db'),
          options: round % 2 === 0 ? {} : tinyMemory,
          pool: 1500,
          seed: 1000 + round,
          checkpoints: 4,
          delayMs: delays[round]!,
        };
        const r = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [CHILD, 'worker-host', JSON.stringify(config)], {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, TIDEKV_LIB: lib.index },
          });
          let stdout = '';
          let stderr = '';
          child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
          child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
          const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
          child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
          });
        });
        const lines = r.stdout.split('\n').filter((l) => l !== '');
        const what = `worker round ${round}, config ${JSON.stringify(config)}\nstdout:\n${tail(lines, 20)}\nstderr: ${r.stderr}`;
        expect(r.signal, what).toBeNull();
        expect(r.code, what).toBe(0);
        const a = analyse(lines);
        expect(a.errors, what).toEqual([]);
        const result = JSON.parse(lines.at(-1)!) as {
          version: number;
          digest: string;
          keys: number;
          presentKeys: number;
          metas: [number, string | undefined][];
          lockedAttempts: number;
          terminateMs: number;
        };
        const lo = a.lastDone ?? 0;
        const hi = Math.max(lo, a.maxPending ?? 0);
        expect(lo, `${what}\ncheckpoint 1 was awaited before the worker could be terminated`).toBeGreaterThanOrEqual(1);
        expect(result.version, `${what}\nrecovered version, allowed ${lo}..${hi}`).toBeGreaterThanOrEqual(lo);
        expect(result.version, `${what}\nrecovered version, allowed ${lo}..${hi}`).toBeLessThanOrEqual(hi);
        expect(result.digest, what).toBe(a.pendings.get(result.version));
        expect(result.keys, what).toBe(result.presentKeys);
        expect(result.metas.at(-1), what).toEqual([result.version, `v${result.version} ${result.digest}`]);
        seen[result.version] = (seen[result.version] ?? 0) + 1;
        if (a.inCheckpoint) inFlightAtTerminate++;
        if (result.lockedAttempts > 0) lockedAfterExit++;
        slowestTerminateMs = Math.max(slowestTerminateMs, result.terminateMs);

        // And this process, after the host exited, finds the same.
        const db = await open(config.dir, config.options);
        expect(db.version, what).toBe(result.version);
        expect(digestOf(readState(db, config.pool), config.pool), what).toBe(result.digest);
        db.verify();
        await db.close();
      } finally {
        removeTempDir(base);
      }
    }
    console.log(
      `[crash] worker terminate: recovered versions ${JSON.stringify(seen)}, rounds with checkpoints in flight at the termination ${inFlightAtTerminate}, ` +
        `rounds where the first open after the exit got ERR_LOCKED ${lockedAfterExit}, slowest terminate() ${slowestTerminateMs} ms`,
    );
  });
});
