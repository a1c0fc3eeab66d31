// 2D convolution (cross-correlation, as in Keras) of float32 NHWC images with
// HWIO kernels, with strides and zero padding, and its two gradients.
//
// Letters: x [N, H, W, C_in] holds N images of H x W pixels with C_in channels;
// w [KH, KW, C_in, C_out] is a KH x KW kernel; y [N, OH, OW, C_out]. Through
// kernel tap (kh, kw), output pixel (oh, ow) sees input pixel
// (oh * SY + kh - pad_top, ow * SX + kw - pad_left); taps in the padding read zero.
//
// Algorithm (implicit GEMM): forward, backward_input and backward_weight are
// matrix products C = A · B whose operands are gathered from the tensors on the
// fly, never copied into an im2col matrix. The forward pass is Y = P · W with
//   P[N*OH*OW, KH*KW*C_in],  P(m, k) = x(n, oh*SY + kh - pad_top, ow*SX + kw - pad_left, c)
// for m = (n, oh, ow) and k = (kh, kw, c), while w read row-major already is the
// matrix W[KH*KW*C_in, C_out].
//
// Each workgroup of TILE x TILE invocations computes one BLOCK x BLOCK block of
// C, BLOCK = CELL * TILE, each invocation a CELL x CELL cell of it. It walks the
// contraction TILE steps at a time: the invocations gather a BLOCK x TILE block
// of A and a TILE x BLOCK block of B into workgroup memory together, wait, then
// each adds the products of its CELL rows of A and CELL columns of B. Every
// gathered value is so used BLOCK times, and every value read from workgroup
// memory CELL times: several times faster than one output per invocation (as
// matmul.wgsl does), on a GPU and on the software ones the tests use alike.
// Gathers outside the operands read zero, so no size needs to be a multiple of
// anything.

override TILE: u32;
override WORKGROUP_SIZE: u32;

// A cell's rows and columns are vec4s.
const CELL = 4u;

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

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_input: array<f32>;
// [slices, KH*KW*C_in, C_out]: backward_weight's partial sums, one per slice of
// its contraction (or dW itself when there is one slice).
@group(0) @binding(6) var<storage, read_write> partial_d_weight: array<f32>;
@group(0) @binding(7) var<storage, read_write> d_weight: array<f32>;

// The blocks of A and B, step-major: a_block[s * TILE + r / CELL][r % CELL] is
// A(row r, step s), and b_block likewise holds B(step s, column r).
var<workgroup> a_block: array<vec4f, TILE * TILE>;
var<workgroup> b_block: array<vec4f, TILE * TILE>;

fn store_a(at: vec2u, value: f32) {
  a_block[at.x * TILE + at.y / CELL][at.y % CELL] = value;
}

fn store_b(at: vec2u, value: f32) {
  b_block[at.x * TILE + at.y / CELL][at.y % CELL] = value;
}

// Each invocation gathers CELL elements of each block per step: elements
// index + i * TILE * TILE, i < CELL, of the TILE * BLOCK. Element e is
// (step, row) of an A block, or (step, column) of a B block, read with the step
// or the row varying fastest: whichever the operand has adjacent in memory, so
// that adjacent invocations read adjacent addresses.
fn steps_fastest(element: u32) -> vec2u {
  return vec2u(element % TILE, element / TILE);
}

fn rows_fastest(element: u32) -> vec2u {
  return vec2u(element / (CELL * TILE), element % (CELL * TILE));
}

// Waits for the blocks to be gathered, adds this invocation's share of their
// product to its cell, and waits again so that they are not overwritten while
// others still read them. Every invocation of the workgroup must call it.
fn multiply_blocks(local: vec3u, cell: ptr<function, array<vec4f, CELL>>) {
  workgroupBarrier();
  for (var s = 0u; s < TILE; s++) {
    let a = a_block[s * TILE + local.y];
    let b = b_block[s * TILE + local.x];
    for (var i = 0u; i < CELL; i++) {
      (*cell)[i] += a[i] * b;
    }
  }
  workgroupBarrier();
}

// The output element that row i, column j of this invocation's cell holds, as
// (row, column) of C: row0 and col0 are the block's first.
fn cell_element(row0: u32, col0: u32, local: vec3u, i: u32, j: u32) -> vec2u {
  return vec2u(row0 + local.y * CELL + i, col0 + local.x * CELL + j);
}

// P(m, k), for m < N*OH*OW and k < KH*KW*C_in.
fn im2col(m: u32, k: u32) -> f32 {
  let c = k % params.C_in;
  let kw = (k / params.C_in) % params.KW;
  let kh = k / (params.C_in * params.KW);
  let ow = m % params.OW;
  let oh = (m / params.OW) % params.OH;
  let n = m / (params.OW * params.OH);
  let ih = i32(oh * params.SY + kh) - i32(params.pad_top);
  let iw = i32(ow * params.SX + kw) - i32(params.pad_left);
  if (ih < 0 || iw < 0 || ih >= i32(params.H) || iw >= i32(params.W)) {
    return 0.0;
  }
  return x[((n * params.H + u32(ih)) * params.W + u32(iw)) * params.C_in + c];
}

// Y = P · W.
@compute @workgroup_size(TILE, TILE)
fn forward(
  @builtin(workgroup_id) group: vec3u,
  @builtin(local_invocation_id) local: vec3u,
  @builtin(local_invocation_index) index: u32,
) {
  let rows = params.N * params.OH * params.OW;
  let K = params.KH * params.KW * params.C_in;
  let row0 = group.y * CELL * TILE;
  let col0 = group.x * CELL * TILE;
  var cell: array<vec4f, CELL>;
  for (var k0 = 0u; k0 < K; k0 += TILE) {
    for (var i = 0u; i < CELL; i++) {
      let e = index + i * TILE * TILE;
      // P is contiguous along k (channels), W along its columns.
      let a = steps_fastest(e);
      var a_value = 0.0;
      if (row0 + a.y < rows && k0 + a.x < K) {
        a_value = im2col(row0 + a.y, k0 + a.x);
      }
      store_a(a, a_value);
      let b = rows_fastest(e);
      var b_value = 0.0;
      if (k0 + b.x < K && col0 + b.y < params.C_out) {
        b_value = w[(k0 + b.x) * params.C_out + col0 + b.y];
      }
      store_b(b, b_value);
    }
    multiply_blocks(local, &cell);
  }
  for (var i = 0u; i < CELL; i++) {
    for (var j = 0u; j < CELL; j++) {
      let at = cell_element(row0, col0, local, i, j);
      if (at.x < rows && at.y < params.C_out) {
        y[at.x * params.C_out + at.y] = cell[i][j];
      }
    }
  }
}

// dW = Pᵀ · dY: from Y(m, co) = Σ_k P(m, k) W(k, co), dL/dW(k, co) = Σ_m P(m, k) dY(m, co),
// with dY read as the matrix [N*OH*OW, C_out].
//
// The product is small (KH*KW*C_in x C_out) but its contraction is long
// (N*OH*OW): too few blocks to fill a GPU. So it is also split along the
// contraction into one slice per workgroup layer z, each writing its partial
// sums to partial_d_weight[z]; sum_slices adds them. The slices are whole
// numbers of TILE steps; the last ones may be short, or empty (then they add zero).
@compute @workgroup_size(TILE, TILE)
fn backward_weight(
  @builtin(workgroup_id) group: vec3u,
  @builtin(local_invocation_id) local: vec3u,
  @builtin(local_invocation_index) index: u32,
  @builtin(num_workgroups) groups: vec3u,
) {
  let rows = params.KH * params.KW * params.C_in;
  let M = params.N * params.OH * params.OW;
  let slice = (M + groups.z * TILE - 1) / (groups.z * TILE) * TILE;
  let m_begin = group.z * slice;
  let m_end = min(m_begin + slice, M);
  let row0 = group.y * CELL * TILE;
  let col0 = group.x * CELL * TILE;
  var cell: array<vec4f, CELL>;
  for (var m0 = m_begin; m0 < m_end; m0 += TILE) {
    for (var i = 0u; i < CELL; i++) {
      let e = index + i * TILE * TILE;
      // Pᵀ is contiguous along its rows k (channels), dY along its columns.
      let a = rows_fastest(e);
      var a_value = 0.0;
      if (row0 + a.y < rows && m0 + a.x < m_end) {
        a_value = im2col(m0 + a.x, row0 + a.y);
      }
      store_a(a, a_value);
      let b = rows_fastest(e);
      var b_value = 0.0;
      if (m0 + b.x < m_end && col0 + b.y < params.C_out) {
        b_value = d_out[(m0 + b.x) * params.C_out + col0 + b.y];
      }
      store_b(b, b_value);
    }
    multiply_blocks(local, &cell);
  }
  for (var i = 0u; i < CELL; i++) {
    for (var j = 0u; j < CELL; j++) {
      let at = cell_element(row0, col0, local, i, j);
      if (at.x < rows && at.y < params.C_out) {
        partial_d_weight[(group.z * rows + at.x) * params.C_out + at.y] = cell[i][j];
      }
    }
  }
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

// Q(i, j) for input pixel i = (n, ih, iw) and j = (kh, kw, co), i < N*H*W and
// j < KH*KW*C_out: dY at the output pixel that reaches input pixel i through
// tap (kh, kw), or zero when no output pixel does.
fn spread(i: u32, j: u32) -> f32 {
  let co = j % params.C_out;
  let kw = (j / params.C_out) % params.KW;
  let kh = j / (params.C_out * params.KW);
  let iw = i % params.W;
  let ih = (i / params.W) % params.H;
  let n = i / (params.W * params.H);
  // oh * SY = ih + pad_top - kh must have a whole, in-range solution oh.
  let oh_sy = i32(ih + params.pad_top) - i32(kh);
  let ow_sx = i32(iw + params.pad_left) - i32(kw);
  if (oh_sy < 0 || ow_sx < 0 || u32(oh_sy) % params.SY != 0u || u32(ow_sx) % params.SX != 0u) {
    return 0.0;
  }
  let oh = u32(oh_sy) / params.SY;
  let ow = u32(ow_sx) / params.SX;
  if (oh >= params.OH || ow >= params.OW) {
    return 0.0;
  }
  return d_out[((n * params.OH + oh) * params.OW + ow) * params.C_out + co];
}

// dX = Q · V: x(n, ih, iw, c) meets w(kh, kw, c, co) in y(n, oh, ow, co) exactly
// when ih = oh*SY + kh - pad_top and iw = ow*SX + kw - pad_left, so
//   dL/dx(n, ih, iw, c) = Σ_{kh, kw, co} dY(n, oh, ow, co) w(kh, kw, c, co)
// over the taps for which such (oh, ow) exist. As a product: dX read as
// [N*H*W, C_in] is Q · V with V[KH*KW*C_out, C_in], V(j, c) = w(kh, kw, c, co).
// With strides, a fraction 1 - 1/(SY*SX) of Q is zeros, gathered all the same.
@compute @workgroup_size(TILE, TILE)
fn backward_input(
  @builtin(workgroup_id) group: vec3u,
  @builtin(local_invocation_id) local: vec3u,
  @builtin(local_invocation_index) index: u32,
) {
  let rows = params.N * params.H * params.W;
  let K = params.KH * params.KW * params.C_out;
  let row0 = group.y * CELL * TILE;
  let col0 = group.x * CELL * TILE;
  var cell: array<vec4f, CELL>;
  for (var k0 = 0u; k0 < K; k0 += TILE) {
    for (var i = 0u; i < CELL; i++) {
      let e = index + i * TILE * TILE;
      // Q and V are both contiguous along j (output channels).
      let a = steps_fastest(e);
      var a_value = 0.0;
      if (row0 + a.y < rows && k0 + a.x < K) {
        a_value = spread(row0 + a.y, k0 + a.x);
      }
      store_a(a, a_value);
      let b = steps_fastest(e);
      let j = k0 + b.x;
      var b_value = 0.0;
      if (j < K && col0 + b.y < params.C_in) {
        b_value = w[((j / params.C_out) * params.C_in + col0 + b.y) * params.C_out + j % params.C_out];
      }
      store_b(b, b_value);
    }
    multiply_blocks(local, &cell);
  }
  for (var i = 0u; i < CELL; i++) {
    for (var j = 0u; j < CELL; j++) {
      let at = cell_element(row0, col0, local, i, j);
      if (at.x < rows && at.y < params.C_in) {
        d_input[at.x * params.C_in + at.y] = cell[i][j];
      }
    }
  }
}
