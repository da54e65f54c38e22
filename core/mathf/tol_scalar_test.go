//go:build !goexperiment.simd

package mathf

// expSumTol bounds ExpShifted's sum's relative error: float64 in index order.
const expSumTol = 1e-12
