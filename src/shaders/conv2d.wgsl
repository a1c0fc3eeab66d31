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
// matrix and no workgroup memory. Each invocation computes a cell of CELL
// channels (four vec4 accumulators) of one pixel (forward: an output pixel;
// backward_input: an input pixel) or of one kernel row (backward_weight). Which
// CELL channels depends on the workgroup only, so per contraction step an
// invocation gathers one value of its own (a pixel's channel) and multiplies it
// by CELL channels that every invocation of the workgroup reads at the same
// address: a GPU serves those from cache as a broadcast, and a CPU-emulated one
// (lavapipe runs 8 invocations in SIMD lanes) proves them uniform and loads them
// once for all lanes, where a load per invocation would be a gather. That, and
// no barriers (which make a CPU-emulated GPU several times slower, see
// matmul.wgsl), makes this faster there than tiles in workgroup memory.
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

override WORKGROUP_SIZE: u32;

// Channels per invocation: four vec4 accumulators. More spill registers on a CPU.
const CELL = 16u;

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
// [slices, KH*KW*C_in, C_out]: backward_weight's partial sums, one per slice of
// its contraction (or dW itself when there is one slice).
@group(0) @binding(6) var<storage, read_write> partial_d_weight: array<f32>;
@group(0) @binding(7) var<storage, read_write> d_weight: array<f32>;
// The same buffers as w and d_out, bound a second time to be read as vec4s.
@group(0) @binding(8) var<storage, read> w4: array<vec4f>;
@group(0) @binding(9) var<storage, read> d_out4: array<vec4f>;
// transpose_kernel's output, [KH, KW, C_out, C_in].
@group(0) @binding(10) var<storage, read_write> w_t: array<f32>;

alias Cell = array<vec4f, CELL / 4u>;

// Column j of a cell starting at channel `first`, clamped to the last of
// `count`: a cell past the edge reads valid memory, and is never stored.
fn column(first: u32, j: u32, count: u32) -> u32 {
  return min(first + j, count - 1u);
}

// Row `k` of w read as a matrix of `width` columns (forward: [KH*KW*C_in, C_out];
// backward_input, given the transpose: [KH*KW*C_out, C_in]), columns first..first+CELL.
fn w_row(k: u32, first: u32, width: u32) -> Cell {
  var row: Cell;
  let at = k * width;
  for (var j = 0u; j < 4u; j++) {
    if (VECTORIZED) {
      row[j] = w4[(at + column(first, 4u * j, width)) / 4u];
    } else {
      for (var i = 0u; i < 4u; i++) {
        row[j][i] = w[at + column(first, 4u * j + i, width)];
      }
    }
  }
  return row;
}

// Row `m` of dY read as the matrix [N*OH*OW, C_out], columns first..first+CELL.
fn d_out_row(m: u32, first: u32) -> Cell {
  var row: Cell;
  let at = m * params.C_out;
  for (var j = 0u; j < 4u; j++) {
    if (VECTORIZED) {
      row[j] = d_out4[(at + column(first, 4u * j, params.C_out)) / 4u];
    } else {
      for (var i = 0u; i < 4u; i++) {
        row[j][i] = d_out[at + column(first, 4u * j + i, params.C_out)];
      }
    }
  }
  return row;
}

fn add_scaled(cell: ptr<function, Cell>, value: f32, row: Cell) {
  for (var j = 0u; j < 4u; j++) {
    (*cell)[j] += value * row[j];
  }
}

// Where input pixel (ih, iw) of image n starts in x, and 1; or, when it lies in
// the padding (ih, iw are signed for that), a valid address and 0.
struct Tap {
  at: u32,
  scale: f32,
}

fn input_pixel(n: u32, ih: i32, iw: i32) -> Tap {
  let inside = ih >= 0 && iw >= 0 && ih < i32(params.H) && iw < i32(params.W);
  let at = ((n * params.H + u32(ih)) * params.W + u32(iw)) * params.C_in;
  return Tap(select(0u, at, inside), select(0.0, 1.0, inside));
}

// y(n, oh, ow, co) = Σ_{kh, kw, c} x(n, oh*SY + kh - pad_top, ow*SX + kw - pad_left, c) w(kh, kw, c, co).
// One output pixel per invocation (global x); the workgroup's y picks the cell.
fn forward_cell(pixel: u32, first: u32) {
  let pixels = params.N * params.OH * params.OW;
  let m = min(pixel, pixels - 1u);
  let ow = m % params.OW;
  let oh = (m / params.OW) % params.OH;
  let n = m / (params.OW * params.OH);
  var cell: Cell;
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      let tap = input_pixel(n, i32(oh * params.SY + kh) - i32(params.pad_top), i32(ow * params.SX + kw) - i32(params.pad_left));
      let k = (kh * params.KW + kw) * params.C_in;
      for (var c = 0u; c < params.C_in; c++) {
        add_scaled(&cell, x[tap.at + c] * tap.scale, w_row(k + c, first, params.C_out));
      }
    }
  }
  if (pixel < pixels) {
    for (var j = 0u; j < CELL; j++) {
      if (first + j < params.C_out) {
        y[m * params.C_out + first + j] = cell[j / 4u][j % 4u];
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u) {
  forward_cell(id.x, group.y * CELL);
}

// dW = Pᵀ · dY, where P[N*OH*OW, KH*KW*C_in] is the im2col matrix of x,
// P(m, k) = x(n, oh*SY + kh - pad_top, ow*SX + kw - pad_left, c) for m = (n, oh, ow)
// and k = (kh, kw, c): from y(m, co) = Σ_k P(m, k) w(k, co),
//   dL/dw(k, co) = Σ_m P(m, k) dY(m, co).
// One row k of dW per invocation (global x) and a cell of CELL columns per
// workgroup y, so per step m an invocation gathers P(m, k) and multiplies it by
// CELL values of row m of dY, the same for the whole workgroup.
//
// dW is small (KH*KW*C_in x C_out) but its contraction is long (N*OH*OW): too
// few workgroups to fill a GPU, or both cores of a CPU. So it is also split
// along the contraction into one slice per workgroup layer z, each writing its
// partial sums to partial_d_weight[z]; sum_slices adds them. The last slices
// may be short, or empty (then they add zero).
fn backward_weight_cell(row: u32, first: u32, z: u32, slices: u32) {
  let rows = params.KH * params.KW * params.C_in;
  let k = min(row, rows - 1u);
  let c = k % params.C_in;
  let kw = (k / params.C_in) % params.KW;
  let kh = k / (params.C_in * params.KW);
  let pixels = params.N * params.OH * params.OW;
  let slice = (pixels + slices - 1u) / slices;
  let m_begin = min(z * slice, pixels);
  let m_end = min(m_begin + slice, pixels);
  // (n, oh, ow) of pixel m, stepped along with it rather than divided out each step.
  var ow = m_begin % params.OW;
  var oh = (m_begin / params.OW) % params.OH;
  var n = m_begin / (params.OW * params.OH);
  var cell: Cell;
  for (var m = m_begin; m < m_end; m++) {
    let tap = input_pixel(n, i32(oh * params.SY + kh) - i32(params.pad_top), i32(ow * params.SX + kw) - i32(params.pad_left));
    add_scaled(&cell, x[tap.at + c] * tap.scale, d_out_row(m, first));
    ow++;
    if (ow == params.OW) {
      ow = 0u;
      oh++;
      if (oh == params.OH) {
        oh = 0u;
        n++;
      }
    }
  }
  if (row < rows) {
    for (var j = 0u; j < CELL; j++) {
      if (first + j < params.C_out) {
        partial_d_weight[(z * rows + k) * params.C_out + first + j] = cell[j / 4u][j % 4u];
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  backward_weight_cell(id.x, group.y * CELL, group.z, groups.z);
}

// dW(k, co) = Σ_z partial_d_weight(z, k, co); the number of slices is what the
// bound range holds.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_slices(@builtin(global_invocation_id) id: vec3u) {
  let size = params.KH * params.KW * params.C_in * params.C_out;
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
// One input pixel per invocation (global x) and a cell of CELL input channels
// per workgroup y: per step co an invocation gathers dY(n, oh, ow, co) and
// multiplies it by w(kh, kw, c, co) for the cell's channels c, the same for the
// whole workgroup, read from the transposed kernel where they are adjacent.
// With strides, a fraction 1 - 1/(SY*SX) of the taps have no (oh, ow): they are
// computed all the same, times zero, which keeps the invocations in step.
fn backward_input_cell(pixel: u32, first: u32) {
  let pixels = params.N * params.H * params.W;
  let i = min(pixel, pixels - 1u);
  let iw = i % params.W;
  let ih = (i / params.W) % params.H;
  let n = i / (params.W * params.H);
  var cell: Cell;
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      // oh * SY = ih + pad_top - kh must have a whole, in-range solution oh; likewise ow.
      let oh_sy = i32(ih + params.pad_top) - i32(kh);
      let ow_sx = i32(iw + params.pad_left) - i32(kw);
      let oh = u32(oh_sy) / params.SY;
      let ow = u32(ow_sx) / params.SX;
      let reached = oh_sy >= 0 && ow_sx >= 0 && u32(oh_sy) % params.SY == 0u && u32(ow_sx) % params.SX == 0u
        && oh < params.OH && ow < params.OW;
      let at = select(0u, ((n * params.OH + oh) * params.OW + ow) * params.C_out, reached);
      let scale = select(0.0, 1.0, reached);
      let k = (kh * params.KW + kw) * params.C_out;
      for (var co = 0u; co < params.C_out; co++) {
        add_scaled(&cell, d_out[at + co] * scale, w_row(k + co, first, params.C_in));
      }
    }
  }
  if (pixel < pixels) {
    for (var j = 0u; j < CELL; j++) {
      if (first + j < params.C_in) {
        d_input[i * params.C_in + first + j] = cell[j / 4u][j % 4u];
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u) {
  backward_input_cell(id.x, group.y * CELL);
}
