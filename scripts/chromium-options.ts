// How the browser tests and the benchmark launch Chromium: Debian's Chromium on
// SwiftShader by default. BROWSER_EXECUTABLE names another browser (empty: Playwright's
// own Chromium); BROWSER_WEBGPU_ADAPTER='' lets Chromium use the real GPU.
import { existsSync } from 'node:fs';

const debianChromium = '/usr/bin/chromium';
const executable = process.env.BROWSER_EXECUTABLE ?? (existsSync(debianChromium) ? debianChromium : '');
const webgpuAdapter = process.env.BROWSER_WEBGPU_ADAPTER ?? 'swiftshader';

export const chromiumLaunchOptions = {
  executablePath: executable || undefined,
  args: [
    '--enable-unsafe-webgpu',
    ...(webgpuAdapter ? [`--use-webgpu-adapter=${webgpuAdapter}`] : []),
    '--no-sandbox',
    // This machine has no network: keep Chromium from trying.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    // Without it Chromium rounds GPU timestamps to 100 µs, coarser than most kernels.
    '--enable-webgpu-developer-features',
  ],
};
