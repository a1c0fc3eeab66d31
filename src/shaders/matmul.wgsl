// Matrix product C[M, N] = A[M, K] · B[K, N] and the two products its backward
// pass needs, all row-major float32, in two algorithms that ops/matmul.ts
// offers the autotuner as variants of each entry point (TILED chooses).
//
// Register blocking (`block_product`, the default). Each invocation computes a
// 4 x 4 block of C in four vec4 accumulators: per step along K it loads one
// column of four A values and one row of four B values and does 16
// multiply-adds, so each value loaded is used four times, with no workgroup
// memory and no barriers (which make a CPU-emulated GPU such as lavapipe or
// SwiftShader several times slower; on a GPU the loads are cached).
//
// Workgroup-memory tiles (`tiled_product`, TILED), for a GPU: a workgroup
// copies tiles of A and B into workgroup memory and computes from there, so
// that each value is read from memory once per workgroup rather than once per
// invocation that uses it (see that function's opening comment).
//
// In both, rows and columns past the edge are clamped when loading and skipped
// when storing, so M, N and K may be any size. The three entry points differ
// only in how A and B are laid out in memory, which the strides passed to the
// product express: A(m, k) is a[m * a_row + k * a_col] and B(k, n) is
// b[k * b_row + n * b_col].
//
// Within a workgroup of `block_product` (a row of invocations along N) the four
// A values of a step are the same for every invocation: a GPU broadcasts them
// from cache, and a CPU-emulated one proves them uniform and loads them once.
// (matmulSubgroups.wgsl, for a device with subgroups, has each lane of a
// subgroup load those of a different step and shares them by shuffles.) The
// four B values are each invocation's own. Where they are adjacent (b_col = 1,
// in forward and backward_weight) and rows of B start on a vec4 (N a multiple
// of 4), they can be read as one vec4 through the view b4 (VECTORIZED) instead
// of four gathered floats: about 10% faster on lavapipe at the dense model's
// 128x784x128.
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
//
// Precision: the operands are read as f32 and multiplied as `real`, which is
// f32 here; ops/matmul.ts compiles the same code with it f16 (this line
// becomes `enable f16; alias real = f16;`) for mixed precision on a device
// with shader-f16: each operand rounded to f16, each product of vec4<f16>s
// rounded to f16, and the sums accumulated in f32, as in f32. With real = f32
// the conversions do nothing: the same bits as without them.
alias real = f32;

// Invocations per workgroup along N, and along M (1 unless TILED).
override WORKGROUP_SIZE: u32;
override WORKGROUP_ROWS: u32 = 1u;
// Whether to compute through workgroup-memory tiles (tiled_product) rather than registers alone.
override TILED: bool = false;
override VECTORIZED: bool;
// The activation forward applies: activate.wgsl's LINEAR, RELU, SIGMOID or TANH.
override ACTIVATION: u32 = 0u;
// Whether b ends with the bias row (forward) and c with its gradient (backward_weight).
override BIAS: bool = false;

// Rows and columns of C per invocation: four vec4 accumulators (the code below
// is written for this size; TypeScript reads it to size the grid).
const BLOCK = 4u;
// Steps along K per pair of tiles in workgroup memory (TILED).
const TILE_K = 16u;

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

// TILED's tiles of A and B, TILE_K steps deep, stored k-major:
// a_tile[k * WORKGROUP_ROWS + i] holds A's four rows of block row i at step k,
// b_tile[k * WORKGROUP_SIZE + j] B's four columns of block column j. Sized one
// element when not TILED, so that the register-blocked variants hold no
// workgroup memory.
var<workgroup> a_tile: array<vec4<real>, select(1u, TILE_K * WORKGROUP_ROWS, TILED)>;
var<workgroup> b_tile: array<vec4<real>, select(1u, TILE_K * WORKGROUP_SIZE, TILED)>;

// The product by either algorithm: C = A · B, plus `init` in every row (the
// bias, or zero), then `activation`, or with `relu_mask` the gradient of the
// ReLU that wrote relu_of (see store_block); C has `M` rows, and A's rows at
// `ones` or past it are ones (a bias row). Invocation `id` computes C's block
// at rows id.y * BLOCK and columns id.x * BLOCK; `local` is its place in the workgroup.
fn product(id: vec3u, local: vec3u, a_row: u32, a_col: u32, b_row: u32, b_col: u32, M: u32, ones: u32, init: vec4f, activation: u32, relu_mask: bool) {
  if (TILED) {
    tiled_product(id, local, a_row, a_col, b_row, b_col, M, ones, init, activation, relu_mask);
  } else {
    block_product(id, a_row, a_col, b_row, b_col, M, ones, init, activation, relu_mask);
  }
}

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
    multiply_add(&acc, vec4<real>(a_values), vec4<real>(b_values));
  }
  store_block(row, col, M, acc, activation, relu_mask);
}

// One step along K: the 16 products of four A values and four B values, in
// `real`, added to the four f32 accumulators.
fn multiply_add(acc: ptr<function, array<vec4f, BLOCK>>, a_values: vec4<real>, b_values: vec4<real>) {
  (*acc)[0] += vec4f(a_values.x * b_values);
  (*acc)[1] += vec4f(a_values.y * b_values);
  (*acc)[2] += vec4f(a_values.z * b_values);
  (*acc)[3] += vec4f(a_values.w * b_values);
}

// Workgroup-memory tiles. A workgroup of WORKGROUP_SIZE x WORKGROUP_ROWS
// invocations computes a tile of C, BLOCK * WORKGROUP_ROWS rows by BLOCK *
// WORKGROUP_SIZE columns, each invocation the same 4 x 4 block as
// block_product. The workgroup walks K in steps of TILE_K: together its
// invocations copy the A tile [tile rows x TILE_K] and the B tile [TILE_K x
// tile columns] into workgroup memory, a vec4 at a time, each taking its turn
// at every `invocations`-th vec4; wait at a barrier; do TILE_K steps of 16
// multiply-adds from workgroup memory; and wait again before the next copy
// overwrites the tiles. Each value of A and B is read from memory once per
// workgroup rather than once per invocation that uses it. Neighbouring
// invocations copy neighbouring addresses: along k where the operand is
// contiguous along k (a_col or b_row is 1), else along the tile's rows or
// columns. Every invocation reaches every barrier, those past the edge
// included: their loads are clamped and their stores skipped. Sums run over k
// in the same order as block_product's, so both give the same floats.
fn tiled_product(id: vec3u, local: vec3u, a_row: u32, a_col: u32, b_row: u32, b_col: u32, M: u32, ones: u32, init: vec4f, activation: u32, relu_mask: bool) {
  let row = id.y * BLOCK;
  let col = id.x * BLOCK;
  // The tile's first row and column, and this invocation's turn in the copies.
  let tile_row = (id.y - local.y) * BLOCK;
  let tile_col = (id.x - local.x) * BLOCK;
  let invocations = WORKGROUP_SIZE * WORKGROUP_ROWS;
  let turn = local.y * WORKGROUP_SIZE + local.x;
  var acc = array<vec4f, BLOCK>(init, init, init, init);
  for (var k0 = 0u; k0 < params.K; k0 += TILE_K) {
    for (var i = turn; i < TILE_K * WORKGROUP_ROWS; i += invocations) {
      let at = tile_slot(i, WORKGROUP_ROWS, a_col == 1u);
      let ak = min(k0 + at.x, params.K - 1u) * a_col;
      let row4 = min(vec4u(tile_row + at.y * BLOCK) + vec4u(0u, 1u, 2u, 3u), vec4u(M - 1u));
      let rows = min(row4, vec4u(ones - 1u)) * a_row;
      a_tile[at.x * WORKGROUP_ROWS + at.y] = vec4<real>(select(vec4f(a[rows.x + ak], a[rows.y + ak], a[rows.z + ak], a[rows.w + ak]), vec4f(1.0), row4 >= vec4u(ones)));
    }
    for (var i = turn; i < TILE_K * WORKGROUP_SIZE; i += invocations) {
      let at = tile_slot(i, WORKGROUP_SIZE, b_row == 1u);
      let bk = min(k0 + at.x, params.K - 1u) * b_row;
      let first = tile_col + at.y * BLOCK;
      var values: vec4f;
      if (VECTORIZED) {
        // N is a multiple of 4, so the last vec4 of a row is whole.
        values = b4[(bk + min(first, params.N - 4u)) / 4u];
      } else {
        let cols = min(vec4u(first) + vec4u(0u, 1u, 2u, 3u), vec4u(params.N - 1u)) * b_col;
        values = vec4f(b[bk + cols.x], b[bk + cols.y], b[bk + cols.z], b[bk + cols.w]);
      }
      b_tile[at.x * WORKGROUP_SIZE + at.y] = vec4<real>(values);
    }
    workgroupBarrier();
    // Steps past K hold clamped copies: not summed, so that no term is added that block_product does not add.
    let steps = min(TILE_K, params.K - k0);
    for (var k = 0u; k < steps; k++) {
      multiply_add(&acc, a_tile[k * WORKGROUP_ROWS + local.y], b_tile[k * WORKGROUP_SIZE + local.x]);
    }
    workgroupBarrier();
  }
  store_block(row, col, M, acc, activation, relu_mask);
}

// Where the i-th vec4 a tile's copy loads goes: (step k, vec4 index) in a tile
// `width` vec4s wide and TILE_K deep. Consecutive i walk along k when the
// operand is contiguous along k, else along the vec4s.
fn tile_slot(i: u32, width: u32, along_k: bool) -> vec2u {
  if (along_k) {
    return vec2u(i % TILE_K, i / TILE_K);
  }
  return vec2u(i / width, i % width);
}

// Stores the block at (row, col) through `activation`, skipping what lies past
// C's edge; with `relu_mask` (backward_input_relu), through the gradient of
// the ReLU that wrote relu_of instead (activate.wgsl's relu_gradient).
fn store_block(row: u32, col: u32, M: u32, acc: array<vec4f, BLOCK>, activation: u32, relu_mask: bool) {
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

// Y = f(X · W + bias) with X [M, K] and W [K, N] (then the bias, with BIAS).
@compute @workgroup_size(WORKGROUP_SIZE, WORKGROUP_ROWS)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_id) local: vec3u) {
  var bias = vec4f();
  if (BIAS) {
    let at = params.K * params.N;
    let cols = min(vec4u(id.x * BLOCK) + vec4u(0u, 1u, 2u, 3u), vec4u(params.N - 1u));
    bias = vec4f(b[at + cols.x], b[at + cols.y], b[at + cols.z], b[at + cols.w]);
  }
  product(id, local, params.K, 1u, params.N, 1u, params.M, params.M, bias, ACTIVATION, false);
}

// dX = dY · Wᵀ: from Y = X · W, dL/dX(m, k) = Σ_n dY(m, n) W(k, n).
// Here a = dY [M, K'] with K' the contraction, b = W stored [N, K'] read transposed.
@compute @workgroup_size(WORKGROUP_SIZE, WORKGROUP_ROWS)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_id) local: vec3u) {
  product(id, local, params.K, 1u, 1u, params.K, params.M, params.M, vec4f(), LINEAR, false);
}

// dX = relu'(X) ⊙ (dY · Wᵀ), where X is a ReLU's output: relu'(x) is [x > 0],
// and x > 0 exactly when the ReLU's own input was (activation.wgsl).
@compute @workgroup_size(WORKGROUP_SIZE, WORKGROUP_ROWS)
fn backward_input_relu(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_id) local: vec3u) {
  product(id, local, params.K, 1u, 1u, params.K, params.M, params.M, vec4f(), LINEAR, true);
}

// dW = Xᵀ · dY: dL/dW(k, n) = Σ_m X(m, k) dY(m, n). With BIAS, row M (one past
// X's columns) is the bias': dL/dbias(n) = Σ_m dY(m, n), as if X had a column of ones.
// Here a = X stored [K', M] read transposed, b = dY [K', N].
@compute @workgroup_size(WORKGROUP_SIZE, WORKGROUP_ROWS)
fn backward_weight(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_id) local: vec3u) {
  product(id, local, 1u, params.M, params.N, 1u, params.M + select(0u, 1u, BIAS), params.M, vec4f(), LINEAR, false);
}
