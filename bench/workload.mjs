// YCSB workload pieces shared by the benchmarks: key names, value bytes and
// key choosers (uniform; scrambled zipfian after Gray et al., SIGMOD 1994, as
// YCSB draws them). Key sequences are drawn before timing starts so every
// system measured replays the same sequence.

export const VALUE_BYTES = 100;

/** "user" + a 12-digit number, as in the YCSB setup. */
export function keyName(i) {
  return 'user' + String(i).padStart(12, '0');
}

/**
 * The key strings, flat. `'user' + digits` makes a V8 cons-string (two heap
 * objects), the shape of a key built by concatenation in the hot loop; keys
 * that arrive parsed from input (JSON, a Buffer) are flat. Every system in a
 * run gets the same strings.
 */
export function makeKeys(records) {
  const keys = new Array(records);
  for (let i = 0; i < records; i++) keys[i] = Buffer.from(keyName(i), 'latin1').toString('latin1');
  return keys;
}

/** Small deterministic PRNG (xorshift64*), so runs are reproducible. */
export function rng(seed) {
  let x = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
  return () => {
    x ^= x >> 12n;
    x ^= BigInt.asUintN(64, x << 25n);
    x ^= x >> 27n;
    return Number(BigInt.asUintN(64, x * 0x2545f4914f6cdd1dn) >> 11n) / 2 ** 53;
  };
}

function scramble(rank, n) {
  // A 32-bit mix of the rank (murmur3 finalizer), then into [0, n).
  let h = rank >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % n;
}

export function zipfianSequence(n, count, theta = 0.99, seed = 42) {
  let zetan = 0;
  for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan);
  const halfPowTheta = 1 + Math.pow(0.5, theta);
  const random = rng(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const u = random();
    const uz = u * zetan;
    let rank;
    if (uz < 1) rank = 0;
    else if (uz < halfPowTheta) rank = 1;
    else rank = Math.min(n - 1, Math.floor(n * Math.pow(eta * u - eta + 1, alpha)));
    out[i] = scramble(rank, n);
  }
  return out;
}

export function uniformSequence(n, count, seed = 7) {
  const random = rng(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor(random() * n);
  return out;
}

/** true = write, with probability writeShare. */
export function writeMask(count, writeShare, seed = 3) {
  const random = rng(seed);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = random() < writeShare ? 1 : 0;
  return out;
}

export function makeValue(seed = 1) {
  const random = rng(seed);
  const v = Buffer.allocUnsafe(VALUE_BYTES);
  for (let i = 0; i < VALUE_BYTES; i++) v[i] = Math.floor(random() * 256);
  return v;
}

/** Counter keys for the read-modify-write workload: "cntr" + 12 digits (16 bytes, like keyName). */
export function counterKeyName(i) {
  return 'cntr' + String(i).padStart(12, '0');
}

/** Flat counter key strings, as makeKeys. */
export function makeCounterKeys(records) {
  const keys = new Array(records);
  for (let i = 0; i < records; i++) keys[i] = Buffer.from(counterKeyName(i), 'latin1').toString('latin1');
  return keys;
}

/**
 * A deterministic permutation of [0, n) (Fisher-Yates): the insert order of
 * the load phase, like YCSB's default hashed insert order (keys do not arrive
 * sorted, which would favour B-trees and LSM trees).
 */
export function permutation(n, seed = 11) {
  const random = rng(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * `count` distinct values of `bytes` random bytes each, views of one slab
 * (xorshift32, deterministic). Distinct and incompressible, so a store that
 * compresses blocks (classic-level's snappy) gains nothing from values
 * repeating next to each other, which a real payload would not give it.
 */
export function valuePool(count, bytes, seed = 1) {
  let x = (Math.floor(rng(seed)() * 2 ** 32) >>> 0) || 1;
  const slab = Buffer.allocUnsafe(Math.ceil((count * bytes) / 4) * 4);
  for (let i = 0; i < slab.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    slab.writeUInt32LE(x >>> 0, i);
  }
  const out = new Array(count);
  for (let i = 0; i < count; i++) out[i] = slab.subarray(i * bytes, (i + 1) * bytes);
  return out;
}
