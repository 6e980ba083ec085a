// The main job: a stream processor's keyed state on tidekv.
//
// A generated stream of events (user, amount) with zipfian-skewed users is
// aggregated per user: an event count and an amount sum (int64 counters,
// updated in place by native increments) and the user's last event (a
// 64-byte record). The store's memory budget is far below the state, so most
// of it lives in segment files on disk. At the end the aggregates are read
// back and compared with ones computed independently in plain JS.
//
//   npm run demo                     4M events, 1M users, 32 MiB budget
//   node demo/stream-aggregate.mjs --events 10000000 --users 2000000 --budget-mb 64
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'tidekv';

const args = parseArgs(process.argv.slice(2), { events: 4_000_000, users: 1_000_000, 'budget-mb': 32, batch: 1000 });
const EVENTS = args.events;
const USERS = args.users;
const BUDGET = args['budget-mb'] * 1024 * 1024;
const BATCH = args.batch;

const dir = mkdtempSync(join(tmpdir(), 'tidekv-demo-'));
const db = await open(dir, { memoryBudgetBytes: BUDGET, pageBytes: 1024 * 1024 });

// The independent check: what each user's aggregates must be.
const expectedCount = new Float64Array(USERS);
const expectedSum = new Float64Array(USERS);

const nextUser = zipfian(USERS, 0.99, 42);
const random = xorshift(7);
const keyOf = (u) => 'user:' + String(u).padStart(9, '0');

log(`tidekv demo: ${fmt(EVENTS)} events, ${fmt(USERS)} users (zipfian 0.99), memory budget ${args['budget-mb']} MiB, dir ${dir}`);
const started = performance.now();
const progress = progressBar(EVENTS);

const countKeys = new Array(BATCH);
const sumKeys = new Array(BATCH);
const amounts = new Array(BATCH);
const lastKeys = new Array(BATCH);
const lastEvents = new Array(BATCH);
for (let done = 0; done < EVENTS; ) {
  const n = Math.min(BATCH, EVENTS - done);
  if (n !== countKeys.length) for (const a of [countKeys, sumKeys, amounts, lastKeys, lastEvents]) a.length = n;
  for (let i = 0; i < n; i++) {
    const user = nextUser();
    const amount = 1 + Math.floor(random() * 1000);
    const key = keyOf(user);
    countKeys[i] = key + ':count';
    sumKeys[i] = key + ':sum';
    amounts[i] = amount;
    lastKeys[i] = key + ':last';
    lastEvents[i] = eventRecord(done + i, user, amount);
    expectedCount[user] += 1;
    expectedSum[user] += amount;
  }
  // One native call per aggregate for the whole micro-batch.
  db.incrementMany(countKeys, 1);
  db.incrementMany(sumKeys, amounts);
  db.putMany(lastKeys, lastEvents);
  done += n;
  progress.update(done);
}
progress.done();
const seconds = (performance.now() - started) / 1000;
const beforeCompaction = db.stats();
const compaction = await db.compact();
const after = db.stats();

// Verify every user's aggregates against the independent computation.
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
      if (mismatches++ < 5) log(`  MISMATCH user ${u}: count ${count} (expected ${expectedCount[u]}), sum ${sum} (expected ${expectedSum[u]})`);
    }
    if (expectedCount[u] > 0) checkedUsers++;
  }
}
const rss = process.memoryUsage().rss;
log('');
log(`throughput      ${fmt(Math.round(EVENTS / seconds))} events/s (${fmt(Math.round((3 * EVENTS) / seconds))} state updates/s), ${seconds.toFixed(1)} s`);
log(`state           ${fmt(after.keys)} keys for ${fmt(checkedUsers)} active users`);
log(`memory          log pages ${mib(after.logMemoryBytes)} of a ${mib(BUDGET)} budget, hash index ${mib(after.indexBytes)}, process RSS ${mib(rss)}`);
log(`disk            ${mib(beforeCompaction.diskBytes)} before compaction, ${mib(after.diskBytes)} after (${fmt(compaction.recordsMoved)} live records moved, longest pause ${compaction.longestPauseMicros} µs)`);
log(`in place        ${fmt(after.inPlaceUpdates)} updates in place, ${fmt(after.appendedRecords)} records appended`);
log(`check           ${mismatches === 0 ? 'OK' : 'FAILED'}: ${fmt(checkedUsers)} users' counts and sums ${mismatches === 0 ? 'match' : `differ in ${mismatches} cases from`} the independent computation`);
db.verify();
await db.close();
rmSync(dir, { recursive: true, force: true });
if (mismatches > 0) process.exit(1);

// ---------------------------------------------------------------------------

function eventRecord(seq, user, amount) {
  const b = Buffer.alloc(64);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b.writeUInt32LE(user, 8);
  b.writeUInt32LE(amount, 12);
  b.write('demo-event', 16, 'latin1');
  return b;
}

function zipfian(n, theta, seed) {
  // Gray et al., SIGMOD 1994 (as YCSB draws keys), ranks scrambled over [0, n).
  let zetan = 0;
  for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - (1 + Math.pow(0.5, theta)) / zetan);
  const random = xorshift(seed);
  return () => {
    const u = random();
    const uz = u * zetan;
    const rank = uz < 1 ? 0 : uz < 1 + Math.pow(0.5, theta) ? 1 : Math.floor(n * Math.pow(eta * u - eta + 1, alpha));
    let h = Math.min(rank, n - 1) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) % n;
  };
}

function xorshift(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in defaults) || i + 1 >= argv.length) throw new Error(`usage: --events N --users N --budget-mb N --batch N (got ${argv[i]})`);
    out[name] = Number(argv[++i]);
  }
  return out;
}

function progressBar(total) {
  const start = performance.now();
  let lastDraw = 0;
  let lastLine = 0;
  const update = (done) => {
    const now = performance.now();
    if (now - lastDraw < 200 && done < total) return;
    lastDraw = now;
    const width = 30;
    const filled = Math.round((done / total) * width);
    const rate = done / ((now - start) / 1000);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${fmt(done)}/${fmt(total)} events  ${fmt(Math.round(rate))}/s`;
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
      update(total);
      if (process.stderr.isTTY) process.stderr.write('\n');
    },
  };
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
