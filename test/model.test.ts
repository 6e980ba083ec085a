// Model-based property tests: random op sequences against a Map<string, Buffer>.
//
//   TIDEKV_PROPERTY_RUNS=500 npx vitest run test/model.test.ts   more runs per preset
//   TIDEKV_SEED=1234 [TIDEKV_PATH=3:1:0] npx vitest run test/model.test.ts   replay
//
// A failing sequence (after shrinking) is written to test/regressions/ as JSON
// (set TIDEKV_SAVE_REGRESSIONS=0 to disable); every JSON file there is replayed
// as a plain test on every run.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ENGINES,
  INT64_MAX,
  INT64_MIN,
  PRESET_NAMES,
  presetOptions,
  propertyRuns,
  makeTempDir,
  removeAllTempDirs,
  removeTempDir,
  ROOT,
  type EngineUnderTest,
  type PresetName,
} from './helpers.js';
import { open } from '../lib/index.js';
import {
  newCheckpointModel,
  runSequence,
  type BatchRec,
  type DeltaSpec,
  type OpRec,
  type RegressionCase,
  type Session,
  type ValueSpec,
} from './model.js';

const REGRESSIONS = join(ROOT, 'test', 'regressions');

/** Small key space so that operations collide; mixed lengths and scripts. */
const KEY_POOL = ['a', 'b', 'c', 'é', '🦀', 'k'.repeat(300), 'x\0y'] as const;

const seedFromEnv = process.env['TIDEKV_SEED'];
const SEED = seedFromEnv !== undefined && seedFromEnv !== '' ? Number(seedFromEnv) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const PATH = process.env['TIDEKV_PATH'];
const RUNS = propertyRuns(200);
console.log(`model.test.ts: seed ${SEED} (replay with TIDEKV_SEED=${SEED}), ${RUNS} runs per preset`);

afterEach(() => removeAllTempDirs());

// ---- arbitraries ----

const int64Arb = fc.oneof(
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.constantFrom(INT64_MAX, INT64_MAX - 1n, INT64_MIN, INT64_MIN + 1n, 0n, -1n, 1n),
  fc.bigInt({ min: -1000n, max: 1000n }),
);
const valueArb: fc.Arbitrary<ValueSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ len: fc.integer({ min: 0, max: 64 }), seed: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ len: fc.integer({ min: 0, max: 4096 }), seed: fc.nat() }) },
  { weight: 3, arbitrary: int64Arb.map((v) => ({ i64: v.toString() })) },
  { weight: 1, arbitrary: fc.record({ str: fc.string({ unit: 'grapheme', maxLength: 12 }) }) },
);
const deltaArb: fc.Arbitrary<DeltaSpec> = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
  int64Arb.map((v) => v.toString()),
);

function withOptionalDelta<T extends object>(base: T, delta: DeltaSpec): T & { delta?: DeltaSpec } {
  return delta === undefined ? base : { ...base, delta };
}

const fillArb = fc.record({
  op: fc.constant('fill' as const),
  n: fc.integer({ min: 1, max: 120 }),
  size: fc.integer({ min: 0, max: 4000 }),
  start: fc.nat(200),
  seed: fc.nat(),
});

/** Op sequences over the keys keyArb draws. */
function sequenceOf(keyArb: fc.Arbitrary<string>): fc.Arbitrary<OpRec[]> {
  const batchOpArb: fc.Arbitrary<BatchRec> = fc.oneof(
    fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }),
    fc.record({ type: fc.constant('append' as const), key: keyArb, value: valueArb }),
    fc.record({ type: fc.constant('delete' as const), key: keyArb }),
    fc.tuple(keyArb, deltaArb).map(([key, delta]) => withOptionalDelta({ type: 'increment' as const, key }, delta)),
  );


  const simpleOpArb: fc.Arbitrary<OpRec> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb, buf: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb, buf: fc.boolean() }) },
    {
      weight: 5,
      arbitrary: fc
        .tuple(keyArb, deltaArb, fc.boolean())
        .map(([key, delta, buf]) => withOptionalDelta({ op: 'increment' as const, key, buf }, delta)),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('append' as const), key: keyArb, value: valueArb, buf: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb, buf: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('has' as const), key: keyArb, buf: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('getMany' as const), keys: fc.array(keyArb, { maxLength: 10 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('batch' as const), ops: fc.array(batchOpArb, { maxLength: 8 }) }) },
    { weight: 3, arbitrary: fillArb },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(keyArb, valueArb), { maxLength: 6 })
        .map((pairs): OpRec => ({ op: 'putMany', keys: pairs.map((p) => p[0]), values: pairs.map((p) => p[1]) })),
    },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.array(fc.tuple(keyArb, deltaArb), { maxLength: 6 }).map(
          (pairs): OpRec => ({ op: 'incrementMany', keys: pairs.map((p) => p[0]), deltas: pairs.map((p) => p[1]) }),
        ),
        fc
          .tuple(fc.array(keyArb, { maxLength: 6 }), deltaArb)
          .map(([keys, d]): OpRec => (d === undefined ? { op: 'incrementMany', keys } : { op: 'incrementMany', keys, deltas: d })),
      ),
    },
  );

  const metaArb = fc.option(fc.string({ unit: 'grapheme', maxLength: 16 }), { nil: undefined });
  const checkpointArb = (during: fc.Arbitrary<OpRec>): fc.Arbitrary<OpRec> =>
    fc
      .tuple(metaArb, fc.array(during, { maxLength: 6 }))
      .map(([meta, ops]): OpRec => ({ op: 'checkpoint', ...(meta === undefined ? {} : { meta }), ...(ops.length === 0 ? {} : { during: ops }) }));
  // Writes between a checkpoint's call and its completion; sometimes a second checkpoint, which queues.
  const duringCheckpointArb: fc.Arbitrary<OpRec> = fc.oneof(
    { weight: 8, arbitrary: simpleOpArb },
    { weight: 1, arbitrary: checkpointArb(simpleOpArb) },
  );

  const opArb: fc.Arbitrary<OpRec> = fc.oneof(
    { weight: 30, arbitrary: simpleOpArb },
    {
      weight: 2,
      arbitrary: fc.record(
        { op: fc.constant('compact' as const), during: fc.array(simpleOpArb, { maxLength: 6 }) },
        { requiredKeys: ['op'] },
      ),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'check' as const }) },
    { weight: 3, arbitrary: checkpointArb(duringCheckpointArb) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.nat(1000), fc.boolean())
        .map(([pick, missing]): OpRec => (missing ? { op: 'restore', pick, missing } : { op: 'restore', pick })),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
    {
      weight: 1,
      arbitrary: fc.array(simpleOpArb, { maxLength: 6 }).map((ops): OpRec => (ops.length === 0 ? { op: 'crash' } : { op: 'crash', during: ops })),
    },
  );

  return fc.array(opArb, { minLength: 1, maxLength: 80, size: 'large' });
}


// ---- running ----

/** How checkpoints are kept and written in one run. */
interface CheckpointSetup {
  retainCheckpoints: number;
  checkpointMode: 'incremental' | 'fold-over';
}

const DEFAULT_SETUP: CheckpointSetup = { retainCheckpoints: 3, checkpointMode: 'incremental' };
/** The checkpoint setups an engine takes (the LSM has only incremental checkpoints). */
function setupArb(engine: EngineUnderTest): fc.Arbitrary<CheckpointSetup> {
  return fc.record({
    retainCheckpoints: fc.constantFrom(1, 2, 3, 5),
    checkpointMode:
      engine === 'hybridlog' ? fc.constantFrom('incremental' as const, 'fold-over' as const) : fc.constant('incremental' as const),
  });
}

/**
 * Runs ops on a fresh store in a fresh directory (reopened in place by the
 * reopen and crash ops); returns the final stats().diskBytes.
 */
async function runCase(
  engine: EngineUnderTest,
  preset: PresetName,
  ops: readonly OpRec[],
  keys: readonly string[] = KEY_POOL,
  setup: CheckpointSetup = DEFAULT_SETUP,
): Promise<number> {
  const options = { ...presetOptions(engine, preset), ...setup };
  const dir = makeTempDir();
  const session: Session = {
    db: await open(dir, options),
    async reopen() {
      await session.db.close();
      session.db = await open(dir, options);
    },
  };
  try {
    await runSequence(session.db, ops, { keys, session, ckpt: newCheckpointModel(setup.retainCheckpoints) });
    return session.db.stats().diskBytes;
  } finally {
    await session.db.close();
    removeTempDir(dir);
  }
}

function saveRegression(
  engine: EngineUnderTest,
  preset: PresetName,
  setup: CheckpointSetup,
  ops: readonly OpRec[],
  details: string,
): string | undefined {
  if (process.env['TIDEKV_SAVE_REGRESSIONS'] === '0') return undefined;
  const body: RegressionCase = {
    description: `Found by model.test.ts (${engine}, preset ${preset}, seed ${SEED}): ${details.split('\n')[0]}`,
    presets: [preset],
    ...setup,
    ops: [...ops],
  };
  const json = JSON.stringify(body, null, 2) + '\n';
  const name = `found-${engine}-${preset}-${createHash('sha1').update(JSON.stringify(ops)).digest('hex').slice(0, 10)}.json`;
  writeFileSync(join(REGRESSIONS, name), json);
  return name;
}

const WIDE_KEYS = [...KEY_POOL, ...Array.from({ length: 300 }, (_, i) => `w${i}`)];
const KEY_SPACES = [
  // Few keys: operations collide on the same records all the time.
  { name: 'small key space', keys: [...KEY_POOL] as string[], runs: RUNS },
  // Many keys: longer hash chains, index growth, more records on disk.
  { name: 'wide key space', keys: WIDE_KEYS, runs: Math.max(1, Math.ceil(RUNS / 4)) },
];

describe.each(ENGINES)('%s: model-based', (engine) => {
  describe.each(PRESET_NAMES)('preset %s', (preset) => {
    for (const space of KEY_SPACES) {
      it(`random op sequences agree with a Map model (${space.name})`, async () => {
        let reachedDisk = 0;
        let restored = 0;
        const details = await fc.check(
          fc.asyncProperty(sequenceOf(fc.constantFrom(...space.keys)), setupArb(engine), async (ops, setup) => {
            if ((await runCase(engine, preset, ops, space.keys, setup)) > 0) reachedDisk++;
            // A sequence that restores after checkpointing exercises rollback for real.
            const firstCheckpoint = ops.findIndex((o) => o.op === 'checkpoint');
            if (firstCheckpoint >= 0 && ops.slice(firstCheckpoint).some((o) => o.op === 'restore' && o.missing !== true)) restored++;
          }),
          { numRuns: space.runs, seed: SEED, ...(PATH !== undefined ? { path: PATH } : {}), endOnFailure: false },
        );
        if (details.failed) {
          const message = fc.defaultReportMessage(details) ?? 'property failed';
          const counterexample = details.counterexample;
          const saved =
            counterexample !== null && counterexample !== undefined
              ? saveRegression(engine, preset, counterexample[1], counterexample[0], String(details.errorInstance))
              : undefined;
          throw new Error(`${message}${saved !== undefined ? `\nSaved as test/regressions/${saved}` : ''}`);
        }
        expect(details.numRuns).toBe(space.runs);
        console.log(`${engine}/${preset}/${space.name}: ${reachedDisk} of ${space.runs} sequences reached disk, ${restored} restored a checkpoint`);
        if (space.runs >= 20) expect(restored).toBeGreaterThan(space.runs / 10);
        // The tinyMemory preset exists to exercise the on-disk region: make sure it does.
        if (preset === 'tinyMemory' && space.runs >= 20) expect(reachedDisk).toBeGreaterThan(space.runs / 10);
      });
    }
  });
});

// ---- regression cases ----

const regressionFiles = readdirSync(REGRESSIONS)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('regression cases (test/regressions/*.json)', () => {
  it('has cases to replay', () => {
    expect(regressionFiles.length).toBeGreaterThanOrEqual(2);
  });
  for (const file of regressionFiles) {
    const body = JSON.parse(readFileSync(join(REGRESSIONS, file), 'utf8')) as RegressionCase;
    const presets = (body.presets ?? PRESET_NAMES) as PresetName[];
    for (const engine of ENGINES) {
      for (const preset of presets) {
        it(`${file} (${engine}, ${preset}): ${body.description}`, async () => {
          expect(PRESET_NAMES).toContain(preset);
          expect(Array.isArray(body.ops)).toBe(true);
          await runCase(engine, preset, body.ops, KEY_POOL, {
            retainCheckpoints: body.retainCheckpoints ?? DEFAULT_SETUP.retainCheckpoints,
            // The LSM has only incremental checkpoints; the case's ops still apply.
            checkpointMode: engine !== 'hybridlog' ? 'incremental' : (body.checkpointMode ?? DEFAULT_SETUP.checkpointMode),
          });
        });
      }
    }
  }
});
