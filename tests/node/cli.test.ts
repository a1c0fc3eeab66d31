// The command line as a user runs it, in child processes: `npm run train` checks
// its output paths and the images' size before training, and `npm run evaluate`
// scores a saved model or refuses a bad file, exiting 1 with a clear error;
// outputs that are links or FIFOs, inputs that are devices, numbers written
// loosely, and a trainer that must not outlive npm.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MNIST_FILES, MNIST_PARTS } from '../../src/engine/data';
import { conv2d, dense, flatten, maxPooling2d } from '../../src/engine/layers';
import { encodeModelFile } from '../../src/engine/modelFile';
import { encodeSafetensors } from '../../src/engine/safetensors';
import { childEnv, repo, scriptArgs } from './child';


interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `npm run <script> -- ...args`: the command package.json gives, without npm's start-up. */
async function cli(script: 'train' | 'evaluate', args: string[], variables: Record<string, string> = {}): Promise<Run> {
  const node = await scriptArgs(script);
  return new Promise((done) => {
    execFile(process.execPath, [...node, ...args], { cwd: repo, env: { ...childEnv, ...variables }, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A model file with this architecture and no weights (header only). */
function weightless(architecture: object): Uint8Array {
  return encodeSafetensors([], { format: 'webgpu-train/1', architecture: JSON.stringify(architecture) });
}

describe('npm run train checks before it trains', () => {
  test('an unknown autotune mode, as --autotune or WEBGPU_TRAIN_AUTOTUNE, is refused, naming it', async () => {
    const flag = await cli('train', ['--model', 'mlp', '--epochs', '1', '--limit', '10', '--autotune', 'fast']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain("--autotune must be one of off, cached, full, got 'fast'");
    expect(flag.stdout).not.toContain('Epoch');
    const variable = await cli('train', ['--model', 'mlp', '--epochs', '1', '--limit', '10'], { WEBGPU_TRAIN_AUTOTUNE: 'fast' });
    expect(variable.code).toBe(1);
    expect(variable.stderr).toContain("WEBGPU_TRAIN_AUTOTUNE must be one of off, cached, full, got 'fast'");
    expect(variable.stdout).not.toContain('Epoch');
  });

  test('--save to a directory: refused before training, nothing left behind', async () => {
    const target = join(dir, 'a-directory');
    await mkdir(target);
    const before = await readdir(dir);
    const run = await cli('train', ['--model', 'mlp', '--epochs', '1', '--limit', '10', '--save', target]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: --save ${target}: is a directory, not a file\n`);
    expect(run.stdout).not.toContain('Epoch');
    expect(await readdir(dir)).toEqual(before);
    expect(await readdir(target)).toEqual([]);
  });

  test('--report to a directory, or into one that does not exist: refused before training', async () => {
    const run = await cli('train', ['--model', 'mlp', '--epochs', '1', '--limit', '10', '--report', `${dir}/`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: --report ${dir}/: is a directory, not a file\n`);
    const missing = join(dir, 'missing', 'report.json');
    const again = await cli('train', ['--model', 'mlp', '--epochs', '1', '--limit', '10', '--report', missing]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`error: --report ${missing}: the directory ${join(dir, 'missing')} does not exist\n`);
    expect(again.stdout).not.toContain('Epoch');
  });

  test('32x32 images: refused with both sizes, not a count that does not add up', async () => {
    const data = join(dir, 'data32');
    await mkdir(data);
    const idx = (dims: number[]) => {
      const bytes = Buffer.alloc(4 + 4 * dims.length + dims.reduce((a, b) => a * b, 1));
      bytes.writeUInt32BE(0x800 + dims.length, 0);
      dims.forEach((d, i) => bytes.writeUInt32BE(d, 4 + 4 * i));
      return bytes;
    };
    for (const part of MNIST_PARTS) await writeFile(join(data, MNIST_FILES[part]), idx(part.endsWith('images') ? [5, 32, 32] : [5]));
    const run = await cli('train', ['--model', 'cnn', '--epochs', '1', '--data', data]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: ${data}: the images are 32x32 but the model takes 28x28 images (input shape [28, 28, 1])\n`);
    expect(run.stdout).not.toContain('Epoch');
  });
});

describe('npm run train says what it does', () => {
  test('--limit 3000: the data, the test image count (all 10,000 unless --test-limit says), no Dawn warning', { timeout: 240_000 }, async () => {
    // Through a pipe, as a terminal or a log sees it (Node's own pipes are sockets, which stderr's filter leaves alone).
    const node = await scriptArgs('train');
    const piped = (args: string[]) =>
      new Promise<Run>((done) => {
        execFile('sh', ['-c', '"$0" "$@" 2>&1 | cat', process.execPath, ...node, ...args], { cwd: repo, env: childEnv, timeout: 240_000 }, (error, stdout, stderr) => {
          done({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
        });
      });
    // The dense model: the CNN's figures would say the same, in minutes here.
    const [all, some] = await Promise.all([piped(['--model', 'mlp', '--limit', '3000', '--epochs', '1']), piped(['--model', 'mlp', '--limit', '300', '--epochs', '1', '--test-limit', '500'])]);
    expect(all.code, all.stdout).toBe(0);
    expect(all.stdout).toMatch(/^data: public\/mnist \(the official MNIST, SHA-256 checked\): 3,000 of 60,000 training images, 10,000 of 10,000 test images$/m);
    expect(all.stdout).toMatch(/^test loss: \d\.\d{4} - test accuracy: \d\.\d{4} \(10,000 test images\)$/m);
    for (const run of [all, some]) {
      expect(run.stdout).not.toContain('Warning');
      expect(run.stdout).not.toContain('artificially reduced');
    }
    expect(some.code, some.stdout).toBe(0);
    expect(some.stdout).toMatch(/^data: .*: 300 of 60,000 training images, 500 of 10,000 test images$/m);
    expect(some.stdout).toMatch(/^test loss: \d\.\d{4} - test accuracy: \d\.\d{4} \(500 test images\)$/m);
  });

  test("an unknown option is refused with the usage and the option it is nearest to: '--epoch'", async () => {
    const runs = await Promise.all([
      cli('train', ['--epoch', '2']),
      cli('train', ['--test-limt', '5']),
      cli('train', ['--zzz']),
      cli('evaluate', ['--lod', 'x.safetensors']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1]);
    expect(runs[0].stderr).toMatch(/^error: unknown option '--epoch' \(did you mean '--epochs'\?\)\nusage: npm run train -- /);
    expect(runs[1].stderr).toMatch(/^error: unknown option '--test-limt' \(did you mean '--test-limit'\?\)\n/);
    expect(runs[2].stderr).toMatch(/^error: unknown option '--zzz'\nusage: npm run train -- /);
    expect(runs[3].stderr).toMatch(/^error: unknown option '--lod' \(did you mean '--load'\?\)\nusage: npm run evaluate -- /);
    for (const run of runs) expect(run.stdout).toBe('');
  });
});

describe('npm run train as Keras users train', () => {
  test('--validation-split with --early-stopping: stops when val_loss stalls, keeps the best epoch, and the report says so', { timeout: 240_000 }, async () => {
    const report = join(dir, 'early.json');
    // A high rate on 600 images: val_loss soon stops improving.
    const args = ['--model', 'mlp', '--epochs', '30', '--limit', '600', '--seed', '3', '--optimizer', 'adam', '--lr', '0.01'];
    const run = await cli('train', [...args, '--validation-split', '0.2', '--early-stopping', '1', '--report', report]);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    const { epochs, stopped } = JSON.parse(await readFile(report, 'utf8'));
    expect(epochs.length).toBeLessThan(30);
    const losses: number[] = epochs.map((e: { logs: { val_loss: number } }) => e.logs.val_loss);
    const best = losses.indexOf(Math.min(...losses));
    expect(stopped).toBe(
      `early stopping after epoch ${epochs.length}: val_loss had not improved for 1 epoch; restored the weights of epoch ${best + 1}, the best val_loss (${losses[best].toFixed(4)})`,
    );
    expect(run.stdout).toContain(`Early stopping after epoch ${epochs.length}`);
    // Keras' split: 480 images train (4 steps of 128), the last 120 validate.
    expect(run.stdout).toMatch(/^4\/4 ━+ .* - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4} \(epoch mean/m);
    for (const epoch of epochs) expect(epoch.learningRate).toBeCloseTo(0.01, 6);
  });

  test('--schedule: the report gives each epoch the rate its schedule reached', { timeout: 240_000 }, async () => {
    const report = join(dir, 'schedule.json');
    // 300 images at 128: 3 steps an epoch; the rate halves every 3 steps.
    const run = await cli('train', ['--model', 'mlp', '--epochs', '2', '--limit', '300', '--optimizer', 'sgd', '--lr', '0.1', '--schedule', 'exponential,decaySteps=3,decayRate=0.5', '--report', report]);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    const { epochs } = JSON.parse(await readFile(report, 'utf8'));
    // After epoch 1 the next update is step 3: 0.1 * 0.5^(3/3); after epoch 2, step 6.
    expect(epochs.map((e: { learningRate: number }) => e.learningRate)).toEqual([Math.fround(0.05), Math.fround(0.025)]);
  });

  test('--precision mixed: the loss scale printed, and in the report after each epoch', { timeout: 240_000 }, async () => {
    const report = join(dir, 'mixed.json');
    const run = await cli('train', ['--model', 'mlp', '--epochs', '2', '--limit', '300', '--precision', 'mixed', '--report', report]);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    // 6 finite steps: the scale is Keras' initial 2^15 throughout.
    expect(run.stdout).toContain('loss scale: 32768\n');
    const { args, epochs } = JSON.parse(await readFile(report, 'utf8'));
    expect(args.precision).toBe('mixed');
    expect(epochs.map((e: { lossScale: number }) => e.lossScale)).toEqual([32768, 32768]);
  });

  test('refused before training: --early-stopping without validation, --validate with --validation-split, a bad --lr, --optimizer, --schedule or --precision', async () => {
    const runs = await Promise.all(
      [
        ['--early-stopping', '2'],
        ['--validate', '--validation-split', '0.1'],
        ['--validation-split', '1'],
        ['--lr', '0'],
        ['--optimizer', 'lion'],
        ['--schedule', 'cosine'],
        ['--schedule', 'linear,decaySteps=10'],
        ['--schedule', 'exponential,decaySteps=10,decayRate=0.9', '--reduce-lr-on-plateau', '--validate'],
        ['--precision', 'half'],
      ].map((extra) => cli('train', ['--model', 'mlp', '--epochs', '1', '--limit', '10', ...extra])),
    );
    expect(runs.map((r) => [r.code, r.stderr.trim()])).toEqual([
      [1, 'error: --early-stopping watches val_loss: it needs --validation-split F or --validate'],
      [1, 'error: --validate and --validation-split each choose the validation data: give one'],
      [1, "error: --validation-split must be a number above 0 and below 1, got '1'"],
      [1, "error: --lr must be a number above 0, got '0'"],
      [1, "error: --optimizer must be one of sgd, momentum, nesterov, rmsprop, adam, adamw, got 'lion'"],
      [1, 'error: cosineDecay(): decaySteps must be a positive integer, got undefined'],
      [1, "error: --schedule must start with one of exponential, cosine, piecewise, got 'linear'"],
      [1, 'error: --reduce-lr-on-plateau sets the rate a --schedule computes: give one'],
      [1, "error: --precision must be one of float32, mixed, got 'half'"],
    ]);
    for (const run of runs) expect(run.stdout).toBe('');
  });
});

describe('npm run evaluate', () => {
  test('scores a model npm run train saved: the test figures train printed, and test image 0', { timeout: 240_000 }, async () => {
    const model = join(dir, 'mlp.safetensors');
    const report = join(dir, 'report.json');
    const train = await cli('train', ['--model', 'mlp', '--epochs', '1', '--limit', '256', '--test-limit', '256', '--seed', '1', '--save', model, '--report', report]);
    // Dawn may print warnings on stderr; an error would start with 'error:'.
    expect(train.stderr).not.toContain('error');
    expect(train.code).toBe(0);
    const trained = /test loss: (\S+) - test accuracy: (\S+)/.exec(train.stdout)!;
    expect(trained).not.toBeNull();
    expect(JSON.parse(await readFile(report, 'utf8')).testImages).toBe(256);

    const run = await cli('evaluate', ['--load', model, '--limit', '256', '--batch-size', '128']);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Total params: 101,770');
    expect(run.stdout).toContain(`test loss: ${trained[1]} - test accuracy: ${trained[2]} (256 test images)\n`);
    expect(run.stdout).toMatch(/^data: public\/mnist \(the official MNIST, SHA-256 checked\): 256 of 10,000 test images$/m);
    expect(run.stdout).toMatch(/prediction for test image 0: \[(\d\.\d\de-\d+, ){9}\d\.\d\de-\d+\]\nargmax \d, true label 7\n/);
    // Nothing but the two files is left in the directory: no temporary file.
    expect((await readdir(dir)).filter((name) => name.includes('.tmp'))).toEqual([]);
  });

  test('refuses a 250-byte file claiming units: 2e7 before the data or the GPU', async () => {
    const file = join(dir, 'huge.safetensors');
    await writeFile(file, weightless({ inputShape: [784], layers: [dense({ units: 2e7, activation: 'relu' }), dense({ units: 10, activation: 'softmax' })] }));
    const run = await cli('evaluate', ['--load', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^error: ${file}: the model needs 256\\.00 GiB at batch 128: .* more than the 2\\.00 GiB a model read from a file may take\n$`));
    expect(run.stdout).toBe('');
  });

  test('refuses a file that is not a model, a directory, a missing file, and no --load', async () => {
    const junk = join(dir, 'junk.bin');
    await writeFile(junk, 'not a model file at all');
    const runs = await Promise.all([
      cli('evaluate', ['--load', junk]),
      cli('evaluate', ['--load', dir]),
      cli('evaluate', ['--load', join(dir, 'absent.safetensors')]),
      cli('evaluate', []),
      cli('evaluate', ['--load', junk, '--limit', '0']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1, 1]);
    expect(runs[0].stderr).toMatch(new RegExp(`^error: ${junk}: not a model file: the header claims \\d+ bytes but the file holds 15 after its length\\n$`));
    expect(runs[1].stderr).toBe(`error: ${dir}: is a directory, not a model file\n`);
    expect(runs[2].stderr).toMatch(new RegExp(`^error: ${join(dir, 'absent.safetensors')}: cannot be read: ENOENT`));
    expect(runs[3].stderr).toMatch(/^error: --load FILE is required\nusage: npm run evaluate -- --load FILE/);
    expect(runs[4].stderr).toBe("error: --limit must be an integer >= 1, got '0'\n");
  });

  test('refuses a model for other images, or fewer classes, than the data holds', async () => {
    /** A valid file of one dense softmax layer from `inputs` values to `units` classes. */
    const denseModel = async (name: string, inputs: number, units: number) => {
      const kernel = { name: 'layers.0.kernel', shape: [inputs, units], values: new Float32Array(inputs * units) };
      const bias = { name: 'layers.0.bias', shape: [units], values: new Float32Array(units) };
      const architecture = { inputShape: [inputs], layers: [dense({ units, activation: 'softmax' })] };
      await writeFile(join(dir, name), encodeSafetensors([kernel, bias], { format: 'webgpu-train/1', architecture: JSON.stringify(architecture) }));
      return join(dir, name);
    };
    const [small, few] = await Promise.all([denseModel('small-images.safetensors', 16, 10), denseModel('five-classes.safetensors', 784, 5)]);
    const runs = await Promise.all([cli('evaluate', ['--load', small]), cli('evaluate', ['--load', few])]);
    expect(runs.map((r) => r.code)).toEqual([1, 1]);
    expect(runs[0].stderr).toBe(`error: ${process.env.MNIST_DIR || 'MNIST'}: the images are 28x28 but the model takes 16 values (input shape [16])\n`);
    expect(runs[1].stderr).toBe(`error: ${few}: the model has 5 outputs but the test labels go up to 9\n`);
  });
});

/** A FIFO made in the test's directory, and what a reader (cat) read from it once the writer closed it. */
function fifoWithReader(name: string): { path: string; read: Promise<Buffer> } {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  const reader = spawn('cat', [path]);
  const chunks: Buffer[] = [];
  reader.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  // Killed if nothing writes (the test failed): a reader left waiting would outlive it.
  const timer = setTimeout(() => reader.kill(), 110_000);
  return { path, read: new Promise((done) => reader.on('close', () => (clearTimeout(timer), done(Buffer.concat(chunks))))) };
}

const QUICK = ['--model', 'mlp', '--epochs', '1', '--limit', '10', '--test-limit', '10'];

describe('npm run train and evaluate: outputs as they are, inputs bounded, numbers as written', () => {
  test('--report to a link keeps the link and fills the file it names; to a FIFO, it writes into the FIFO', { timeout: 240_000 }, async () => {
    await mkdir(join(dir, 'reports'));
    const target = join(dir, 'reports', 'report.json');
    const link = join(dir, 'report-link.json');
    await symlink(target, link);
    const fifo = fifoWithReader('report-fifo');
    const runs = await Promise.all([cli('train', [...QUICK, '--report', link]), cli('train', [...QUICK, '--report', fifo.path])]);
    for (const run of runs) {
      expect(run.stderr).not.toContain('error');
      expect(run.code).toBe(0);
    }
    expect(await readlink(link)).toBe(target);
    expect(JSON.parse(await readFile(target, 'utf8')).testImages).toBe(10);
    expect(JSON.parse((await fifo.read).toString()).testImages).toBe(10);
    expect((await lstat(fifo.path)).isFIFO()).toBe(true);
  });

  // Made in the test's directory: a link to /dev/zero, only ever opened, never read.
  test('an MNIST file linked to /dev/zero, and evaluate --load of one, are refused at once', async () => {
    const data = join(dir, 'zero-data');
    await mkdir(data);
    await symlink('/dev/zero', join(data, MNIST_FILES['train-images']));
    for (const part of MNIST_PARTS.slice(1)) await writeFile(join(data, MNIST_FILES[part]), '');
    const zero = join(dir, 'zero.safetensors');
    await symlink('/dev/zero', zero);
    const started = performance.now();
    const [train, evaluate] = await Promise.all([cli('train', [...QUICK, '--data', data]), cli('evaluate', ['--load', zero])]);
    console.info(`/dev/zero refused by train and evaluate (run at once) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(train.stderr).toBe(`error: ${join(data, MNIST_FILES['train-images'])}: is a character device, not an MNIST file\n`);
    expect(evaluate.stderr).toBe(`error: ${zero}: is a character device, not a model file\n`);
    expect([train.code, evaluate.code]).toEqual([1, 1]);
  });

  test('a 17 KB model whose layers need 2.25 GiB at batch 128 is refused before the data or the GPU', async () => {
    const layers = [
      conv2d({ filters: 334, kernelSize: 1, activation: 'relu', inputShape: [28, 28, 1] }),
      ...Array.from({ length: 8 }, () => maxPooling2d({ poolSize: 1 })),
      maxPooling2d({ poolSize: 28 }),
      flatten(),
      dense({ units: 10, activation: 'softmax' }),
    ];
    const weight = (name: string, shape: number[]) => ({ name, shape, values: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const file = join(dir, 'wide.safetensors');
    const bytes = encodeModelFile({ inputShape: [28, 28, 1], layers }, [
      weight('layers.0.kernel', [1, 1, 1, 334]),
      weight('layers.0.bias', [334]),
      weight('layers.11.kernel', [334, 10]),
      weight('layers.11.bias', [10]),
    ]);
    expect(bytes.length).toBeLessThan(18_000);
    await writeFile(file, bytes);
    const run = await cli('evaluate', ['--load', file]);
    expect(run.stderr).toMatch(new RegExp(`^error: ${file}: the model needs 2\\.25 GiB at batch 128: .* more than the 2\\.00 GiB a model read from a file may take\n$`));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
  });

  test('a model whose outputs are NaN: evaluate says for how many images, and exits 1', async () => {
    const file = join(dir, 'nan.safetensors');
    const kernel = { name: 'layers.1.kernel', shape: [784, 10], values: new Float32Array(7840).fill(NaN) };
    const bias = { name: 'layers.1.bias', shape: [10], values: new Float32Array(10) };
    await writeFile(file, encodeModelFile({ inputShape: [28, 28], layers: [flatten({ inputShape: [28, 28] }), dense({ units: 10, activation: 'softmax' })] }, [kernel, bias]));
    const run = await cli('evaluate', ['--load', file, '--limit', '100']);
    // Dawn may print warnings first.
    expect(run.stderr).toMatch(new RegExp(`(^|\n)error: ${file}: the test loss is NaN: the model's outputs are NaN or infinite for 100 of 100 images\n$`));
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('test accuracy');
  });

  test('integers are decimal digits within range; an empty path is refused; an I/O error names its file', async () => {
    const plain = join(dir, 'plain-file');
    await writeFile(plain, '');
    const runs = await Promise.all([
      cli('train', [...QUICK, '--epochs', '0x2']),
      cli('train', [...QUICK, '--epochs', '1e1']),
      cli('train', [...QUICK, '--seed', '4294967297']),
      cli('train', [...QUICK, '--save', '']),
      cli('train', [...QUICK, '--checkpoint', join(plain, 'checkpoints')]),
      cli('evaluate', ['--load', '']),
      cli('evaluate', ['--load', plain, '--batch-size=-1']),
    ]);
    expect(runs.map((run) => run.stderr)).toEqual([
      "error: --epochs must be an integer >= 1, got '0x2'\n",
      "error: --epochs must be an integer >= 1, got '1e1'\n",
      "error: --seed must be at most 4294967295, got '4294967297'\n",
      "error: --save needs a path, got ''\n",
      `error: ${join(plain, 'checkpoints')}: cannot create the directory: ENOTDIR: not a directory, mkdir '${join(plain, 'checkpoints')}'\n`,
      "error: --load needs a path, got ''\n",
      "error: --batch-size must be an integer >= 1, got '-1'\n",
    ]);
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
    }
  });

  test('--save to a full device (/dev/full, made here with mknod): the error names the file', async () => {
    const full = join(dir, 'full');
    try {
      execFileSync('mknod', [full, 'c', '1', '7'], { stdio: 'ignore' });
    } catch {
      console.info('mknod is not permitted here: the full device case is left to the files tests');
      return;
    }
    const run = await cli('train', [...QUICK, '--save', full]);
    expect(run.stderr).toContain(`error: ${full}: cannot be written: ENOSPC: no space left on device`);
    expect(run.code).toBe(1);
    expect((await lstat(full)).isCharacterDevice()).toBe(true);
  });
});

/** Whether process `pid` is gone: not there, or a zombie waiting to be reaped. */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

describe('npm run train under npm: never outlives it', () => {
  const trainers: number[] = [];
  afterAll(() => {
    for (const pid of trainers) if (!gone(pid)) process.kill(pid, 'SIGKILL');
  });

  /** `npm run train` (npm itself) writing checkpoints in a directory of its own: npm, and the trainer's pid once it holds the lock. */
  async function underNpm(name: string): Promise<{ npm: ChildProcess; trainer: number; checkpoints: string }> {
    const checkpoints = join(dir, name);
    const npm = spawn('npm', ['run', '--silent', 'train', '--', '--model', 'mlp', '--epochs', '1000', '--limit', '500', '--checkpoint', checkpoints], {
      cwd: repo,
      env: childEnv,
      stdio: 'ignore',
    });
    const lock = join(checkpoints, 'checkpoint.lock');
    for (let waited = 0; waited < 60_000; waited += 100) {
      const text = await readFile(lock, 'utf8').catch(() => '');
      if (text) {
        const trainer = Number(text);
        trainers.push(trainer);
        return { npm, trainer, checkpoints };
      }
      await new Promise((wake) => setTimeout(wake, 100));
    }
    npm.kill('SIGKILL');
    throw new Error(`npm run train never took ${lock}`);
  }

  async function expectGone(pid: number, what: string): Promise<number> {
    const started = performance.now();
    while (!gone(pid)) {
      if (performance.now() - started > 15_000) throw new Error(`the trainer (${pid}) is still running 15 s after ${what}`);
      await new Promise((wake) => setTimeout(wake, 100));
    }
    return performance.now() - started;
  }

  test('npm killed with SIGKILL: the trainer stops within seconds; SIGTERM to npm reaches it', { timeout: 240_000 }, async () => {
    const killed = await underNpm('orphan');
    // npm runs the trainer through exec: it is npm's own child, not a shell's.
    const parent = Number(readFileSync(`/proc/${killed.trainer}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    expect(parent).toBe(killed.npm.pid);
    killed.npm.kill('SIGKILL');
    console.info(`trainer gone ${(await expectGone(killed.trainer, 'npm was killed with SIGKILL')).toFixed(0)} ms after npm's SIGKILL`);
    const terminated = await underNpm('terminated');
    terminated.npm.kill('SIGTERM');
    console.info(`trainer gone ${(await expectGone(terminated.trainer, 'npm was sent SIGTERM')).toFixed(0)} ms after npm's SIGTERM`);
  });
});
