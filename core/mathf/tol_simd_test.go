//go:build goexperiment.simd

package mathf

// expSumTol bounds ExpShifted's sum's relative error: float32 lanes, each
// adding a few hundred terms of TestVecExp's slice (eps 6e-8 per addition;
// errors of random sign grow like the square root of the count).
const expSumTol = 1e-5
