// Gather: the rows of a batch, picked by index from a column of a data set
// that stays on the GPU (its inputs, or its labels or targets), copied into the
// graph's tensor y. Row r of the batch is row indices[r] of the data set.
//
// N rows are gathered (params.rows), R values a row (params.row_size); the data
// set's rows are laid end to end. `forward` copies words, f32 or u32 alike, bit
// for bit; `forward_bytes` reads bytes packed four to a u32, little-endian
// (byte i is bits 8·(i % 4) .. of word i / 4), each made the f32
// byte_values[byte]: a table the CPU fills with the bits of byte / 255 rounded
// to f32, so the GPU gives exactly the floats the CPU would have made (WGSL's
// f32 division may be off by more than half an ulp).
//
// One workgroup a row, its invocations striding along it; the workgroups
// stride over the rows, so any N fits the grid. No index is divided by R: on a
// CPU-emulated GPU, where an integer division is not vectorized, a thread per
// value that found its row by division took 4x as long (1.0 against 0.25 ms
// for 128 rows of 784 bytes on lavapipe). When R is a multiple of 4, every row
// starts on a word, and an invocation turns a whole word into four values.

override WORKGROUP_SIZE: u32;

struct Params {
  rows: u32,
  row_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The rows of this batch: indices into the data set.
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@group(0) @binding(3) var<storage, read> byte_values: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let R = params.row_size;
  for (var row = group.x; row < params.rows; row += groups.x) {
    let source = indices[row];
    for (var c = local.x; c < R; c += WORKGROUP_SIZE) {
      y[row * R + c] = x[source * R + c];
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_bytes(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let R = params.row_size;
  for (var row = group.x; row < params.rows; row += groups.x) {
    let source = indices[row];
    if (R % 4u == 0u) {
      let words = R / 4u;
      for (var c = local.x; c < words; c += WORKGROUP_SIZE) {
        let word = x[source * words + c];
        let i = row * R + 4u * c;
        y[i] = byte_values[word & 0xffu];
        y[i + 1u] = byte_values[(word >> 8u) & 0xffu];
        y[i + 2u] = byte_values[(word >> 16u) & 0xffu];
        y[i + 3u] = byte_values[word >> 24u];
      }
    } else {
      for (var c = local.x; c < R; c += WORKGROUP_SIZE) {
        let at = source * R + c;
        y[row * R + c] = byte_values[(x[at / 4u] >> (8u * (at % 4u))) & 0xffu];
      }
    }
  }
}
