// open() options per engine: each engine takes the shared options and its
// own; another engine's options are refused by name, before any file is
// touched. (Generic option checks live in bad-input.test.ts.)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, type OpenOptions } from '../lib/index.js';
import { expectRejectsCode, makeTempDir, removeAllTempDirs, withStore } from './helpers.js';

afterEach(() => removeAllTempDirs());

const HYBRIDLOG_ONLY: ReadonlyArray<readonly [string, unknown]> = [
  ['pageBytes', 65536],
  ['segmentBytes', 1 << 20],
  ['mutableFraction', 0.5],
  ['indexBuckets', 1024],
  ['compactionSliceMicros', 500],
];
const LSM_ONLY: ReadonlyArray<readonly [string, unknown]> = [
  ['memtableBytes', 1 << 20],
  ['maxImmutableMemtables', 2],
  ['compactionStyle', 'leveled'],
  ['runsPerLevel', 4],
  ['levelSizeRatio', 10],
  ['level1Bytes', 4 << 20],
  ['targetTableBytes', 1 << 20],
  ['slowdownRuns', 12],
  ['stopRuns', 24],
  ['bloomBitsPerKey', 10],
  ['blockBytes', 4096],
];

async function expectOpenRejects(options: unknown, mentions: readonly string[] = []): Promise<void> {
  const dir = join(makeTempDir(), 'db');
  const err = await expectRejectsCode(open(dir, options as OpenOptions), 'ERR_INVALID_ARG');
  for (const text of mentions) expect(err.message).toContain(text);
  expect(existsSync(dir), `${JSON.stringify(options)} created the directory`).toBe(false);
}

/** Opens with engine 'lsm', then closes. */
async function expectLsmOpens(options: OpenOptions): Promise<void> {
  await (await open(join(makeTempDir(), 'db'), options)).close();
}

describe('open() options per engine', () => {
  it("refuses the 'lsm' options for engine 'hybridlog' (also by default), naming the option and the engines", async () => {
    for (const [name, value] of LSM_ONLY) {
      await expectOpenRejects({ [name]: value }, [name, "'lsm'", "'hybridlog'"]);
      await expectOpenRejects({ engine: 'hybridlog', [name]: value }, [name, "'lsm'", "'hybridlog'"]);
    }
  });

  it("refuses the 'hybridlog' options for engine 'lsm', naming the option and the engines", async () => {
    for (const [name, value] of HYBRIDLOG_ONLY) {
      await expectOpenRejects({ engine: 'lsm', [name]: value }, [name, "'lsm'", "'hybridlog'"]);
    }
  });

  it("refuses checkpointMode 'fold-over' for engine 'lsm' (its checkpoints are always incremental) and takes 'incremental'", async () => {
    await expectOpenRejects({ engine: 'lsm', checkpointMode: 'fold-over' }, ['checkpointMode', 'incremental']);
  });

  it("ignores the other engine's options when they are undefined", async () => {
    await withStore({ memtableBytes: undefined, compactionStyle: undefined }, (db) => {
      expect(db.engine).toBe('hybridlog');
    });
    await expectLsmOpens({ engine: 'lsm', pageBytes: undefined, checkpointMode: undefined });
  });

  it('rejects bad values of the lsm options, naming the option', async () => {
    const bad: ReadonlyArray<readonly [string, readonly unknown[]]> = [
      ['compactionStyle', ['tiered', 'LEVELED', 1, 2, null, true]],
      ['memtableBytes', [0, -1, 1.5, 2 ** 53, '1048576', null, NaN]],
      ['level1Bytes', [0, -1, Infinity]],
      ['targetTableBytes', [0, 0.5]],
      ['maxImmutableMemtables', [0, -1, 2 ** 32, 1.5]],
      ['runsPerLevel', [0, 2 ** 32, '4']],
      ['levelSizeRatio', [0, -10, 2.5]],
      ['slowdownRuns', [0, 2 ** 32]],
      ['stopRuns', [0, {}]],
      ['bloomBitsPerKey', [-1, 0.5, 2 ** 32, '10']],
      ['blockBytes', [0, 2 ** 32, 4096.5]],
      ['memoryBudgetBytes', [0, -1, 1.5]],
      ['retainCheckpoints', [0, -1, 1.5]],
      ['recover', ['loose', true]],
    ];
    for (const [name, values] of bad) {
      for (const value of values) await expectOpenRejects({ engine: 'lsm', [name]: value }, [name]);
    }
  });

  it("refuses the 'lsm' and hybrid-log-only options for engine 'appendlog', and its own for the others", async () => {
    for (const [name, value] of [...LSM_ONLY, ...HYBRIDLOG_ONLY.filter(([n]) => n !== 'segmentBytes')]) {
      await expectOpenRejects({ engine: 'appendlog', [name]: value }, [name, "'appendlog'"]);
    }
    await expectOpenRejects({ engine: 'lsm', mergeDeadRatio: 0.5 }, ['mergeDeadRatio', "'appendlog'", "'lsm'"]);
    await expectOpenRejects({ mergeDeadRatio: 0.5 }, ['mergeDeadRatio', "'appendlog'", "'hybridlog'"]);
    // segmentBytes belongs to both log engines: named as such to the LSM.
    await expectOpenRejects({ engine: 'lsm', segmentBytes: 1 << 20 }, ["'hybridlog' and 'appendlog'", "'lsm'"]);
    await expectOpenRejects({ engine: 'appendlog', checkpointMode: 'fold-over' }, ['checkpointMode', 'incremental']);
  });

  it('rejects bad values of the appendlog options, naming the option', async () => {
    const bad: ReadonlyArray<readonly [string, readonly unknown[]]> = [
      ['mergeDeadRatio', [0, -0.5, 1.01, NaN, Infinity, '0.5', null]],
      ['segmentBytes', [0, -1, 1.5, 1000, 2 ** 32 + 1, '65536']],
      ['memoryBudgetBytes', [0, -1, 1024]],
      ['retainCheckpoints', [0, 10001]],
    ];
    for (const [name, values] of bad) {
      for (const value of values) await expectOpenRejects({ engine: 'appendlog', [name]: value }, [name]);
    }
  });

  it('passes valid appendlog options to the engine', async () => {
    const db = await open(join(makeTempDir(), 'db'), {
      engine: 'appendlog',
      memoryBudgetBytes: 8 << 20,
      segmentBytes: 64 * 1024,
      mergeDeadRatio: 1,
      retainCheckpoints: 2,
      recover: 'latest-valid',
      checkpointMode: 'incremental',
    });
    expect(db.engine).toBe('appendlog');
    expect(db.capabilities.ordered).toBe(false);
    // 64 KiB segments: 100 records of 1 KiB seal several of them.
    for (let i = 0; i < 100; i++) db.put(`k${i}`, Buffer.alloc(1024, i));
    expect(db.stats()['segmentsSealed']).toBeGreaterThan(0);
    await db.close();
  });

  it('passes valid lsm options to the engine', async () => {
    await expectLsmOpens({
      engine: 'lsm',
      memoryBudgetBytes: 64 << 20,
      memtableBytes: 1 << 20,
      maxImmutableMemtables: 3,
      compactionStyle: 'size-tiered',
      runsPerLevel: 3,
      levelSizeRatio: 8,
      level1Bytes: 8 << 20,
      targetTableBytes: 1 << 20,
      slowdownRuns: 10,
      stopRuns: 20,
      bloomBitsPerKey: 0,
      blockBytes: 8192,
      retainCheckpoints: 5,
      recover: 'latest-valid',
    });
  });

  it('refuses a directory that holds a store of the other engine, naming that engine', async () => {
    for (const [made, other] of [
      ['hybridlog', 'lsm'],
      ['lsm', 'hybridlog'],
      ['appendlog', 'hybridlog'],
      ['lsm', 'appendlog'],
    ] as const) {
      const dir = join(makeTempDir(), 'db');
      const db = await open(dir, { engine: made });
      db.put('k', 'v');
      await db.checkpoint();
      await db.close();
      const err = await expectRejectsCode(open(dir, { engine: other }), 'ERR_INVALID_ARG');
      expect(err.message).toContain(`engine '${made}'`);
      const again = await open(dir, { engine: made });
      expect(again.get('k')?.toString()).toBe('v');
      await again.close();
    }
  });
});
