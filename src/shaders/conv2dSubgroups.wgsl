// conv2d.wgsl's three products with the values every invocation of a workgroup
// shares passed round a subgroup: variants that ops/conv2d.ts offers where the
// device has the 'subgroups' feature and the contraction's channels come in
// fours. A file of its own because code that calls subgroup built-ins compiles
// only in a module that opens with `enable subgroups;`; it is compiled with
// conv2d.wgsl (and activate.wgsl) appended as its library, so it declares only
// what it adds: the entry points.
// See conv2d.wgsl for the layouts, the letters and the derivations.
//
// Why: in conv2d.wgsl's direct kernel every invocation reads the CELL shared
// values of each contraction step itself. lavapipe (Mesa 25.0) compiles each
// load in a loop into a loop over the SIMD lanes, each lane's element loaded,
// bounds-checked and inserted one at a time, the same whether the address is
// uniform or not: about 20 cycles an element, against about 2 for a
// multiply-add on 8 lanes, so the loads cost more than the arithmetic. A
// subgroup shuffle is one instruction there (vpermd). So here the contraction
// goes four steps at a time (backward_weight: STEPS, 4 or 8): lane l of each
// subgroup loads the shared row of step s + l % 4 (CELL values, as four
// vec4s), and at step s + j every lane takes that row from lane j with
// subgroupShuffle; and each invocation reads its own values as vec4s, four
// steps' worth a load. Every subgroup has at least 4 lanes (WebGPU's subgroup
// sizes are 4 to 128), so lanes 0 to 3 are there (8 steps are offered only
// where lanes 0 to 7 are); with more, the other lanes load rows no one takes.
//
// Each invocation adds the same products to each accumulator in the same
// order as conv2d.wgsl's kernel (step by step along the contraction, each
// value scaled as there), so every variant gives the same floats. Every lane
// takes part in every shuffle, so nothing returns early: rows past the edge
// are clamped when loading and skipped when storing, as there.
//
// Products in `real`, as in conv2d.wgsl (ops/conv2d.ts makes it f16 there for
// mixed precision): the shared rows are shuffled as f32, then converted.

enable subgroups;

// backward_weight_shuffled's fours of rows an invocation (ROWS is then a
// multiple of 4; rounded up so that the module compiles with any ROWS).
const FOURS = (ROWS + 3u) / 4u;

// backward_weight_shuffled's contraction steps a round of shuffles, the lanes
// that load a row of dY each: 4, which every subgroup has; or 8 where every
// subgroup of the device has at least 8 lanes (lavapipe's have 8), which
// halves those loads (a variant: TypeScript rewrites this line). On lavapipe
// 8 made forward and backward_input slower, so they take 4 steps a round.
const STEPS = 4u;

// The lanes that load each of forward's and backward_input's four shared rows
// of w a round: 1, a whole row each, from lanes 0 to 3; or 2, half a row
// each, from lanes 0 to 7 (a variant, where every subgroup has 8 lanes:
// TypeScript rewrites this line), half the loads for the same shuffles.
// backward_weight keeps 1.
const LANES_A_ROW = 1u;

// The shared row of step k + j that this lane loads for a round of four steps
// k..k+3 of w read as a matrix of `width` columns, j = lane % 4, its rows
// clamped to `last`; with 2 LANES_A_ROW, half of step k + j's row, j = lane / 2 % 4,
// columns first + 8 * (lane % 2) on, in the cell's first two quads.
fn shared_w_row(k: u32, last: u32, first: u32, width: u32, lane: u32) -> Cell {
  if (LANES_A_ROW == 2u) {
    let at = min(k + lane / 2u % 4u, last) * width;
    let half = first + 8u * (lane % 2u);
    return Cell(w_quad(at, half, width), w_quad(at, half + 4u, width), vec4f(), vec4f());
  }
  return w_row(min(k + lane % 4u, last), first, width);
}

// Row `i` of a round, i < STEPS, in every lane, from `mine`, what each lane
// loaded of it: the row lane i loaded; with 2 LANES_A_ROW, its halves from lanes 2i and 2i + 1.
fn row_of_lane(mine: Cell, i: u32) -> Cell {
  if (LANES_A_ROW == 2u) {
    return Cell(subgroupShuffle(mine[0], 2u * i), subgroupShuffle(mine[1], 2u * i), subgroupShuffle(mine[0], 2u * i + 1u), subgroupShuffle(mine[1], 2u * i + 1u));
  }
  return Cell(subgroupShuffle(mine[0], i), subgroupShuffle(mine[1], i), subgroupShuffle(mine[2], i), subgroupShuffle(mine[3], i));
}

// Four contraction steps: cells[r] += values[r][j] * (the row lane
// first_lane + j loaded), for j = 0..3 in order. Written out rather than
// looped over j, so that each value's component is a constant.
fn add_four_steps(cells: ptr<function, array<Cell, ROWS>>, values: array<vec4f, ROWS>, mine: Cell, first_lane: u32) {
  let row0 = operand(row_of_lane(mine, first_lane + 0u));
  for (var r = 0u; r < ROWS; r++) {
    add_scaled(&(*cells)[r], real(values[r].x), row0);
  }
  let row1 = operand(row_of_lane(mine, first_lane + 1u));
  for (var r = 0u; r < ROWS; r++) {
    add_scaled(&(*cells)[r], real(values[r].y), row1);
  }
  let row2 = operand(row_of_lane(mine, first_lane + 2u));
  for (var r = 0u; r < ROWS; r++) {
    add_scaled(&(*cells)[r], real(values[r].z), row2);
  }
  let row3 = operand(row_of_lane(mine, first_lane + 3u));
  for (var r = 0u; r < ROWS; r++) {
    add_scaled(&(*cells)[r], real(values[r].w), row3);
  }
}

// forward_block's product, four input channels a step: C_in is a multiple of 4.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_shuffled(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let first = group.y * CELL;
  let pixels = params.N * params.OH * params.OW;
  var cells: array<Cell, ROWS>;
  var at: array<vec3u, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    at[r] = pixel_at(min(id.x * ROWS + r, pixels - 1u), params.OH, params.OW);
    if (BIAS) {
      cells[r] = w_row(params.KH * params.KW * params.C_in, first, params.C_out);
    }
  }
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      var taps: array<Tap, ROWS>;
      for (var r = 0u; r < ROWS; r++) {
        taps[r] = input_pixel(at[r].x, i32(at[r].y * params.SY + kh) - i32(params.pad_top), i32(at[r].z * params.SX + kw) - i32(params.pad_left));
      }
      let k = (kh * params.KW + kw) * params.C_in;
      for (var c = 0u; c < params.C_in; c += 4u) {
        let mine = shared_w_row(k + c, k + params.C_in - 1u, first, params.C_out, lane);
        var values: array<vec4f, ROWS>;
        for (var r = 0u; r < ROWS; r++) {
          values[r] = x4[(taps[r].at + c) / 4u] * taps[r].scale;
        }
        add_four_steps(&cells, values, mine, 0u);
      }
    }
  }
  store_y(cells, adjacent_pixels(id.x), first);
}

// backward_input_block's product, four output channels a step: C_out is a
// multiple of 4. w is the transposed kernel, as there.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input_shuffled(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let first = group.y * CELL;
  let pixels = params.N * params.H * params.W;
  var at: array<vec3u, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    at[r] = pixel_at(min(id.x * ROWS + r, pixels - 1u), params.H, params.W);
  }
  var cells: array<Cell, ROWS>;
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      var taps: array<Tap, ROWS>;
      for (var r = 0u; r < ROWS; r++) {
        taps[r] = output_pixel(at[r], kh, kw);
      }
      let k = (kh * params.KW + kw) * params.C_out;
      for (var co = 0u; co < params.C_out; co += 4u) {
        let mine = shared_w_row(k + co, k + params.C_out - 1u, first, params.C_in, lane);
        var values: array<vec4f, ROWS>;
        for (var r = 0u; r < ROWS; r++) {
          values[r] = d_out4[(taps[r].at + co) / 4u] * taps[r].scale;
        }
        add_four_steps(&cells, values, mine, 0u);
      }
    }
  }
  store_d_input(cells, adjacent_pixels(id.x), first);
}

// forward_shuffled for channels that need not come in fours (a first layer's
// C_in = 1), with the grid laid out by output pixel: global z is the pixel's
// place (oh, ow), the same for the whole workgroup, and an invocation's ROWS
// rows are images global x * ROWS + r there. The contraction runs along
// k = (kh, kw, c), four steps at a time whatever C_in, and where a step reads
// in an image is the same for every row: worked out once for all. A step in
// the padding, or past the last, reads zero, and adding a zero product
// changes no sum's bits.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_by_place(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let first = group.y * CELL;
  let oh = group.z / params.OW;
  let ow = group.z % params.OW;
  let steps = params.KH * params.KW * params.C_in;
  // Where each row's image starts in x.
  var images: array<u32, ROWS>;
  var cells: array<Cell, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    images[r] = min(id.x * ROWS + r, params.N - 1u) * params.H * params.W * params.C_in;
    if (BIAS) {
      cells[r] = w_row(steps, first, params.C_out);
    }
  }
  // (kh, kw, c) of step k, stepped along with it rather than divided out.
  var tap = vec3u(0u);
  for (var k = 0u; k < steps; k += 4u) {
    let mine = shared_w_row(k, steps - 1u, first, params.C_out, lane);
    var reads: array<Tap, 4>;
    for (var j = 0u; j < 4u; j++) {
      reads[j] = step_in_image(tap, k + j < steps, oh, ow);
      count_up(&tap, params.C_in, params.KW);
    }
    var values: array<vec4f, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      let at = images[r];
      values[r] = vec4f(x[at + reads[0].at] * reads[0].scale, x[at + reads[1].at] * reads[1].scale, x[at + reads[2].at] * reads[2].scale, x[at + reads[3].at] * reads[3].scale);
    }
    add_four_steps(&cells, values, mine, 0u);
  }
  store_y(cells, pixels_at_place(id.x, group.z, params.OH * params.OW), first);
}

// Where the contraction step at tap = (kh, kw, c) of output place (oh, ow)
// reads in an image of x, and 1; or, in the padding or for a step past the
// last (`step` false), a valid place and 0.
fn step_in_image(tap: vec3u, step: bool, oh: u32, ow: u32) -> Tap {
  let ih = i32(oh * params.SY + tap.x) - i32(params.pad_top);
  let iw = i32(ow * params.SX + tap.y) - i32(params.pad_left);
  let inside = step && ih >= 0 && iw >= 0 && ih < i32(params.H) && iw < i32(params.W);
  return Tap(select(0u, (u32(ih) * params.W + u32(iw)) * params.C_in + tap.z, inside), select(0.0, 1.0, inside));
}

// backward_input_shuffled with the grid laid out by input pixel: global z is
// the pixel's place (ih, iw), the same for the whole workgroup, and an
// invocation's ROWS rows are images global x * ROWS + r there. The taps that
// reach an output pixel are then the same for every row of every invocation,
// so the loops run over those alone, the same products in the same order less
// those of zero (the accumulators start at +0, and adding a zero to one
// changes none of its bits). At the border of an unpadded layer's input most
// taps reach nothing: 40% of them in the CNN's second layer.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input_by_place(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let first = group.y * CELL;
  let ih = group.z / params.W;
  let iw = group.z % params.W;
  var images: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    images[r] = min(id.x * ROWS + r, params.N - 1u);
  }
  let kh_taps = taps_reaching(ih + params.pad_top, params.KH, params.SY, params.OH);
  let kw_taps = taps_reaching(iw + params.pad_left, params.KW, params.SX, params.OW);
  var cells: array<Cell, ROWS>;
  for (var kh = kh_taps.x; kh < kh_taps.y; kh += params.SY) {
    for (var kw = kw_taps.x; kw < kw_taps.y; kw += params.SX) {
      let place = ((ih + params.pad_top - kh) / params.SY) * params.OW + (iw + params.pad_left - kw) / params.SX;
      let k = (kh * params.KW + kw) * params.C_out;
      for (var co = 0u; co < params.C_out; co += 4u) {
        let mine = shared_w_row(k + co, k + params.C_out - 1u, first, params.C_in, lane);
        var values: array<vec4f, ROWS>;
        for (var r = 0u; r < ROWS; r++) {
          values[r] = d_out4[((images[r] * params.OH * params.OW + place) * params.C_out + co) / 4u];
        }
        add_four_steps(&cells, values, mine, 0u);
      }
    }
  }
  store_d_input(cells, pixels_at_place(id.x, group.z, params.H * params.W), first);
}

// The pixels of a by-place invocation's rows: images invocation * ROWS + r at
// `place` of `places`; an image past the last is a pixel past the edge.
fn pixels_at_place(invocation: u32, place: u32, places: u32) -> array<u32, ROWS> {
  var pixels: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    pixels[r] = (invocation * ROWS + r) * places + place;
  }
  return pixels;
}

// The taps k (kh or kw) of a kernel of `size` along one axis, at stride
// `stride`, through which place p of the padded input (ih + pad_top, or iw +
// pad_left) reaches one of the `outputs` output places: o = (p - k) / stride,
// whole and in range. They run from the first to the end, `stride` apart.
fn taps_reaching(p: u32, size: u32, stride: u32, outputs: u32) -> vec2u {
  let low = u32(max(i32(p) - i32((outputs - 1u) * stride), 0));
  return vec2u(low + (p - low) % stride, min(size, p + 1u));
}

// backward_weight_block's product with each invocation's rows in fours of
// adjacent channels of one tap (C_in and ROWS are multiples of 4), whose
// values at a step are one vec4 of x; STEPS steps m a loop, the last few of a
// slice one at a time, their rows of dY read by each invocation itself. The
// bias row starts a four of its own, whose values are 1.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_weight_shuffled(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let first = group.y * CELL;
  let weights = params.KH * params.KW * params.C_in;
  let rows = weights + select(0u, 1u, BIAS);
  // The first row of each four, and its (kh, kw, c).
  var k: array<u32, FOURS>;
  var tap: array<vec3u, FOURS>;
  for (var q = 0u; q < FOURS; q++) {
    k[q] = min(id.x * ROWS + q * 4u, rows - 1u);
    tap[q] = kernel_row(k[q]);
  }
  let pixels = params.N * params.OH * params.OW;
  let slice = (pixels + groups.z - 1u) / groups.z;
  let m_begin = min(group.z * slice, pixels);
  let m_end = min(m_begin + slice, pixels);
  var at = pixel_at(m_begin, params.OH, params.OW);
  var cells: array<Cell, ROWS>;
  var m = m_begin;
  for (; m + STEPS <= m_end; m += STEPS) {
    let mine = d_out_row(m + lane % STEPS, first);
    for (var first_lane = 0u; first_lane < STEPS; first_lane += 4u) {
      var values: array<vec4f, ROWS>;
      for (var j = 0u; j < 4u; j++) {
        let step = weight_values(k, tap, at);
        // values[r][j]: this step's value of row r, written through a vec4 of each row.
        for (var r = 0u; r < ROWS; r++) {
          values[r][j] = step[r / 4u][r % 4u];
        }
        next_pixel(&at);
      }
      add_four_steps(&cells, values, mine, first_lane);
    }
  }
  for (; m < m_end; m++) {
    let step = weight_values(k, tap, at);
    let row = d_out_row(m, first);
    for (var r = 0u; r < ROWS; r++) {
      add_scaled(&cells[r], real(step[r / 4u][r % 4u]), operand(row));
    }
    next_pixel(&at);
  }
  store_partial_d_weight(cells, id.x, first, group.z);
}

// P(m, k) for each four of rows k at output pixel at = (n, oh, ow), as
// backward_weight_block reads them: x scaled by its tap, or 1 for the bias row.
fn weight_values(k: array<u32, FOURS>, tap: array<vec3u, FOURS>, at: vec3u) -> array<vec4f, FOURS> {
  var values: array<vec4f, FOURS>;
  for (var q = 0u; q < FOURS; q++) {
    let input = input_pixel(at.x, i32(at.y * params.SY + tap[q].x) - i32(params.pad_top), i32(at.z * params.SX + tap[q].y) - i32(params.pad_left));
    values[q] = select(x4[(input.at + tap[q].z) / 4u] * input.scale, vec4f(1.0), k[q] == params.KH * params.KW * params.C_in);
  }
  return values;
}
