// Float32 results against a float64 reference, |got - want| <= atol + rtol·|want|
// everywhere, with the largest errors and the first mismatches by index (llm.c's
// validate_result): the comparator of the tests (expectClose) and of the workbench's check.

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** float32 on the GPU against float64 on the CPU, for a value summed from few terms. */
export const F32: Tolerance = { atol: 1e-5, rtol: 1e-4 };

/** How far a result is from the reference. */
export interface Comparison {
  /** Largest |got - want|. */
  maxAbs: number;
  /** Largest |got - want| / (|want| + atol): relative, but not blown up where the reference is near zero. */
  maxRel: number;
  /** Values outside the tolerance, of `total`. */
  count: number;
  total: number;
  /** The first few, with their index in the output's shape. */
  mismatches: { index: number; at: number[]; got: number; want: number }[];
}

/** How many mismatches a comparison lists. */
const LISTED = 8;

/** Compares `want.length` values; `shape` (the values as one vector by default) gives the mismatches' `at`. */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, shape: number[] = [want.length]): Comparison {
  const result: Comparison = { maxAbs: 0, maxRel: 0, count: 0, total: want.length, mismatches: [] };
  for (let i = 0; i < want.length; i++) {
    const error = Math.abs(got[i] - want[i]);
    const relative = error / (Math.abs(want[i]) + tol.atol);
    // NaN fails every comparison, so it is caught as a mismatch and counted as infinite error.
    result.maxAbs = Number.isNaN(error) ? Infinity : Math.max(result.maxAbs, error);
    result.maxRel = Number.isNaN(relative) ? Infinity : Math.max(result.maxRel, relative);
    if (!(error <= tol.atol + tol.rtol * Math.abs(want[i]))) {
      result.count++;
      if (result.mismatches.length < LISTED) result.mismatches.push({ index: i, at: indexIn(shape, i), got: got[i], want: want[i] });
    }
  }
  return result;
}

/** The flat index `i` as one index per dimension of `shape` (row-major). */
function indexIn(shape: number[], i: number): number[] {
  const at: number[] = [];
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    at.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return at;
}
