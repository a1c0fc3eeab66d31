// Gather: the rows of a batch, picked by index from a data set that stays on
// the GPU, copied into the graph's input tensor y, and their labels into
// y_labels. Row r of the batch is row indices[r] of the data set.
//
// N rows are gathered, R values a row (R = params.row_size); the data set's
// rows are laid end to end. `forward` reads them as f32; `forward_bytes` as
// bytes packed four to a u32, little-endian (byte i is bits 8·(i % 4) .. of
// word i / 4), each one made the f32 byte_values[byte]: a table the CPU fills
// with byte / 255 rounded to f32, so the GPU gives exactly the floats the CPU
// would have made (WGSL's f32 division may be off by more than half an ulp).
//
// A grid-stride loop (see activation.wgsl) over the N·R values of y, bound to
// exactly its range; the invocation that writes a row's first value copies its label.

override WORKGROUP_SIZE: u32;

struct Params {
  row_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The rows of this batch: indices into the data set.
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> x_bytes: array<u32>;
@group(0) @binding(4) var<storage, read> byte_values: array<f32>;
@group(0) @binding(5) var<storage, read> labels: array<u32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read_write> y_labels: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&y); i += groups.x * WORKGROUP_SIZE) {
    let row = i / params.row_size;
    let column = i - row * params.row_size;
    let source = indices[row];
    y[i] = x[source * params.row_size + column];
    if (column == 0u) {
      y_labels[row] = labels[source];
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_bytes(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&y); i += groups.x * WORKGROUP_SIZE) {
    let row = i / params.row_size;
    let column = i - row * params.row_size;
    let source = indices[row];
    let at = source * params.row_size + column;
    let byte = (x_bytes[at / 4u] >> (8u * (at % 4u))) & 0xffu;
    y[i] = byte_values[byte];
    if (column == 0u) {
      y_labels[row] = labels[source];
    }
  }
}
