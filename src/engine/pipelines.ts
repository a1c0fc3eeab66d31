// Compute pipelines built from WGSL by reflection: the shader declares its
// bindings and its `params` uniform once, and TypeScript derives the bind group
// layout, binds buffers by name and fills the uniform by member name.
import { createUniformBuffer } from './buffers';
import { printable } from './safetensors';
import { WgslReflect, type FunctionInfo, type VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';

/** A WGSL file: its name (for error messages) and its source text. */
export interface Shader {
  file: string;
  source: string;
  /**
   * Functions it uses from a shared file (activate.wgsl), appended to the
   * source when compiled (after it, so that messages keep the file's line
   * numbers); a kernel override of this shader gets them too.
   */
  library?: string;
}

/** What is compiled: the source and its library. */
function code(shader: Shader): string {
  return shader.library ? `${shader.source}\n${shader.library}` : shader.source;
}

/** WGSL `override` values, set when the pipeline is created. */
export type Constants = Record<string, number>;

interface BindingInfo {
  binding: number;
  type: GPUBufferBindingType;
}

interface UniformMember {
  offset: number;
  type: string;
}

/** One entry point of a shader, compiled, with what is needed to bind and dispatch it. */
export interface Kernel {
  /** `file:entryPoint`, used in labels and errors. */
  name: string;
  pipeline: GPUComputePipeline;
  bindings: Map<string, BindingInfo>;
  /** The members of the `params` uniform struct, when the entry point uses one. */
  params: { size: number; members: Map<string, UniformMember> } | null;
  workgroupSize: [number, number, number];
  /** The bind group layout of its pipeline (an override's pipeline shares the built-in's). */
  layout: GPUBindGroupLayout;
  /** The shader's library (Shader.library), which an override of this kernel is compiled with too. */
  library?: string;
}

/**
 * The work a dispatch does, counted from its shapes: FLOPs (a multiply-add is
 * two) and the compulsory traffic in bytes (each input read once, each output
 * written once; scratch buffers of multi-pass kernels not counted).
 */
export interface Work {
  flops: number;
  bytes: number;
}

/** A kernel bound to its buffers, ready to be recorded any number of times. */
export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** Buffers made for this dispatch alone (its uniform, scratch space), freed with it. */
  owned: GPUBuffer[];
  /** Null for a pass whose work is counted with the dispatch before it (a second reduction pass, a transpose). */
  work: Work | null;
  /** What it belongs to in a model (`layer 2 (conv2d)`, `loss`, `optimizer`): set by the graph. */
  site?: string;
  /** How it was sized and specialised, kept so that a kernel override can size it again. */
  grid: Grid;
  constants: Constants;
  /** Other ways to compute the same (the kernel's variants), for the autotuner (autotune.ts). */
  tunable?: Tunable;
  /** Which of them this is: tunable.variants[0] until the autotuner picks another. */
  variant?: string;
  /**
   * Dispatched indirectly, with the workgroup counts a dispatch before it
   * writes at this place (dispatchWorkgroupsIndirect): `workgroups`, or zeros
   * to skip it (loss scaling's gate on the update, ops/lossScale.ts).
   */
  indirect?: { buffer: GPUBuffer; offset: number };
}

/** A dispatch's variants: the same buffers and results, another kernel (a block size, a workgroup size, an entry point) and grid. */
export interface Tunable {
  /**
   * The kernel's name as built, the default variant's (`matmul.wgsl:forward`):
   * what a choice is for, whichever file the chosen variant is compiled from.
   */
  kernel: string;
  /** What the choice depends on besides the kernel and the adapter: `N=128 H=13 W=13 C_in=32 C_out=64 k=3x3`. */
  shape: string;
  /** Their names, the default first. */
  variants: string[];
  /** The dispatch as `variant` (one of `variants`) computes it; it owns only its uniform (shared scratch stays with the dispatch). */
  build(variant: string): Promise<Dispatch>;
  /** Buffers every variant binds (scratch made once by the op), owned by the dispatch whatever its variant. */
  shared: GPUBuffer[];
  /** A hash of the variants' WGSL (each file once): a choice made for other code is not used for this. */
  source: string;
}

/** FNV-1a, 32 bits, in hex: a short name for a shader's text. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Turns a tunable dispatch into its `variant`, in place: the same object, so plans that hold it run the variant. */
export async function useVariant(dispatch: Dispatch, variant: string): Promise<void> {
  const tunable = dispatch.tunable;
  if (!tunable) throw new Error(`${dispatch.kernel.name}: has no variants`);
  if (!tunable.variants.includes(variant)) throw new Error(`${tunable.kernel}: no variant '${variant}' (it has: ${tunable.variants.join(', ')})`);
  if ((dispatch.variant ?? tunable.variants[0]) === variant) return;
  const next = await tunable.build(variant);
  for (const buffer of dispatch.owned) if (!tunable.shared.includes(buffer)) buffer.destroy();
  Object.assign(dispatch, { kernel: next.kernel, bindGroup: next.bindGroup, workgroups: next.workgroups, grid: next.grid, constants: next.constants, variant });
  dispatch.owned = [...tunable.shared, ...next.owned];
}

/** A kernel's sizes as a tunable dispatch's shape (Tunable.shape): `N=128 H=26 W=26 C=32`. */
export function shapeKey(sizes: Record<string, number>): string {
  return Object.entries(sizes)
    .map(([letter, value]) => `${letter}=${value}`)
    .join(' ');
}

/** What prepareTunable makes a dispatch with variants from. */
export interface TunableSpec {
  /** What the choice depends on besides the kernel and the adapter (Tunable.shape). */
  shape: string;
  /** The variants' names, the default first. */
  variants: string[];
  /**
   * Each variant's shader and spec, and its entry point where it is not the
   * dispatch's (one whose bindings differ: a variant that writes its output as
   * vec4s binds a vec4 view of it, and WebGPU forbids binding a buffer that a
   * dispatch writes twice).
   */
  make: (variant: string) => { shader: Shader; spec: DispatchSpec; entryPoint?: string };
  /** Scratch buffers that every variant binds, made once by the op. */
  shared?: GPUBuffer[];
}

/** A dispatch with variants (see Tunable), prepared as the first of them. */
export async function prepareTunable(device: GPUDevice, entryPoint: string, { shape, variants, make, shared = [] }: TunableSpec): Promise<Dispatch> {
  const build = (variant: string) => {
    const made = make(variant);
    return prepareDispatch(device, made.shader, made.entryPoint ?? entryPoint, { ...made.spec, scratch: [] });
  };
  const first = make(variants[0]);
  const dispatch = await prepareDispatch(device, first.shader, first.entryPoint ?? entryPoint, { ...first.spec, scratch: shared });
  // Every variant's code, once each (most share a file): a change to any of them makes the choice stale.
  const codes = new Set(variants.map((variant) => code(make(variant).shader)));
  dispatch.tunable = { kernel: dispatch.kernel.name, shape, variants, build, shared, source: hash([...codes].join('\n')) };
  dispatch.variant = variants[0];
  return dispatch;
}

/**
 * The shader with some of its `const` declarations given other values: a
 * variant whose sizes WGSL needs as constants (an array's length), which an
 * `override` cannot set. A constant may be declared in its source or its
 * library (a shader compiled with another as its library, such as
 * conv2dSubgroups.wgsl with conv2d.wgsl). Throws if neither declares one of them.
 */
export function withConsts(shader: Shader, consts: Record<string, number>): Shader {
  let { source, library } = shader;
  for (const [name, value] of Object.entries(consts)) {
    const declaration = new RegExp(`^const ${name} = \\d+u;$`, 'm');
    if (declaration.test(source)) source = source.replace(declaration, `const ${name} = ${value}u;`);
    else if (library !== undefined && declaration.test(library)) library = library.replace(declaration, `const ${name} = ${value}u;`);
    else throw new Error(`${shader.file}: no line 'const ${name} = <n>u;' to set`);
  }
  return { ...shader, source, library };
}

/** The floating-point type of a shader's `real`: what its products multiply in. */
export type Real = 'f32' | 'f16';

/**
 * The shader with its `real` type as given: for f16, its line
 * `alias real = f32;` (its first declaration, after any `enable`) becomes
 * `enable f16; alias real = f16;`, so that compiler messages keep its line
 * numbers. A shader compiled with another as its library (conv2dSubgroups.wgsl
 * with conv2d.wgsl) may take the line from there: it becomes
 * `alias real = f16;`, and `enable f16;` opens the source's first line, since
 * WGSL wants every `enable` before the first declaration. Only for a device
 * with the 'shader-f16' feature. Throws if neither has such a line.
 */
export function inPrecision(shader: Shader, real: Real): Shader {
  if (real === 'f32') return shader;
  const alias = /^alias real = f32;$/m;
  if (alias.test(shader.source)) return { ...shader, source: shader.source.replace(alias, 'enable f16; alias real = f16;') };
  if (shader.library !== undefined && alias.test(shader.library)) {
    return { ...shader, source: `enable f16; ${shader.source}`, library: shader.library.replace(alias, 'alias real = f16;') };
  }
  throw new Error(`${shader.file}: no line 'alias real = f32;' to make f16`);
}

/**
 * How a model computes (`compile({ precision })`): 'float32', or 'mixed' as
 * Keras' mixed_float16: the products (matmul's and conv2d's) multiply in f16
 * where the device has 'shader-f16' and accumulate in f32; everything stored
 * (weights, activations, gradients) stays f32.
 */
export type Precision = 'float32' | 'mixed';

export const PRECISIONS: readonly Precision[] = ['float32', 'mixed'];

/** Whether a product computed with `precision` on `device` is offered f16 variants. */
export function offersF16(device: GPUDevice, precision: Precision = 'float32'): boolean {
  return precision === 'mixed' && device.features.has('shader-f16');
}

/**
 * A product's variants with, where `f16` is true, an f16 twin of each before
 * them (`<name> f16`, made by `twin`): in mixed precision the f16 variants are
 * the default, and compete with the f32 ones in the autotuner.
 */
export function withF16Twins<V>(variants: Map<string, V>, f16: boolean, twin: (variant: V) => V): Map<string, V> {
  if (!f16) return variants;
  return new Map([...[...variants].map(([name, variant]): [string, V] => [`${name} f16`, twin(variant)]), ...variants]);
}

const reflections = new Map<string, WgslReflect>();

function reflect(shader: Shader): WgslReflect {
  let reflection = reflections.get(code(shader));
  if (!reflection) {
    reflection = new WgslReflect(code(shader));
    reflections.set(code(shader), reflection);
  }
  return reflection;
}

/**
 * A `const` that the shader declares, read by reflection: a size fixed by the
 * shader's own code (a register block), which TypeScript needs to size the grid.
 */
export function shaderConstant(shader: Shader, name: string): number {
  const value = reflect(shader)._constValues.get(name);
  if (value === undefined) throw new Error(`${shader.file}: no const '${name}'`);
  return value;
}

function bindingType(variable: VariableInfo, where: string): GPUBufferBindingType {
  // wgsl_reflect's ResourceType: 0 uniform, 1 storage.
  if (variable.resourceType === 0) return 'uniform';
  if (variable.resourceType === 1) return variable.access === 'read' ? 'read-only-storage' : 'storage';
  throw new Error(`${where}: binding '${variable.name}' is not a buffer; only buffers are supported`);
}

function resolveWorkgroupSize(entry: FunctionInfo, constants: Constants, where: string): [number, number, number] {
  const attribute = entry.attributes?.find((a) => a.name === 'workgroup_size');
  const values = attribute?.value ?? [];
  const parts = Array.isArray(values) ? values : [values];
  const size: [number, number, number] = [1, 1, 1];
  parts.forEach((part, i) => {
    const literal = Number.parseInt(String(part), 10);
    const value = Number.isNaN(literal) ? constants[String(part)] : literal;
    if (value === undefined) {
      throw new Error(`${where}: workgroup size '${part}' is an override constant with no value; pass it in constants`);
    }
    size[i] = value;
  });
  return size;
}

async function compile(device: GPUDevice, shader: Shader): Promise<GPUShaderModule> {
  // Reported below with file, line and column; Dawn would also print it as an uncaptured validation error.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: shader.file, code: code(shader) });
  void device.popErrorScope();
  const info = await module.getCompilationInfo();
  if (info.messages.some((m) => m.type === 'error')) {
    const lines = errorsWithNotes(info.messages).map((m) => `${shader.file}:${m.lineNum}:${m.linePos}: ${m.type === 'info' ? 'note: ' : ''}${m.message}`);
    throw new Error(`WGSL compilation failed:\n${lines.join('\n')}`);
  }
  return module;
}

/** Each error among a compiler's messages with the notes that follow it (Tint's 'info': where a uniformity error comes from); the warnings dropped. */
export function errorsWithNotes<T extends { type: GPUCompilationMessageType }>(messages: readonly T[]): T[] {
  let note = false;
  return messages.filter((m) => (note = m.type === 'error' || (m.type === 'info' && note)));
}

/** The bindings an entry point uses, and its `params` members, by reflection. */
function entryBindings(shader: Shader, entryPoint: string, name: string) {
  const entry = reflect(shader).entry.compute.find((e) => e.name === entryPoint);
  if (!entry) {
    const names = reflect(shader).entry.compute.map((e) => e.name).join(', ');
    throw new Error(`${shader.file}: no compute entry point '${entryPoint}' (it has: ${names})`);
  }
  const bindings = new Map<string, BindingInfo>();
  let params: Kernel['params'] = null;
  for (const variable of entry.resources) {
    // One bind group per kernel keeps binding by name simple.
    if (variable.group !== 0) throw new Error(`${name}: binding '${variable.name}' is in group ${variable.group}; use group 0`);
    bindings.set(variable.name, { binding: variable.binding, type: bindingType(variable, name) });
    if (variable.name === 'params' && variable.resourceType === 0) {
      const members = new Map<string, UniformMember>();
      for (const m of variable.members ?? []) members.set(m.name, { offset: m.offset, type: m.type.name });
      params = { size: variable.size, members };
    }
  }
  return { entry, bindings, params };
}

/**
 * Throws unless a replacement kernel's bindings fit the built-in one's layout:
 * each binding it uses declared by the built-in one at the same number with the
 * same type, and each `params` member at the same offset with the same type. It
 * may use fewer, so a simpler kernel can leave a binding unused.
 */
function checkFits(name: string, builtIn: Kernel, bindings: Map<string, BindingInfo>, params: Kernel['params']): void {
  const declared = [...builtIn.bindings].map(([n, b]) => `${n} @binding(${b.binding}) ${b.type}`).join(', ');
  for (const [binding, info] of bindings) {
    const original = builtIn.bindings.get(binding);
    if (!original) throw new Error(`${name}: binding '${binding}' is not one of ${builtIn.name}'s (${declared})`);
    if (original.binding !== info.binding || original.type !== info.type) {
      throw new Error(
        `${name}: binding '${binding}' is @binding(${info.binding}) ${info.type} but ${builtIn.name} has it as @binding(${original.binding}) ${original.type}`,
      );
    }
  }
  if (!params) return;
  if (!builtIn.params) throw new Error(`${name}: has a 'params' uniform but ${builtIn.name} has none`);
  for (const [member, info] of params.members) {
    const original = builtIn.params.members.get(member);
    if (!original) {
      const members = [...builtIn.params.members.keys()].join(', ');
      throw new Error(`${name}: params member '${member}' is not one of ${builtIn.name}'s (${members})`);
    }
    if (original.offset !== info.offset || original.type !== info.type) {
      throw new Error(
        `${name}: params member '${member}' is ${info.type} at byte ${info.offset} but ${builtIn.name} has it as ${original.type} at byte ${original.offset}`,
      );
    }
  }
}

/** Compiles an entry point; with `builtIn`, as a replacement for it that must fit its bind group layout (checkFits). */
async function createKernel(device: GPUDevice, shader: Shader, entryPoint: string, constants: Constants, builtIn?: Kernel): Promise<Kernel> {
  const name = `${shader.file}:${entryPoint}`;
  const module = await compile(device, shader);
  const { entry, bindings, params } = entryBindings(shader, entryPoint, name);
  if (builtIn) checkFits(name, builtIn, bindings, params);
  const layout =
    builtIn?.layout ??
    device.createBindGroupLayout({
      label: name,
      entries: [...bindings.values()].map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.type },
      })),
    });
  const workgroupSize = resolveWorkgroupSize(entry, constants, name);
  // createComputePipelineAsync aborts the process in dawn.node 0.6; the
  // synchronous form inside an error scope reports the same errors.
  device.pushErrorScope('validation');
  const pipeline = device.createComputePipeline({
    label: name,
    layout: device.createPipelineLayout({ label: name, bindGroupLayouts: [layout] }),
    compute: { module, entryPoint, constants },
  });
  const error = await device.popErrorScope();
  if (error) throw new Error(`${name}: pipeline creation failed: ${error.message}`);
  // A replacement is bound as the built-in one is.
  if (builtIn) return { name, pipeline, bindings: builtIn.bindings, params: builtIn.params, workgroupSize, layout, library: shader.library };
  return { name, pipeline, bindings, params, workgroupSize, layout, library: shader.library };
}

// Keyed by the shader source itself, the entry point and the constants, so a
// key can never go stale when a shader changes.
const kernelCache = new WeakMap<GPUDevice, Map<string, Map<string, Promise<Kernel>>>>();

/** The compiled kernel for one entry point, created once per device; with `builtIn`, a replacement for that kernel. */
export function getKernel(device: GPUDevice, shader: Shader, entryPoint: string, constants: Constants = {}, builtIn?: Kernel): Promise<Kernel> {
  let bySource = kernelCache.get(device);
  if (!bySource) kernelCache.set(device, (bySource = new Map()));
  let byEntry = bySource.get(code(shader));
  if (!byEntry) bySource.set(code(shader), (byEntry = new Map()));
  // A replacement differs from the same source compiled alone by its layout and its name.
  const key = `${entryPoint} ${JSON.stringify(Object.entries(constants).sort())}${builtIn ? ` for ${builtIn.name} as ${shader.file}` : ''}`;
  let kernel = byEntry.get(key);
  if (!kernel) {
    kernel = createKernel(device, shader, entryPoint, constants, builtIn);
    byEntry.set(key, kernel);
    // A failed compile should be reported again next time, not cached.
    kernel.catch(() => byEntry.delete(key));
  }
  return kernel;
}

/** A buffer, or a range of one, to bind. */
export type BufferRange = GPUBuffer | GPUBufferBinding;

/** Binds buffers to a kernel by the names its shader declares. */
export function createBindGroup(device: GPUDevice, kernel: Kernel, buffers: Record<string, BufferRange>): GPUBindGroup {
  for (const name of Object.keys(buffers)) {
    if (!kernel.bindings.has(name)) {
      const declared = [...kernel.bindings.keys()].join(', ');
      throw new Error(`${kernel.name}: no binding named '${name}' (the shader declares: ${declared})`);
    }
  }
  const entries: GPUBindGroupEntry[] = [];
  for (const [name, info] of kernel.bindings) {
    const buffer = buffers[name];
    if (!buffer) throw new Error(`${kernel.name}: binding '${name}' was not given a buffer`);
    // A GPUBufferBinding has a `buffer` member; a GPUBuffer does not.
    entries.push({ binding: info.binding, resource: 'buffer' in buffer ? buffer : { buffer } });
  }
  return device.createBindGroup({ label: kernel.name, layout: kernel.layout, entries });
}

/** The bytes of a kernel's `params` uniform, filled by member name. */
export function packParams(kernel: Kernel, values: Record<string, number>): ArrayBuffer {
  if (!kernel.params) throw new Error(`${kernel.name}: the shader has no 'params' uniform`);
  const bytes = new ArrayBuffer(kernel.params.size);
  const view = new DataView(bytes);
  for (const name of Object.keys(values)) {
    if (!kernel.params.members.has(name)) {
      const declared = [...kernel.params.members.keys()].join(', ');
      throw new Error(`${kernel.name}: params has no member '${name}' (it declares: ${declared})`);
    }
  }
  for (const [name, member] of kernel.params.members) {
    const value = values[name];
    if (value === undefined) throw new Error(`${kernel.name}: params.${name} was not given a value`);
    if (member.type === 'f32') view.setFloat32(member.offset, value, true);
    else if (member.type === 'u32' && Number.isInteger(value) && value >= 0) view.setUint32(member.offset, value, true);
    else if (member.type === 'i32' && Number.isInteger(value)) view.setInt32(member.offset, value, true);
    else throw new Error(`${kernel.name}: params.${name} is ${member.type} but was given ${value}`);
  }
  return bytes;
}

/**
 * How big a dispatch is: threads (rounded up to whole workgroups), workgroups,
 * or `strided`, for a kernel that loops over that many elements in strides of
 * the whole grid: one thread per element, up to STRIDED_INVOCATIONS threads.
 */
export type Grid = { threads: number[] } | { workgroups: number[] } | { strided: number };

/**
 * Invocations per workgroup of the kernels with no reason for another size
 * (an invocation per element, row or pixel): a multiple of every GPU's SIMD width.
 */
export const WORKGROUP_SIZE = 64;

/**
 * The most invocations a strided grid launches (4096 workgroups of 64, 1024 of
 * 256): enough to fill a large GPU, few enough that a CPU-emulated one (which
 * pays for each workgroup) runs 2x faster than with a thread per element.
 */
const STRIDED_INVOCATIONS = 262_144;

export interface DispatchSpec {
  constants?: Constants;
  /** Values for the members of the shader's `params` uniform. */
  params?: Record<string, number>;
  buffers: Record<string, BufferRange>;
  grid: Grid;
  /** Buffers the op made for this dispatch alone, to be freed with it. */
  scratch?: GPUBuffer[];
  work?: Work;
}

/**
 * Compiles (or finds) the kernel, writes its uniform and binds its buffers:
 * everything a dispatch needs, created once and recorded any number of times.
 */
export async function prepareDispatch(device: GPUDevice, shader: Shader, entryPoint: string, spec: DispatchSpec): Promise<Dispatch> {
  const kernel = await getKernel(device, shader, entryPoint, spec.constants);
  const buffers = { ...spec.buffers };
  const owned = [...(spec.scratch ?? [])];
  if (kernel.params) {
    buffers.params = createUniformBuffer(device, packParams(kernel, spec.params ?? {}), `${kernel.name} params`);
    owned.push(buffers.params);
  }
  return {
    kernel,
    bindGroup: createBindGroup(device, kernel, buffers),
    workgroups: workgroupCount(device, kernel, spec.grid),
    owned,
    work: spec.work ?? null,
    grid: spec.grid,
    constants: spec.constants ?? {},
  };
}

function workgroupCount(device: GPUDevice, kernel: Kernel, grid: Grid): [number, number, number] {
  const counts = 'threads' in grid
    ? grid.threads.map((n, i) => Math.ceil(n / kernel.workgroupSize[i]))
    : 'strided' in grid
      ? [Math.min(Math.ceil(grid.strided / kernel.workgroupSize[0]), Math.floor(STRIDED_INVOCATIONS / kernel.workgroupSize[0]))]
      : grid.workgroups;
  const workgroups: [number, number, number] = [counts[0] ?? 1, counts[1] ?? 1, counts[2] ?? 1];
  const limit = device.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((n) => n > limit)) {
    throw new Error(`${kernel.name}: ${workgroups.join('x')} workgroups exceeds the device limit of ${limit} per dimension`);
  }
  return workgroups;
}

/** A replacement for one entry point: WGSL source and, optionally, `override` values and a file name for its errors. */
export interface KernelOverride {
  source: string;
  /** Set over the built-in dispatch's own (WORKGROUP_SIZE, VECTORIZED, ...). */
  constants?: Constants;
  /** Names the source in compile errors; by default `<file> (override)`. */
  file?: string;
}

/** Replacements by kernel name: `conv2d:forward` or `conv2d.wgsl:forward`. */
export type KernelOverrides = Record<string, string | KernelOverride>;

/** `conv2d:forward` and `conv2d.wgsl:forward` both name `conv2d.wgsl:forward`, as Kernel.name does. */
export function kernelName(name: string): string {
  const match = /^([\w-]+?)(\.wgsl)?:(\w+)$/.exec(name);
  if (!match) throw new Error(`kernel name '${printable(name)}' is not <op>:<entry point> (e.g. conv2d:forward)`);
  return `${match[1]}.wgsl:${match[3]}`;
}

/** The overrides keyed by Kernel.name, checked for their form. */
export function normalizeOverrides(overrides: KernelOverrides): Map<string, KernelOverride> {
  const byName = new Map<string, KernelOverride>();
  for (const [name, value] of Object.entries(overrides)) {
    const override = typeof value === 'string' ? { source: value } : value;
    if (typeof override?.source !== 'string') throw new Error(`kernels['${name}']: needs WGSL source (a string, or { source, constants })`);
    byName.set(kernelName(name), override);
  }
  return byName;
}

/** The `override` constants a shader declares, by reflection, with their WGSL types. */
export function shaderOverrides(shader: Shader): { name: string; type: string }[] {
  return reflect(shader).overrides.map((o) => ({ name: o.name, type: o.type?.name ?? 'unknown' }));
}

/** The values each integer type of an `override` holds: WebGPU would truncate 3.5 to 3, or wrap 2^32 to 0, rather than refuse them. */
const INTEGER_RANGES: Record<string, [number, number]> = { u32: [0, 2 ** 32 - 1], i32: [-(2 ** 31), 2 ** 31 - 1] };

/** Throws, naming `what`, unless `value` is one an `override` of WGSL type `type` holds as given. */
function checkConstant(what: string, type: string, value: number): void {
  const range = INTEGER_RANGES[type];
  if (range && !(Number.isInteger(value) && value >= range[0] && value <= range[1])) {
    throw new Error(`${what} is ${value}, but it is a ${type} override: an integer from ${range[0]} to ${range[1]}`);
  }
  if (!Number.isFinite(value)) throw new Error(`${what} is ${value}, not a finite number`);
}

/**
 * Swaps a dispatch's kernel for one compiled from `override`, in place: the
 * same bind group (the replacement must fit its layout, see checkFits), the
 * workgroup count sized again from the dispatch's grid for the replacement's
 * workgroup size. Built-in constants the replacement does not declare are dropped.
 */
export async function applyOverride(device: GPUDevice, dispatch: Dispatch, override: KernelOverride): Promise<Dispatch> {
  const builtIn = dispatch.kernel;
  const [file, entryPoint] = builtIn.name.split(':');
  const shader = { file: override.file ?? `${file} (override)`, source: override.source, library: builtIn.library };
  // Compile errors first, with their lines: reflection cannot parse a shader that does not compile.
  await compile(device, shader);
  const declared = new Map(shaderOverrides(shader).map((o) => [o.name, o.type]));
  const constants = Object.fromEntries(Object.entries({ ...dispatch.constants, ...override.constants }).filter(([name]) => declared.has(name)));
  for (const [name, value] of Object.entries(override.constants ?? {})) {
    const type = declared.get(name);
    if (!type) throw new Error(`${shader.file}: constants.${printable(name)} is not an override the shader declares (${[...declared.keys()].join(', ') || 'none'})`);
    checkConstant(`${shader.file}: constants.${name}`, type, value);
  }
  const kernel = await getKernel(device, shader, entryPoint, constants, builtIn);
  // The edited kernel is the one that runs: no variant of the built-in one replaces it.
  delete dispatch.tunable;
  dispatch.workgroups = workgroupCount(device, kernel, dispatch.grid);
  dispatch.kernel = kernel;
  dispatch.constants = constants;
  return dispatch;
}

/** A compiler message at its place in the source (lines and columns from 1). */
export interface ShaderMessage {
  type: GPUCompilationMessageType;
  line: number;
  column: number;
  /** Offset and length in the source, in UTF-16 code units, for an editor's marks. */
  offset: number;
  length: number;
  message: string;
}

/** The compiler's errors, warnings and notes for a shader, without throwing. */
export async function shaderMessages(device: GPUDevice, shader: Shader): Promise<ShaderMessage[]> {
  // Dawn also raises a shader that does not parse as a validation error; its messages say the same.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: shader.file, code: code(shader) });
  void device.popErrorScope();
  const info = await module.getCompilationInfo();
  return info.messages.map((m) => ({ type: m.type, line: m.lineNum, column: m.linePos, offset: m.offset, length: m.length, message: m.message }));
}

/** Records dispatches into one compute pass, optionally timed by the pass' timestamps. */
export function encodeDispatches(
  encoder: GPUCommandEncoder,
  dispatches: readonly Dispatch[],
  label = 'compute',
  timestampWrites?: GPUComputePassTimestampWrites,
): void {
  const pass = encoder.beginComputePass({ label, timestampWrites });
  for (const { kernel, bindGroup, workgroups, indirect } of dispatches) {
    if (workgroups.some((n) => n === 0)) continue;
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    if (indirect) pass.dispatchWorkgroupsIndirect(indirect.buffer, indirect.offset);
    else pass.dispatchWorkgroups(...workgroups);
  }
  pass.end();
}

/** Frees the buffers each dispatch owns; the dispatches cannot be used after. */
export function destroyDispatches(dispatches: readonly Dispatch[]): void {
  for (const dispatch of dispatches) for (const buffer of dispatch.owned) buffer.destroy();
}

/** Records and submits dispatches, reporting validation errors with the kernel names. */
export async function runDispatches(device: GPUDevice, dispatches: readonly Dispatch[]): Promise<void> {
  device.pushErrorScope('validation');
  const encoder = device.createCommandEncoder({ label: dispatches.map((d) => d.kernel.name).join(' ') });
  encodeDispatches(encoder, dispatches);
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`${dispatches.map((d) => d.kernel.name).join(', ')}: ${error.message}`);
}
