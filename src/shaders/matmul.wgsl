// Matrix product C[M, N] = A[M, K] · B[K, N] and the two products its backward
// pass needs, all row-major float32.
//
// Algorithm: each workgroup computes one TILE x TILE block of C, one element per
// invocation. It walks the K dimension TILE columns at a time: the invocations
// load a TILE x TILE block of A and one of B into workgroup memory together, wait,
// then each accumulates its row of the A block times its column of the B block.
// Every value loaded from global memory is so used TILE times. Loads outside the
// matrices read as zero, so M, N and K need not be multiples of TILE.
//
// The three entry points differ only in how A and B are laid out in memory,
// which the strides passed to `tiled_product` express: A(m, k) is
// a[m * a_row + k * a_col] and B(k, n) is b[k * b_row + n * b_col].

override TILE: u32;

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> a_tile: array<f32, TILE * TILE>;
var<workgroup> b_tile: array<f32, TILE * TILE>;

fn tiled_product(group: vec3u, local: vec3u, a_row: u32, a_col: u32, b_row: u32, b_col: u32) {
  let row = group.y * TILE + local.y;
  let col = group.x * TILE + local.x;
  var sum = 0.0;
  for (var k0 = 0u; k0 < params.K; k0 += TILE) {
    // This invocation loads A(row, k0 + local.x) and B(k0 + local.y, col).
    let ak = k0 + local.x;
    let bk = k0 + local.y;
    var a_value = 0.0;
    if (row < params.M && ak < params.K) {
      a_value = a[row * a_row + ak * a_col];
    }
    var b_value = 0.0;
    if (bk < params.K && col < params.N) {
      b_value = b[bk * b_row + col * b_col];
    }
    a_tile[local.y * TILE + local.x] = a_value;
    b_tile[local.y * TILE + local.x] = b_value;
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) {
      sum += a_tile[local.y * TILE + k] * b_tile[k * TILE + local.x];
    }
    workgroupBarrier();
  }
  if (row < params.M && col < params.N) {
    c[row * params.N + col] = sum;
  }
}

// Y = X · W with X [M, K] and W [K, N].
@compute @workgroup_size(TILE, TILE)
fn forward(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  tiled_product(group, local, params.K, 1u, params.N, 1u);
}

// dX = dY · Wᵀ: from Y = X · W, dL/dX(m, k) = Σ_n dY(m, n) W(k, n).
// Here a = dY [M, K'] with K' the contraction, b = W stored [N, K'] read transposed.
@compute @workgroup_size(TILE, TILE)
fn backward_input(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  tiled_product(group, local, params.K, 1u, 1u, params.K);
}

// dW = Xᵀ · dY: dL/dW(k, n) = Σ_m X(m, k) dY(m, n).
// Here a = X stored [K', M] read transposed, b = dY [K', N].
@compute @workgroup_size(TILE, TILE)
fn backward_weight(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  tiled_product(group, local, 1u, params.M, params.N, 1u);
}
