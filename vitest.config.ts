// The kernel and training tests run twice: in Node on Dawn, and in headless
// Chromium through Playwright, from the same test files.
import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';

// Debian's Chromium by default; BROWSER_EXECUTABLE names another (Chrome, or
// Playwright's own Chromium when empty).
const executablePath = process.env.BROWSER_EXECUTABLE ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : '');
// SwiftShader by default, so the tests run without a GPU; BROWSER_WEBGPU_ADAPTER=''
// lets Chromium pick the real GPU.
const webgpuAdapter = process.env.BROWSER_WEBGPU_ADAPTER ?? 'swiftshader';

const browserArgs = [
  '--enable-unsafe-webgpu',
  ...(webgpuAdapter ? [`--use-webgpu-adapter=${webgpuAdapter}`] : []),
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const include = ['tests/**/*.test.ts'];
// A software GPU is slow: give each test room.
const testTimeout = 120_000;

export default defineConfig({
  // The browser tests fetch MNIST from wherever tests/setup/mnist.ts found it.
  server: { fs: { strict: false } },
  test: {
    globalSetup: ['tests/setup/mnist.ts'],
    projects: [
      // tests/node/ holds what only Node can do (files, the command line).
      { test: { name: 'node', include, testTimeout, environment: 'node' } },
      {
        test: {
          name: 'chromium',
          include,
          exclude: ['tests/node/**'],
          testTimeout,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            // WebGPU needs a secure context: a page served from 127.0.0.1 is one.
            api: { host: '127.0.0.1' },
            provider: playwright({ launchOptions: { executablePath: executablePath || undefined, args: browserArgs } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
