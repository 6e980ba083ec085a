#!/usr/bin/env node
// Memory of one store holding N keys, measured in a process of its own:
//
//   node --expose-gc bench/memory-probe.mjs SYSTEM RECORDS     (run by bench/engines.mjs)
//
// A fresh process, because resident memory is only comparable from a clean
// start: memory a previous store freed stays in this process's allocator and
// would be reused by the next one, so it would look smaller than it is.
// Loads RECORDS keys (`user` + 12 digits, 100-byte values) in batches of
// 10,000, lets background work settle, and prints one JSON object on stdout:
// the process's memory before opening the store (its module, the keys and
// values already loaded), after opening it and after loading it, the
// engine's stats() (tidekv) and, for tidekv, both again after a checkpoint
// (which empties the LSM's memtables). Progress and errors go to stderr; a
// failed check exits non-zero.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { log, processMemory, sleep, waitUntilStill } from './common.mjs';
import { kindOf, loadSystem, openStore } from './systems.mjs';
import { makeKeys, valuePool } from './workload.mjs';

const [name, recordsText] = process.argv.slice(2);
const records = Number(recordsText);
if (name === undefined || !Number.isSafeInteger(records) || records <= 0 || typeof globalThis.gc !== 'function') {
  process.stderr.write('usage: node --expose-gc bench/memory-probe.mjs SYSTEM RECORDS\n');
  process.exit(2);
}
const kind = kindOf(name);
const BATCH = 10_000;
const VALUE_BYTES = 100;
const POOL = 1 << 16;

async function settledMemory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(100);
  }
  return processMemory();
}

function fail(message) {
  process.stderr.write(`memory-probe ${name}: ${message}\n`);
  process.exit(1);
}

async function main() {
  const keys = makeKeys(records);
  const pool = valuePool(POOL, VALUE_BYTES, 5);
  const valueOf = (i) => pool[i & (POOL - 1)];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tidekv-memprobe-${name}-`));
  await loadSystem(name); // its code is not the store's memory
  try {
    const before = await settledMemory();
    const db = await openStore(name, dir);
    const afterOpen = await settledMemory();
    for (let s = 0; s < records; s += BATCH) {
      const end = Math.min(records, s + BATCH);
      if (kind === 'tidekv') {
        const ks = keys.slice(s, end);
        db.putMany(ks, ks.map((_, j) => valueOf(s + j)));
      } else if (kind === 'lmdb') {
        db.transactionSync(() => {
          for (let i = s; i < end; i++) db.put(keys[i], valueOf(i));
        });
      } else {
        const ops = [];
        for (let i = s; i < end; i++) ops.push({ type: 'put', key: keys[i], value: valueOf(i) });
        await db.batch(ops);
      }
    }
    const signature = kind === 'tidekv' ? () => JSON.stringify(db.stats()) : kind === 'level' ? () => db.getProperty('leveldb.stats') : () => '';
    const settle = await waitUntilStill(signature, { stableMs: 500, maxMs: 60_000 });
    const afterLoad = await settledMemory();

    // What was loaded is there: the count, and a sample of values.
    const count = kind === 'tidekv' ? db.stats().keys : kind === 'lmdb' ? db.getStats().entryCount : null;
    if (count !== null && count !== records) fail(`${count} keys after loading ${records}`);
    for (let i = 0; i < records; i += Math.max(1, Math.floor(records / 200))) {
      const v = kind === 'level' ? await db.get(keys[i]) : db.get(keys[i]);
      if (v === undefined || !v.equals(valueOf(i))) fail(`key ${keys[i]} does not read back its value`);
    }

    const out = { system: name, records, before, afterOpen, afterLoad, settleMs: settle.ms, stats: null, afterCheckpoint: null, statsAfterCheckpoint: null };
    if (kind === 'tidekv') {
      out.stats = db.stats();
      await db.checkpoint();
      await waitUntilStill(signature, { stableMs: 500, maxMs: 60_000 });
      out.afterCheckpoint = await settledMemory();
      out.statsAfterCheckpoint = db.stats();
    }
    await db.close();
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  log(`memory-probe ${name}: ${err.stack ?? err}`);
  process.exit(1);
});
