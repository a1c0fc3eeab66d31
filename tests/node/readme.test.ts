// Every command of README.md's shell blocks, run here as the README gives it,
// or, where it cannot run here as written, the way its rule below says, and
// why. A command no rule knows fails the test: a new one comes with its rule.
// A block the README marks `<!-- not run: reason -->` is an example only.
import { execFile, spawn } from 'node:child_process';
import { access, copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { childEnv, repo, scriptArgs } from './child';

interface Command {
  /** As the README gives it: continuation lines joined, the comment dropped. */
  text: string;
  line: number;
}

/** The commands of the markdown's shell blocks, less those of blocks marked `<!-- not run: reason -->`. */
function shellCommands(markdown: string): { commands: Command[]; examples: string[] } {
  const commands: Command[] = [];
  const examples: string[] = [];
  for (const block of markdown.matchAll(/(?:<!-- not run: ([^>]+) -->\n)?```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    const first = markdown.slice(0, block.index).split('\n').length + 1 + (block[1] ? 1 : 0);
    if (block[1]) {
      examples.push(block[1].trim());
      continue;
    }
    let text = '';
    block[2].split('\n').forEach((line, i) => {
      // A comment starts at a # after a space, outside the command's words.
      const code = line.replace(/\s+#\s.*$/, '').replace(/^#.*$/, '');
      text += code.trimEnd().replace(/\\$/, ' ');
      if (code.trimEnd().endsWith('\\')) return;
      if (text.trim()) commands.push({ text: text.trim().replace(/\s+/g, ' '), line: first + i });
      text = '';
    });
  }
  return { commands, examples };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(command: string, cwd = repo, timeout = 240_000): Promise<Run> {
  return new Promise((done) => {
    execFile('sh', ['-c', command], { cwd, env: childEnv, timeout, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** Options and redirections whose operand is a file: a relative one is put in the test's temporary directory. */
const FILE_OPERANDS = ['>', '--source', '--json', '--load', '--save', '--torch', '--from-torch', '--report', '--checkpoint', '--resume'];

/** `command` with its files in `dir`, and `[...]` (the README's optional parts) given. */
function inDir(command: string, dir: string): string {
  const words = command.replace(/\[([^\]]+)\]/g, '$1').split(' ');
  return words.map((word, i) => (i > 0 && FILE_OPERANDS.includes(words[i - 1]) && !isAbsolute(word) ? join(dir, word) : word)).join(' ');
}

/** The options given to --name, replaced (or added) with `value`. */
function withOption(command: string, name: string, value: string): string {
  const pattern = new RegExp(` --${name} \\S+`);
  return pattern.test(command) ? command.replace(pattern, ` --${name} ${value}`) : `${command} --${name} ${value}`;
}

interface Rule {
  match: RegExp;
  /** How the command is treated here, and why, when not as written. */
  how: string;
  /** Runs the command (or what stands for it) and checks what it did. */
  check(command: string, dir: string): Promise<void>;
}

const asWritten = async (command: string, dir: string): Promise<Run> => {
  const run = await sh(inDir(command, dir));
  expect(run.code, `${command}\n${run.stdout}\n${run.stderr}`).toBe(0);
  return run;
};

const RULES: Rule[] = [
  {
    match: /^npm run setup$/,
    how: 'not run: it installs system packages with sudo; scripts/setup.sh is checked by bash -n',
    async check() {
      expect((await sh('bash -n scripts/setup.sh')).code).toBe(0);
    },
  },
  {
    match: /^npm test$/,
    how: 'not run: it is the whole suite, this test among it',
    async check() {
      expect(JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')).scripts.test).toBe('tsc --noEmit && vitest run');
    },
  },
  {
    match: /^npm run (-s )?train -- /,
    how: 'run for 1 epoch on 128 training and 128 test images: 5 epochs of 60,000 take minutes to hours here',
    async check(command, dir) {
      const short = withOption(withOption(withOption(command, 'epochs', '1'), 'limit', '128'), 'test-limit', '128');
      const run = await asWritten(short, dir);
      expect(run.stdout).toMatch(/^test loss: \d\.\d{4} - test accuracy: \d\.\d{4} \(128 test images\)$/m);
    },
  },
  {
    match: /^npm run (-s )?(workbench|evaluate) -- /,
    how: 'run as written, its files in a temporary directory',
    async check(command, dir) {
      const run = await asWritten(command, dir);
      if (/--print > \S+/.test(command)) {
        // The file holds the WGSL, and only it.
        const file = join(dir, /--print > (\S+)/.exec(command)![1]);
        expect(await readFile(file, 'utf8')).toMatch(/^\/\/ /);
      }
      if (command.includes('--list')) expect(run.stdout).toContain('conv2d:forward');
    },
  },
  {
    match: /^npm run (-s )?export -- /,
    how: 'run as written, its files in a temporary directory, on a model npm run train saved there',
    async check(command, dir) {
      await asWritten(command, dir);
    },
  },
  {
    match: /^cd (\S+) && torchrun .* train\.py .*--save (\S+)$/,
    how: "not run: torchrun's 4 processes for 5 epochs (tests/node/torch.test.ts runs train.py under torchrun with 2); the exported weights stand for what it saves, in the same format",
    async check(command, dir) {
      const [, folder, saved] = this.match.exec(command)!;
      await copyFile(join(dir, folder, 'model.safetensors'), join(dir, folder, saved));
    },
  },
  {
    match: /^npm pack$|^mkdir \S+ && cd \S+ && npm init -y && npm pkg set type=module$|^npm install \/path\/to\/webgpu-train-[\d.]+\.tgz$/,
    how: 'run by tests/node/package.test.ts, which packs the project, makes a project as the README does and installs the tarball there',
    async check() {
      const test = await readFile(join(repo, 'tests/node/package.test.ts'), 'utf8');
      expect(test).toContain("'pack'");
      expect(test).toContain("'pkg', 'set', 'type=module'");
    },
  },
  {
    match: /^npm run dev$/,
    how: 'started on a port of its own, asked for the page, and stopped: it serves until stopped',
    async check(command) {
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const server = spawn('sh', ['-c', `${command} -- --port ${port} --strictPort`], { cwd: repo, env: childEnv, detached: true, stdio: 'ignore' });
      try {
        let response: Response | undefined;
        for (let tries = 0; tries < 60 && !response?.ok; tries++) {
          await new Promise((wait) => setTimeout(wait, 1000));
          response = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        }
        expect(response?.ok).toBe(true);
        expect(await response!.text()).toContain('<title>');
      } finally {
        // Its group: npm, the shell and vite.
        process.kill(-server.pid!, 'SIGTERM');
      }
    },
  },
  {
    match: /^npm run build( && npx vite preview)?$|^npx vite preview$/,
    how: 'run by the page tests (tests/node/site.ts), which build the site into a folder of their own and serve it as vite preview does',
    async check() {
      expect(await readFile(join(repo, 'tests/node/site.ts'), 'utf8')).toContain("'build', '--outDir'");
    },
  },
  {
    match: /^npm run bench( -- .*)?$/,
    how: 'checked with --help: the benchmark takes minutes (tests/node/bench-*.test.ts run it)',
    async check() {
      const run = await sh('npm run -s bench -- --help');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('npm run bench -- [--quick]');
    },
  },
];

let readme: string;
let dir: string;

beforeAll(async () => {
  readme = await readFile(join(repo, 'README.md'), 'utf8');
  dir = await mkdtemp(join(tmpdir(), 'readme-'));
  // What the export block starts from: a model npm run train saved (its own command is in the README's text).
  const train = await scriptArgs('train');
  const saved = await sh(`"${process.execPath}" ${train.join(' ')} --model mlp --epochs 1 --limit 128 --test-limit 16 --save ${join(dir, 'model.safetensors')}`);
  expect(saved.code, saved.stderr).toBe(0);
}, 240_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('every command in README.md has a rule, and runs by it', { timeout: 900_000 }, async () => {
  const { commands, examples } = shellCommands(readme);
  expect(commands.length).toBeGreaterThan(0);
  const report: string[] = examples.map((why) => `a block not run: ${why}`);
  // In the README's order: a later command may use what an earlier one wrote.
  for (const command of commands) {
    const rule = RULES.find((r) => r.match.test(command.text));
    if (!rule) throw new Error(`README.md:${command.line}: no rule for '${command.text}': add one to tests/node/readme.test.ts saying how it runs here`);
    await rule.check(command.text, dir);
    report.push(`README.md:${command.line}: ${command.text}\n    ${rule.how}`);
  }
  console.info(report.join('\n'));
});

test('the shell blocks are read as a reader reads them: continuations joined, comments dropped, marked blocks left out', () => {
  const markdown = [
    '```sh',
    'npm run a -- --x 1   # a comment',
    'npm run b -- \\',
    '    --y 2',
    '```',
    '<!-- not run: needs a GPU -->',
    '```sh',
    'npm run c',
    '```',
  ].join('\n');
  expect(shellCommands(markdown)).toEqual({
    commands: [
      { text: 'npm run a -- --x 1', line: 2 },
      { text: 'npm run b -- --y 2', line: 4 },
    ],
    examples: ['needs a GPU'],
  });
  expect(inDir('npm run -s w -- --print > my.wgsl [--json r.json] --source /abs.wgsl', '/t')).toBe('npm run -s w -- --print > /t/my.wgsl --json /t/r.json --source /abs.wgsl');
  expect(withOption('npm run train -- --model cnn --epochs 5', 'epochs', '1')).toBe('npm run train -- --model cnn --epochs 1');
  expect(withOption('npm run train -- --model cnn', 'limit', '128')).toBe('npm run train -- --model cnn --limit 128');
});

test('the files the README shows exist', async () => {
  for (const [, path] of readme.matchAll(/\]\(((?:docs|python|bench|src)\/[^)#\s]+|[A-Z]+\.md)\)/g)) await access(join(repo, path));
});
