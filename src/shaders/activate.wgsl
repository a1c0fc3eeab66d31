// The activation functions, appended by TypeScript (ops/activation.ts) to the
// shaders that apply them: the epilogues of conv2d.wgsl and matmul.wgsl, and
// the gradients in activation.wgsl, maxpool2d.wgsl and matmul.wgsl; and to the
// losses' and metrics' (ops/sums.ts), for its sigmoid and NaN tests. A
// library, with no bindings or entry points.

const LINEAR = 0u;
const RELU = 1u;
const SIGMOID = 2u;
const TANH = 3u;
const ELU = 4u;
const SELU = 5u;
const SOFTPLUS = 6u;
const LEAKY_RELU = 7u;
const GELU = 8u;

// leaky_relu's slope below 0: Keras' leaky_relu function's, which a Dense or
// Conv2D layer's `activation: 'leaky_relu'` means; a LeakyReLU layer sets its own.
override NEGATIVE_SLOPE: f32 = 0.2;

// SELU's constants (Klambauer et al. 2017), as Keras' selu takes them.
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

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

// e^v - 1, without the cancellation of exp(v) - 1 near 0: there (|v| < 0.5)
// its Taylor series to v⁹/9!, whose next term is below 2^-26 of the sum;
// elsewhere exp(v) - 1 loses no more than exp's own error. v is kept above
// -100, where e^v is 0 in float32, so that exp never sees -inf.
fn expm1(v: f32) -> f32 {
  if (abs(v) < 0.5) {
    return v * (1.0 + v / 2.0 * (1.0 + v / 3.0 * (1.0 + v / 4.0 * (1.0 + v / 5.0 * (1.0 + v / 6.0 * (1.0 + v / 7.0 * (1.0 + v / 8.0 * (1.0 + v / 9.0))))))));
  }
  return exp(max(v, -100.0)) - 1.0;
}

// ln(1 + t) for t in [0, 1], as 2 atanh(s) with s = t / (2 + t) <= 1/3: its
// series to s¹³, whose next term is below 2^-24 of the sum. WGSL's log near 1
// is only promised to 2^-21 absolute, too coarse for a small ln(1 + t).
fn log1p_unit(t: f32) -> f32 {
  let s = t / (2.0 + t);
  let s2 = s * s;
  return 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 / 13.0))))));
}

// ln(1 + e^v) = max(v, 0) + ln(1 + e^-|v|): e^-|v| <= 1 cannot overflow.
fn softplus(v: f32) -> f32 {
  return max(v, 0.0) + log1p_unit(exp(-min(abs(v), 100.0)));
}

// Φ(v), the standard normal's distribution function, as erfc(-v / √2) / 2 with
// erfc from Numerical Recipes' Chebyshev fit (erfcc, fractional error below
// 1.2e-7 everywhere), so that Φ keeps its relative accuracy in the lower tail.
// |z| is kept below 10, where erfc is 0 in float32.
fn normal_cdf(v: f32) -> f32 {
  let z = min(abs(v) * 0.70710678118654752, 10.0);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  // erfc(|v| / √2) / 2: Φ(v) for v <= 0, 1 - Φ(v) for v > 0.
  let tail = 0.5 * t * exp(poly - z * z);
  return select(tail, 1.0 - tail, v > 0.0);
}

// φ(v), the standard normal's density; |v| kept below 20, where it is 0 in float32.
fn normal_pdf(v: f32) -> f32 {
  let w = min(abs(v), 20.0);
  return 0.39894228040143268 * exp(-0.5 * w * w);
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
    // v, or e^v - 1 below 0 (Keras' elu, alpha 1).
    case ELU: {
      return select(select(expm1(v), v, v > 0.0), v, is_nan(v));
    }
    case SELU: {
      return select(SELU_SCALE * select(SELU_ALPHA * expm1(v), v, v > 0.0), v, is_nan(v));
    }
    case SOFTPLUS: {
      return select(softplus(v), v, is_nan(v));
    }
    case LEAKY_RELU: {
      return select(NEGATIVE_SLOPE * v, v, v > 0.0 || is_nan(v));
    }
    // v Φ(v): Keras' gelu, which is the exact form (approximate=False), not tanh's.
    case GELU: {
      return select(v * normal_cdf(v), v, is_nan(v));
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
