// PyTorch's side of the benchmark, Node only: python/bench.py in a child process
// trains the same model on the same batch natively on the CPU, and answers
// "N steps" with their wall time, one JSON line each way.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Model } from '../src/engine';
import type { CpuTrainer } from './suite';

/** Debian's python3-torch lives here; the first `python3` on PATH may be another without torch. BENCH_PYTHON overrides it. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

const SCRIPT = fileURLToPath(new URL('../python/bench.py', import.meta.url));

/** How long an answer may take (starting Python and importing torch, or one stretch of steps) before the process is given up. */
const ANSWER_MS = 120_000;

type Answer = { error: string } | Record<string, unknown>;

const base64 = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');

export class PytorchTrainer implements CpuTrainer {
  private readonly waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void }[] = [];
  private failure?: Error;
  private stderr = '';
  private readonly exited: Promise<void>;
  /** PyTorch's version, Python's and how many threads, once started. */
  about = '';

  private constructor(
    private readonly python: string,
    private readonly child: ReturnType<typeof spawn>,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let answer: Answer;
      try {
        answer = JSON.parse(line) as Answer;
      } catch {
        return; // not ours: a library printing to stdout
      }
      this.waiting.shift()?.resolve(answer);
    });
    child.stderr!.on('data', (chunk) => (this.stderr = (this.stderr + chunk).slice(-2000)));
    this.exited = new Promise((done) => {
      child.on('error', (error: NodeJS.ErrnoException) => {
        this.fail(new Error(error.code === 'ENOENT' ? `${python} not found (BENCH_PYTHON names the Python to use)` : `${python}: ${error.message}`));
        done();
      });
      child.on('close', (code, signal) => {
        const last = this.stderr.trim().split('\n').at(-1);
        this.fail(new Error(`${python} ${signal ? `was killed (${signal})` : `exited (code ${code})`} before answering${last ? `: ${last}` : ''}`));
        done();
      });
    });
    child.stdin!.on('error', () => undefined); // a write to a process that is gone: its close says why
  }

  /**
   * Python with PyTorch training `model` on the first `batch` rows of `data`.
   * Rejects, with the reason as its message, when `python` is missing, has no torch or cannot build the model.
   */
  static async start(model: Model, batch: number, data: { x: Float32Array; labels: Uint32Array }, python = process.env.BENCH_PYTHON || DEFAULT_PYTHON): Promise<PytorchTrainer> {
    // -B: no __pycache__ written into python/.
    const child = spawn(python, ['-B', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const trainer = new PytorchTrainer(python, child);
    try {
      const started = await trainer.answer();
      trainer.about = `${started.torch}, Python ${started.python} (${python}), ${started.threads} threads`;
      const rowSize = data.x.length / data.labels.length;
      const architecture = { inputShape: [...model.inputShape], layers: model.layers };
      await trainer.request({
        architecture,
        batch,
        x: base64(data.x.subarray(0, batch * rowSize)),
        labels: base64(Int32Array.from(data.labels.subarray(0, batch))),
      });
      return trainer;
    } catch (error) {
      await trainer.close();
      throw error;
    }
  }

  /** `count` training steps; returns their wall time, as Python measured it. */
  async steps(count: number): Promise<number> {
    const { ms } = await this.request({ steps: count });
    return ms as number;
  }

  /** Ends the process (stdin's end; a kill if it lingers). */
  async close(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const { reject } of this.waiting.splice(0)) reject(this.failure);
  }

  private async request(message: object): Promise<Record<string, unknown>> {
    if (this.failure) throw this.failure;
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
    return this.answer();
  }

  private answer(): Promise<Record<string, unknown>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`${this.python} gave no answer in ${ANSWER_MS / 1000} s`));
        this.child.kill('SIGKILL');
      }, ANSWER_MS);
      this.waiting.push({
        resolve: (answer) => {
          clearTimeout(timer);
          if (typeof answer.error === 'string') reject(new Error(answer.error));
          else resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
}
