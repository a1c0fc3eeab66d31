// Matrix product C[M, N] = A[M, K] · B[K, N] and the two products its backward
// pass needs, all row-major float32.
//
// Algorithm: register blocking. Each invocation computes a 4 x 4 block of C in
// four vec4 accumulators: per step along K it loads one column of four A values
// and one row of four B values and does 16 multiply-adds, so each value loaded
// is used four times, with no workgroup memory and no barriers (which make a
// CPU-emulated GPU such as lavapipe or SwiftShader several times slower; on a
// GPU the loads are cached). Rows and columns past the edge are clamped when
// loading and skipped when storing, so M, N and K may be any size.
//
// The three entry points differ only in how A and B are laid out in memory,
// which the strides passed to `block_product` express: A(m, k) is
// a[m * a_row + k * a_col] and B(k, n) is b[k * b_row + n * b_col].
//
// Within a workgroup (a row of invocations along N) the four A values of a step
// are the same for every invocation: a GPU broadcasts them from cache, and a
// CPU-emulated one proves them uniform and loads them once. The four B values
// are each invocation's own. Where they are adjacent (b_col = 1, in forward and
// backward_weight) and rows of B start on a vec4 (N a multiple of 4), they are
// read as one vec4 through the view b4 (VECTORIZED) instead of four gathered
// floats: about 10% faster on lavapipe at the dense model's 128x784x128.
//
// A Dense layer's bias rides along as one more row of its kernel (BIAS): W is
// then [K + 1, N] with the bias last (the engine keeps a layer's kernel and
// bias side by side). forward starts each sum at the bias and applies the
// activation (activate.wgsl, appended) before it stores, so a layer is one
// dispatch; backward_weight computes the bias gradient as that last row, the
// product of dY with a row of ones.
//
// backward_input_relu is backward_input followed by the gradient of the ReLU
// that wrote the layer's input X: a Dense layer ending in ReLU before this one
// leaves its relu_backward out and reads dX as the gradient before its ReLU.

override WORKGROUP_SIZE: u32;
override VECTORIZED: bool;
// The activation forward applies: activate.wgsl's LINEAR, RELU, SIGMOID or TANH.
override ACTIVATION: u32 = 0u;
// Whether b ends with the bias row (forward) and c with its gradient (backward_weight).
override BIAS: bool = false;

// Rows and columns of C per invocation: four vec4 accumulators (the code below
// is written for this size; TypeScript reads it to size the grid).
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
// The same buffer as b, bound a second time to be read as vec4s.
@group(0) @binding(4) var<storage, read> b4: array<vec4f>;
// backward_input_relu's X, the output of a ReLU, whose signs mask dX.
@group(0) @binding(5) var<storage, read> relu_of: array<f32>;

// What a product stores at c[i]: f(v) in forward; in backward_input_relu, the
// ReLU's gradient applied to v as activation.wgsl's relu_backward applies it
// (the mask selects, so a NaN v where X <= 0 gives 0, and a NaN X gives NaN).
fn output(i: u32, v: f32, activation: u32, relu_mask: bool) -> f32 {
  if (relu_mask) {
    return select(select(0.0, v, relu_of[i] > 0.0), relu_of[i], is_nan(relu_of[i]));
  }
  return activate(v, activation);
}

// C = A · B, plus `init` in every row (the bias, or zero), then `activation`
// (or the ReLU mask, see output); C has `M` rows, and A's rows at `ones` or
// past it are ones (a bias row).
fn block_product(id: vec3u, a_row: u32, a_col: u32, b_row: u32, b_col: u32, M: u32, ones: u32, init: vec4f, activation: u32, relu_mask: bool) {
  let row = id.y * BLOCK;
  let col = id.x * BLOCK;
  if (row >= M || col >= params.N) {
    return;
  }
  // Clamped indices read valid memory; what they compute is never stored.
  let row4 = min(vec4u(row) + vec4u(0u, 1u, 2u, 3u), vec4u(M - 1u));
  let rows = min(row4, vec4u(ones - 1u)) * a_row;
  let is_one = row4 >= vec4u(ones);
  let cols = min(vec4u(col) + vec4u(0u, 1u, 2u, 3u), vec4u(params.N - 1u)) * b_col;
  var acc = array<vec4f, BLOCK>(init, init, init, init);
  for (var k = 0u; k < params.K; k++) {
    let bk = k * b_row;
    var b_values: vec4f;
    if (VECTORIZED) {
      b_values = b4[(bk + col) / 4u];
    } else {
      b_values = vec4f(b[bk + cols.x], b[bk + cols.y], b[bk + cols.z], b[bk + cols.w]);
    }
    let ak = k * a_col;
    let a_values = select(vec4f(a[rows.x + ak], a[rows.y + ak], a[rows.z + ak], a[rows.w + ak]), vec4f(1.0), is_one);
    acc[0] += a_values.x * b_values;
    acc[1] += a_values.y * b_values;
    acc[2] += a_values.z * b_values;
    acc[3] += a_values.w * b_values;
  }
  for (var i = 0u; i < BLOCK; i++) {
    if (row + i < M) {
      for (var j = 0u; j < BLOCK; j++) {
        if (col + j < params.N) {
          let at = (row + i) * params.N + col + j;
          c[at] = output(at, acc[i][j], activation, relu_mask);
        }
      }
    }
  }
}

// Y = f(X · W + bias) with X [M, K] and W [K, N] (then the bias, with BIAS).
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u) {
  var bias = vec4f();
  if (BIAS) {
    let at = params.K * params.N;
    let cols = min(vec4u(id.x * BLOCK) + vec4u(0u, 1u, 2u, 3u), vec4u(params.N - 1u));
    bias = vec4f(b[at + cols.x], b[at + cols.y], b[at + cols.z], b[at + cols.w]);
  }
  block_product(id, params.K, 1u, params.N, 1u, params.M, params.M, bias, ACTIVATION, false);
}

// dX = dY · Wᵀ: from Y = X · W, dL/dX(m, k) = Σ_n dY(m, n) W(k, n).
// Here a = dY [M, K'] with K' the contraction, b = W stored [N, K'] read transposed.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input(@builtin(global_invocation_id) id: vec3u) {
  block_product(id, params.K, 1u, 1u, params.K, params.M, params.M, vec4f(), LINEAR, false);
}

// dX = relu'(X) ⊙ (dY · Wᵀ), where X is a ReLU's output: relu'(x) is [x > 0],
// and x > 0 exactly when the ReLU's own input was (activation.wgsl).
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input_relu(@builtin(global_invocation_id) id: vec3u) {
  block_product(id, params.K, 1u, 1u, params.K, params.M, params.M, vec4f(), LINEAR, true);
}

// dW = Xᵀ · dY: dL/dW(k, n) = Σ_m X(m, k) dY(m, n). With BIAS, row M (one past
// X's columns) is the bias': dL/dbias(n) = Σ_m dY(m, n), as if X had a column of ones.
// Here a = X stored [K', M] read transposed, b = dY [K', N].
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight(@builtin(global_invocation_id) id: vec3u) {
  block_product(id, 1u, params.M, params.N, 1u, params.M + select(0u, 1u, BIAS), params.M, vec4f(), LINEAR, false);
}
