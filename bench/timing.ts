// How many repeats fit a time budget. Timestamps and the summaries of
// repeated measurements are the engine's (src/engine/profile.ts).

/** How many repeats of something taking `ms` fit in `budgetMs`, within [min, max]. */
export function repeatsFor(budgetMs: number, ms: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(budgetMs / Math.max(ms, 1e-3))));
}
