// The kernel and training tests run twice: in Node on Dawn, and in headless
// Chromium through Playwright, from the same test files.
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { resolve } from 'node:path';
import { chromiumLaunchOptions } from './scripts/chromium-options';

const include = ['tests/**/*.test.ts'];
// The browser tests fetch MNIST from where tests/setup/mnist.ts finds it: the repository or MNIST_DIR.
const mnistDirs = [resolve('.'), ...(process.env.MNIST_DIR ? [resolve(process.env.MNIST_DIR)] : [])];
// A software GPU is slow: give each test room.
const testTimeout = 120_000;

export default defineConfig({
  test: {
    globalSetup: ['tests/setup/mnist.ts'],
    projects: [
      // tests/node/ holds what only Node can do (files, the command line).
      // Kernels run their default variants (autotune 'off'): here, and in the command-line tools the tests start.
      { test: { name: 'node', include, testTimeout, environment: 'node', env: { WEBGPU_TRAIN_AUTOTUNE: 'off' }, setupFiles: ['tests/setup/node-gpu.ts'] } },
      {
        server: { fs: { allow: mnistDirs } },
        test: {
          name: 'chromium',
          include,
          exclude: ['tests/node/**'],
          setupFiles: ['tests/setup/pinned-kernels.ts'],
          testTimeout,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            // WebGPU needs a secure context: a page served from 127.0.0.1 is one.
            api: { host: '127.0.0.1' },
            provider: playwright({ launchOptions: chromiumLaunchOptions }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
