// Every command of the shell blocks of README.md and docs/*.md, run here as
// the page gives it, or, where it cannot run here as written, the way its rule
// below says, and why. A command no rule knows fails the test: a new one comes
// with its rule. A block marked `<!-- not run: reason -->` is an example only.
// And every relative link of those pages leads to a file (and heading) that
// exists, and docs/cli.md names every option of every command.
import { execFile, spawn } from 'node:child_process';
import { access, copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { encodeKeras } from '../../src/engine/keras';
import { readModelFile } from '../../src/engine/modelFile';
import { childEnv, repo, scriptArgs } from './child';

interface Command {
  /** As the page gives it: continuation lines joined, the comment dropped. */
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
const FILE_OPERANDS = ['>', '--source', '--json', '--load', '--from', '--save', '--torch', '--from-torch', '--report', '--checkpoint', '--resume'];


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
    match: /^npm run (-s )?(train|evaluate) -- .*--(load|from) (\S+\.(keras|h5))( |$)/,
    how: "the Keras file it names (a real MNIST model, not in the repository) stood in for by the model npm run train saved, as .keras (the format goes by content, so for a name ending in .h5 too); then run by train's or evaluate's rule",
    async check(command, dir) {
      const name = this.match.exec(command)![4];
      const path = isAbsolute(name) ? name : join(dir, name);
      if (!(await access(path).then(() => true, () => false))) await copyFile(join(dir, 'stand-in.keras'), path);
      await RULES.find((rule) => rule !== this && rule.match.test(command))!.check(command, dir);
    },
  },
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

/** The pages a reader follows from the front door: README.md, then docs/*.md by name. */
let pages: { name: string; text: string }[];
let dir: string;

beforeAll(async () => {
  const docs = (await readdir(join(repo, 'docs'))).filter((name) => name.endsWith('.md')).sort();
  pages = await Promise.all(['README.md', ...docs.map((name) => `docs/${name}`)].map(async (name) => ({ name, text: await readFile(join(repo, name), 'utf8') })));
  dir = await mkdtemp(join(tmpdir(), 'readme-'));
  // What the export block starts from: a model npm run train saved (its own command is in docs/cli.md).
  const train = await scriptArgs('train');
  const model = join(dir, 'model.safetensors');
  const saved = await sh(`"${process.execPath}" ${train.join(' ')} --model mlp --epochs 1 --limit 128 --test-limit 16 --save ${model}`);
  expect(saved.code, saved.stderr).toBe(0);
  await writeFile(join(dir, 'stand-in.keras'), await encodeKeras(readModelFile(await readFile(model), model)));
}, 240_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('every command in README.md and docs/*.md has a rule, and runs by it', { timeout: 900_000 }, async () => {
  const report: string[] = [];
  // In the pages' order: a later command may use what an earlier one wrote.
  for (const page of pages) {
    const { commands, examples } = shellCommands(page.text);
    if (page.name === 'README.md') expect(commands.length).toBeGreaterThan(0);
    report.push(...examples.map((why) => `${page.name}: a block not run: ${why}`));
    for (const command of commands) {
      const where = `${page.name}:${command.line}`;
      const rule = RULES.find((r) => r.match.test(command.text));
      if (!rule) throw new Error(`${where}: no rule for '${command.text}': add one to tests/node/readme.test.ts saying how it runs here`);
      await rule.check(command.text, dir);
      report.push(`${where}: ${command.text}\n    ${rule.how}`);
    }
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

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').trim().replace(/\s/g, '-');
}

/** The markdown without its fenced code blocks, where neither links nor headings are. */
const prose = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');

test('anchor() gives the anchors GitHub gives', () => {
  expect(anchor('Kernels chosen on your adapter')).toBe('kernels-chosen-on-your-adapter');
  expect(anchor("`fit`'s options: Keras' names")).toBe('fits-options-keras-names');
  expect(prose('a\n```sh\n# not a heading [x](y)\n```\nb')).toBe('a\n\nb');
});

test('every relative link and image in README.md and docs/*.md leads to a file, and a link to a heading to that heading', async () => {
  const anchors = new Map<string, Set<string>>();
  const anchorsOf = async (file: string) => {
    if (!anchors.has(file)) {
      const headings = [...prose(await readFile(join(repo, file), 'utf8')).matchAll(/^#+\s+(.*)$/gm)].map((m) => anchor(m[1]));
      anchors.set(file, new Set(headings));
    }
    return anchors.get(file)!;
  };
  let links = 0;
  for (const page of pages) {
    for (const [, target] of prose(page.text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, heading] = target.split('#');
      const file = path ? join(dirname(page.name), path) : page.name;
      await access(join(repo, file)).catch(() => expect.fail(`${page.name}: the link ${target} leads to no file (${file})`));
      if (heading !== undefined && file.endsWith('.md')) expect(await anchorsOf(file), `${page.name}: the link ${target}`).toContain(heading);
      links++;
    }
  }
  expect(links).toBeGreaterThan(pages.length);
});

test('docs/cli.md names every option of every command', async () => {
  const cli = await readFile(join(repo, 'docs/cli.md'), 'utf8');
  const scripts = ['train', 'evaluate', 'export', 'workbench', 'bench', 'bench:variants'];
  const helps = await Promise.all(scripts.map(async (script) => sh(`"${process.execPath}" ${(await scriptArgs(script)).join(' ')} --help`)));
  for (const [i, script] of scripts.entries()) {
    const help = helps[i];
    expect(help.code, help.stderr).toBe(0);
    const options = new Set(help.stdout.match(/--[a-z][a-z-]*/g));
    expect(options.size).toBeGreaterThan(0);
    const missing = [...options].filter((option) => !new RegExp(`${option}(?![a-z-])`).test(cli));
    expect(missing, `npm run ${script} -- --help names options docs/cli.md does not`).toEqual([]);
  }
});
