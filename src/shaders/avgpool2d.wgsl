// 2D average pooling over NHWC float32 images with 'valid' or 'same' padding
// (Keras' AveragePooling2D), and its gradient.
//
// N images of H x W pixels with C channels, stored [N, H, W, C]. A PH x PW
// window steps SY rows and SX columns at a time; window (oy, ox) starts at row
// oy * SY - PAD_TOP and column ox * SX - PAD_LEFT, and the output is
// [N, OH, OW, C]. With 'valid' padding the pads are 0 and every window lies in
// the image; with 'same' (TensorFlow's rule, see conv2d.ts) a window may hang
// over the border, and its average is over the in-image elements only, as
// TensorFlow's avg_pool does: padding is not counted as zeros. Every window
// holds at least one in-image element, as PAD_TOP < PH and the last window
// starts inside the image.
//
// The shape is a pipeline constant, and the variants are those of
// maxpool2d.wgsl, for the reasons it gives: forward and backward do all C
// channels of a pixel an invocation; forward_vec4 and backward_cells (C a
// multiple of 4, and for the cells, windows that do not overlap) four channels
// of an output pixel, as vec4s.

override WORKGROUP_SIZE: u32;
override H: u32;
override W: u32;
override C: u32;
override OH: u32;
override OW: u32;
override PH: u32;
override PW: u32;
override SY: u32;
override SX: u32;
override PAD_TOP: u32;
override PAD_LEFT: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> d_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_input: array<f32>;
// The same tensors as vec4s, for the vec4 variants.
@group(0) @binding(4) var<storage, read> x4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(6) var<storage, read> d_out4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> d_input4: array<vec4f>;

// The in-image part of window o along one dimension: [first, end) in input
// coordinates, for a window starting at o * stride - pad (signed, as it may
// start in the padding).
fn window_span(o: u32, stride: u32, pad: u32, pool: u32, size: u32) -> vec2u {
  let start = i32(o * stride) - i32(pad);
  return vec2u(u32(max(start, 0)), u32(min(start + i32(pool), i32(size))));
}

// An output pixel's image and the in-image rows and columns of its window.
struct Window {
  n: u32,
  rows: vec2u,
  columns: vec2u,
}

fn window_of(p: u32) -> Window {
  let ox = p % OW;
  let oy = (p / OW) % OH;
  return Window(p / (OW * OH), window_span(oy, SY, PAD_TOP, PH, H), window_span(ox, SX, PAD_LEFT, PW, W));
}

// The number of in-image elements the window averages.
fn count_of(window: Window) -> f32 {
  return f32((window.rows.y - window.rows.x) * (window.columns.y - window.columns.x));
}

// y[n, oy, ox, c] = (1 / |W|) Σ_{(h, w) ∈ W} x[n, h, w, c], W the window's in-image part.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&y) / C; p += groups.x * WORKGROUP_SIZE) {
    let window = window_of(p);
    for (var c = 0u; c < C; c++) {
      var sum = 0.0;
      for (var h = window.rows.x; h < window.rows.y; h++) {
        for (var w = window.columns.x; w < window.columns.y; w++) {
          sum += x[((window.n * H + h) * W + w) * C + c];
        }
      }
      y[p * C + c] = sum / count_of(window);
    }
  }
}

// forward, four channels at a time: the same sums in the same order, lane by lane.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var q = id.x; q < arrayLength(&y4); q += groups.x * WORKGROUP_SIZE) {
    // Channels 4q % C .. + 3 of output pixel 4q / C.
    let window = window_of(q * 4u / C);
    let channel = q * 4u % C;
    var sum = vec4f(0.0);
    for (var h = window.rows.x; h < window.rows.y; h++) {
      for (var w = window.columns.x; w < window.columns.y; w++) {
        sum += x4[(((window.n * H + h) * W + w) * C + channel) / 4u];
      }
    }
    y4[q] = sum / count_of(window);
  }
}

// y[o] = (1 / |W_o|) Σ_{i ∈ W_o} x[i] gives ∂y[o]/∂x[i] = [i ∈ W_o] / |W_o|, so
// dInput[i] = Σ_{o : i ∈ W_o} dOut[o] / |W_o|, over the windows that cover i.
// One invocation per input pixel gathers that sum: no atomics where windows
// overlap, and every element of dInput written once, zeros included.
//
// Window oy covers rows oy * SY - PAD_TOP .. oy * SY - PAD_TOP + PH - 1, so row
// h lies in the windows with h + PAD_TOP - PH < oy * SY <= h + PAD_TOP that
// exist (0 <= oy < OH); columns likewise.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&d_input) / C; p += groups.x * WORKGROUP_SIZE) {
    let w = p % W;
    let h = (p / W) % H;
    let n = p / (W * H);
    let row = h + PAD_TOP;
    let col = w + PAD_LEFT;
    // row - PH would wrap around in u32; rows row < PH lie in windows from 0 on.
    let oy_first = select(0u, (row - PH) / SY + 1u, row >= PH);
    let ox_first = select(0u, (col - PW) / SX + 1u, col >= PW);
    let oy_last = min(row / SY, OH - 1u);
    let ox_last = min(col / SX, OW - 1u);
    for (var c = 0u; c < C; c++) {
      var sum = 0.0;
      for (var oy = oy_first; oy <= oy_last; oy++) {
        for (var ox = ox_first; ox <= ox_last; ox++) {
          let share = 1.0 / count_of(Window(n, window_span(oy, SY, PAD_TOP, PH, H), window_span(ox, SX, PAD_LEFT, PW, W)));
          sum += d_out[((n * OH + oy) * OW + ox) * C + c] * share;
        }
      }
      d_input[p * C + c] = sum;
    }
  }
}

// Where windows do not overlap (SY >= PH and SX >= PW), an input element lies
// in one window at most, so the sum above has one term or none. Then the
// cells of the windows, rows oy * SY - PAD_TOP .. (oy + 1) * SY - PAD_TOP - 1
// (from the image's first row for the first window, to its last for the last)
// and columns likewise, split the image, and an invocation per four channels
// of an output pixel writes its window's cell: 0 + dOut / |W| (as the gather
// adds it to 0) in the window, 0 elsewhere.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_cells(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var q = id.x; q < arrayLength(&d_out4); q += groups.x * WORKGROUP_SIZE) {
    let p = q * 4u / C;
    let ox = p % OW;
    let oy = (p / OW) % OH;
    let window = window_of(p);
    let base = window.n * H * W * C + q * 4u % C;
    let gradient = vec4f(0.0) + d_out4[q] * (1.0 / count_of(window));
    let rows = vec2u(select(oy * SY - PAD_TOP, 0u, oy == 0u), select((oy + 1u) * SY - PAD_TOP, H, oy == OH - 1u));
    let columns = vec2u(select(ox * SX - PAD_LEFT, 0u, ox == 0u), select((ox + 1u) * SX - PAD_LEFT, W, ox == OW - 1u));
    for (var h = rows.x; h < rows.y; h++) {
      for (var w = columns.x; w < columns.y; w++) {
        let inside = h >= window.rows.x && h < window.rows.y && w >= window.columns.x && w < window.columns.y;
        d_input4[(base + (h * W + w) * C) / 4u] = select(vec4f(0.0), gradient, inside);
      }
    }
  }
}
