// Error codes: every native status maps to a TidekvError code, and the errors
// users catch are TidekvErrors with a stable code.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { errorFromStatus, knownStatusCount } from '../lib/errors.js';
import { open, TidekvError, type TidekvErrorCode } from '../lib/index.js';
import { expectRejectsCode, expectThrowsCode, int64Bytes, INT64_MAX, makeTempDir, presetOptions, removeAllTempDirs, ROOT } from './helpers.js';

afterEach(() => removeAllTempDirs());

const require = createRequire(import.meta.url);

/** `kName = N,  // ERR_CODE ...` lines of native/common/status.h. */
function nativeStatusCodes(): { name: string; value: number; code: string | undefined }[] {
  const text = readFileSync(join(ROOT, 'native', 'common', 'status.h'), 'utf8');
  const body = /enum class StatusCode[^{]*\{([\s\S]*?)\};/.exec(text)?.[1];
  if (body === undefined) throw new Error('StatusCode enum not found in status.h');
  return [...body.matchAll(/^\s*(k\w+)\s*=\s*(\d+)\s*,?\s*(?:\/\/\s*(ERR_[A-Z_]+)?.*)?$/gm)].map((m) => ({
    name: m[1]!,
    value: Number(m[2]),
    code: m[3],
  }));
}

describe('status codes', () => {
  it('lib/errors.ts maps every status code the addon can report', () => {
    const addon = require('../build/Release/tidekv.node') as { statusCodeCount: unknown };
    expect(typeof addon.statusCodeCount).toBe('number');
    expect(addon.statusCodeCount).toBeGreaterThan(1);
    expect(knownStatusCount).toBe(addon.statusCodeCount);
  });

  it('status.h agrees with the addon and with lib/errors.ts, code by code', () => {
    const addon = require('../build/Release/tidekv.node') as { statusCodeCount: number };
    const codes = nativeStatusCodes();
    expect(codes.length).toBe(addon.statusCodeCount);
    expect(codes.map((c) => c.value)).toEqual(codes.map((_, i) => i));
    for (const c of codes) {
      if (c.code !== undefined) expect(errorFromStatus(c.value, 'm').code, c.name).toBe(c.code);
    }
    // Every status but kOk (never an error) has its own code.
    const mapped = codes.slice(1).map((c) => errorFromStatus(c.value, 'm').code);
    expect(new Set(mapped).size).toBe(mapped.length);
    expect(mapped).not.toContain('ERR_INTERNAL');
  });

  it('an unknown status becomes ERR_INTERNAL, keeping the message', () => {
    for (const status of [knownStatusCount, knownStatusCount + 1, 255, -1, 1.5, NaN]) {
      const e = errorFromStatus(status, `status ${status}`);
      expect(e).toBeInstanceOf(TidekvError);
      expect(e.code).toBe('ERR_INTERNAL');
      expect(e.message).toBe(`status ${status}`);
    }
  });
});

describe('TidekvError', () => {
  it("is an Error named 'TidekvError' with a code and a message", () => {
    const e = new TidekvError('ERR_LOCKED', 'held elsewhere');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(TidekvError);
    expect(e.name).toBe('TidekvError');
    expect(e.code).toBe('ERR_LOCKED');
    expect(e.message).toBe('held elsewhere');
    expect(String(e)).toBe('TidekvError: held elsewhere');
    expect(e.stack).toContain('TidekvError: held elsewhere');
    expect(Object.prototype.toString.call(e)).toBe('[object Error]');
  });

  it('is what the store throws and rejects with, for each kind of failure', async () => {
    const dir = join(makeTempDir(), 'db');
    const db = await open(dir, presetOptions('hybridlog', 'default'));
    const cases: [TidekvErrorCode, () => unknown][] = [
      ['ERR_INVALID_ARG', () => db.get('')],
      ['ERR_INVALID_ARG', () => db.put('k', 5 as unknown as string)],
      ['ERR_INVALID_ARG', () => db.batch([{ type: 'nope' } as never])],
      ['ERR_TYPE_MISMATCH', () => (db.put('s', 'abc'), db.increment('s'))],
      ['ERR_OVERFLOW', () => (db.put('n', int64Bytes(INT64_MAX)), db.increment('n'))],
    ];
    for (const [code, fn] of cases) {
      const e = expectThrowsCode(fn, code);
      expect(e.stack).toBeDefined();
      expect(e.message.length).toBeGreaterThan(0);
    }
    const locked = await expectRejectsCode(open(dir), 'ERR_LOCKED');
    expect(locked.name).toBe('TidekvError');
    await db.close();
    const closed = expectThrowsCode(() => db.get('k'), 'ERR_CLOSED');
    expect(closed).toBeInstanceOf(Error);
  });
});
