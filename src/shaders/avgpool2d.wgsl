// 2D average pooling over NHWC float32 images with 'valid' or 'same' padding
// (Keras' AveragePooling2D), and its gradient.
//
// N images of H x W pixels with C channels, stored [N, H, W, C]. A PH x PW
// window steps SY rows and SX columns at a time; window (oy, ox) starts at row
// oy * SY - pad_top and column ox * SX - pad_left, and the output is
// [N, OH, OW, C]. With 'valid' padding the pads are 0 and every window lies in
// the image; with 'same' (TensorFlow's rule, see conv2d.ts) a window may hang
// over the border, and its average is over the in-image elements only, as
// TensorFlow's avg_pool does: padding is not counted as zeros. Every window
// holds at least one in-image element, as pad_top < PH and the last window
// starts inside the image.
//
// Both entry points are grid-stride loops over the pixels they write, each
// invocation doing all C channels of its pixel, for the reason maxpool2d.wgsl
// gives: the divisions that place a pixel run once per pixel, not per element.

override WORKGROUP_SIZE: u32;

struct Params {
  H: u32,
  W: u32,
  C: u32,
  OH: u32,
  OW: u32,
  PH: u32,
  PW: u32,
  SY: u32,
  SX: u32,
  pad_top: u32,
  pad_left: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> d_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_input: array<f32>;

// The in-image part of window o along one dimension: [first, end) in input
// coordinates, for a window starting at o * stride - pad (signed, as it may
// start in the padding).
fn window_span(o: u32, stride: u32, pad: u32, pool: u32, size: u32) -> vec2u {
  let start = i32(o * stride) - i32(pad);
  return vec2u(u32(max(start, 0)), u32(min(start + i32(pool), i32(size))));
}

// y[n, oy, ox, c] = (1 / |W|) Σ_{(h, w) ∈ W} x[n, h, w, c], W the window's in-image part.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&y) / params.C; p += groups.x * WORKGROUP_SIZE) {
    let ox = p % params.OW;
    let oy = (p / params.OW) % params.OH;
    let n = p / (params.OW * params.OH);
    let rows = window_span(oy, params.SY, params.pad_top, params.PH, params.H);
    let cols = window_span(ox, params.SX, params.pad_left, params.PW, params.W);
    let count = f32((rows.y - rows.x) * (cols.y - cols.x));
    for (var c = 0u; c < params.C; c++) {
      var sum = 0.0;
      for (var h = rows.x; h < rows.y; h++) {
        for (var w = cols.x; w < cols.y; w++) {
          sum += x[((n * params.H + h) * params.W + w) * params.C + c];
        }
      }
      y[p * params.C + c] = sum / count;
    }
  }
}

// y[o] = (1 / |W_o|) Σ_{i ∈ W_o} x[i] gives ∂y[o]/∂x[i] = [i ∈ W_o] / |W_o|, so
// dInput[i] = Σ_{o : i ∈ W_o} dOut[o] / |W_o|, over the windows that cover i.
// One invocation per input pixel gathers that sum: no atomics where windows
// overlap, and every element of dInput written once, zeros included.
//
// Window oy covers rows oy * SY - pad_top .. oy * SY - pad_top + PH - 1, so row
// h lies in the windows with h + pad_top - PH < oy * SY <= h + pad_top that
// exist (0 <= oy < OH); columns likewise.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&d_input) / params.C; p += groups.x * WORKGROUP_SIZE) {
    let w = p % params.W;
    let h = (p / params.W) % params.H;
    let n = p / (params.W * params.H);
    let row = h + params.pad_top;
    let col = w + params.pad_left;
    // row - PH would wrap around in u32; rows row < PH lie in windows from 0 on.
    let oy_first = select(0u, (row - params.PH) / params.SY + 1u, row >= params.PH);
    let ox_first = select(0u, (col - params.PW) / params.SX + 1u, col >= params.PW);
    let oy_last = min(row / params.SY, params.OH - 1u);
    let ox_last = min(col / params.SX, params.OW - 1u);
    for (var c = 0u; c < params.C; c++) {
      d_input[p * params.C + c] = 0.0;
    }
    for (var oy = oy_first; oy <= oy_last; oy++) {
      let rows = window_span(oy, params.SY, params.pad_top, params.PH, params.H);
      for (var ox = ox_first; ox <= ox_last; ox++) {
        let cols = window_span(ox, params.SX, params.pad_left, params.PW, params.W);
        let share = 1.0 / f32((rows.y - rows.x) * (cols.y - cols.x));
        let o = ((n * params.OH + oy) * params.OW + ox) * params.C;
        for (var c = 0u; c < params.C; c++) {
          d_input[p * params.C + c] += d_out[o + c] * share;
        }
      }
    }
  }
}
