// The package as consumers get it: dist/ built by `npm run build:ts`, loaded
// by name (self-reference through package.json `exports`) from CommonJS and
// ESM, and its types compiled by tsc --strict with module node16.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runNode } from './helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');

function run(file: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

// Other test files never read dist/, so rebuilding it here races nothing.
beforeAll(async () => {
  const r = await run('npm', ['run', 'build:ts']);
  expect(r.code, `npm run build:ts failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
}, 180_000);

/** The runtime exports of lib/index.ts, i.e. what both faces of the package must offer. */
const EXPECTED_EXPORTS = ['Store', 'TidekvError', 'open'];

type Exports = string | { [condition: string]: Exports };
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; main: string; types: string; exports: Record<string, Exports> };

/** Resolves an `exports` target for a set of conditions the way Node does (first matching key, in order). */
function resolveExport(target: Exports | undefined, conditions: readonly string[]): string | undefined {
  if (target === undefined || typeof target === 'string') return target;
  for (const [condition, sub] of Object.entries(target)) {
    if (condition === 'default' || conditions.includes(condition)) {
      const r = resolveExport(sub, conditions);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

function allTargets(target: Exports): string[] {
  return typeof target === 'string' ? [target] : Object.values(target).flatMap(allTargets);
}

describe('package', () => {
  it('has every file its main, types and exports map name', () => {
    expect(pkg.name).toBe('tidekv');
    const files = [pkg.main, pkg.types, ...Object.values(pkg.exports).flatMap(allTargets)];
    for (const f of files) expect(existsSync(join(ROOT, f)), f).toBe(true);
    expect(resolveExport(pkg.exports['.'], ['require', 'node'])).toBeDefined();
    expect(resolveExport(pkg.exports['.'], ['import', 'node'])).toBeDefined();
  });

  it("require('tidekv') works from a CommonJS process", async () => {
    const r = await runNode(`require(${JSON.stringify(join(FIXTURES, 'consumer.cjs'))})`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out['resolved']).toBe(join(resolveExport(pkg.exports['.'], ['require', 'node'])!));
    expect(out['exports']).toEqual(expect.arrayContaining(EXPECTED_EXPORTS));
    expect(out).toMatchObject({ value: 'v', counter: '5', code: 'ERR_INVALID_ARG' });
  });

  it("import { open, TidekvError } from 'tidekv' works from an ESM process", async () => {
    const r = await runNode(`import(${JSON.stringify(join(FIXTURES, 'consumer.mjs'))})`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out['resolved']).toBe(join(resolveExport(pkg.exports['.'], ['import', 'node'])!));
    expect(out['exports']).toEqual(expect.arrayContaining(EXPECTED_EXPORTS));
    expect(out).toMatchObject({ sameOpen: true, sameError: true, value: 'v', code: 'ERR_TYPE_MISMATCH' });
  });

  it('the ESM face exports exactly what the CommonJS face does', async () => {
    const r = await runNode(
      `import('tidekv').then((esm) => {
         const cjs = require('tidekv');
         const names = (o) => Object.keys(o).filter((n) => n !== 'default' && n !== '__esModule').sort();
         console.log(JSON.stringify({ esm: names(esm), cjs: names(cjs) }));
       })`,
    );
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { esm: string[]; cjs: string[] };
    expect(out.esm).toEqual(out.cjs);
  });

  it('the public types compile under tsc --noEmit --strict with module node16 (ESM and CommonJS consumers)', async () => {
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    const r = await run(tsc, [
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2022',
      '--types',
      'node',
      join(FIXTURES, 'consumer.mts'),
      join(FIXTURES, 'consumer.cts'),
    ]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
