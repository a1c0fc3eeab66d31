// What a model does before its steps can run, told to a listener as it goes
// (CompileOptions.onProgress): compiling a plan's kernels, timing their
// variants (autotune.ts), putting a data set on the GPU. On a software adapter
// each takes seconds, and a page or a command line shows it.

export interface SetupProgress {
  /** 'compile': a plan's kernels, a part at a time; 'tune': kernel shapes timed in each variant; 'upload': a data set to the GPU. */
  stage: 'compile' | 'tune' | 'upload';
  /** Parts of the stage done, of `total`: told before each part and once at the end (`done === total`). */
  done: number;
  total: number;
  /** The part under way: `layer 2 (conv2d) backward`, `matmul.wgsl:forward M=128 N=10 K=128 bias, variant 3 of 6`. */
  what: string;
}

export type SetupListener = (progress: SetupProgress) => void;

const DOING: Record<SetupProgress['stage'], [string, string]> = {
  compile: ['compiling kernels', 'parts'],
  tune: ['timing kernel variants', 'kernel shapes'],
  upload: ['uploading data', 'data sets'],
};

/** `compiling kernels (3 of 8 parts done): layer 2 (conv2d) backward, batch 128`, for a status line or a terminal. */
export function describeSetup(progress: SetupProgress): string {
  const [doing, parts] = DOING[progress.stage];
  return `${doing} (${progress.done} of ${progress.total} ${parts} done): ${progress.what}`;
}
