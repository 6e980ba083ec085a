// get() writes each value into a slab at a cursor shared by the addon and
// JS. Odd sizes at the end of a slab, values larger than a slab, and long
// runs of reads must all come back intact.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { open } from '../lib/index.js';

describe('get output slabs', () => {
  it('returns every value intact for random sizes around slab boundaries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidekv-slab-'));
    const db = await open(dir, { memoryBudgetBytes: 64 << 20 });
    try {
      const slab = 64 * 1024;
      const sizes = fc.sample(
        fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: slab - 16, max: slab + 16 }), fc.integer({ min: 0, max: 3 * slab })),
        { numRuns: 400, seed: 20261122 },
      );
      const values = sizes.map((n, i) => Buffer.alloc(n, i % 251));
      values.forEach((v, i) => db.put(`v${i}`, v));
      const kept: Buffer[] = [];
      for (let round = 0; round < 3; round++) {
        values.forEach((v, i) => {
          const got = db.get(`v${i}`)!;
          expect(got.equals(v)).toBe(true);
          kept.push(got);
        });
      }
      // Earlier results were not overwritten by later reads.
      kept.forEach((got, j) => expect(got.equals(values[j % values.length]!)).toBe(true));
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
