// Lifecycle: the directory lock (same thread, worker threads, child processes),
// reopening, close() racing compact(), and lock release when a store is never
// closed (worker terminated, garbage collected, process killed).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { open, TidekvError, type Store } from '../lib/index.js';
import {
  ENGINES,
  expectRejectsCode,
  makeTempDir,
  presetOptions,
  pseudoRandomBytes,
  removeTempDir,
  runNode,
  transpileLibForChildren,
} from './helpers.js';

let lib: { root: string; index: string };
beforeAll(async () => {
  lib = await transpileLibForChildren();
});
afterAll(() => removeTempDir(lib.root));

const dirs: string[] = [];
function newDir(): string {
  const base = makeTempDir();
  dirs.push(base);
  return join(base, 'db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) removeTempDir(d);
});

/** Writes enough to reach disk in the tinyMemory preset; returns what it wrote. */
function fill(db: Store, n = 400, size = 2000): Map<string, Buffer> {
  const model = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const v = pseudoRandomBytes(size, i);
    db.put(`k${i}`, v);
    model.set(`k${i}`, v);
  }
  return model;
}

function expectHolds(db: Store, model: Map<string, Buffer>): void {
  for (const [k, v] of model) expect(db.get(k)?.equals(v), k).toBe(true);
  expect(db.stats().keys).toBe(model.size);
  db.verify();
}

/** Runs `body` (CommonJS, with `open`, `dir`, `options` and `post(msg)` in scope) in a worker thread. */
function startWorker(dir: string, options: object, body: string): { worker: Worker; messages: unknown[]; next: () => Promise<unknown>; exited: Promise<number> } {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { open, TidekvError } = require(workerData.lib);
    const { dir, options } = workerData;
    const post = (m) => parentPort.postMessage(m);
    const describeError = (e) => ({ code: e && e.code, name: e && e.name, isTidekvError: e instanceof TidekvError, message: String(e && e.message) });
    (async () => { ${body} })().catch((e) => post({ crashed: describeError(e) }));
  `;
  const worker = new Worker(code, { eval: true, workerData: { lib: lib.index, dir, options } });
  const messages: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  worker.on('message', (m) => {
    const w = waiters.shift();
    if (w !== undefined) w(m);
    else messages.push(m);
  });
  const exited = new Promise<number>((resolve, reject) => {
    worker.on('exit', resolve);
    worker.on('error', reject);
  });
  const next = () =>
    messages.length > 0
      ? Promise.resolve(messages.shift())
      : new Promise<unknown>((resolve, reject) => {
          waiters.push(resolve);
          void exited.then((code) => reject(new Error(`worker exited (${code}) before posting a message`)), reject);
        });
  return { worker, messages, next, exited };
}

/** Spawns a node child running `script`; resolves each stdout line via nextLine(). */
function spawnChild(script: string, nodeArgs: string[] = []) {
  const child = spawn(process.execPath, [...nodeArgs, '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buffered = '';
  let stderr = '';
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiters.shift();
      if (w !== undefined) w(line);
      else lines.push(line);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const nextLine = () =>
    lines.length > 0
      ? Promise.resolve(lines.shift()!)
      : new Promise<string>((resolve, reject) => {
          waiters.push(resolve);
          void exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) early; stderr: ${stderr}`)));
        });
  return { child, nextLine, exited, stderr: () => stderr };
}

describe.each(ENGINES)('%s: lifecycle', (engine) => {
  const tiny = presetOptions(engine, 'tinyMemory');

  describe('directory lock', () => {
    it('a second open of the same dir gets ERR_LOCKED and does not disturb the first', async () => {
      const dir = newDir();
      const db = await open(dir, tiny);
      const model = fill(db);
      expect(db.stats().diskBytes).toBeGreaterThan(0);
      await expectRejectsCode(open(dir, tiny), 'ERR_LOCKED');
      await expectRejectsCode(open(dir, presetOptions(engine, 'default')), 'ERR_LOCKED');
      await expectRejectsCode(open(dir + '/', tiny), 'ERR_LOCKED');
      // Another directory is independent.
      const other = await open(newDir(), tiny);
      other.put('x', 'y');
      await other.close();
      expectHolds(db, model);
      await db.close();
    });

    it('a worker thread gets ERR_LOCKED for a dir the main thread holds, and the other way round', async () => {
      const dir = newDir();
      const db = await open(dir, tiny);
      db.put('main', 'held');
      const w1 = startWorker(dir, tiny, `
        try { const db = await open(dir, options); await db.close(); post({ opened: true }); }
        catch (e) { post(describeError(e)); }
      `);
      expect(await w1.next()).toMatchObject({ code: 'ERR_LOCKED', name: 'TidekvError', isTidekvError: true });
      expect(await w1.exited).toBe(0);
      expect(db.get('main')?.toString()).toBe('held');
      await db.close();

      // The worker holds it now; the main thread is refused until it closes.
      const w2 = startWorker(dir, tiny, `
        const db = await open(dir, options);
        db.put('worker', 'held');
        post('opened');
        parentPort.once('message', async () => { await db.close(); post('closed'); });
      `);
      expect(await w2.next()).toBe('opened');
      await expectRejectsCode(open(dir, tiny), 'ERR_LOCKED');
      w2.worker.postMessage('close');
      expect(await w2.next()).toBe('closed');
      expect(await w2.exited).toBe(0);
      const again = await open(dir, tiny);
      await again.close();
    });

    it('a child process gets ERR_LOCKED for a dir this process holds, and the other way round', async () => {
      const dir = newDir();
      const db = await open(dir, tiny);
      const r = await runNode(`
        const { open, TidekvError } = require(${JSON.stringify(lib.index)});
        open(${JSON.stringify(dir)}, ${JSON.stringify(tiny)}).then(
          async (db) => { await db.close(); console.log(JSON.stringify({ opened: true })); },
          (e) => console.log(JSON.stringify({ code: e.code, isTidekvError: e instanceof TidekvError })));
      `);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({ code: 'ERR_LOCKED', isTidekvError: true });
      await db.close();

      const child = spawnChild(`
        const { open } = require(${JSON.stringify(lib.index)});
        open(${JSON.stringify(dir)}, ${JSON.stringify(tiny)}).then((db) => {
          console.log('opened');
          process.stdin.once('data', async () => { await db.close(); console.log('closed'); process.exit(0); });
        }, (e) => console.log('error ' + e.code));
      `);
      expect(await child.nextLine()).toBe('opened');
      await expectRejectsCode(open(dir, tiny), 'ERR_LOCKED');
      child.child.stdin.write('close\n');
      expect(await child.nextLine()).toBe('closed');
      expect((await child.exited).code).toBe(0);
      const again = await open(dir, tiny);
      await again.close();
    });
  });

  describe('concurrent opens', () => {
    it('two opens of one dir at once: exactly one succeeds, the other gets ERR_LOCKED', async () => {
      const dir = newDir();
      const results = await Promise.allSettled([open(dir, tiny), open(dir, tiny), open(dir, tiny)]);
      const opened = results.filter((r): r is PromiseFulfilledResult<Store> => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(opened.length).toBe(1);
      for (const r of refused) {
        expect(r.reason).toBeInstanceOf(TidekvError);
        expect((r.reason as TidekvError).code).toBe('ERR_LOCKED');
      }
      await opened[0]!.value.close();
    });
  });

  describe('process exit without close()', () => {
    it('exits cleanly, also with a compaction in flight, and leaves the dir unlocked', async () => {
      for (const how of ['natural', 'process.exit', 'compacting']) {
        const dir = newDir();
        const r = await runNode(`
          const { open } = require(${JSON.stringify(lib.index)});
          open(${JSON.stringify(dir)}, ${JSON.stringify(tiny)}).then((db) => {
            for (let r = 0; r < 3; r++) for (let i = 0; i < 500; i++) db.put('k' + i, Buffer.alloc(1500 - 100 * r, i));
            console.log('written');
            if (${JSON.stringify(how)} === 'compacting') { db.compact().catch(() => {}); process.exit(0); }
            if (${JSON.stringify(how)} === 'process.exit') process.exit(0);
          });
        `);
        expect(r.stderr, how).toBe('');
        expect(r.code, how).toBe(0);
        expect(r.stdout.trim(), how).toBe('written');
        const db = await open(dir, tiny);
        await db.close();
      }
    });
  });

  describe('reopen', () => {
    it('works after close, and starts empty (no checkpoints yet: documented behaviour)', async () => {
      const dir = newDir();
      const db = await open(dir, tiny);
      fill(db);
      expect(db.stats().diskBytes).toBeGreaterThan(0);
      await db.close();
      expect(db.closed).toBe(true);

      const again = await open(dir, tiny);
      expect(again.stats().keys).toBe(0);
      expect(again.stats().diskBytes).toBe(0);
      expect(again.get('k0')).toBeUndefined();
      expect(again.getMany(['k1', 'k399'])).toEqual([undefined, undefined]);
      // And it is fully usable.
      const model = fill(again, 300, 1500);
      expectHolds(again, model);
      await again.close();

      // Many open/close cycles do not leak the lock.
      for (let i = 0; i < 20; i++) {
        const s = await open(dir, presetOptions(engine, i % 2 === 0 ? 'default' : 'tinyMemory'));
        s.put('i', String(i));
        await s.close();
      }
      const last = await open(dir, tiny);
      expect(last.stats().keys).toBe(0);
      await last.close();
    });
  });

  describe('restore() and close() while a checkpoint is being written', () => {
    // Found by the LSM's native fault tests: Close waited for the version
    // counter to pass the cuts it saw, and a restore lowered that counter,
    // so close() never returned.
    for (const ticks of [0, 1, 2]) {
      it(`all three settle, and the store reopens at a version they reported (close after ${ticks} ticks)`, async () => {
        const dir = newDir();
        const db = await open(dir, tiny);
        fill(db, 200, 500);
        const v1 = (await db.checkpoint()).version;
        fill(db, 200, 700);
        await db.checkpoint();
        fill(db, 200, 900);
        const writing = db.checkpoint();
        const restoring = db.restore(v1);
        for (let i = 0; i < ticks; i++) await new Promise<void>((r) => setImmediate(r));
        const closing = db.close();
        const [w, r, c] = await Promise.allSettled([writing, restoring, closing]);
        expect(w.status).toBe('fulfilled');
        expect(c.status).toBe('fulfilled');
        if (r.status === 'rejected') expect((r.reason as TidekvError).code).toBe('ERR_CLOSED');
        const again = await open(dir, tiny);
        try {
          expect(again.version).toBe(r.status === 'fulfilled' ? v1 : v1 + 2);
          again.verify();
        } finally {
          await again.close();
        }
      });
    }
  });

  describe('close() while compact() is in flight', () => {
    for (const ticks of [0, 1, 3]) {
      it(`both promises settle and the lock is released (close after ${ticks} ticks)`, async () => {
        const dir = newDir();
        const db = await open(dir, engine === 'hybridlog' ? { ...tiny, compactionSliceMicros: 50 } : tiny);
        for (let round = 0; round < 8; round++) fill(db, 400, 1500); // ~4.8 MB of mostly dead records
        const compacting = db.compact();
        for (let i = 0; i < ticks; i++) await new Promise<void>((r) => setImmediate(r));
        const closing = db.close();
        const [c, cl] = await Promise.allSettled([compacting, closing]);
        expect(cl.status).toBe('fulfilled');
        if (c.status === 'rejected') {
          expect(c.reason).toBeInstanceOf(TidekvError);
          expect((c.reason as TidekvError).code).toBe('ERR_CLOSED');
        } else {
          expect(c.value.recordsScanned).toBeGreaterThanOrEqual(0);
        }
        const again = await open(dir, tiny);
        again.put('after', 'ok');
        expect(again.get('after')?.toString()).toBe('ok');
        again.verify();
        await again.close();
      });
    }
  });

  describe('lock release without close()', () => {
    it('a worker thread terminated without close releases the lock', async () => {
      const dir = newDir();
      const w = startWorker(dir, tiny, `
        const db = await open(dir, options);
        for (let i = 0; i < 600; i++) db.put('k' + i, Buffer.alloc(1500, i));
        post('opened');
        setInterval(() => {}, 1000); // stay alive until terminated
      `);
      expect(await w.next()).toBe('opened');
      await expectRejectsCode(open(dir, tiny), 'ERR_LOCKED');
      await w.worker.terminate();
      await w.exited;
      const db = await open(dir, tiny);
      db.put('main', 'ok');
      expect(db.stats().keys).toBe(1);
      await db.close();
    });

    // Terminating a worker while one of its stores has a Promise-returning call
    // in flight. Run in a child process: today it aborts the whole process.
    //
    // BUG: when a worker thread is terminated while compact() or open() is in
    // flight, the AsyncWorker's completion runs during the worker's environment
    // teardown, where JS cannot run: rejecting the Promise (ThrowStatus ->
    // error factory -> napi_throw) fails and node-addon-api aborts the process
    // with "FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw" (the main
    // thread and every other worker die with it).
    for (const inFlight of ['compact', 'open'] as const) {
      it(`terminating a worker with ${inFlight}() in flight does not crash the process and releases the lock`, async () => {
        const dir = newDir();
        const script = `
          const { Worker } = require('node:worker_threads');
          const { open } = require(${JSON.stringify(lib.index)});
          const dir = ${JSON.stringify(dir)};
          const options = ${JSON.stringify(tiny)};
          const worker = new Worker(\`
            const { parentPort, workerData } = require('node:worker_threads');
            const { open } = require(workerData.lib);
            (async () => {
              if (workerData.inFlight === 'compact') {
                const db = await open(workerData.dir, workerData.options);
                for (let r = 0; r < 3; r++) for (let i = 0; i < 600; i++) db.put('k' + i, Buffer.alloc(1500 - r * 100, i));
                db.compact().catch(() => {});
              } else {
                // Two at once: one will succeed and one fail with ERR_LOCKED.
                open(workerData.dir, workerData.options).catch(() => {});
                open(workerData.dir, workerData.options).catch(() => {});
              }
              parentPort.postMessage('started');
              setInterval(() => {}, 1000);
            })();
          \`, { eval: true, workerData: { lib: ${JSON.stringify(lib.index)}, dir, options, inFlight: ${JSON.stringify(inFlight)} } });
          worker.once('message', async () => {
            await worker.terminate();
            for (let attempt = 0; attempt < 1000; attempt++) {
              try {
                const db = await open(dir, options);
                await db.close();
                console.log('reopened');
                return;
              } catch (e) {
                if (e.code !== 'ERR_LOCKED') { console.log('error ' + e.code); return; }
              }
              await new Promise((r) => setImmediate(r));
            }
            console.log('still locked');
          });
        `;
        // Several rounds: the crash depends on timing.
        for (let round = 0; round < 6; round++) {
          const r = await runNode(script);
          expect(r.stderr).toBe('');
          expect(r.signal).toBeNull();
          expect(r.code).toBe(0);
          expect(r.stdout.trim()).toBe('reopened');
        }
      });
    }

    it('a store garbage-collected without close releases its lock eventually', async () => {
      const dir = newDir();
      const r = await runNode(
        `
        const { open } = require(${JSON.stringify(lib.index)});
        const dir = ${JSON.stringify(dir)};
        const options = ${JSON.stringify(tiny)};
        async function openAndDrop() {
          const db = await open(dir, options);
          for (let i = 0; i < 300; i++) db.put('k' + i, Buffer.alloc(2000, i));
          // While it is referenced, the lock is held.
          const locked = await open(dir, options).then((d) => { d.close(); return 'opened'; }, (e) => e.code);
          return locked;
        }
        (async () => {
          const whileHeld = await openAndDrop();
          let attempts = 0;
          for (;;) {
            global.gc();
            await new Promise((r) => setImmediate(r));
            attempts++;
            try {
              const db = await open(dir, options);
              const keys = db.stats().keys;
              await db.close();
              console.log(JSON.stringify({ whileHeld, released: true, attempts, keys }));
              return;
            } catch (e) {
              if (e.code !== 'ERR_LOCKED') { console.log(JSON.stringify({ whileHeld, error: e.code })); return; }
            }
            if (attempts >= 5000) { console.log(JSON.stringify({ whileHeld, released: false, attempts })); return; }
          }
        })();
      `,
        { nodeArgs: ['--expose-gc'] },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(result).toMatchObject({ whileHeld: 'ERR_LOCKED', released: true, keys: 0 });
    });

    it('SIGKILL of a child process holding a store releases the lock', async () => {
      const dir = newDir();
      const child = spawnChild(`
        const { open } = require(${JSON.stringify(lib.index)});
        open(${JSON.stringify(dir)}, ${JSON.stringify(tiny)}).then((db) => {
          for (let i = 0; i < 600; i++) db.put('k' + i, Buffer.alloc(1500, i));
          db.compact();
          console.log('ready');
          setInterval(() => { db.put('tick', String(Date.now())); }, 1);
        }, (e) => console.log('error ' + e.code));
      `);
      expect(await child.nextLine()).toBe('ready');
      await expectRejectsCode(open(dir, tiny), 'ERR_LOCKED');
      child.child.kill('SIGKILL');
      const exit = await child.exited;
      expect(exit.signal).toBe('SIGKILL');
      const db = await open(dir, tiny);
      expect(db.stats().keys).toBe(0); // reopening starts empty (no checkpoints yet)
      db.put('after', 'kill');
      expect(db.get('after')?.toString()).toBe('kill');
      db.verify();
      await db.close();
    });
  });
});
