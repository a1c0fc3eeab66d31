// Vitest global setup (runs in Node before any test): tells both the Node and
// the browser tests where MNIST's files are: the repository's copy, unless
// MNIST_DIR names another directory.
import type { TestProject } from 'vitest/node';
import { BUILT_IN_MNIST_DIR, mnistPaths } from '../../src/node/mnist';

declare module 'vitest' {
  export interface ProvidedContext {
    mnistFiles: Record<string, string>;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide('mnistFiles', await mnistPaths(process.env.MNIST_DIR || BUILT_IN_MNIST_DIR));
}
