// This file documents the elementwise row kernels, whose loops live in
// rows_scalar.go (default build) and rows_simd.go (GOEXPERIMENT=simd). Every
// element goes through the same single-rounding operations in the same order
// in both (no fused multiply-add), so the two give the same bits.

package nn

// swigluBackward adds the SwiGLU gradients to da and db for len(dout)
// elements: with out = a·s·b and s = sigmoid(a) (saved by the forward),
// db += dout·(a·s) and da += dout·b·s·(1 + a·(1-s)), since silu'(a) = s·(1 + a·(1-s)).
// func swigluBackward(da, db, dout, a, b, sig []float32)

// rmsnormGrad adds one row's RMSNorm input gradient, dx[j] += r·w[j]·d[j] - k·x[j],
// for j < len(w), where r is the row's rstd and k = r³/C · Σ d·w·x.
// func rmsnormGrad(dx, d, x, w []float32, r, k float32)

// softmaxGrad turns dr (the gradient of one row of probabilities p) into
// the gradient of the scaled scores: dr[i] = p[i]·(dr[i] - s)·scale with
// s = Σ p·dr, for i < len(p).
// func softmaxGrad(dr, p []float32, s, scale float32)

// scaleByMax multiplies x (len >= 1) by a in place and returns the largest result.
// func scaleByMax(x []float32, a float32) float32

// scaleBy multiplies x by a in place.
// func scaleBy(x []float32, a float32)

// dot64 returns Σ x[i]·y[i] over i < len(x) as a float64: see rows_scalar.go
// and rows_simd.go for how each build sums it. RMSNorm and the softmax
// backward take their row sums from it.
// func dot64(x, y []float32) float64

// dot64w returns Σ x[i]·w[i]·y[i] over i < len(x), summed as dot64 sums.
// func dot64w(x, w, y []float32) float64

// mulRow sets out[j] = x[j]·r·w[j] for j < len(w) (RMSNorm's output).
// func mulRow(out, x, w []float32, r float32)

// mulGate sets out[i] = a[i]·sig[i]·b[i] for i < len(a) (SwiGLU's output).
// func mulGate(out, a, sig, b []float32)

// addTo sets out[i] = a[i] + b[i] for i < len(out) (the residual connection).
// func addTo(out, a, b []float32)
