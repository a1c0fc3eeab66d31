// The activation functions, appended by TypeScript (ops/activation.ts) to the
// shaders that apply them: the epilogues of conv2d.wgsl and matmul.wgsl, and
// the gradients in activation.wgsl, maxpool2d.wgsl and matmul.wgsl; and to the
// losses' and metrics' (ops/sums.ts), for its sigmoid and NaN tests. A
// library, with no bindings or entry points.

const LINEAR = 0u;
const RELU = 1u;
const SIGMOID = 2u;
const TANH = 3u;

// WGSL lets an implementation assume there are no NaNs, and its max and clamp
// return the non-NaN operand, so the test is on the bits, which no compiler may
// fold away: exponent all ones, mantissa not zero.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// A constant expression must not evaluate to NaN, so it is made from its bits
// at run time.
fn nan() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

// exp is only ever taken of -|v|, so it cannot overflow: for v < 0 the form
// e / (1 + e) with e = exp(v) replaces 1 / (1 + exp(-v)), whose exp(-v) is inf
// for v below about -88 (and WGSL does not promise IEEE arithmetic on inf).
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// WGSL's tanh is only as accurate as sinh(v) / cosh(v), which some drivers
// evaluate through exp and turn into inf / inf = NaN for large |v|. In float32
// tanh(v) rounds to ±1 for |v| above about 9, so clamping changes no result.
fn stable_tanh(v: f32) -> f32 {
  return tanh(clamp(v, -10.0, 10.0));
}

// f(v) for activation `kind` (an override constant where it is called, so the
// switch folds away). NaN rule: a NaN input gives a NaN output, so that a NaN is
// never hidden (TensorFlow.js gives relu(NaN) = NaN too).
fn activate(v: f32, kind: u32) -> f32 {
  switch kind {
    case RELU: {
      return select(0.0, v, v > 0.0 || is_nan(v));
    }
    case SIGMOID: {
      return select(sigmoid(v), v, is_nan(v));
    }
    case TANH: {
      return select(stable_tanh(v), v, is_nan(v));
    }
    default: {
      return v;
    }
  }
}

// The gradient `dy` through a ReLU whose output was `relu_y`: relu'(x) is 1
// for x > 0 and 0 for x < 0, and relu_y > 0 exactly when x > 0; at the kink
// x = 0 it is taken as 0, as TensorFlow does. The mask selects dy rather than
// multiplying it, so where relu_y <= 0 a NaN dy gives 0 (as in TensorFlow); a
// NaN relu_y (the input was NaN) gives NaN. (Names here must differ from the
// bindings of the shaders this is appended to, which reflection would see.)
fn relu_gradient(dy: f32, relu_y: f32) -> f32 {
  return select(select(0.0, dy, relu_y > 0.0), relu_y, is_nan(relu_y));
}
