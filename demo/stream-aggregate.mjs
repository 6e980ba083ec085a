// The main job: a stream processor's keyed state on tidekv, with crash
// recovery by checkpoint + replay (exactly-once results).
//
// A generated stream of events (user, amount) with zipfian-skewed users is
// aggregated per user: an event count and an amount sum (int64 counters,
// updated in place by native increments) and the user's last event (a
// 64-byte record). The memory budget is far below the state, so most of it
// lives in segment files. Every `--checkpoint-every` events the processor
// takes a checkpoint whose meta is the stream offset it has consumed.
//
// The run: a child process processes the stream and is killed (SIGKILL) in
// the middle; this process reopens the store, which recovers the last
// completed checkpoint, reads the offset from its meta, replays the stream
// from there to the end, and checks that every user's aggregates equal those
// of an uninterrupted run, computed independently in plain JS.
//
//   npm run demo
//   node demo/stream-aggregate.mjs --events 10000000 --users 2000000 --budget-mb 64
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { open } from 'tidekv';

const DEFAULTS = { events: 4_000_000, users: 1_000_000, 'budget-mb': 32, batch: 1000, 'checkpoint-every': 400_000, 'kill-at': 0.55 };
const { args, workerDir } = parseArgs(process.argv.slice(2));
const EVENTS = args.events;
const USERS = args.users;
const storeOptions = { memoryBudgetBytes: args['budget-mb'] * 1024 * 1024, pageBytes: 1024 * 1024 };

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tidekv-demo-'));
  log(`tidekv demo: ${fmt(EVENTS)} events, ${fmt(USERS)} users (zipfian 0.99), memory budget ${args['budget-mb']} MiB, ` +
      `checkpoint every ${fmt(args['checkpoint-every'])} events, dir ${dir}`);
  const started = performance.now();

  // 1. A child processes the stream and is killed part-way.
  const killAt = Math.floor(EVENTS * args['kill-at']);
  log(`\n1. processing in a child process, killed with SIGKILL after ~${fmt(killAt)} events`);
  const child = await runChildUntil(dir, killAt);
  log(`   killed at ${fmt(child.processed)} events; the last checkpoint it completed was v${child.lastVersion} at offset ${fmt(child.lastOffset)}`);

  // 2. Reopen: the store is exactly the last completed checkpoint.
  const openStarted = performance.now();
  const db = await open(dir, storeOptions);
  const recoveryMs = performance.now() - openStarted;
  const recoveredKeys = db.stats().keys;
  const recovered = db.checkpoints().at(-1);
  const offset = recovered === undefined ? 0 : Number(recovered.meta);
  log(`\n2. reopened in ${recoveryMs.toFixed(1)} ms: checkpoint v${db.version}, meta offset ${fmt(offset)}; ` +
      `${fmt(child.processed - offset)} events after it were lost with the process and are replayed`);

  // 3. Resume from the recovered offset to the end.
  log(`\n3. resuming from offset ${fmt(offset)}`);
  const resumedAt = performance.now();
  const stats = await processStream(db, offset, () => {});
  const resumeSeconds = (performance.now() - resumedAt) / 1000;
  const compaction = await db.compact();
  const final = await db.checkpoint({ meta: String(EVENTS) });
  const after = db.stats();

  // 4. Check against an uninterrupted run, computed without the store.
  const expectedCount = new Float64Array(USERS);
  const expectedSum = new Float64Array(USERS);
  for (let i = 0; i < EVENTS; i++) {
    const { user, amount } = eventAt(i);
    expectedCount[user] += 1;
    expectedSum[user] += amount;
  }
  let checkedUsers = 0;
  let mismatches = 0;
  for (let base = 0; base < USERS; base += 10_000) {
    const users = [];
    for (let u = base; u < Math.min(USERS, base + 10_000); u++) users.push(u);
    const counts = db.getMany(users.map((u) => keyOf(u) + ':count'));
    const sums = db.getMany(users.map((u) => keyOf(u) + ':sum'));
    for (let i = 0; i < users.length; i++) {
      const u = users[i];
      const count = counts[i] === undefined ? 0 : Number(counts[i].readBigInt64LE(0));
      const sum = sums[i] === undefined ? 0 : Number(sums[i].readBigInt64LE(0));
      if (count !== expectedCount[u] || sum !== expectedSum[u]) {
        if (mismatches++ < 5) log(`   MISMATCH user ${u}: count ${count} (expected ${expectedCount[u]}), sum ${sum} (expected ${expectedSum[u]})`);
      }
      if (expectedCount[u] > 0) checkedUsers++;
    }
  }
  db.verify();
  const checkpoints = [...child.checkpoints, ...stats.checkpoints, final];
  const retained = db.checkpoints().length;
  const rss = process.memoryUsage().rss;
  await db.close();
  rmSync(dir, { recursive: true, force: true });

  log('');
  log(`throughput      ${fmt(Math.round(stats.events / resumeSeconds))} events/s resumed (${fmt(Math.round((3 * stats.events) / resumeSeconds))} state updates/s); child ${fmt(Math.round(child.eventsPerSecond))} events/s`);
  log(`recovery        ${recoveryMs.toFixed(1)} ms to reopen ${fmt(recoveredKeys)} keys; replayed ${fmt(child.processed - offset)} events`);
  log(`checkpoints     ${checkpoints.length}, median ${median(checkpoints.map((c) => c.bytesWritten / 1048576)).toFixed(1)} MiB written, ` +
      `median pause ${median(checkpoints.map((c) => c.pauseMs)).toFixed(2)} ms, median duration ${median(checkpoints.map((c) => c.durationMs)).toFixed(0)} ms`);
  log(`state           ${fmt(after.keys)} keys for ${fmt(checkedUsers)} active users`);
  log(`memory          log pages ${mib(after.logMemoryBytes)} of a ${mib(storeOptions.memoryBudgetBytes)} budget, hash index ${mib(after.indexBytes)}, process RSS ${mib(rss)}`);
  log(`disk            ${mib(after.diskBytes)}: log segments ${mib(after.segmentBytes)}, checkpoint files ${mib(after.checkpointFileBytes)} ` +
      `(compaction moved ${fmt(compaction.recordsMoved)} live records, longest pause ${compaction.longestPauseMicros} µs; ` +
      `segments the ${retained} retained checkpoints need are kept)`);
  log(`in place        ${fmt(after.inPlaceUpdates)} updates in place, ${fmt(after.appendedRecords)} records appended`);
  log(`check           ${mismatches === 0 ? 'OK' : 'FAILED'}: ${fmt(checkedUsers)} users' counts and sums ${mismatches === 0 ? 'equal' : `differ in ${mismatches} cases from`} an uninterrupted run (exactly once, by checkpoint + replay)`);
  log(`total           ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (mismatches > 0) process.exit(1);
}

// Processes events [from, EVENTS), checkpointing every `checkpoint-every`
// events with the offset in meta. The cut is taken when checkpoint() is
// called, so meta = the number of events applied before it.
async function processStream(db, from, report) {
  const BATCH = args.batch;
  const countKeys = new Array(BATCH);
  const sumKeys = new Array(BATCH);
  const amounts = new Array(BATCH);
  const lastKeys = new Array(BATCH);
  const lastEvents = new Array(BATCH);
  const checkpoints = [];
  const pending = [];
  const progress = from === 0 && workerDir !== undefined ? null : progressBar(EVENTS, from);
  let nextCheckpoint = (Math.floor(from / args['checkpoint-every']) + 1) * args['checkpoint-every'];
  let lastYield = performance.now();
  for (let done = from; done < EVENTS; ) {
    const n = Math.min(BATCH, EVENTS - done, nextCheckpoint - done);
    if (n !== countKeys.length) for (const a of [countKeys, sumKeys, amounts, lastKeys, lastEvents]) a.length = n;
    for (let i = 0; i < n; i++) {
      const { user, amount } = eventAt(done + i);
      const key = keyOf(user);
      countKeys[i] = key + ':count';
      sumKeys[i] = key + ':sum';
      amounts[i] = amount;
      lastKeys[i] = key + ':last';
      lastEvents[i] = eventRecord(done + i, user, amount);
    }
    db.incrementMany(countKeys, 1);
    db.incrementMany(sumKeys, amounts);
    db.putMany(lastKeys, lastEvents);
    done += n;
    if (done === nextCheckpoint && done < EVENTS) {
      const offset = done;
      pending.push(
        db.checkpoint({ meta: String(offset) }).then((info) => {
          checkpoints.push(info);
          report({ type: 'checkpoint', version: info.version, offset, bytesWritten: info.bytesWritten, pauseMs: info.pauseMs, durationMs: info.durationMs });
        }),
      );
      nextCheckpoint += args['checkpoint-every'];
    }
    if (performance.now() - lastYield > 50) {
      // Let checkpoint completions and the parent's messages through.
      report({ type: 'progress', done });
      progress?.update(done);
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  await Promise.all(pending);
  progress?.done();
  report({ type: 'progress', done: EVENTS });
  return { events: EVENTS - from, checkpoints };
}

function runChildUntil(dir, killAt) {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(import.meta.url);
    const passArgs = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
    const child = spawn(process.execPath, [script, '--worker', dir, ...passArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = performance.now();
    const progress = progressBar(EVENTS, 0);
    const state = { processed: 0, lastVersion: 0, lastOffset: 0, checkpoints: [], eventsPerSecond: 0 };
    let killed = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line);
      if (m.type === 'checkpoint') {
        state.lastVersion = m.version;
        state.lastOffset = m.offset;
        state.checkpoints.push(m);
      } else if (m.type === 'progress') {
        state.processed = m.done;
        progress.update(m.done);
        if (!killed && m.done >= killAt) {
          killed = true;
          state.eventsPerSecond = m.done / ((performance.now() - started) / 1000);
          child.kill('SIGKILL');
        }
      }
    });
    child.on('exit', (code, signal) => {
      progress.done();
      if (signal === 'SIGKILL') resolve(state);
      else reject(new Error(`the child exited (${code ?? signal}) before it was killed`));
    });
  });
}

// ---------------------------------------------------------------------------
// The stream: event i is a pure function of i, so any offset can be replayed.

function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const zipf = (() => {
  // Gray et al., SIGMOD 1994 (as YCSB draws keys), ranks scrambled over [0, n).
  const n = USERS;
  const theta = 0.99;
  let zetan = 0;
  for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - (1 + Math.pow(0.5, theta)) / zetan);
  const half = 1 + Math.pow(0.5, theta);
  return (u) => {
    const uz = u * zetan;
    const rank = uz < 1 ? 0 : uz < half ? 1 : Math.floor(n * Math.pow(eta * u - eta + 1, alpha));
    return mix32(Math.min(rank, n - 1) + 0x9e3779b9) % n;
  };
})();

function eventAt(i) {
  const u = (mix32(i) * 4294967296 + mix32(i ^ 0x5bd1e995)) / 2 ** 64;
  return { user: zipf(u), amount: 1 + (mix32(i + 0x27d4eb2f) % 1000) };
}

function keyOf(user) {
  return 'user:' + String(user).padStart(9, '0');
}

function eventRecord(seq, user, amount) {
  const b = Buffer.alloc(64);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b.writeUInt32LE(user, 8);
  b.writeUInt32LE(amount, 12);
  b.write('demo-event', 16, 'latin1');
  return b;
}

// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const out = { ...DEFAULTS };
  let worker;
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (name === 'worker') {
      worker = argv[++i];
      continue;
    }
    if (!(name in DEFAULTS) || i + 1 >= argv.length) {
      throw new Error(`usage: ${Object.keys(DEFAULTS).map((k) => `--${k} N`).join(' ')} (got ${argv[i]})`);
    }
    out[name] = Number(argv[++i]);
  }
  return { args: out, workerDir: worker };
}

function progressBar(total, from) {
  const start = performance.now();
  let lastDraw = 0;
  let lastLine = 0;
  const update = (done) => {
    const now = performance.now();
    if (now - lastDraw < 200 && done < total) return;
    lastDraw = now;
    const width = 30;
    const filled = Math.round((done / total) * width);
    const rate = (done - from) / Math.max(1e-3, (now - start) / 1000);
    const line = `   [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${fmt(done)}/${fmt(total)} events  ${fmt(Math.round(rate))}/s`;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${line}`);
    } else if (done === total || now - lastLine > 2000) {
      lastLine = now;
      process.stderr.write(line + '\n');
    }
  };
  return {
    update,
    done() {
      if (process.stderr.isTTY) process.stderr.write('\n');
    },
  };
}

function median(xs) {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function fmt(n) {
  return n.toLocaleString('en-US');
}
function mib(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
function log(line) {
  process.stdout.write(line + '\n');
}

// ---------------------------------------------------------------------------

if (workerDir !== undefined) {
  // The child: process the stream from the start until killed.
  const db = await open(workerDir, storeOptions);
  await processStream(db, 0, (message) => process.stdout.write(JSON.stringify(message) + '\n'));
  await db.close();
} else {
  await main();
}
