// The time limit on a workbench run. An edited kernel can loop for ever (a
// `break` it never reaches), and nothing stops one kernel on a GPU: only its
// device's loss. So a run that passes its limit is given up on, and whoever
// owns the device destroys it, or the process holding it ends (the page and
// the CLI, in page.ts and src/cli/workbench.ts).

/** Seconds each stage of a run (a kernel's check or timing, a training step) may take unless told: 30. */
export const DEFAULT_TIME_LIMIT_S = 30;

/** The longest limit a timer can count (2^31 - 1 ms): about 24.8 days. */
export const LONGEST_LIMIT_S = Math.floor((2 ** 31 - 1) / 1000);

/** A run given up on: `stage` did not finish within `seconds`, and its device is still busy with it. */
export class DidNotFinish extends Error {
  constructor(
    readonly stage: string,
    readonly seconds: number,
  ) {
    super(`${stage} did not finish in ${seconds} s`);
    this.name = 'DidNotFinish';
  }
}

/** Throws unless `seconds` is a time limit a timer can count. */
export function checkTimeLimit(seconds: number): void {
  if (!(seconds > 0 && seconds <= LONGEST_LIMIT_S)) throw new Error(`a time limit must be a number of seconds above 0 and at most ${LONGEST_LIMIT_S}, got ${seconds}`);
}

/**
 * `work`'s outcome, or a DidNotFinish error once `seconds` pass in one of its
 * stages: `work` calls `stage` as it starts each (naming it for the error),
 * which starts the stage's clock. Nothing stops the work itself; what it comes
 * to after the limit is dropped.
 */
export function withinTimeLimit<T>(seconds: number, work: (stage: (what: string) => void) => Promise<T>): Promise<T> {
  checkTimeLimit(seconds);
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const stage = (what: string) => {
      clearTimeout(timer);
      if (!settled) timer = setTimeout(() => reject(new DidNotFinish(what, seconds)), seconds * 1000);
    };
    Promise.resolve()
      .then(() => work(stage))
      .then(resolve, reject)
      .finally(() => {
        settled = true;
        clearTimeout(timer);
      });
  });
}
