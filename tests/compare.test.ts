// The comparator the kernel tests (expectClose) and the workbench's check share:
// |got - want| <= atol + rtol·|want|, the first mismatches by index, NaN as a mismatch.
import { expect, test } from 'vitest';
import { compare } from '../src/reference/compare';
import { expectClose } from './helpers';

const tol = { atol: 0.01, rtol: 0.1 };

test('compare: both sides of atol + rtol·|want|, mismatches at their index in the shape', () => {
  // Allowed: 0.01 + 0.1·|want|: 0.01 at 0, 0.21 at 2.
  const want = [0, 2, 0, 2, 5, 5];
  const got = [0.01, 2.21, 0.0101, 1.78, 5, 5];
  const c = compare(got, want, tol, [2, 3]);
  expect(c.count).toBe(2);
  expect(c.total).toBe(6);
  expect(c.mismatches).toEqual([
    { index: 2, at: [0, 2], got: 0.0101, want: 0 },
    { index: 3, at: [1, 0], got: 1.78, want: 2 },
  ]);
  expect(c.maxAbs).toBeCloseTo(0.22, 12);
  expect(c.maxRel).toBeCloseTo(0.0101 / 0.01, 12);
  expect(compare(got, want, tol).mismatches.map((m) => m.at)).toEqual([[2], [3]]);
});

test('compare: NaN is a mismatch with infinite error; only the first 8 mismatches are listed', () => {
  const c = compare([1, NaN, 3], [1, 2, 3], tol);
  expect(c.count).toBe(1);
  expect(c.maxAbs).toBe(Infinity);
  expect(c.maxRel).toBe(Infinity);
  const many = compare(new Array(20).fill(1), new Array(20).fill(0), tol);
  expect(many.count).toBe(20);
  expect(many.mismatches.map((m) => m.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
});

test('expectClose: throws listing the first mismatches with their indices, else returns the largest error', () => {
  expect(() => expectClose('y', [0, 1.5, NaN], [0, 1, 1], tol)).toThrow(
    'y: 2 of 3 values differ (atol 0.01, rtol 0.1):\n  [1] got 1.5, expected 1 (error 5.00e-1)\n  [2] got NaN, expected 1 (error NaN)',
  );
  expect(() => expectClose('y', [0], [0, 1], tol)).toThrow('y: got 1 values, expected 2');
  expect(expectClose('y', [0.005, 1.05], [0, 1], tol)).toBeCloseTo(0.05, 12);
});
