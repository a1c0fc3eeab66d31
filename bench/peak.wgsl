// The adapter's peaks, for the benchmark's roofline (roofline.ts): how many
// floating-point operations a second it can do (multiply_add), and how many
// bytes a second it can read from memory and write back (copy). Each is timed
// in variants, as any kernel is (autotune.ts); the fastest gives the peak.
//
// `real` is f32 here; roofline.ts compiles the same code with it f16 (and
// `enable f16`, on this line) for a device with shader-f16.
alias real = f32;

override WORKGROUP_SIZE: u32;
// multiply_add's independent chains an invocation (1 to 4): a multiply-add
// waits for the one before it in its chain, so one chain leaves a CPU's
// pipelines idle, where a GPU hides that wait behind other invocations.
override CHAINS: u32 = 1u;
// Steps of each chain an iteration of multiply_add's loop: the loop's own work
// (its counter and test, and on a CPU emulating a GPU the lanes' mask) is then
// small beside the multiply-adds (on lavapipe, 8 gave 2 to 3 times the rate of 1).
const UNROLL = 8u;
// copy's vec4s an invocation per step of its loop: a CPU emulating a GPU
// may stream consecutive ones better than one vec4 a lane.
override BLOCK: u32 = 1u;

struct Params {
  // Multiply-adds of vec4s an invocation, in all its chains: the same in every
  // variant, so that each variant does the same work; a multiple of CHAINS * UNROLL.
  steps: u32,
  // acc * scale + increment: 1 and 1 from the uniform, so that the compiler
  // cannot fold the chains, and every value is an integer that f16 holds exactly.
  scale: f32,
  increment: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
// multiply_add: each invocation's sum over its chains of how far they moved.
@group(0) @binding(1) var<storage, read_write> moved: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4f>;

// Each chain starts at its own integers (chains that started alike could be
// merged into one) below 512 + 16, and moves by `increment` a step; in f16,
// which holds the integers up to 2048 exactly, steps / CHAINS <= 1024 keeps
// every value exact. Writing how far the chains moved, rather than where they
// ended, makes the result the same whatever CHAINS is: 4 * steps * increment
// an invocation, which the tests check, so no step can have been left out.
@compute @workgroup_size(WORKGROUP_SIZE)
fn multiply_add(@builtin(global_invocation_id) id: vec3u) {
  let scale = real(params.scale);
  let increment = real(params.increment);
  let start = vec4<real>(real(id.x % 512u)) + vec4<real>(0.0, 1.0, 2.0, 3.0);
  var a0 = start;
  var a1 = start + 4.0;
  var a2 = start + 8.0;
  var a3 = start + 12.0;
  for (var step = 0u; step < params.steps / (CHAINS * UNROLL); step++) {
    for (var u = 0u; u < UNROLL; u++) {
      // CHAINS is a constant when the pipeline is made: the branches fold away.
      a0 = fma(a0, vec4<real>(scale), vec4<real>(increment));
      if (CHAINS > 1u) {
        a1 = fma(a1, vec4<real>(scale), vec4<real>(increment));
      }
      if (CHAINS > 2u) {
        a2 = fma(a2, vec4<real>(scale), vec4<real>(increment));
      }
      if (CHAINS > 3u) {
        a3 = fma(a3, vec4<real>(scale), vec4<real>(increment));
      }
    }
  }
  var sum = vec4f(a0 - start);
  if (CHAINS > 1u) {
    sum += vec4f(a1 - (start + 4.0));
  }
  if (CHAINS > 2u) {
    sum += vec4f(a2 - (start + 8.0));
  }
  if (CHAINS > 3u) {
    sum += vec4f(a3 - (start + 12.0));
  }
  moved[id.x] = sum.x + sum.y + sum.z + sum.w;
}

// y = x, in a grid-stride loop of BLOCK consecutive vec4s an invocation a step.
@compute @workgroup_size(WORKGROUP_SIZE)
fn copy(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let stride = groups.x * WORKGROUP_SIZE * BLOCK;
  for (var first = id.x * BLOCK; first < arrayLength(&y); first += stride) {
    for (var i = first; i < min(first + BLOCK, arrayLength(&y)); i++) {
      y[i] = x[i];
    }
  }
}
