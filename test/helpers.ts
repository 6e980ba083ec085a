// Shared test helpers: temp directories, the engine list, option presets,
// error assertions and child-process / worker plumbing.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { open, TidekvError, type OpenOptions, type Store, type TidekvErrorCode } from '../lib/index.js';

/** The package root (/work/main). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** Engines under test. Later engines are added here by name. */
export const ENGINES = ['hybridlog', 'lsm', 'appendlog'] as const;
export type EngineUnderTest = (typeof ENGINES)[number];

export const PRESET_NAMES = ['default', 'tinyMemory', 'tinyPages', 'smallIndex'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const KiB = 1024;
const MiB = 1024 * KiB;

/** Open options of each preset, per engine. */
export function presetOptions(engine: EngineUnderTest, preset: PresetName): OpenOptions {
  switch (engine) {
    case 'hybridlog':
      switch (preset) {
        case 'default':
          return { engine };
        case 'tinyMemory': // most data lives on disk
          return { engine, memoryBudgetBytes: 256 * KiB, pageBytes: 64 * KiB, segmentBytes: 256 * KiB };
        case 'tinyPages':
          return { engine, pageBytes: 64 * KiB, memoryBudgetBytes: 1 * MiB, mutableFraction: 0.25 };
        case 'smallIndex': // the index grows many times
          return { engine, indexBuckets: 2 };
      }
    case 'lsm':
      switch (preset) {
        case 'default':
          return { engine };
        case 'tinyMemory': // tiny memtables: most data lives in tables, compactions run often
          return { engine, memoryBudgetBytes: 4 * MiB, memtableBytes: 64 * KiB, targetTableBytes: 64 * KiB, level1Bytes: 256 * KiB };
        case 'tinyPages': // tiny blocks, size-tiered, no bloom filters
          return { engine, memoryBudgetBytes: 4 * MiB, memtableBytes: 64 * KiB, blockBytes: 256, compactionStyle: 'size-tiered', runsPerLevel: 2, bloomBitsPerKey: 0 };
        case 'smallIndex': // many small runs before compaction
          return { engine, memtableBytes: 64 * KiB, runsPerLevel: 8, slowdownRuns: 16, stopRuns: 32 };
      }
    case 'appendlog':
      switch (preset) {
        case 'default':
          return { engine };
        case 'tinyMemory': // tiny segments and write buffer: segments seal and merge all the time
          return { engine, memoryBudgetBytes: 1 * MiB, segmentBytes: 64 * KiB };
        case 'tinyPages': // tiny segments, merged at the first dead bytes
          return { engine, segmentBytes: 64 * KiB, mergeDeadRatio: 0.05 };
        case 'smallIndex': // merges only of segments that are all dead
          return { engine, segmentBytes: 256 * KiB, mergeDeadRatio: 1 };
      }
  }
  throw new Error(`no presets for engine ${String(engine)}`);
}

/** The data files a checkpoint adds, by name prefix, per engine (the manifest aside). */
export function checkpointFilePrefixes(engine: EngineUnderTest): readonly string[] {
  // The append log's segments exist before a checkpoint; it adds hint files.
  return engine === 'hybridlog' ? ['snap-', 'index-'] : engine === 'lsm' ? ['table-'] : ['hint-'];
}

/** Names of data files no checkpoint could name: what a crash may leave behind. */
export function orphanFileNames(engine: EngineUnderTest): readonly string[] {
  return engine === 'hybridlog'
    ? ['snap-00000000000000000042.dat', 'index-00000000000000000042.dat']
    : engine === 'lsm'
      ? ['table-00000000000000000042.sst']
      : ['seg-00000000000000000042.log', 'hint-00000000000000000042.dat'];
}

/** The memory a store holds for data, the figure memoryBudgetBytes bounds. */
export function dataMemoryBytes(engine: EngineUnderTest, stats: Record<string, number>): number | undefined {
  // The append log's budget holds its write buffer; its key directory (like the
  // hybrid log's index) is extra, and values are read through mmap.
  return engine === 'hybridlog' ? stats['logMemoryBytes'] : engine === 'lsm' ? stats['memoryBytes'] : stats['writeBufferBytes'];
}

/** Number of runs of property tests (env TIDEKV_PROPERTY_RUNS overrides). */
export function propertyRuns(defaultRuns: number): number {
  const env = process.env['TIDEKV_PROPERTY_RUNS'];
  if (env === undefined || env === '') return defaultRuns;
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`TIDEKV_PROPERTY_RUNS must be a positive integer, got ${env}`);
  return n;
}

// ---- temp directories ----

const liveDirs = new Set<string>();

/** A fresh directory under os.tmpdir(); remove it with removeTempDir / removeAllTempDirs. */
export function makeTempDir(prefix = 'tidekv-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  liveDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

export function removeAllTempDirs(): void {
  for (const dir of [...liveDirs]) removeTempDir(dir);
}

/**
 * Opens a store in a fresh temp dir, runs fn, then closes the store and
 * removes the directory (also when fn throws).
 */
export async function withStore<T>(
  options: OpenOptions,
  fn: (db: Store, dir: string) => Promise<T> | T,
): Promise<T> {
  const dir = makeTempDir();
  let db: Store | undefined;
  try {
    db = await open(join(dir, 'db'), options);
    return await fn(db, join(dir, 'db'));
  } finally {
    if (db !== undefined) await db.close();
    removeTempDir(dir);
  }
}

// ---- error assertions ----

/** Asserts fn throws a TidekvError with exactly `code`; returns it. */
export function expectThrowsCode(fn: () => unknown, code: TidekvErrorCode): TidekvError {
  let thrown: unknown;
  let returned: unknown;
  try {
    returned = fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) {
    throw new Error(`expected ${code} to be thrown, but the call returned ${describeValue(returned)}`);
  }
  expect(thrown).toBeInstanceOf(TidekvError);
  expect(thrown).toBeInstanceOf(Error);
  expect((thrown as TidekvError).code, (thrown as Error).message).toBe(code);
  expect((thrown as TidekvError).name).toBe('TidekvError');
  expect(typeof (thrown as Error).message).toBe('string');
  return thrown as TidekvError;
}

/** Asserts the promise (or a function that returns one) rejects with a TidekvError of `code`. */
export async function expectRejectsCode(p: Promise<unknown> | (() => Promise<unknown>), code: TidekvErrorCode): Promise<TidekvError> {
  let thrown: unknown;
  let resolved: unknown;
  let settled = false;
  try {
    resolved = await (typeof p === 'function' ? p() : p);
    settled = true;
  } catch (e) {
    thrown = e;
  }
  if (settled) {
    // Close a store opened by mistake so the test does not leak it.
    if (resolved !== null && typeof resolved === 'object' && 'close' in resolved) {
      await (resolved as Store).close();
    }
    throw new Error(`expected a rejection with ${code}, but it resolved to ${describeValue(resolved)}`);
  }
  expect(thrown).toBeInstanceOf(TidekvError);
  expect((thrown as TidekvError).code, (thrown as Error).message).toBe(code);
  return thrown as TidekvError;
}

export function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return v.toString();
  if (Buffer.isBuffer(v)) return `<Buffer ${v.length} bytes>`;
  if (typeof v === 'object' && v !== null) return Object.prototype.toString.call(v);
  return String(v);
}

// ---- bytes ----

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function int64Bytes(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
}

export const INT64_MAX = (1n << 63n) - 1n;
export const INT64_MIN = -(1n << 63n);

// ---- child processes ----

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node [...nodeArgs] -e script` and collects its output (never rejects on a non-zero exit). */
export function runNode(
  script: string,
  options: { nodeArgs?: string[]; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<ChildResult> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [...(options.nodeArgs ?? []), '-e', script],
      {
        cwd: options.cwd ?? ROOT,
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * MiB,
      },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolvePromise({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      },
    );
  });
}

/**
 * Transpiles lib/*.ts to CommonJS in a temp directory (with a `build` symlink
 * so lib/native.ts finds the addon), for child processes and worker threads
 * that cannot load TypeScript. Independent of dist/, which another test
 * rebuilds concurrently. Returns the path of index.js; remove `root` after.
 */
export async function transpileLibForChildren(): Promise<{ root: string; index: string }> {
  const ts = (await import('typescript')).default;
  // Not tracked by removeAllTempDirs: it outlives single tests (remove it in afterAll).
  const root = mkdtempSync(join(tmpdir(), 'tidekv-lib-'));
  mkdirSync(join(root, 'lib'));
  symlinkSync(join(ROOT, 'build'), join(root, 'build'));
  for (const name of readdirSync(join(ROOT, 'lib'))) {
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
    const source = readFileSync(join(ROOT, 'lib', name), 'utf8');
    const out = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        preserveConstEnums: true,
        esModuleInterop: true,
      },
      fileName: name,
    });
    writeFileSync(join(root, 'lib', name.replace(/\.ts$/, '.js')), out.outputText);
  }
  return { root, index: join(root, 'lib', 'index.js') };
}
