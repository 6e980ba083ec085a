#!/usr/bin/env node
// Two properties of engine 'appendlog' that the side-by-side report does not
// show: how long the JS thread waits while the background merge runs beside
// overwrites (and how much disk the merge gives back), and the pause of a
// put that makes the key directory double.
//
//   npm run bench:appendlog [-- --smoke]
//
// Progress goes to stderr, the markdown report to stdout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { gitCommit, log } from './common.mjs';

const require = createRequire(import.meta.url);
const { open } = require('../dist/index.js');

const smoke = process.argv.includes('--smoke');
const KEYS = smoke ? 20_000 : 200_000; // overwrite section: keys of 1 KiB
const ROUNDS = smoke ? 4 : 20; // each key overwritten this many times
const GROWTH_KEYS = smoke ? 200_000 : 2_000_000; // growth section: keys of 100 B

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tidekv-appendlog-bench-'));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function overwrite() {
  const db = await open(path.join(base, 'overwrite'), { engine: 'appendlog', segmentBytes: 16 << 20 });
  const value = Buffer.alloc(1024, 3);
  const batches = [];
  const start = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < KEYS; i += 1000) {
      const keys = [];
      const values = [];
      // A stride through the keys: every batch overwrites keys all over the log.
      for (let j = 0; j < 1000; j++) keys.push(`key${((i + j) * 7919) % KEYS}`), values.push(value);
      const t = performance.now();
      db.putMany(keys, values);
      batches.push(performance.now() - t);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const s = db.stats();
  if (s.keys !== KEYS) throw new Error(`overwrite: ${s.keys} keys, expected ${KEYS}`);
  if (!db.get('key1')?.equals(value)) throw new Error('overwrite: key1 does not read back');
  await db.close();
  batches.sort((a, b) => a - b);
  return { seconds, batches, stats: s };
}

async function growth() {
  const db = await open(path.join(base, 'growth'), { engine: 'appendlog' });
  const value = Buffer.alloc(100, 1);
  const slow = [];
  for (let i = 0; i < GROWTH_KEYS; i++) {
    const t = process.hrtime.bigint();
    db.put(`user${String(i).padStart(12, '0')}`, value);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (ms > 2) slow.push({ keys: i, ms });
  }
  const s = db.stats();
  if (s.keys !== GROWTH_KEYS) throw new Error(`growth: ${s.keys} keys, expected ${GROWTH_KEYS}`);
  await db.close();
  return { slow, stats: s };
}

try {
  log('overwrite with the background merge running');
  const o = await overwrite();
  log('key directory growth');
  const g = await growth();
  const fmt = (v) => v.toFixed(2);
  const out = [];
  out.push(`- command: \`node bench/appendlog.mjs${smoke ? ' --smoke' : ''}\`; commit ${gitCommit()}; ${new Date().toISOString()}; ${os.cpus().length} cores, Node ${process.version}`);
  out.push('');
  out.push(`**Overwrites beside the merge** (${KEYS.toLocaleString('en-US')} keys of 1 KiB, each written ${ROUNDS}×, \`putMany\` of 1000, 16 MiB segments, merge at 50% dead):`);
  out.push('');
  out.push('| puts/s | batch p50 ms | p99 | p99.9 | max | merges | records moved | longest merge lock hold µs | disk ÷ live |');
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const b = o.batches;
  out.push(
    `| ${((KEYS * ROUNDS) / o.seconds / 1e6).toFixed(2)} M | ${fmt(percentile(b, 0.5))} | ${fmt(percentile(b, 0.99))} | ${fmt(percentile(b, 0.999))} | ${fmt(b[b.length - 1])} | ${o.stats.merges} | ${o.stats.mergeRecordsMoved.toLocaleString('en-US')} | ${o.stats.longestMergePauseMicros} | ${(o.stats.diskBytes / o.stats.liveBytes).toFixed(2)}× |`,
  );
  out.push('');
  out.push(`**Puts over 2 ms while ${GROWTH_KEYS.toLocaleString('en-US')} keys are inserted** (each one a doubling of the key directory): ` +
    (g.slow.length === 0 ? 'none' : g.slow.map((x) => `${x.ms.toFixed(1)} ms at ${x.keys.toLocaleString('en-US')} keys`).join(', ')) +
    `; the directory ends at ${(g.stats.indexBytes / 2 ** 20).toFixed(0)} MiB (${(g.stats.indexBytes / g.stats.keys).toFixed(1)} B a key).`);
  console.log(out.join('\n'));
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}
