import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, TidekvError } from '../lib/index.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tidekv-smoke-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('open', () => {
  it('stores and reads back a value', async () => {
    const db = await open(tempDir());
    db.put('k', 'v');
    expect(db.get('k')?.toString()).toBe('v');
    await db.close();
  });
  it('refuses an engine that is not there yet', async () => {
    await expect(open(tempDir(), { engine: 'lsm' })).rejects.toBeInstanceOf(TidekvError);
  });
});
