// 2D convolution (cross-correlation, as in Keras) of float32 NHWC images with
// HWIO kernels, with strides and zero padding, and its two gradients.
//
// Letters: x [N, H, W, C_in] holds N images of H x W pixels with C_in channels;
// w [KH, KW, C_in, C_out] is a KH x KW kernel; y [N, OH, OW, C_out]. Through
// kernel tap (kh, kw), output pixel (oh, ow) sees input pixel
// (oh * SY + kh - pad_top, ow * SX + kw - pad_left); taps in the padding read zero.
//
// Algorithm (direct, register-blocked): each of the three products is computed
// as it is written, as sums over kernel taps and channels, with no im2col
// matrix. Each invocation computes a cell of CELL channels (four vec4
// accumulators) of one pixel (forward: an output pixel; backward_input: an
// input pixel) or of one kernel row (backward_weight). Which CELL channels
// depends on the workgroup only, so per contraction step an invocation gathers
// one value of its own (a pixel's channel) and multiplies it by CELL channels
// that every invocation of the workgroup reads at the same address: a GPU
// serves those from cache as a broadcast. A CPU-emulated one (lavapipe runs 8
// invocations in SIMD lanes) loads them lane by lane all the same, so there the
// rows an invocation computes share each load (ROWS), and conv2dSubgroups.wgsl
// loads them once for four lanes. With no barriers (which make a CPU-emulated
// GPU several times slower, see matmul.wgsl) this is faster there than tiles
// in workgroup memory: the default variants use none.
//
// The staged variants (STAGED), for GPUs, where each invocation's read of the
// shared values is a trip to the cache as its gathers are, keep them in
// workgroup memory instead. The contraction is walked in chunks of up to CHUNK
// steps: at the start of each, once all invocations are done with the last
// (a barrier), they copy the chunk's rows of the shared operand (the
// workgroup's CELL columns of each) into `slab`, a quad each at a time, and
// after a second barrier every invocation multiplies its gathered values by
// the rows it reads from there. A chunk lies within one kernel tap (forward,
// backward_input) or one slice (backward_weight), so with few channels per tap
// (a first layer's C_in = 1) chunks are short, and the direct kernel wins.
// Every invocation reaches every barrier: those past the edge clamp their
// reads and skip their stores, as in the direct kernel. That is the same loop
// with STAGED false, which compiles the staging away; both add the same
// products in the same order, so they give the same bits.
//
// When the shared rows have a multiple of 4 columns (VECTORIZED), they are read
// as vec4s: a quarter of the loads, each bounds-checked once; otherwise one
// float at a time. So every entry point declares the vec4 views w4 and d_out4
// (a scalar pipeline gets a placeholder buffer, as its tensor may be smaller
// than a vec4).
//
// backward_input reads the kernel transposed, [KH, KW, C_out, C_in], so that
// its shared rows lie along C_in: transpose_kernel writes that once per step,
// and backward_input is given it as w.
//
// A layer's bias rides along as one more row of the kernel (BIAS): w is then
// the matrix [KH*KW*C_in + 1, C_out] whose last row is the bias (the engine
// keeps a layer's kernel and bias side by side). forward starts each sum at
// the bias and applies the activation (activate.wgsl, appended) before it
// stores, so a layer is one dispatch; backward_weight computes the bias
// gradient as that last row, the product of dY with an input that is 1.
//
// Precision: every operand is read as f32 and multiplied as `real`, which is
// f32 here; ops/conv2d.ts compiles the same code with it f16 (this line
// becomes `enable f16; alias real = f16;`) for mixed precision on a device
// with shader-f16: each operand rounded to f16 (the staged variants keep
// their slab in f16), each product of a value and a vec4<f16> rounded to f16,
// and the sums accumulated in f32, as in f32 (the bias too, read as f32).
// With real = f32 the conversions do nothing: the same bits as without them.
alias real = f32;

override WORKGROUP_SIZE: u32;
// The activation forward applies: activate.wgsl's LINEAR, RELU, SIGMOID or TANH.
override ACTIVATION: u32 = 0u;
// Whether w ends with the bias row (forward) and d_weight with its gradient (backward_weight, sum_slices).
override BIAS: bool = false;
// Whether some tap of forward or backward_weight falls outside the input (in
// the padding): without, input_pixel skips its bounds checks.
override PADDED: bool = true;
// Whether the shared rows are staged in workgroup memory (see above): a variant of the kernel.
override STAGED: bool = false;

// Channels per invocation: four vec4 accumulators. More spill registers on a CPU.
const CELL = 16u;

// Rows of a product per invocation, each a cell of its own (output pixels in
// forward, input pixels in backward_input, rows of dW in backward_weight):
// they share each load of the CELL values every invocation reads, so more rows
// do more multiply-adds per load, for more registers. A variant of the kernel
// (TypeScript rewrites this line; ops/conv2d.ts lists those the autotuner
// times): 4 is the default's, so that this file as it is, edited in the
// workbench or given as a kernel override, computes what the grid is sized for.
const ROWS = 4u;

// Contraction steps per chunk of the staged variants: with a workgroup of 64
// invocations (ops/conv2d.ts), one quad of the slab each.
const CHUNK = 16u;

struct Params {
  N: u32,
  H: u32,
  W: u32,
  C_in: u32,
  KH: u32,
  KW: u32,
  OH: u32,
  OW: u32,
  C_out: u32,
  SY: u32,
  SX: u32,
  pad_top: u32,
  pad_left: u32,
}

// Whether the rows that a whole workgroup reads at one address (of w, or of dY
// in backward_weight) have a multiple of 4 columns, and are read as vec4s.
override VECTORIZED: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The kernel; for backward_input, its transpose (see above).
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_input: array<f32>;
// [slices, KH*KW*C_in (+ 1 with BIAS), C_out]: backward_weight's partial sums, one per slice of
// its contraction (or dW itself when there is one slice).
@group(0) @binding(6) var<storage, read_write> partial_d_weight: array<f32>;
@group(0) @binding(7) var<storage, read_write> d_weight: array<f32>;
// The same buffers as w and d_out, bound a second time to be read as vec4s.
@group(0) @binding(8) var<storage, read> w4: array<vec4f>;
@group(0) @binding(9) var<storage, read> d_out4: array<vec4f>;
// transpose_kernel's output, [KH, KW, C_out, C_in].
@group(0) @binding(10) var<storage, read_write> w_t: array<f32>;
// x bound a second time, read as vec4s where C_in is a multiple of 4 (the
// variants that read four channels of a pixel at a time).
@group(0) @binding(11) var<storage, read> x4: array<vec4f>;

alias Cell = array<vec4f, CELL / 4u>;
// A cell of the shared rows as the products read it, in `real`.
alias Operand = array<vec4<real>, CELL / 4u>;

// The staged variants' copy of a chunk of the shared rows: the workgroup's CELL columns of each.
var<workgroup> slab: array<Operand, CHUNK>;

// Columns c..c+3 of the row of a `width`-column matrix that starts at `at`,
// each clamped to the last column: a cell past the edge reads valid memory,
// and is never stored. The four cells' reads and sums below are written out
// rather than looped over: SwiftShader keeps a looped-over array in memory.
fn w_quad(at: u32, c: u32, width: u32) -> vec4f {
  if (VECTORIZED) {
    return w4[(at + min(c, width - 1u)) / 4u];
  }
  let last = width - 1u;
  return vec4f(w[at + min(c, last)], w[at + min(c + 1u, last)], w[at + min(c + 2u, last)], w[at + min(c + 3u, last)]);
}

fn d_out_quad(at: u32, c: u32) -> vec4f {
  if (VECTORIZED) {
    return d_out4[(at + min(c, params.C_out - 1u)) / 4u];
  }
  let last = params.C_out - 1u;
  return vec4f(d_out[at + min(c, last)], d_out[at + min(c + 1u, last)], d_out[at + min(c + 2u, last)], d_out[at + min(c + 3u, last)]);
}

// Row `k` of w read as a matrix of `width` columns (forward: [KH*KW*C_in, C_out];
// backward_input, given the transpose: [KH*KW*C_out, C_in]), columns first..first+CELL.
fn w_row(k: u32, first: u32, width: u32) -> Cell {
  let at = k * width;
  return Cell(w_quad(at, first, width), w_quad(at, first + 4u, width), w_quad(at, first + 8u, width), w_quad(at, first + 12u, width));
}

// Row `m` of dY read as the matrix [N*OH*OW, C_out], columns first..first+CELL.
fn d_out_row(m: u32, first: u32) -> Cell {
  let at = m * params.C_out;
  return Cell(d_out_quad(at, first), d_out_quad(at, first + 4u), d_out_quad(at, first + 8u), d_out_quad(at, first + 12u));
}

// Copies `steps` rows of w, read as a matrix of `width` columns, from row k on
// into the slab, columns first..first+CELL: the workgroup's invocations share
// the copying a quad at a time. Called by every invocation of the workgroup,
// it waits for all to be done with the last chunk, and for the slab to be full.
fn stage_w(k: u32, steps: u32, first: u32, width: u32, lane: u32) {
  workgroupBarrier();
  let quads = CELL / 4u;
  for (var q = lane; q < steps * quads; q += WORKGROUP_SIZE) {
    slab[q / quads][q % quads] = vec4<real>(w_quad((k + q / quads) * width, first + q % quads * 4u, width));
  }
  workgroupBarrier();
}

// Likewise `steps` rows of dY, read as the matrix [N*OH*OW, C_out], from row m on.
fn stage_d_out(m: u32, steps: u32, first: u32, lane: u32) {
  workgroupBarrier();
  let quads = CELL / 4u;
  for (var q = lane; q < steps * quads; q += WORKGROUP_SIZE) {
    slab[q / quads][q % quads] = vec4<real>(d_out_quad((m + q / quads) * params.C_out, first + q % quads * 4u));
  }
  workgroupBarrier();
}

fn operand(cell: Cell) -> Operand {
  return Operand(vec4<real>(cell[0]), vec4<real>(cell[1]), vec4<real>(cell[2]), vec4<real>(cell[3]));
}

// Row k of w as w_row reads it; a staged variant has it in the slab, as row i of the chunk.
fn w_cell(k: u32, i: u32, first: u32, width: u32) -> Operand {
  if (STAGED) {
    return slab[i];
  }
  return operand(w_row(k, first, width));
}

// Row m of dY as d_out_row reads it; a staged variant has it in the slab, as row i of the chunk.
fn d_out_cell(m: u32, i: u32, first: u32) -> Operand {
  if (STAGED) {
    return slab[i];
  }
  return operand(d_out_row(m, first));
}

fn add_scaled(cell: ptr<function, Cell>, value: real, row: Operand) {
  (*cell)[0] += vec4f(value * row[0]);
  (*cell)[1] += vec4f(value * row[1]);
  (*cell)[2] += vec4f(value * row[2]);
  (*cell)[3] += vec4f(value * row[3]);
}

// Image n, row and column of pixel m of images of height x width, as (n, row, column).
fn pixel_at(m: u32, height: u32, width: u32) -> vec3u {
  return vec3u(m / (width * height), (m / width) % height, m % width);
}

// Where input pixel (ih, iw) of image n starts in x, and 1; or, when it lies in
// the padding (ih, iw are signed for that), a valid address and 0.
struct Tap {
  at: u32,
  scale: f32,
}

fn input_pixel(n: u32, ih: i32, iw: i32) -> Tap {
  if (!PADDED) {
    return Tap(((n * params.H + u32(ih)) * params.W + u32(iw)) * params.C_in, 1.0);
  }
  let inside = ih >= 0 && iw >= 0 && ih < i32(params.H) && iw < i32(params.W);
  let at = ((n * params.H + u32(ih)) * params.W + u32(iw)) * params.C_in;
  return Tap(select(0u, at, inside), select(0.0, 1.0, inside));
}

// y(n, oh, ow, co) = Σ_{kh, kw, c} x(n, oh*SY + kh - pad_top, ow*SX + kw - pad_left, c) w(kh, kw, c, co).
// ROWS adjacent output pixels per invocation (global x); the workgroup's y picks
// the cell. Staged, a chunk is up to CHUNK channels of a tap.
fn forward_block(invocation: u32, lane: u32, first: u32) {
  let pixels = params.N * params.OH * params.OW;
  var cells: array<Cell, ROWS>;
  // (n, oh, ow) of each row's pixel.
  var at: array<vec3u, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    at[r] = pixel_at(min(invocation * ROWS + r, pixels - 1u), params.OH, params.OW);
    if (BIAS) {
      cells[r] = w_row(params.KH * params.KW * params.C_in, first, params.C_out);
    }
  }
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      var taps: array<Tap, ROWS>;
      for (var r = 0u; r < ROWS; r++) {
        taps[r] = input_pixel(at[r].x, i32(at[r].y * params.SY + kh) - i32(params.pad_top), i32(at[r].z * params.SX + kw) - i32(params.pad_left));
      }
      let k = (kh * params.KW + kw) * params.C_in;
      for (var c = 0u; c < params.C_in; c++) {
        let i = c % CHUNK;
        if (STAGED && i == 0u) {
          stage_w(k + c, min(CHUNK, params.C_in - c), first, params.C_out, lane);
        }
        let row = w_cell(k + c, i, first, params.C_out);
        for (var r = 0u; r < ROWS; r++) {
          add_scaled(&cells[r], real(x[taps[r].at + c] * taps[r].scale), row);
        }
      }
    }
  }
  store_y(cells, adjacent_pixels(invocation), first);
}

// The pixels of an invocation's rows: invocation * ROWS + r.
fn adjacent_pixels(invocation: u32) -> array<u32, ROWS> {
  var pixels: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    pixels[r] = invocation * ROWS + r;
  }
  return pixels;
}

// Stores forward's cells through the activation: row r's at output pixel
// pixels[r], channels first..first+CELL, skipping those past the edge.
fn store_y(cells: array<Cell, ROWS>, pixels: array<u32, ROWS>, first: u32) {
  for (var r = 0u; r < ROWS; r++) {
    let m = pixels[r];
    if (m < params.N * params.OH * params.OW) {
      for (var j = 0u; j < CELL; j++) {
        if (first + j < params.C_out) {
          y[m * params.C_out + first + j] = activate(cells[r][j / 4u][j % 4u], ACTIVATION);
        }
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) group: vec3u) {
  forward_block(id.x, lane, group.y * CELL);
}

// dW = Pᵀ · dY, where P[N*OH*OW, KH*KW*C_in] is the im2col matrix of x,
// P(m, k) = x(n, oh*SY + kh - pad_top, ow*SX + kw - pad_left, c) for m = (n, oh, ow)
// and k = (kh, kw, c): from y(m, co) = Σ_k P(m, k) w(k, co),
//   dL/dw(k, co) = Σ_m P(m, k) dY(m, co).
// ROWS rows k of dW per invocation (global x) and a cell of CELL columns per
// workgroup y, so per step m an invocation gathers P(m, k) for each of its rows
// and multiplies them by CELL values of row m of dY, the same for the whole
// workgroup. Staged, a chunk is up to CHUNK steps of a slice.
//
// dW is small (KH*KW*C_in x C_out) but its contraction is long (N*OH*OW): too
// few workgroups to fill a GPU, or both cores of a CPU. So it is also split
// along the contraction into one slice per workgroup layer z, each writing its
// partial sums to partial_d_weight[z]; sum_slices adds them. The last slices
// may be short, or empty (then they add zero).
//
// With BIAS, row KH*KW*C_in is the bias': dL/dbias(co) = Σ_m dY(m, co), as if
// P(m, k) were 1 there: its taps are read all the same, and replaced by 1.
fn backward_weight_block(invocation: u32, lane: u32, first: u32, z: u32, slices: u32) {
  let rows = weight_rows(invocation);
  let steps = slice_steps(z, slices);
  // (n, oh, ow) of pixel m, stepped along with it (next_pixel) rather than divided out each step.
  var at = pixel_at(steps.x, params.OH, params.OW);
  var cells: array<Cell, ROWS>;
  for (var m = steps.x; m < steps.y; m++) {
    let i = (m - steps.x) % CHUNK;
    if (STAGED && i == 0u) {
      stage_d_out(m, min(CHUNK, steps.y - m), first, lane);
    }
    add_weight_step(&cells, rows, at, d_out_cell(m, i, first));
    next_pixel(&at);
  }
  store_partial_d_weight(cells, invocation, first, z);
}

// An invocation's rows of dW: k, clamped to the last, and their (kh, kw, c).
struct WeightRows {
  k: array<u32, ROWS>,
  tap: array<vec3u, ROWS>,
}

fn weight_rows(invocation: u32) -> WeightRows {
  let last = params.KH * params.KW * params.C_in - select(1u, 0u, BIAS);
  var rows: WeightRows;
  for (var r = 0u; r < ROWS; r++) {
    rows.k[r] = min(invocation * ROWS + r, last);
    rows.tap[r] = kernel_row(rows.k[r]);
  }
  return rows;
}

// The steps m of slice z of `slices` of backward_weight's contraction, from the first to the end.
fn slice_steps(z: u32, slices: u32) -> vec2u {
  let pixels = params.N * params.OH * params.OW;
  let slice = (pixels + slices - 1u) / slices;
  let begin = min(z * slice, pixels);
  return vec2u(begin, min(begin + slice, pixels));
}

// Adds step m's products to the rows' cells: P(m, k) at output pixel at = (n, oh, ow) times row m of dY.
fn add_weight_step(cells: ptr<function, array<Cell, ROWS>>, rows: WeightRows, at: vec3u, d_out_row: Operand) {
  for (var r = 0u; r < ROWS; r++) {
    let tap = rows.tap[r];
    let input = input_pixel(at.x, i32(at.y * params.SY + tap.x) - i32(params.pad_top), i32(at.z * params.SX + tap.y) - i32(params.pad_left));
    add_scaled(&(*cells)[r], real(select(x[input.at + tap.z] * input.scale, 1.0, rows.k[r] == params.KH * params.KW * params.C_in)), d_out_row);
  }
}

// (kh, kw, c) of row k of dW; the bias row's taps, past the kernel, are read
// at (0, 0): inside the input, and not used.
fn kernel_row(k: u32) -> vec3u {
  let kh = select(k / (params.C_in * params.KW), 0u, k == params.KH * params.KW * params.C_in);
  return vec3u(kh, (k / params.C_in) % params.KW, k % params.C_in);
}

// (n, oh, ow) of output pixel m + 1 from that of pixel m: stepped along rather than divided out.
fn next_pixel(at: ptr<function, vec3u>) {
  count_up(at, params.OW, params.OH);
}

// Three counters, z the fastest, one step on: z counts to z_end, then y to y_end, then x.
fn count_up(at: ptr<function, vec3u>, z_end: u32, y_end: u32) {
  (*at).z++;
  if ((*at).z == z_end) {
    (*at).z = 0u;
    (*at).y++;
    if ((*at).y == y_end) {
      (*at).y = 0u;
      (*at).x++;
    }
  }
}

// Stores backward_weight's cells, rows invocation * ROWS + r of slice z's partial sums,
// columns first..first+CELL, skipping those past the edge.
fn store_partial_d_weight(cells: array<Cell, ROWS>, invocation: u32, first: u32, z: u32) {
  let rows = params.KH * params.KW * params.C_in + select(0u, 1u, BIAS);
  for (var r = 0u; r < ROWS; r++) {
    let k = invocation * ROWS + r;
    if (k < rows) {
      for (var j = 0u; j < CELL; j++) {
        if (first + j < params.C_out) {
          partial_d_weight[(z * rows + k) * params.C_out + first + j] = cells[r][j / 4u][j % 4u];
        }
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  backward_weight_block(id.x, lane, group.y * CELL, group.z, groups.z);
}

// backward_weight with the grid laid out by slice: an invocation per slice
// (global x), for its cell's columns (global y) of its ROWS rows (global z).
// Where dW has few rows (a first layer's KH*KW*C_in + 1: 10 in the CNN),
// laying them along x leaves most of a workgroup's lanes idle, or each with a
// row or two; here every lane has a slice of its own, and its ROWS rows share
// each load of dY. The same slices, summed in the same order: the same bits.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight_by_slice(@builtin(global_invocation_id) id: vec3u) {
  let slices = arrayLength(&partial_d_weight) / ((params.KH * params.KW * params.C_in + select(0u, 1u, BIAS)) * params.C_out);
  if (id.x >= slices) {
    return;
  }
  let first = id.y * CELL;
  let rows = weight_rows(id.z);
  let steps = slice_steps(id.x, slices);
  var at = pixel_at(steps.x, params.OH, params.OW);
  var cells: array<Cell, ROWS>;
  for (var m = steps.x; m < steps.y; m++) {
    add_weight_step(&cells, rows, at, operand(d_out_row(m, first)));
    next_pixel(&at);
  }
  store_partial_d_weight(cells, id.z, first, id.x);
}

// dW(k, co) = Σ_z partial_d_weight(z, k, co); the number of slices is what the
// bound range holds.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_slices(@builtin(global_invocation_id) id: vec3u) {
  let size = (params.KH * params.KW * params.C_in + select(0u, 1u, BIAS)) * params.C_out;
  if (id.x >= size) {
    return;
  }
  let slices = arrayLength(&partial_d_weight) / size;
  var sum = 0.0;
  for (var z = 0u; z < slices; z++) {
    sum += partial_d_weight[z * size + id.x];
  }
  d_weight[id.x] = sum;
}

// w_t(kh, kw, co, c) = w(kh, kw, c, co): the kernel with its channel axes swapped.
@compute @workgroup_size(WORKGROUP_SIZE)
fn transpose_kernel(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= params.KH * params.KW * params.C_in * params.C_out) {
    return;
  }
  let c = id.x % params.C_in;
  let co = (id.x / params.C_in) % params.C_out;
  let tap = id.x / (params.C_in * params.C_out);
  w_t[id.x] = w[(tap * params.C_in + c) * params.C_out + co];
}

// dX: x(n, ih, iw, c) meets w(kh, kw, c, co) in y(n, oh, ow, co) exactly when
// ih = oh*SY + kh - pad_top and iw = ow*SX + kw - pad_left, so
//   dL/dx(n, ih, iw, c) = Σ_{kh, kw, co} dY(n, oh, ow, co) w(kh, kw, c, co)
// over the taps for which such whole, in-range (oh, ow) exist.
// ROWS adjacent input pixels per invocation (global x) and a cell of CELL input
// channels per workgroup y: per step co an invocation gathers dY(n, oh, ow, co) and
// multiplies it by w(kh, kw, c, co) for the cell's channels c, the same for the
// whole workgroup, read from the transposed kernel where they are adjacent.
// With strides, a fraction 1 - 1/(SY*SX) of the taps have no (oh, ow): they are
// computed all the same, times zero, which keeps the invocations in step.
// Staged, a chunk is up to CHUNK channels co of a tap.
fn backward_input_block(invocation: u32, lane: u32, first: u32) {
  let pixels = params.N * params.H * params.W;
  // (n, ih, iw) of each row's pixel.
  var at: array<vec3u, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    at[r] = pixel_at(min(invocation * ROWS + r, pixels - 1u), params.H, params.W);
  }
  var cells: array<Cell, ROWS>;
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      var taps: array<Tap, ROWS>;
      for (var r = 0u; r < ROWS; r++) {
        taps[r] = output_pixel(at[r], kh, kw);
      }
      let k = (kh * params.KW + kw) * params.C_out;
      for (var co = 0u; co < params.C_out; co++) {
        let i = co % CHUNK;
        if (STAGED && i == 0u) {
          stage_w(k + co, min(CHUNK, params.C_out - co), first, params.C_in, lane);
        }
        let row = w_cell(k + co, i, first, params.C_in);
        for (var r = 0u; r < ROWS; r++) {
          add_scaled(&cells[r], real(d_out[taps[r].at + co] * taps[r].scale), row);
        }
      }
    }
  }
  store_d_input(cells, adjacent_pixels(invocation), first);
}

// Where output pixel (oh, ow) of image n that input pixel at = (n, ih, iw)
// meets through tap (kh, kw) starts in dY, and 1; or, when there is none, a
// valid address and 0. oh * SY = ih + pad_top - kh must have a whole, in-range
// solution oh; likewise ow.
fn output_pixel(at: vec3u, kh: u32, kw: u32) -> Tap {
  let oh_sy = i32(at.y + params.pad_top) - i32(kh);
  let ow_sx = i32(at.z + params.pad_left) - i32(kw);
  let oh = u32(oh_sy) / params.SY;
  let ow = u32(ow_sx) / params.SX;
  let reached = oh_sy >= 0 && ow_sx >= 0 && u32(oh_sy) % params.SY == 0u && u32(ow_sx) % params.SX == 0u
    && oh < params.OH && ow < params.OW;
  return Tap(select(0u, ((at.x * params.OH + oh) * params.OW + ow) * params.C_out, reached), select(0.0, 1.0, reached));
}

// Stores backward_input's cells: row r's at input pixel pixels[r], channels
// first..first+CELL, skipping those past the edge.
fn store_d_input(cells: array<Cell, ROWS>, pixels: array<u32, ROWS>, first: u32) {
  for (var r = 0u; r < ROWS; r++) {
    let i = pixels[r];
    if (i < params.N * params.H * params.W) {
      for (var j = 0u; j < CELL; j++) {
        if (first + j < params.C_in) {
          d_input[i * params.C_in + first + j] = cells[r][j / 4u][j % 4u];
        }
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) group: vec3u) {
  backward_input_block(id.x, lane, group.y * CELL);
}

// The three products a 4 x 4 block an invocation, as matmul.wgsl's
// block_product: four adjacent rows (output pixels in forward, input pixels in
// backward_input, rows of dW in backward_weight) by four adjacent columns
// (channels), in four vec4 accumulators named one by one rather than kept in
// an array that a loop indexes, which SwiftShader keeps in memory. Per step an
// invocation gathers a value for each of its rows and multiplies them by one
// vec4 of the shared row, four multiply-adds a value loaded (against CELL in
// the cells above): a variant for adapters that keep few values in
// registers. The workgroup's y picks the four channels, so its invocations
// still read the shared row at one address. Each accumulator adds the same
// products in the same order as the direct kernel, so the same floats.
struct Quad {
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  r3: vec4f,
}

// One step: row r's accumulator += values[r] * row, in `real` as add_scaled.
fn add_quad(acc: ptr<function, Quad>, values: vec4f, row: vec4<real>) {
  (*acc).r0 += vec4f(real(values.x) * row);
  (*acc).r1 += vec4f(real(values.y) * row);
  (*acc).r2 += vec4f(real(values.z) * row);
  (*acc).r3 += vec4f(real(values.w) * row);
}

// Four contraction steps k..k+3 of the _quads4 products: v_i holds pixel i's
// four values, multiplied by rows k..k+3 of w (of `width` columns), columns
// first..first+3, a step at a time.
fn add_quad_four_steps(acc: ptr<function, Quad>, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f, k: u32, first: u32, width: u32) {
  add_quad(acc, vec4f(v0.x, v1.x, v2.x, v3.x), vec4<real>(w_quad(k * width, first, width)));
  add_quad(acc, vec4f(v0.y, v1.y, v2.y, v3.y), vec4<real>(w_quad((k + 1u) * width, first, width)));
  add_quad(acc, vec4f(v0.z, v1.z, v2.z, v3.z), vec4<real>(w_quad((k + 2u) * width, first, width)));
  add_quad(acc, vec4f(v0.w, v1.w, v2.w, v3.w), vec4<real>(w_quad((k + 3u) * width, first, width)));
}

// Row r of the quad.
fn quad_row(acc: Quad, r: u32) -> vec4f {
  return array<vec4f, 4>(acc.r0, acc.r1, acc.r2, acc.r3)[r];
}

// Rows m..m+3 of a product over the pixels of images of height x width, as
// (n, row, column) each, clamped to the last pixel.
struct Pixels4 {
  p0: vec3u,
  p1: vec3u,
  p2: vec3u,
  p3: vec3u,
}

fn quad_pixels(m: u32, height: u32, width: u32) -> Pixels4 {
  let last = params.N * height * width - 1u;
  return Pixels4(pixel_at(min(m, last), height, width), pixel_at(min(m + 1u, last), height, width), pixel_at(min(m + 2u, last), height, width), pixel_at(min(m + 3u, last), height, width));
}

// The four pixels' taps through kernel tap (kh, kw): forward's input pixels, backward_input's output pixels.
struct Taps4 {
  t0: Tap,
  t1: Tap,
  t2: Tap,
  t3: Tap,
}

fn input_tap(p: vec3u, kh: u32, kw: u32) -> Tap {
  return input_pixel(p.x, i32(p.y * params.SY + kh) - i32(params.pad_top), i32(p.z * params.SX + kw) - i32(params.pad_left));
}

fn input_quad(p: Pixels4, kh: u32, kw: u32) -> Taps4 {
  return Taps4(input_tap(p.p0, kh, kw), input_tap(p.p1, kh, kw), input_tap(p.p2, kh, kw), input_tap(p.p3, kh, kw));
}

fn output_quad(p: Pixels4, kh: u32, kw: u32) -> Taps4 {
  return Taps4(output_pixel(p.p0, kh, kw), output_pixel(p.p1, kh, kw), output_pixel(p.p2, kh, kw), output_pixel(p.p3, kh, kw));
}

// Stores forward's quad through the activation: output pixels m..m+3,
// channels first..first+3, skipping those past the edge.
fn store_y_quad(acc: Quad, m: u32, first: u32) {
  for (var r = 0u; r < 4u; r++) {
    for (var j = 0u; j < 4u; j++) {
      if (m + r < params.N * params.OH * params.OW && first + j < params.C_out) {
        y[(m + r) * params.C_out + first + j] = activate(quad_row(acc, r)[j], ACTIVATION);
      }
    }
  }
}

// Stores backward_input's quad: input pixels m..m+3, channels first..first+3, skipping those past the edge.
fn store_d_input_quad(acc: Quad, m: u32, first: u32) {
  for (var r = 0u; r < 4u; r++) {
    for (var j = 0u; j < 4u; j++) {
      if (m + r < params.N * params.H * params.W && first + j < params.C_in) {
        d_input[(m + r) * params.C_in + first + j] = quad_row(acc, r)[j];
      }
    }
  }
}

// forward_block's product, pixels m..m+3 (m = 4 * global x) and channels
// 4 * global y and the three after.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_quads(@builtin(global_invocation_id) id: vec3u) {
  let first = id.y * 4u;
  let m = id.x * 4u;
  let p = quad_pixels(m, params.OH, params.OW);
  let init = select(vec4f(0.0), w_quad(params.KH * params.KW * params.C_in * params.C_out, first, params.C_out), BIAS);
  var acc = Quad(init, init, init, init);
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      let t = input_quad(p, kh, kw);
      let k = (kh * params.KW + kw) * params.C_in;
      for (var c = 0u; c < params.C_in; c++) {
        let values = vec4f(x[t.t0.at + c] * t.t0.scale, x[t.t1.at + c] * t.t1.scale, x[t.t2.at + c] * t.t2.scale, x[t.t3.at + c] * t.t3.scale);
        add_quad(&acc, values, vec4<real>(w_quad((k + c) * params.C_out, first, params.C_out)));
      }
    }
  }
  store_y_quad(acc, m, first);
}

// backward_input_block's product, input pixels m..m+3 and input channels
// 4 * global y and the three after; w is the transposed kernel, as there.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input_quads(@builtin(global_invocation_id) id: vec3u) {
  let first = id.y * 4u;
  let m = id.x * 4u;
  let p = quad_pixels(m, params.H, params.W);
  var acc: Quad;
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      let t = output_quad(p, kh, kw);
      let k = (kh * params.KW + kw) * params.C_out;
      for (var co = 0u; co < params.C_out; co++) {
        let values = vec4f(d_out[t.t0.at + co] * t.t0.scale, d_out[t.t1.at + co] * t.t1.scale, d_out[t.t2.at + co] * t.t2.scale, d_out[t.t3.at + co] * t.t3.scale);
        add_quad(&acc, values, vec4<real>(w_quad((k + co) * params.C_in, first, params.C_in)));
      }
    }
  }
  store_d_input_quad(acc, m, first);
}

// backward_weight_block's product, rows k..k+3 of dW (k = 4 * global x) and
// channels 4 * global y and the three after, over slice z's output pixels.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight_quads(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = id.y * 4u;
  let weights = params.KH * params.KW * params.C_in;
  let rows = weights + select(0u, 1u, BIAS);
  let k = id.x * 4u;
  let k4 = min(vec4u(k) + vec4u(0u, 1u, 2u, 3u), vec4u(rows - 1u));
  let tap0 = kernel_row(k4.x);
  let tap1 = kernel_row(k4.y);
  let tap2 = kernel_row(k4.z);
  let tap3 = kernel_row(k4.w);
  let bias_row = k4 == vec4u(weights);
  let pixels = params.N * params.OH * params.OW;
  let slice = (pixels + groups.z - 1u) / groups.z;
  let m_begin = min(id.z * slice, pixels);
  let m_end = min(m_begin + slice, pixels);
  var at = pixel_at(m_begin, params.OH, params.OW);
  var acc: Quad;
  for (var m = m_begin; m < m_end; m++) {
    let i0 = input_pixel(at.x, i32(at.y * params.SY + tap0.x) - i32(params.pad_top), i32(at.z * params.SX + tap0.y) - i32(params.pad_left));
    let i1 = input_pixel(at.x, i32(at.y * params.SY + tap1.x) - i32(params.pad_top), i32(at.z * params.SX + tap1.y) - i32(params.pad_left));
    let i2 = input_pixel(at.x, i32(at.y * params.SY + tap2.x) - i32(params.pad_top), i32(at.z * params.SX + tap2.y) - i32(params.pad_left));
    let i3 = input_pixel(at.x, i32(at.y * params.SY + tap3.x) - i32(params.pad_top), i32(at.z * params.SX + tap3.y) - i32(params.pad_left));
    let taps = vec4f(x[i0.at + tap0.z] * i0.scale, x[i1.at + tap1.z] * i1.scale, x[i2.at + tap2.z] * i2.scale, x[i3.at + tap3.z] * i3.scale);
    add_quad(&acc, select(taps, vec4f(1.0), bias_row), vec4<real>(d_out_quad(m * params.C_out, first)));
    next_pixel(&at);
  }
  for (var r = 0u; r < 4u; r++) {
    for (var j = 0u; j < 4u; j++) {
      if (k + r < rows && first + j < params.C_out) {
        partial_d_weight[(id.z * rows + k + r) * params.C_out + first + j] = quad_row(acc, r)[j];
      }
    }
  }
}

// The quads reading four channels of the contraction at a time, as vec4s,
// where they come in fours (C_in, or C_out for backward_input): a quarter of
// the gathers, each of a whole vec4, for the same products in the same order.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_quads4(@builtin(global_invocation_id) id: vec3u) {
  let first = id.y * 4u;
  let m = id.x * 4u;
  let p = quad_pixels(m, params.OH, params.OW);
  let init = select(vec4f(0.0), w_quad(params.KH * params.KW * params.C_in * params.C_out, first, params.C_out), BIAS);
  var acc = Quad(init, init, init, init);
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      let t = input_quad(p, kh, kw);
      let k = (kh * params.KW + kw) * params.C_in;
      for (var c = 0u; c < params.C_in; c += 4u) {
        let v0 = x4[(t.t0.at + c) / 4u] * t.t0.scale;
        let v1 = x4[(t.t1.at + c) / 4u] * t.t1.scale;
        let v2 = x4[(t.t2.at + c) / 4u] * t.t2.scale;
        let v3 = x4[(t.t3.at + c) / 4u] * t.t3.scale;
        add_quad_four_steps(&acc, v0, v1, v2, v3, k + c, first, params.C_out);
      }
    }
  }
  store_y_quad(acc, m, first);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input_quads4(@builtin(global_invocation_id) id: vec3u) {
  let first = id.y * 4u;
  let m = id.x * 4u;
  let p = quad_pixels(m, params.H, params.W);
  var acc: Quad;
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      let t = output_quad(p, kh, kw);
      let k = (kh * params.KW + kw) * params.C_out;
      for (var co = 0u; co < params.C_out; co += 4u) {
        let v0 = d_out4[(t.t0.at + co) / 4u] * t.t0.scale;
        let v1 = d_out4[(t.t1.at + co) / 4u] * t.t1.scale;
        let v2 = d_out4[(t.t2.at + co) / 4u] * t.t2.scale;
        let v3 = d_out4[(t.t3.at + co) / 4u] * t.t3.scale;
        add_quad_four_steps(&acc, v0, v1, v2, v3, k + co, first, params.C_in);
      }
    }
  }
  store_d_input_quad(acc, m, first);
}

// Rows k..k+3 of dW are four adjacent channels of one tap (C_in is a multiple
// of 4, and the bias row, if any, starts a four of its own whose values are 1):
// one vec4 of x a step.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight_quads4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = id.y * 4u;
  let weights = params.KH * params.KW * params.C_in;
  let rows = weights + select(0u, 1u, BIAS);
  let k = min(id.x * 4u, rows - 1u);
  let tap = kernel_row(k);
  let bias_four = k == weights;
  let pixels = params.N * params.OH * params.OW;
  let slice = (pixels + groups.z - 1u) / groups.z;
  let m_begin = min(id.z * slice, pixels);
  let m_end = min(m_begin + slice, pixels);
  var at = pixel_at(m_begin, params.OH, params.OW);
  var acc: Quad;
  for (var m = m_begin; m < m_end; m++) {
    let input = input_pixel(at.x, i32(at.y * params.SY + tap.x) - i32(params.pad_top), i32(at.z * params.SX + tap.y) - i32(params.pad_left));
    add_quad(&acc, select(x4[(input.at + tap.z) / 4u] * input.scale, vec4f(1.0), bias_four), vec4<real>(d_out_quad(m * params.C_out, first)));
    next_pixel(&at);
  }
  for (var r = 0u; r < 4u; r++) {
    for (var j = 0u; j < 4u; j++) {
      if (id.x * 4u + r < rows && first + j < params.C_out) {
        partial_d_weight[(id.z * rows + id.x * 4u + r) * params.C_out + first + j] = quad_row(acc, r)[j];
      }
    }
  }
}
