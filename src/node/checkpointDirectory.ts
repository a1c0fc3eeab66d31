// A --checkpoint directory: one checkpoint, replaced whole at each write, and
// a lock file naming the process that writes it, so that two runs never take
// turns overwriting one file, and a --resume never removes a live run's work.
// A lock whose process is gone (killed, the machine restarted) is stale and taken over.
import { readFileSync, unlinkSync } from 'node:fs';
import { link, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory, readSafetensorsFile, writeFileAtomically } from './files';

/** The checkpoint's name in the directory. */
export const CHECKPOINT_FILE = 'checkpoint.safetensors';

/** The lock's name in the directory: it holds the owner's process id. */
export const LOCK_FILE = 'checkpoint.lock';

/** Whether process `pid` is running (a zombie, killed but not yet reaped, is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Linux: the state follows the command name's closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/** The process id a lock file names, or undefined when it names none (it cannot be read, or holds something else). */
async function owner(lock: string): Promise<number | undefined> {
  const text = await readFile(lock, 'utf8').catch(() => '');
  return /^[1-9]\d*\n$/.test(text) ? Number(text) : undefined;
}

export interface CheckpointDirectory {
  dir: string;
  /** The checkpoint file. */
  path: string;
  /**
   * The checkpoint to resume from. A run killed while writing one leaves its
   * temporary file (and the previous checkpoint, whole): those of processes
   * that are gone are removed, never another's.
   */
  readResume(): Promise<{ bytes: Uint8Array; source: string }>;
  /** Writes the checkpoint whole or not at all, once the lock is seen to be still ours. */
  write(bytes: Uint8Array): Promise<void>;
  /** Removes the lock (also done when the process exits). */
  release(): void;
}

/**
 * Takes `dir` (made if absent unless `resume`) for this process' checkpoints:
 * refused, naming the process, while another that is running holds it. `what`
 * (`--checkpoint`) starts the errors.
 */
export async function openCheckpointDirectory(dir: string, options: { resume: boolean; what: string }): Promise<CheckpointDirectory> {
  const { what } = options;
  if (!options.resume) await makeDirectory(dir);
  else if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new Error(`${what} ${dir}: no such directory`);
  const lock = join(dir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  // The lock appears whole or not at all: written beside it, then linked to its name (which fails if it exists).
  const temporary = `${lock}.${process.pid}.tmp`;
  await writeFile(temporary, mine).catch((error: Error) => {
    throw new Error(`${what} ${dir}: cannot write its lock: ${error.message}`);
  });
  try {
    for (;;) {
      const taken = await link(temporary, lock).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw new Error(`${what} ${dir}: cannot take its lock ${lock}: ${error.message}`);
          return false;
        },
      );
      if (taken) break;
      const pid = await owner(lock);
      if (pid !== undefined && alive(pid)) {
        throw new Error(`${what} ${dir}: process ${pid} is writing checkpoints there (its lock is ${lock}; if no such run is going on, remove it)`);
      }
      // Stale: its process is gone. Removed, then taken as above (two runs that both found it stale cannot both link).
      await rm(lock, { force: true });
    }
  } finally {
    await rm(temporary, { force: true });
  }

  const release = () => {
    try {
      if (readFileSync(lock, 'utf8') === mine) unlinkSync(lock);
    } catch {
      // Gone already.
    }
  };
  process.once('exit', release);
  const path = join(dir, CHECKPOINT_FILE);
  return {
    dir,
    path,
    async readResume() {
      for (const name of await readdir(dir)) {
        const pid = /^checkpoint\.safetensors\.(\d+)-[0-9a-f]+\.tmp$/.exec(name)?.[1];
        if (pid !== undefined && (Number(pid) === process.pid || !alive(Number(pid)))) await rm(join(dir, name), { force: true });
      }
      return { bytes: await readSafetensorsFile(path, 'a checkpoint'), source: path };
    },
    async write(bytes) {
      const pid = await owner(lock);
      if (pid !== process.pid) {
        throw new Error(`${what} ${dir}: its lock ${lock} names ${pid === undefined ? 'no process' : `process ${pid}`}, not this one (${process.pid}): stopped before overwriting its checkpoint`);
      }
      await writeFileAtomically(path, bytes);
    },
    release,
  };
}
