// Vite serves and builds the web page (index.html, src/app). The dev and preview
// servers also serve a local MNIST directory under /mnist/, so the page can
// load the data without a file picker during development.
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Logger, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/** $MNIST_DIR, else ../shared/data/mnist next to the repository if it exists. */
function mnistDir(): string | undefined {
  if (process.env.MNIST_DIR) return resolve(process.env.MNIST_DIR);
  const shared = resolve(root, '../shared/data/mnist');
  return existsSync(shared) ? shared : undefined;
}

function filesIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => statSync(resolve(dir, name)).isFile());
}

/**
 * GET /mnist/ answers `{ dir, files }` (JSON); GET /mnist/<file name> answers
 * that file's bytes as they are on disk (a .gz stays compressed: the engine
 * decompresses it). Only names listed in the directory are served.
 */
function mnistMiddleware(dir: string | undefined): Connect.NextHandleFunction {
  return (req, res, next) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/mnist' && !path.startsWith('/mnist/')) return next();
    const fail = (status: number, error: string) => {
      res.statusCode = status;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ error }));
    };
    if (!dir || !existsSync(dir)) return fail(404, 'no MNIST directory: set MNIST_DIR or create ../shared/data/mnist');
    const name = decodeURIComponent(path.slice('/mnist/'.length));
    const files = filesIn(dir);
    if (name === '') {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Cache-Control', 'no-store');
      res.end(JSON.stringify({ dir, files }));
      return;
    }
    if (!files.includes(name)) return fail(404, `${name} is not in ${dir}`);
    const file = resolve(dir, name);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(statSync(file).size));
    createReadStream(file).pipe(res);
  };
}

function serveMnist(): Plugin {
  const dir = mnistDir();
  const announce = (logger: Logger) => {
    if (dir && existsSync(dir)) logger.info(`  MNIST: serving ${dir} under /mnist/`);
    else logger.warn(`  MNIST: ${dir ? `MNIST_DIR ${dir} does not exist` : 'no MNIST_DIR and no ../shared/data/mnist'}; /mnist/ is off`);
  };
  return {
    name: 'serve-mnist',
    configureServer(server) {
      announce(server.config.logger);
      server.middlewares.use(mnistMiddleware(dir));
    },
    configurePreviewServer(server) {
      announce(server.config.logger);
      server.middlewares.use(mnistMiddleware(dir));
    },
  };
}

export default defineConfig({
  plugins: [serveMnist()],
  // dist/lib is the library's (vite.lib.config.ts).
  build: { outDir: 'dist/app' },
});
