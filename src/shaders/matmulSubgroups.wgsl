// matmul.wgsl's register-blocked product with the A values of each step shared
// through the subgroup: a variant that ops/matmul.ts offers where the device
// has the 'subgroups' feature. A file of its own, not a transform of
// matmul.wgsl, because code that calls subgroup built-ins compiles only in a
// module that opens with `enable subgroups;`, and such a module fails on a
// device without the feature, where matmul.wgsl must compile; so the subgroup
// code cannot sit in matmul.wgsl, and this file repeats the few
// declarations and entry points it needs rather than assembling a module from
// fragments. It declares the same bindings and params as matmul.wgsl, so a
// dispatch binds the same buffers to it, and the override constants it uses
// (no tiles); its entry points pass the same strides: see matmul.wgsl for the
// layouts, the bias row and the backward derivations. activate.wgsl is
// appended to both.
//
// Algorithm: as in block_product, each invocation computes a 4 x 4 block of C
// and a workgroup is a row of invocations along N, so every lane of a subgroup
// needs the same four A values at each step k. Instead of every lane loading
// them at every step, the K loop goes a subgroup's width at a time: lane l
// loads the four A values of step k0 + l, and at step k0 + j every lane takes
// them from lane j with subgroupShuffle, then loads its own four B values and
// does 16 multiply-adds, in the same order as block_product (so the same
// floats). This assumes that every lane of a subgroup is there: WORKGROUP_SIZE
// is a multiple of the subgroup size (64 is, of every size up to 64; a larger
// subgroup holds the whole workgroup, and the loop steps WORKGROUP_SIZE at a
// time), and every lane takes part in every shuffle, so there is no early
// return: rows and columns past the edge are clamped when loading and skipped
// when storing.
//
// Products in `real`, as in matmul.wgsl (ops/matmul.ts makes it f16 on this
// line for mixed precision); the A values are shuffled as f32, then converted.

enable subgroups;
alias real = f32;

override WORKGROUP_SIZE: u32;
override VECTORIZED: bool;
override ACTIVATION: u32 = 0u;
override BIAS: bool = false;

// Rows and columns of C per invocation: four vec4 accumulators, as in matmul.wgsl.
const BLOCK = 4u;

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4f>;
@group(0) @binding(5) var<storage, read> relu_of: array<f32>;

// C = A · B, plus `init` in every row, then `activation` (or the ReLU mask),
// as matmul.wgsl's block_product; `lane` is the invocation's index in its subgroup of `width`.
fn subgroup_product(id: vec3u, lane: u32, width: u32, a_row: u32, a_col: u32, b_row: u32, b_col: u32, M: u32, ones: u32, init: vec4f, activation: u32, relu_mask: bool) {
  let row = id.y * BLOCK;
  let col = id.x * BLOCK;
  // Clamped indices read valid memory; what they compute is never stored.
  let row4 = min(vec4u(row) + vec4u(0u, 1u, 2u, 3u), vec4u(M - 1u));
  let rows = min(row4, vec4u(ones - 1u)) * a_row;
  let is_one = row4 >= vec4u(ones);
  let cols = min(vec4u(col) + vec4u(0u, 1u, 2u, 3u), vec4u(params.N - 1u)) * b_col;
  // With VECTORIZED, N is a multiple of 4, so the last vec4 of a row is whole.
  let col4 = min(col, params.N - 4u);
  let stride = min(width, WORKGROUP_SIZE);
  var acc = array<vec4f, BLOCK>(init, init, init, init);
  for (var k0 = 0u; k0 < params.K; k0 += stride) {
    let ak = min(k0 + lane, params.K - 1u) * a_col;
    let mine = select(vec4f(a[rows.x + ak], a[rows.y + ak], a[rows.z + ak], a[rows.w + ak]), vec4f(1.0), is_one);
    let steps = min(stride, params.K - k0);
    for (var j = 0u; j < steps; j++) {
      let a_values = subgroupShuffle(mine, j);
      let bk = (k0 + j) * b_row;
      var b_values: vec4f;
      if (VECTORIZED) {
        b_values = b4[(bk + col4) / 4u];
      } else {
        b_values = vec4f(b[bk + cols.x], b[bk + cols.y], b[bk + cols.z], b[bk + cols.w]);
      }
      let a_real = vec4<real>(a_values);
      let b_real = vec4<real>(b_values);
      acc[0] += vec4f(a_real.x * b_real);
      acc[1] += vec4f(a_real.y * b_real);
      acc[2] += vec4f(a_real.z * b_real);
      acc[3] += vec4f(a_real.w * b_real);
    }
  }
  for (var i = 0u; i < BLOCK; i++) {
    if (row + i < M) {
      for (var j = 0u; j < BLOCK; j++) {
        if (col + j < params.N) {
          let at = (row + i) * params.N + col + j;
          // An if, not a select (which evaluates both): relu_of is read only where it is bound to X.
          if (relu_mask) {
            c[at] = relu_gradient(acc[i][j], relu_of[at]);
          } else {
            c[at] = activate(acc[i][j], activation);
          }
        }
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) width: u32) {
  var bias = vec4f();
  if (BIAS) {
    let at = params.K * params.N;
    let cols = min(vec4u(id.x * BLOCK) + vec4u(0u, 1u, 2u, 3u), vec4u(params.N - 1u));
    bias = vec4f(b[at + cols.x], b[at + cols.y], b[at + cols.z], b[at + cols.w]);
  }
  subgroup_product(id, lane, width, params.K, 1u, params.N, 1u, params.M, params.M, bias, ACTIVATION, false);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) width: u32) {
  subgroup_product(id, lane, width, params.K, 1u, 1u, params.K, params.M, params.M, vec4f(), LINEAR, false);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input_relu(@builtin(global_invocation_id) id: vec3u, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) width: u32) {
  subgroup_product(id, lane, width, params.K, 1u, 1u, params.K, params.M, params.M, vec4f(), LINEAR, true);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight(@builtin(global_invocation_id) id: vec3u, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) width: u32) {
  subgroup_product(id, lane, width, 1u, params.M, params.N, 1u, params.M + select(0u, 1u, BIAS), params.M, vec4f(), LINEAR, false);
}
