// 2D max pooling with 'valid' or 'same' padding over NHWC float32 images, and
// its gradient.
//
// N images of H x W pixels with C channels, stored [N, H, W, C]. A PH x PW window
// steps SY rows and SX columns at a time. With 'valid' padding only windows
// that fit inside the image count, so the output is [N, OH, OW, C] with
// OH = (H - PH) / SY + 1 and OW = (W - PW) / SX + 1 (rounded down, as Keras
// does), and every window lies inside the image. With 'same' (PADDED;
// TensorFlow's split, see conv2d.ts) window (oy, ox) starts at row
// oy * SY - PAD_TOP and column ox * SX - PAD_LEFT and may hang over the
// border: its maximum is over its in-image elements, as TensorFlow's max_pool
// pads with -inf. Every window holds one at least (PAD_TOP < PH, and the last
// window starts inside the image). Without PADDED the pads are 0 and a window's
// span is the constant PH x PW, so those pipelines compute as before padding existed.
//
// The shape is a pipeline constant, not a uniform: where a pixel is and which
// windows cover it take integer divisions, which a CPU emulating a GPU runs
// one lane at a time by a uniform but as a multiply and a shift on all lanes
// by a constant (on lavapipe, the forward took a fifth of the time). N is not
// needed: the loops run to the end of their buffers.
//
// Every entry point is a grid-stride loop over what it writes, so the
// TypeScript side may cap the workgroup count at the device's limit. Variants
// (ops/maxpool2d.ts offers them, the autotuner picks), all computing the same
// floats:
// - forward, backward, backward_relu: an invocation does all C channels of a
//   pixel (forward: of an output pixel; backward: of an input pixel, gathering
//   from the windows over it), so that a pixel is placed once, not per element.
// - forward_vec4, backward_cells, backward_relu_cells, where C is a multiple of
//   4 (and for the cells, windows do not overlap): an invocation does four
//   channels of an output pixel, read and written as vec4s, so that
//   neighbouring invocations touch neighbouring memory (coalesced on a GPU;
//   on lavapipe, half the time or less). They bind vec4 views of the tensors
//   (WebGPU forbids a dispatch two bindings of a buffer it writes).

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
override PADDED: bool = false;
override PAD_TOP: u32 = 0u;
override PAD_LEFT: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
// The flat index into x of each window's maximum: written by the forward and
// only read by the backward, as a WGSL variable has a single access mode.
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<storage, read> d_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_input: array<f32>;
// The same tensors as vec4s, for the vec4 variants.
@group(0) @binding(5) var<storage, read> x4: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> argmax4: array<vec4u>;
@group(0) @binding(8) var<storage, read> d_out4: array<vec4f>;
@group(0) @binding(9) var<storage, read_write> d_input4: array<vec4f>;

// y[n, oy, ox, c] = max over the window of x, and the index it came from. The
// comparison is strict, so of equal values the first in row-major window
// order wins, as in TensorFlow.
//
// NaN rule: a window holding a NaN gives NaN, wherever the NaN lies, and its
// gradient goes to the first NaN. TensorFlow.js skips NaNs instead (a window
// of 1, NaN, 3 gives 3); we do not, so that a NaN entering the model reaches
// the loss and stops training (fit) rather than vanishing in a pooling layer.
// (is_nan and relu_gradient are activate.wgsl's, appended.)

// No NaN in the window: an index past any buffer.
const NO_NAN = 0xffffffffu;

// The four channels of a vec4 variant, added to the index of the first.
const LANES = vec4u(0u, 1u, 2u, 3u);

// The index into x of channel 0 of output pixel p's window's first element,
// which may lie in the padding: then the u32 arithmetic wraps around, and
// adding the offset of an in-image element (window_span) wraps back.
fn window_corner(p: u32) -> u32 {
  let ox = p % OW;
  let oy = (p / OW) % OH;
  let n = p / (OW * OH);
  return ((n * H + oy * SY) * W + ox * SX) * C - (PAD_TOP * W + PAD_LEFT) * C;
}

// The in-image part of output pixel p's window: its rows and columns as
// offsets [first, end) from the window's first row and column.
struct Span {
  rows: vec2u,
  columns: vec2u,
}

// Along one dimension, a window starting at `start` in padded coordinates.
fn inside(start: u32, pad: u32, pool: u32, size: u32) -> vec2u {
  return vec2u(select(0u, pad - start, start < pad), min(pool, size + pad - start));
}

fn window_span(p: u32) -> Span {
  if (!PADDED) {
    return Span(vec2u(0u, PH), vec2u(0u, PW));
  }
  return Span(inside((p / OW) % OH * SY, PAD_TOP, PH, H), inside(p % OW * SX, PAD_LEFT, PW, W));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&y) / C; p += groups.x * WORKGROUP_SIZE) {
    let span = window_span(p);
    let origin = window_corner(p);
    // The window's first in-image element, channel 0.
    let corner = origin + (span.rows.x * W + span.columns.x) * C;
    for (var c = 0u; c < C; c++) {
      var best = x[corner + c];
      var best_index = corner + c;
      // The first NaN's index, if any: window indices grow in loop order, so
      // it is the least. Kept without branches, beside the plain maximum: a
      // branch on it in the loop made this kernel twice as slow on lavapipe.
      var first_nan = NO_NAN;
      for (var ky = span.rows.x; ky < span.rows.y; ky++) {
        for (var kx = span.columns.x; kx < span.columns.y; kx++) {
          let i = origin + (ky * W + kx) * C + c;
          let v = x[i];
          let greater = v > best;
          best = select(best, v, greater);
          best_index = select(best_index, i, greater);
          first_nan = min(first_nan, select(NO_NAN, i, is_nan(v)));
        }
      }
      if (first_nan != NO_NAN) {
        best = x[first_nan];
        best_index = first_nan;
      }
      y[p * C + c] = best;
      argmax[p * C + c] = best_index;
    }
  }
}

// forward, four channels at a time: the same comparisons, lane by lane.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var q = id.x; q < arrayLength(&y4); q += groups.x * WORKGROUP_SIZE) {
    // Channels 4q % C .. + 3 of output pixel 4q / C.
    let span = window_span(q * 4u / C);
    let first = window_corner(q * 4u / C) + q * 4u % C;
    let start = first + (span.rows.x * W + span.columns.x) * C;
    var best = x4[start / 4u];
    var best_index = start + LANES;
    var first_nan = vec4u(NO_NAN);
    for (var ky = span.rows.x; ky < span.rows.y; ky++) {
      for (var kx = span.columns.x; kx < span.columns.y; kx++) {
        let i = first + (ky * W + kx) * C;
        let v = x4[i / 4u];
        let greater = v > best;
        best = select(best, v, greater);
        best_index = select(best_index, i + LANES, greater);
        let nan = vec4<bool>(is_nan(v.x), is_nan(v.y), is_nan(v.z), is_nan(v.w));
        first_nan = min(first_nan, select(vec4u(NO_NAN), i + LANES, nan));
      }
    }
    let has_nan = first_nan != vec4u(NO_NAN);
    if (any(has_nan)) {
      for (var lane = 0u; lane < 4u; lane++) {
        if (has_nan[lane]) {
          best[lane] = x[first_nan[lane]];
          best_index[lane] = first_nan[lane];
        }
      }
    }
    y4[q] = best;
    argmax4[q] = best_index;
  }
}

// Each output is its window's maximum, so ∂y[o]/∂x[i] = [argmax[o] = i] and
// dInput[i] = Σ_o dOut[o] [argmax[o] = i], the sum over the windows that cover i.
// Gathering that sum in one invocation per input pixel, rather than
// scattering each dOut[o] to argmax[o], needs no atomics when windows overlap
// (stride < pool) and writes every element of dInput exactly once, zeros
// included.
//
// Window oy covers rows oy * SY - PAD_TOP .. oy * SY - PAD_TOP + PH - 1, so
// row h lies in the windows with (h + PAD_TOP - PH) / SY < oy <= (h + PAD_TOP) / SY
// that exist; columns likewise.
// The windows that cover an input pixel: its image n, and their first and last rows and columns.
struct Windows {
  n: u32,
  oy_first: u32,
  oy_last: u32,
  ox_first: u32,
  ox_last: u32,
}

fn windows_of(p: u32) -> Windows {
  let w = p % W + PAD_LEFT;
  let h = (p / W) % H + PAD_TOP;
  // h - PH would wrap around in u32; rows h < PH lie in windows from 0 on.
  return Windows(
    p / (W * H),
    select(0u, (h - PH) / SY + 1u, h >= PH),
    min(h / SY, OH - 1u),
    select(0u, (w - PW) / SX + 1u, w >= PW),
    min(w / SX, OW - 1u),
  );
}

// dInput[i] for element i (channel c) of a pixel in `windows`.
fn input_gradient(windows: Windows, i: u32, c: u32) -> f32 {
  var sum = 0.0;
  for (var oy = windows.oy_first; oy <= windows.oy_last; oy++) {
    for (var ox = windows.ox_first; ox <= windows.ox_last; ox++) {
      let o = ((windows.n * OH + oy) * OW + ox) * C + c;
      if (argmax[o] == i) {
        sum += d_out[o];
      }
    }
  }
  return sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&d_input) / C; p += groups.x * WORKGROUP_SIZE) {
    let windows = windows_of(p);
    for (var c = 0u; c < C; c++) {
      d_input[p * C + c] = input_gradient(windows, p * C + c, c);
    }
  }
}

// backward, then the gradient of the ReLU that wrote x, in the same pass: a
// layer ending in ReLU before the pooling leaves its relu_backward out (the
// same relu_gradient: the mask selects, and a NaN x gives NaN), and reads
// dInput as the gradient before its ReLU.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_relu(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&d_input) / C; p += groups.x * WORKGROUP_SIZE) {
    let windows = windows_of(p);
    for (var c = 0u; c < C; c++) {
      let i = p * C + c;
      d_input[i] = relu_gradient(input_gradient(windows, i, c), x[i]);
    }
  }
}

// Where windows do not overlap (SY >= PH and SX >= PW), an input element lies
// in one window at most, so the sum above has one term or none. Then the
// cells of the windows, rows oy * SY - PAD_TOP .. (oy + 1) * SY - PAD_TOP - 1
// (from the image's first row for the first window, to its last for the last)
// and columns likewise, split the image, and an
// invocation per four channels of an output pixel writes its window's cell:
// 0 + dOut (as the gather adds it to 0) at the maximum, 0 elsewhere. It reads
// each argmax and dOut once, where the gather reads them for every element of
// the window.
struct Cell {
  // The index into x of the invocation's first channel at pixel (0, 0) of its image.
  base: u32,
  rows: vec2u,
  columns: vec2u,
}

fn cell_of(q: u32) -> Cell {
  let p = q * 4u / C;
  let ox = p % OW;
  let oy = (p / OW) % OH;
  let n = p / (OW * OH);
  return Cell(
    n * H * W * C + q * 4u % C,
    vec2u(select(oy * SY - PAD_TOP, 0u, oy == 0u), select((oy + 1u) * SY - PAD_TOP, H, oy == OH - 1u)),
    vec2u(select(ox * SX - PAD_LEFT, 0u, ox == 0u), select((ox + 1u) * SX - PAD_LEFT, W, ox == OW - 1u)),
  );
}

// The gradient of the four elements from i on, in the cell of a window whose maximum came from `hit`.
fn routed(hit: vec4u, d: vec4f, i: u32) -> vec4f {
  return select(vec4f(0.0), vec4f(0.0) + d, hit == i + LANES);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_cells(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var q = id.x; q < arrayLength(&d_out4); q += groups.x * WORKGROUP_SIZE) {
    let cell = cell_of(q);
    let hit = argmax4[q];
    let d = d_out4[q];
    for (var h = cell.rows.x; h < cell.rows.y; h++) {
      for (var w = cell.columns.x; w < cell.columns.y; w++) {
        let i = cell.base + (h * W + w) * C;
        d_input4[i / 4u] = routed(hit, d, i);
      }
    }
  }
}

fn relu_gradient4(d: vec4f, relu_y: vec4f) -> vec4f {
  return vec4f(relu_gradient(d.x, relu_y.x), relu_gradient(d.y, relu_y.y), relu_gradient(d.z, relu_y.z), relu_gradient(d.w, relu_y.w));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_relu_cells(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var q = id.x; q < arrayLength(&d_out4); q += groups.x * WORKGROUP_SIZE) {
    let cell = cell_of(q);
    let hit = argmax4[q];
    let d = d_out4[q];
    for (var h = cell.rows.x; h < cell.rows.y; h++) {
      for (var w = cell.columns.x; w < cell.columns.y; w++) {
        let i = cell.base + (h * W + w) * C;
        d_input4[i / 4u] = relu_gradient4(routed(hit, d, i), x4[i / 4u]);
      }
    }
  }
}
