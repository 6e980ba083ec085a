// The reference model for model-based tests: op records (plain JSON, so
// failing sequences can be kept in test/regressions/), their expected
// outcome on a Map<string, Buffer>, and a runner that applies a sequence to a
// store and to the model and compares every result.
import { TidekvError, type CheckpointInfo, type Op, type Store, type Value } from '../lib/index.js';
import { INT64_MAX, INT64_MIN, int64Bytes, pseudoRandomBytes } from './helpers.js';

/** A value: pseudo-random bytes, a UTF-8 string, or an 8-byte int64 (decimal string). */
export type ValueSpec = { len: number; seed: number } | { str: string } | { i64: string };
/** A delta: a number, a bigint written as a decimal string, or absent (default 1). */
export type DeltaSpec = number | string | undefined;

export type BatchRec =
  | { type: 'put'; key: string; value: ValueSpec }
  | { type: 'append'; key: string; value: ValueSpec }
  | { type: 'delete'; key: string }
  | { type: 'increment'; key: string; delta?: DeltaSpec };

export type OpRec =
  | { op: 'put'; key: string; value: ValueSpec; buf?: boolean }
  | { op: 'delete'; key: string; buf?: boolean }
  | { op: 'increment'; key: string; delta?: DeltaSpec; buf?: boolean }
  | { op: 'append'; key: string; value: ValueSpec; buf?: boolean }
  | { op: 'get'; key: string; buf?: boolean }
  | { op: 'has'; key: string; buf?: boolean }
  | { op: 'getMany'; keys: string[] }
  | { op: 'batch'; ops: BatchRec[] }
  /** putMany / incrementMany (newer bulk calls; skipped when the store lacks them). */
  | { op: 'putMany'; keys: string[]; values: ValueSpec[] }
  | { op: 'incrementMany'; keys: string[]; deltas?: DeltaSpec[] | DeltaSpec }
  | { op: 'compact'; during?: OpRec[] }
  /** n puts of `size`-ish byte values to keys f<(start+i) % FILL_KEYS>: pushes the log forward. */
  | { op: 'fill'; n: number; size: number; start: number; seed: number }
  /** Compares the whole state, stats().keys, and runs verify(). */
  | { op: 'check' }
  /**
   * checkpoint({ meta }): the model's state at the call becomes version `next`.
   * `during` runs after the call and before the promise is awaited: those
   * writes are not in the checkpoint (a nested checkpoint there is queued).
   */
  | { op: 'checkpoint'; meta?: string; during?: OpRec[] }
  /**
   * restore(v) of the retained version retained[pick % retained.length]; with
   * `missing` (or when none is retained) a version that is not retained, which
   * must fail with ERR_VERSION_NOT_FOUND and change nothing.
   */
  | { op: 'restore'; pick: number; missing?: boolean }
  /** close() + open(): the state becomes the last checkpoint's (empty when none). */
  | { op: 'reopen' }
  /**
   * A "crash": `during` ops (not checkpointed), a compaction left in flight,
   * close() without a checkpoint, open(). Same expectation as reopen.
   */
  | { op: 'crash'; during?: OpRec[] };

export const FILL_KEYS = 40;

export interface RegressionCase {
  description: string;
  /** Presets to replay on; all when absent. */
  presets?: string[];
  /** Open option retainCheckpoints (default 3). */
  retainCheckpoints?: number;
  /** Open option checkpointMode (default 'incremental'). */
  checkpointMode?: 'incremental' | 'fold-over';
  ops: OpRec[];
}

/**
 * A store under test that can be closed and opened again: reopen() closes db
 * (when still open) and sets db to a fresh open() of the same directory.
 */
export interface Session {
  db: Store;
  reopen(): Promise<void>;
}

/** What the model knows about checkpoints. */
export interface CheckpointModel {
  /** retainCheckpoints the store was opened with. */
  retain: number;
  /** The state and meta of every retained version. */
  versions: Map<number, { state: Model; meta: string | undefined }>;
  /** Retained versions, oldest first. */
  retained: number[];
  /** The version the next checkpoint gets. */
  next: number;
  /** Checkpoints called and not yet awaited. */
  pending: number;
}

export function newCheckpointModel(retain = 3): CheckpointModel {
  return { retain, versions: new Map(), retained: [], next: 1, pending: 0 };
}

export type Model = Map<string, Buffer>;

type Outcome = { ok: true; value?: unknown } | { ok: false; code: TidekvError['code'] };

class ModelFailure extends Error {}

function fail(message: string): never {
  throw new ModelFailure(message);
}

export function valueBytes(spec: ValueSpec): Buffer {
  if ('len' in spec) return pseudoRandomBytes(spec.len, spec.seed);
  if ('str' in spec) return Buffer.from(spec.str, 'utf8');
  return int64Bytes(BigInt(spec.i64));
}

/** What the store is given for a value: a string stays a string, bytes are a Buffer or a plain Uint8Array. */
function valueArg(spec: ValueSpec, plain: boolean | undefined): Value {
  if ('str' in spec) return spec.str;
  const b = valueBytes(spec);
  return plain === true ? new Uint8Array(b) : b;
}

function keyArg(key: string, buf: boolean | undefined): string | Buffer {
  return buf === true ? Buffer.from(key, 'utf8') : key;
}

function deltaArg(d: DeltaSpec): number | bigint | undefined {
  return typeof d === 'string' ? BigInt(d) : d;
}

function deltaValue(d: DeltaSpec): bigint {
  return d === undefined ? 1n : BigInt(d);
}

/** Applies a write to `state` (a model or an overlay); returns the outcome. */
function applyWrite(state: Model, rec: BatchRec, maxValueBytes: number): Outcome {
  switch (rec.type) {
    case 'put': {
      const v = valueBytes(rec.value);
      if (v.length > maxValueBytes) return { ok: false, code: 'ERR_INVALID_ARG' };
      state.set(rec.key, v);
      return { ok: true };
    }
    case 'delete':
      return { ok: true, value: state.delete(rec.key) };
    case 'increment': {
      const cur = state.get(rec.key);
      if (cur !== undefined && cur.length !== 8) return { ok: false, code: 'ERR_TYPE_MISMATCH' };
      const sum = (cur === undefined ? 0n : cur.readBigInt64LE(0)) + deltaValue(rec.delta);
      if (sum > INT64_MAX || sum < INT64_MIN) return { ok: false, code: 'ERR_OVERFLOW' };
      state.set(rec.key, int64Bytes(sum));
      return { ok: true, value: sum };
    }
    case 'append': {
      const next = Buffer.concat([state.get(rec.key) ?? Buffer.alloc(0), valueBytes(rec.value)]);
      if (next.length > maxValueBytes) return { ok: false, code: 'ERR_INVALID_ARG' };
      state.set(rec.key, next);
      return { ok: true };
    }
  }
}

function capture(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!(e instanceof TidekvError)) {
      fail(`threw a non-TidekvError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
    return { ok: false, code: e.code };
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return `${v}n`;
  if (Buffer.isBuffer(v)) return v.length <= 24 ? `<${v.toString('hex')}>` : `<${v.length} bytes ${v.subarray(0, 12).toString('hex')}…>`;
  return JSON.stringify(v);
}

function sameBytes(got: unknown, want: Buffer | undefined): boolean {
  if (want === undefined) return got === undefined;
  return Buffer.isBuffer(got) && got.equals(want);
}

function expectOutcome(where: string, got: Outcome, want: Outcome): void {
  if (!want.ok) {
    if (got.ok) fail(`${where}: expected ${want.code}, but it succeeded with ${show(got.value)}`);
    if (got.code !== want.code) fail(`${where}: expected ${want.code}, got ${got.code}`);
    return;
  }
  if (!got.ok) fail(`${where}: expected success, got ${got.code}`);
}

export interface RunContext {
  /** Extra keys to compare in full checks (the key pool). */
  keys: readonly string[];
  /** Needed by reopen and crash; ops on checkpoints work without it. */
  session?: Session;
  /** Checkpoint bookkeeping (created by runSequence when absent). */
  ckpt?: CheckpointModel;
}

function fillKey(i: number): string {
  return `f${i % FILL_KEYS}`;
}

/** Compares every key the model or the key pool knows, the key count, and runs verify(). */
export function checkFullState(db: Store, model: Model, ctx: RunContext, where: string): void {
  const keys = new Set<string>([...ctx.keys, ...model.keys()]);
  for (let i = 0; i < FILL_KEYS; i++) keys.add(fillKey(i));
  for (const k of keys) {
    const got = db.get(k);
    if (!sameBytes(got, model.get(k))) fail(`${where}: get(${JSON.stringify(k)}) = ${show(got)}, model has ${show(model.get(k))}`);
    if (db.has(k) !== model.has(k)) fail(`${where}: has(${JSON.stringify(k)}) = ${!model.has(k)}, model says ${model.has(k)}`);
  }
  const list = [...keys];
  const many = db.getMany(list);
  list.forEach((k, i) => {
    if (!sameBytes(many[i], model.get(k))) fail(`${where}: getMany[${i}] (${JSON.stringify(k)}) = ${show(many[i])}, model has ${show(model.get(k))}`);
  });
  const stats = db.stats();
  if (stats.keys !== model.size) fail(`${where}: stats().keys = ${stats.keys}, model has ${model.size}`);
  // Engines that report a log memory budget must keep to it.
  const logMemory = stats['logMemoryBytes'];
  const budget = stats['memoryBudgetBytes'];
  if (logMemory !== undefined && budget !== undefined && logMemory > budget) {
    fail(`${where}: stats().logMemoryBytes = ${logMemory} exceeds memoryBudgetBytes ${budget}`);
  }
  try {
    db.verify();
  } catch (e) {
    fail(`${where}: verify() failed with ${e instanceof TidekvError ? `${e.code}: ${e.message}` : String(e)}`);
  }
}

async function runOne(db: Store, model: Model, rec: OpRec, where: string, ctx: RunContext): Promise<void> {
  const max = db.limits.maxValueBytes;
  switch (rec.op) {
    case 'put':
    case 'append': {
      const want = applyWrite(model, { type: rec.op, key: rec.key, value: rec.value }, max);
      const key = keyArg(rec.key, rec.buf);
      const value = valueArg(rec.value, rec.buf);
      const got = capture(() => (rec.op === 'put' ? db.put(key, value) : db.append(key, value)));
      expectOutcome(where, got, want);
      return;
    }
    case 'delete': {
      const want = applyWrite(model, { type: 'delete', key: rec.key }, max);
      const got = capture(() => db.delete(keyArg(rec.key, rec.buf)));
      expectOutcome(where, got, want);
      if (got.ok && got.value !== (want as { value: boolean }).value) {
        fail(`${where}: delete returned ${show(got.value)}, model says ${show((want as { value: boolean }).value)}`);
      }
      return;
    }
    case 'increment': {
      const want = applyWrite(model, { type: 'increment', key: rec.key, delta: rec.delta }, max);
      const got = capture(() => db.increment(keyArg(rec.key, rec.buf), deltaArg(rec.delta)));
      expectOutcome(where, got, want);
      if (got.ok && (typeof got.value !== 'bigint' || got.value !== (want as { value: bigint }).value)) {
        fail(`${where}: increment returned ${show(got.value)}, model says ${show((want as { value: bigint }).value)}`);
      }
      return;
    }
    case 'get': {
      const got = capture(() => db.get(keyArg(rec.key, rec.buf)));
      if (!got.ok) fail(`${where}: get threw ${got.code}`);
      if (!sameBytes(got.value, model.get(rec.key))) fail(`${where}: get = ${show(got.value)}, model has ${show(model.get(rec.key))}`);
      return;
    }
    case 'has': {
      const got = capture(() => db.has(keyArg(rec.key, rec.buf)));
      if (!got.ok) fail(`${where}: has threw ${got.code}`);
      if (got.value !== model.has(rec.key)) fail(`${where}: has = ${show(got.value)}, model says ${model.has(rec.key)}`);
      return;
    }
    case 'getMany': {
      const keys = rec.keys.map((k, i) => (i % 2 === 1 ? Buffer.from(k, 'utf8') : k));
      const got = capture(() => db.getMany(keys));
      if (!got.ok) fail(`${where}: getMany threw ${got.code}`);
      const values = got.value as (Buffer | undefined)[];
      if (values.length !== rec.keys.length) fail(`${where}: getMany returned ${values.length} results for ${rec.keys.length} keys`);
      rec.keys.forEach((k, i) => {
        if (!sameBytes(values[i], model.get(k))) fail(`${where}: getMany[${i}] (${JSON.stringify(k)}) = ${show(values[i])}, model has ${show(model.get(k))}`);
      });
      return;
    }
    case 'batch': {
      // The model applies the batch to an overlay and commits only if every op succeeds.
      const overlay = new Map(model);
      let want: Outcome = { ok: true };
      for (const [i, op] of rec.ops.entries()) {
        const r = applyWrite(overlay, op, max);
        if (!r.ok) {
          want = r;
          void i;
          break;
        }
      }
      const ops: Op[] = rec.ops.map((op, i): Op => {
        const key = i % 3 === 2 ? Buffer.from(op.key, 'utf8') : op.key;
        switch (op.type) {
          case 'put':
          case 'append':
            return { type: op.type, key, value: valueArg(op.value, i % 2 === 1) };
          case 'delete':
            return { type: 'delete', key };
          case 'increment':
            return op.delta === undefined ? { type: 'increment', key } : { type: 'increment', key, delta: deltaArg(op.delta) };
        }
      });
      const got = capture(() => db.batch(ops));
      expectOutcome(where, got, want);
      if (want.ok) {
        model.clear();
        for (const [k, v] of overlay) model.set(k, v);
      }
      return;
    }
    case 'putMany':
    case 'incrementMany': {
      const bulk = db as unknown as {
        putMany?: (keys: (string | Buffer)[], values: Value[]) => void;
        incrementMany?: (keys: (string | Buffer)[], deltas?: number | bigint | (number | bigint)[]) => BigInt64Array;
      };
      const fn = rec.op === 'putMany' ? bulk.putMany : bulk.incrementMany;
      if (typeof fn !== 'function') return; // not in this version of the API
      const ops: BatchRec[] =
        rec.op === 'putMany'
          ? rec.keys.map((key, i) => ({ type: 'put' as const, key, value: rec.values[i]! }))
          : rec.keys.map((key, i) => {
              const d = Array.isArray(rec.deltas) ? rec.deltas[i] : rec.deltas;
              return d === undefined ? { type: 'increment' as const, key } : { type: 'increment' as const, key, delta: d };
            });
      const overlay = new Map(model);
      let want: Outcome = { ok: true };
      const sums: bigint[] = [];
      for (const op of ops) {
        const r = applyWrite(overlay, op, max);
        if (!r.ok) {
          want = r;
          break;
        }
        if (op.type === 'increment') sums.push(r.value as bigint);
      }
      const keys = rec.keys.map((k, i) => (i % 2 === 1 ? Buffer.from(k, 'utf8') : k));
      const got = capture(() =>
        rec.op === 'putMany'
          ? bulk.putMany!.call(db, keys, rec.values.map((v, i) => valueArg(v, i % 3 === 1)))
          : bulk.incrementMany!.call(
              db,
              keys,
              Array.isArray(rec.deltas) ? rec.deltas.map((d) => deltaArg(d) ?? 1) : deltaArg(rec.deltas),
            ),
      );
      expectOutcome(where, got, want);
      if (want.ok) {
        if (rec.op === 'incrementMany') {
          const results = got.ok ? (got.value as BigInt64Array) : undefined;
          if (!(results instanceof BigInt64Array) || results.length !== sums.length || sums.some((v, i) => results[i] !== v)) {
            fail(`${where}: incrementMany returned ${show(results && [...results].map(String))}, model says ${show(sums.map(String))}`);
          }
        }
        model.clear();
        for (const [k, v] of overlay) model.set(k, v);
      }
      return;
    }
    case 'fill': {
      for (let i = 0; i < rec.n; i++) {
        const v = pseudoRandomBytes(Math.min(rec.size + (i % 4) * 8, max), rec.seed + i);
        const k = fillKey(rec.start + i);
        const got = capture(() => db.put(k, v));
        if (!got.ok) fail(`${where}: fill put ${k} threw ${got.code}`);
        model.set(k, v);
      }
      return;
    }
    case 'compact': {
      const compacting = db.compact();
      let result: unknown;
      let error: unknown;
      const settled = compacting.then(
        (r) => void (result = r),
        (e) => void (error = e),
      );
      for (const [i, sub] of (rec.during ?? []).entries()) {
        if (sub.op === 'compact') fail(`${where}: nested compact is not supported`);
        await runOne(db, model, sub, `${where}.during[${i}] ${JSON.stringify(sub)}`, ctx);
        await new Promise<void>((r) => setImmediate(r));
      }
      await settled;
      if (error !== undefined) {
        fail(`${where}: compact rejected: ${error instanceof Error ? `${(error as TidekvError).code ?? error.name}: ${error.message}` : String(error)}`);
      }
      const r = result as Record<string, unknown>;
      for (const name of ['recordsScanned', 'recordsMoved', 'bytesReclaimed', 'filesDeleted', 'longestPauseMicros']) {
        if (typeof r[name] !== 'number' || !Number.isSafeInteger(r[name]) || (r[name] as number) < 0) {
          fail(`${where}: compact result ${name} = ${show(r[name])}`);
        }
      }
      return;
    }
    case 'check':
      checkFullState(db, model, ctx, where);
      return;
    case 'checkpoint':
      await runCheckpoint(db, model, rec, where, ctx);
      return;
    case 'restore':
      await runRestore(db, model, rec, where, ctx);
      return;
    case 'reopen':
    case 'crash':
      await runReopen(model, rec, where, ctx);
      return;
  }
}

function checkpointModel(ctx: RunContext): CheckpointModel {
  ctx.ckpt ??= newCheckpointModel();
  return ctx.ckpt;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${(e as TidekvError).code ?? e.name}: ${e.message}` : String(e);
}

/** Compares version and checkpoints() with the model's retained versions. */
export function checkCheckpointList(db: Store, ckpt: CheckpointModel, where: string): void {
  const want = ckpt.retained;
  const wantVersion = want.length === 0 ? 0 : want[want.length - 1]!;
  if (db.version !== wantVersion) fail(`${where}: version = ${db.version}, model says ${wantVersion}`);
  const list = db.checkpoints();
  const got = list.map((c) => c.version);
  if (got.length !== want.length || got.some((v, i) => v !== want[i])) {
    fail(`${where}: checkpoints() versions = ${show(got)}, model retains ${show(want)}`);
  }
  for (const info of list) {
    const meta = ckpt.versions.get(info.version)?.meta;
    if (info.meta !== meta) fail(`${where}: checkpoints() meta of v${info.version} = ${show(info.meta)}, model has ${show(meta)}`);
  }
}

// The cut is taken when checkpoint() is called: the model's state then is the
// version's state. Completion (in call order) makes it retained and drops the
// oldest beyond retainCheckpoints.
async function runCheckpoint(db: Store, model: Model, rec: Extract<OpRec, { op: 'checkpoint' }>, where: string, ctx: RunContext): Promise<void> {
  const ckpt = checkpointModel(ctx);
  const version = ckpt.next++;
  const state: Model = new Map(model); // values are never mutated in place
  ckpt.pending++;
  const taking = db.checkpoint(rec.meta === undefined ? {} : { meta: rec.meta });
  let info: CheckpointInfo | undefined;
  let error: unknown;
  const settled = taking.then(
    (r) => void (info = r),
    (e) => void (error = e),
  );
  for (const [i, sub] of (rec.during ?? []).entries()) {
    if (sub.op === 'restore' || sub.op === 'reopen' || sub.op === 'crash' || sub.op === 'compact') {
      fail(`${where}: ${sub.op} during a checkpoint is not supported by the model`);
    }
    await runOne(db, model, sub, `${where}.during[${i}] ${JSON.stringify(sub)}`, ctx);
  }
  await settled;
  ckpt.pending--;
  if (error !== undefined) fail(`${where}: checkpoint rejected: ${describeError(error)}`);
  const got = info!;
  if (got.version !== version) fail(`${where}: checkpoint version = ${got.version}, model says ${version}`);
  if (got.meta !== rec.meta) fail(`${where}: checkpoint meta = ${show(got.meta)}, given ${show(rec.meta)}`);
  for (const name of ['bytesWritten', 'totalBytes', 'pauseMs', 'durationMs', 'createdAt'] as const) {
    const v = got[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${where}: checkpoint ${name} = ${show(v)}`);
  }
  if (got.totalBytes < got.bytesWritten) fail(`${where}: totalBytes ${got.totalBytes} < bytesWritten ${got.bytesWritten}`);
  ckpt.versions.set(version, { state, meta: rec.meta });
  // A checkpoint nested in this one's `during` was awaited there, so its bookkeeping ran first.
  ckpt.retained.push(version);
  ckpt.retained.sort((a, b) => a - b);
  while (ckpt.retained.length > ckpt.retain) ckpt.versions.delete(ckpt.retained.shift()!);
  // Nested checkpoints complete after this one: compare the list when none is in flight.
  if (ckpt.pending === 0) checkCheckpointList(db, ckpt, where);
}

function replaceState(model: Model, state: Model | undefined): void {
  model.clear();
  for (const [k, v] of state ?? []) model.set(k, v);
}

async function runRestore(db: Store, model: Model, rec: Extract<OpRec, { op: 'restore' }>, where: string, ctx: RunContext): Promise<void> {
  const ckpt = checkpointModel(ctx);
  if (rec.missing === true || ckpt.retained.length === 0) {
    // A version that was never taken, or one that retention dropped.
    const dropped = ckpt.retained.length > 0 && ckpt.retained[0]! > 1 ? [ckpt.retained[0]! - 1] : [];
    const candidates = [ckpt.next, ckpt.next + 1 + (rec.pick % 7), ...dropped];
    const version = candidates[rec.pick % candidates.length]!;
    let error: unknown;
    try {
      await db.restore(version);
    } catch (e) {
      error = e;
    }
    if (!(error instanceof TidekvError) || error.code !== 'ERR_VERSION_NOT_FOUND') {
      fail(`${where}: restore(${version}) of a version not retained: expected ERR_VERSION_NOT_FOUND, got ${error === undefined ? 'success' : describeError(error)}`);
    }
    checkCheckpointList(db, ckpt, where);
    checkFullState(db, model, ctx, `${where} (state after the failed restore)`);
    return;
  }
  const version = ckpt.retained[rec.pick % ckpt.retained.length]!;
  const restoring = db.restore(version);
  // Every other call is refused while the restore runs.
  const during = capture(() => db.get('a'));
  if (during.ok || during.code !== 'ERR_BUSY') fail(`${where}: get() during restore: expected ERR_BUSY, got ${during.ok ? 'success' : during.code}`);
  try {
    await restoring;
  } catch (e) {
    fail(`${where}: restore(${version}) rejected: ${describeError(e)}`);
  }
  for (const v of ckpt.retained.filter((x) => x > version)) ckpt.versions.delete(v);
  ckpt.retained = ckpt.retained.filter((x) => x <= version);
  ckpt.next = version + 1;
  replaceState(model, ckpt.versions.get(version)!.state);
  checkCheckpointList(db, ckpt, where);
  checkFullState(db, model, ctx, `${where} (state after restore)`);
}

// close + open (or, for a crash, writes that are never checkpointed and a
// compaction left in flight first): the state becomes the last checkpoint's.
async function runReopen(model: Model, rec: Extract<OpRec, { op: 'reopen' | 'crash' }>, where: string, ctx: RunContext): Promise<void> {
  const session = ctx.session;
  if (session === undefined) fail(`${where}: ${rec.op} needs a session`);
  const ckpt = checkpointModel(ctx);
  if (rec.op === 'crash') {
    for (const [i, sub] of (rec.during ?? []).entries()) {
      if (sub.op === 'restore' || sub.op === 'reopen' || sub.op === 'crash' || sub.op === 'checkpoint') {
        fail(`${where}: ${sub.op} inside a crash is not supported by the model`);
      }
      await runOne(session.db, model, sub, `${where}.during[${i}] ${JSON.stringify(sub)}`, ctx);
    }
    // Left running: close must wait for it or stop it, never lose the checkpointed state.
    session.db.compact().catch(() => undefined);
  }
  await session.reopen();
  const last = ckpt.retained[ckpt.retained.length - 1];
  replaceState(model, last === undefined ? undefined : ckpt.versions.get(last)!.state);
  ckpt.next = (last ?? 0) + 1;
  checkCheckpointList(session.db, ckpt, where);
  checkFullState(session.db, model, ctx, `${where} (state after reopening)`);
}

/** Runs ops against db and model; throws (with the op index and record) on the first difference. */
export async function runSequence(db: Store, ops: readonly OpRec[], ctx: RunContext, model: Model = new Map()): Promise<Model> {
  const current = (): Store => ctx.session?.db ?? db;
  for (const [i, rec] of ops.entries()) {
    await runOne(current(), model, rec, `op ${i} ${JSON.stringify(rec)}`, ctx);
  }
  checkFullState(current(), model, ctx, 'after the sequence');
  if (ctx.ckpt !== undefined) checkCheckpointList(current(), ctx.ckpt, 'after the sequence');
  return model;
}
