// Package matmul holds golora's dense float32 matrix products.
//
// Conventions: every matrix is row-major in a flat []float32; a weight W is
// stored (OC, C) as PyTorch and the checkpoints store it, so a linear layer is
// out (N, OC) = in (N, C) · Wᵀ. Work is split across goroutines by output
// rows and columns, never inside one sum, so results are bit-identical for
// any GOMAXPROCS. Kernels panic with a "matmul: " message on programmer errors
// (bad shapes); they never return errors.
//
// The three products share one machinery (gemm.go): pack A and B into
// panels according to the transpose case, then run one register-tiled
// micro-kernel, the portable scalar one (kernel_scalar.go) or, in builds with
// GOEXPERIMENT=simd, the one written with the portable simd package
// (kernel_simd.go). The scalar build gives the same bits natively and in
// wasm; the SIMD build is deterministic but rounds differently (fused
// multiply-add natively).
package matmul

// Forward computes out (N, OC) = in (N, C) · Wᵀ + bias, overwriting out.
// w is (OC, C); bias is (OC) or nil.
func Forward(out, in, w, bias []float32, n, c, oc int) {
	checkDims("Forward", n, c, oc)
	checkLen("Forward out", out, n*oc)
	checkLen("Forward in", in, n*c)
	checkLen("Forward w", w, oc*c)
	if bias != nil {
		checkLen("Forward bias", bias, oc)
	}
	MulNT(out, in, w, n, c, oc, false)
	if bias != nil {
		for i := range n {
			row := out[i*oc : (i+1)*oc]
			for j, b := range bias {
				row[j] += b
			}
		}
	}
}

// Backward accumulates the gradients of Forward:
// din (N, C) += dout · W, dw (OC, C) += doutᵀ · in, dbias (OC) += Σ_n dout.
// Any of din, dw, dbias may be nil: a frozen weight (nil dw) skips the
// doutᵀ·in product entirely.
func Backward(din, dw, dbias, dout, in, w []float32, n, c, oc int) {
	checkDims("Backward", n, c, oc)
	checkLen("Backward dout", dout, n*oc)
	if din != nil {
		checkLen("Backward din", din, n*c)
		checkLen("Backward w", w, oc*c)
		MulNN(din, dout, w, n, oc, c, true)
	}
	if dw != nil {
		checkLen("Backward dw", dw, oc*c)
		checkLen("Backward in", in, n*c)
		MulTN(dw, dout, in, oc, n, c, true)
	}
	if dbias != nil {
		checkLen("Backward dbias", dbias, oc)
		for i := range n {
			for j, d := range dout[i*oc : (i+1)*oc] {
				dbias[j] += d
			}
		}
	}
}

// MulNT computes out (M, N) = a (M, K) · b (N, K)ᵀ, or adds it to out when accumulate is set.
func MulNT(out, a, b []float32, m, k, n int, accumulate bool) {
	checkDims("MulNT", m, k, n)
	checkLen("MulNT out", out, m*n)
	checkLen("MulNT a", a, m*k)
	checkLen("MulNT b", b, n*k)
	gemm(out, a, b, m, k, n, false, true, accumulate)
}

// MulNN computes out (M, N) = a (M, K) · b (K, N), or adds it to out when accumulate is set.
func MulNN(out, a, b []float32, m, k, n int, accumulate bool) {
	checkDims("MulNN", m, k, n)
	checkLen("MulNN out", out, m*n)
	checkLen("MulNN a", a, m*k)
	checkLen("MulNN b", b, k*n)
	gemm(out, a, b, m, k, n, false, false, accumulate)
}

// MulTN computes out (M, N) = a (K, M)ᵀ · b (K, N), or adds it to out when accumulate is set.
func MulTN(out, a, b []float32, m, k, n int, accumulate bool) {
	checkDims("MulTN", m, k, n)
	checkLen("MulTN out", out, m*n)
	checkLen("MulTN a", a, k*m)
	checkLen("MulTN b", b, k*n)
	gemm(out, a, b, m, k, n, true, false, accumulate)
}

func checkDims(what string, m, k, n int) {
	if m < 0 || k < 0 || n < 0 {
		panic("matmul: bad shape: " + what + " has a negative dimension")
	}
}

func checkLen(what string, s []float32, want int) {
	if len(s) < want {
		panic("matmul: bad shape: " + what + " is shorter than its shape says")
	}
}
