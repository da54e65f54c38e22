// This file documents the slice functions, whose loops live in vec_scalar.go
// (default build) and vec_simd.go (GOEXPERIMENT=simd).

package mathf

// ExpShifted sets x[i] = e**(x[i]-shift) for every i and returns the sum of
// the results: the exponentials of a softmax. The default build adds them
// in index order in float64; SIMD builds add whole vectors in float32 lanes,
// then the lanes and the last few elements in float64.
// func ExpShifted(x []float32, shift float32) float64

// Sigmoids sets dst[i] = 1/(1+e**-x[i]) for i < len(x); dst may alias x.
// func Sigmoids(dst, x []float32)

// AddScaled sets dst[i] += a*x[i] for i < len(x): in SIMD builds one
// multiply-add per element (fused natively), as the matmul kernels do it.
// func AddScaled(dst, x []float32, a float32)
