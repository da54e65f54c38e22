//go:build !goexperiment.simd

package nn

// dotTol bounds dot64's error relative to Σ|x·y|: float64 partial sums.
const dotTol = 1e-14
