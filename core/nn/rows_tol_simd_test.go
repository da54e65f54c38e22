//go:build goexperiment.simd

package nn

// dotTol bounds dot64's error relative to Σ|x·y|: float32 lanes, at most
// 70 terms here, each lane rounding about once per term (eps 6e-8).
const dotTol = 1e-5
