// Vitest global setup (runs in Node before any test): finds MNIST for the
// training tests, downloading it into the cache when no directory holds it,
// and tells both the Node and the browser tests where its files are.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { defaultCacheDir, loadMnist, mnistPaths } from '../../src/node/mnist';

declare module 'vitest' {
  export interface ProvidedContext {
    mnistFiles: Record<string, string>;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const shared = resolve('../shared/data/mnist');
  let dir = process.env.MNIST_DIR || (existsSync(shared) ? shared : '');
  if (!dir) {
    await loadMnist();
    dir = defaultCacheDir();
  }
  project.provide('mnistFiles', await mnistPaths(dir));
}
