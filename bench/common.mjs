// What the benchmark scripts share: the command line, progress lines,
// temporary directories, markdown tables, the machine and commit a report
// names, process memory, waiting for background work, and int64 counters
// for the peers.
// (bench/snapshot.mjs keeps its own stricter number parsing.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const T_START = Date.now();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The command line of one script: errors are prefixed with its name and exit with 2. */
export function createCli(name, usage) {
  function fail(message) {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(2);
  }
  /** A positive integer with an optional k/M/G suffix (decimal, or binary when asked). */
  function parseCount(text, fallback, flag, binary = false) {
    if (text === undefined) return fallback;
    const m = /^(\d+(?:\.\d+)?(?:e\d+)?)([kKmMgG]?)$/.exec(text.trim());
    if (m === null) fail(`--${flag} must be a number, got '${text}'`);
    const unit = (binary ? { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } : { '': 1, k: 1e3, m: 1e6, g: 1e9 })[m[2].toLowerCase()];
    const value = Math.round(Number(m[1]) * unit);
    if (!Number.isSafeInteger(value) || value <= 0) fail(`--${flag} must be a positive integer, got '${text}'`);
    return value;
  }
  /** Parses the flags (strictly; --help prints the usage and exits). */
  function parseFlags(options) {
    let values;
    try {
      values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
    } catch (e) {
      fail(`${e.message}\n${usage}`);
    }
    if (values.help) {
      process.stdout.write(usage + '\n');
      process.exit(0);
    }
    return values;
  }
  return { fail, parseCount, parseFlags };
}

/** A progress line on stderr, stamped with the seconds since the script started. */
export function log(message) {
  process.stderr.write(`[${((Date.now() - T_START) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
}

/** The addon may be mid-rebuild by a colleague: retry loading a few times. */
export async function loadWithRetry(what, load) {
  for (let attempt = 1; ; attempt++) {
    try {
      return load();
    } catch (e) {
      if (attempt >= 5) throw e;
      log(`loading ${what} failed (${e.message.split('\n')[0]}); retrying in 3 s`);
      await sleep(3000);
    }
  }
}

/** Temporary directories named tidekv-<prefix>-<tag>-*, all removed by removeAllDirs (at exit). */
export function createTempDirs(prefix) {
  const dirs = new Set();
  return {
    tempDir(tag) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tidekv-${prefix}-${tag}-`));
      dirs.add(dir);
      return dir;
    },
    removeDir(dir) {
      fs.rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    removeAllDirs() {
      for (const dir of dirs) {
        try {
          fs.rmSync(dir, { recursive: true, force: true });
        } catch {
          // best effort at exit
        }
      }
      dirs.clear();
    },
  };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function table(header, rows, textColumns = 1) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i < textColumns ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

/** What a report says about where it ran. */
export function machineInfo() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: gitCommit(),
  };
}

/** The command that started this script, as a reader would retype it. */
export function commandLine() {
  const script = path.relative(process.cwd(), process.argv[1]) || process.argv[1];
  return ['node', script, ...process.argv.slice(2)].join(' ');
}

/**
 * Resident memory of this process from /proc/self/status, in bytes: VmRSS is
 * RssAnon (heap, anonymous mappings) + RssFile (mapped files, page cache that
 * can be dropped) + RssShmem. NaN where /proc is missing.
 */
export function processMemory() {
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: every figure NaN
  }
  const field = (name) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m === null ? NaN : Number(m[1]) * 1024;
  };
  return { VmRSS: field('VmRSS'), RssAnon: field('RssAnon'), RssFile: field('RssFile'), v8HeapUsed: process.memoryUsage().heapUsed };
}

/**
 * Waits until signature() has returned the same string for stableMs (the
 * store's background flushes, merges and compactions have gone quiet), polling
 * every 100 ms, for at most maxMs. Returns how long it waited (ms), when the
 * signature last changed (busyMs: how long background work went on) and
 * whether it gave up.
 */
export async function waitUntilStill(signature, { stableMs, maxMs }) {
  const t0 = Date.now();
  let last = signature();
  let stableSince = t0;
  while (Date.now() - t0 < maxMs) {
    await sleep(100);
    const now = signature();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= stableMs) {
      return { ms: Date.now() - t0, busyMs: stableSince - t0, timedOut: false };
    }
  }
  return { ms: Date.now() - t0, busyMs: stableSince - t0, timedOut: true };
}

export function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    // The reports the benchmarks write are not the code they measure.
    const reports = [':!bench/ENGINES.md', ':!bench/charts', ':!bench/RESULTS.md'];
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ...reports], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty === '' ? head : `${head} (+ uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

// int64 little-endian counters for lmdb and classic-level, through a Number
// (exact up to 2^53).
export function readI64(b) {
  return b.readUInt32LE(0) + b.readInt32LE(4) * 4294967296;
}
export function writeI64(b, v) {
  b.writeUInt32LE(v >>> 0, 0);
  b.writeInt32LE(Math.floor(v / 4294967296), 4);
}
export function i64Buffer(v) {
  const b = Buffer.allocUnsafe(8);
  writeI64(b, v);
  return b;
}
