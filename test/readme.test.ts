// The README's examples are part of the contract: each ```js block runs in a
// child process against the built package and must print what its comments say.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README examples', () => {
  it('has at least one runnable example', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });
  blocks.forEach((code, i) => {
    it(`example ${i + 1} runs and prints what its comments promise`, () => {
      execFileSync('npm', ['run', 'build:ts', '--silent'], { cwd: root, stdio: 'ignore' });
      const dir = mkdtempSync(join(tmpdir(), 'tidekv-readme-'));
      try {
        const file = join(root, `.readme-example-${process.pid}-${i}.cjs`);
        writeFileSync(file, code);
        let output: string;
        try {
          output = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', env: { ...process.env, TMPDIR: dir } });
        } finally {
          rmSync(file, { force: true });
        }
        // Every `console.log(...); // expected` line promises that output line.
        const promised = [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.+)$/gm)].map((m) => m[1]!.trim());
        expect(output.trim().split('\n')).toEqual(promised);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
