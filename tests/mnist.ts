// MNIST for the training tests, in Node (from disk) and in the browser (fetched
// from the test server, which serves the files tests/setup/mnist.ts found).
import { inject } from 'vitest';
import { mnistFromFiles, MNIST_PARTS, type Mnist, type MnistPart } from '../src/engine/data';

let mnist: Promise<Mnist> | undefined;

async function readAll(): Promise<Mnist> {
  const paths = inject('mnistFiles');
  const files = {} as Record<MnistPart, Uint8Array>;
  for (const part of MNIST_PARTS) {
    if (typeof window === 'undefined') {
      const fsModule = 'node:fs/promises';
      const { readFile } = await import(/* @vite-ignore */ fsModule);
      files[part] = new Uint8Array(await readFile(paths[part]));
    } else {
      const response = await fetch(`/@fs${paths[part]}`);
      if (!response.ok) throw new Error(`fetching ${paths[part]}: HTTP ${response.status}`);
      files[part] = new Uint8Array(await response.arrayBuffer());
    }
  }
  return mnistFromFiles(files);
}

/** MNIST, read once per test file. */
export function testMnist(): Promise<Mnist> {
  mnist ??= readAll();
  return mnist;
}
