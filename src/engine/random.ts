// A small seeded generator, so that initialisation, shuffling and test inputs are reproducible.

/** A generator of floats in [0, 1) whose whole state is one u32, readable and settable (checkpoints save it). */
export interface Random {
  (): number;
  state: number;
}

/** Floats uniform in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRandom(seed: number): Random {
  const next = (() => {
    next.state = (next.state + 0x6d2b79f5) >>> 0;
    let t = next.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Random;
  next.state = seed >>> 0;
  return next;
}
