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
	gemm(out, n, a, k, b, k, m, k, n, false, true, accumulate)
}

// MulNN computes out (M, N) = a (M, K) · b (K, N), or adds it to out when accumulate is set.
func MulNN(out, a, b []float32, m, k, n int, accumulate bool) {
	checkDims("MulNN", m, k, n)
	checkLen("MulNN out", out, m*n)
	checkLen("MulNN a", a, m*k)
	checkLen("MulNN b", b, k*n)
	gemm(out, n, a, k, b, n, m, k, n, false, false, accumulate)
}

// MulTN computes out (M, N) = a (K, M)ᵀ · b (K, N), or adds it to out when accumulate is set.
func MulTN(out, a, b []float32, m, k, n int, accumulate bool) {
	checkDims("MulTN", m, k, n)
	checkLen("MulTN out", out, m*n)
	checkLen("MulTN a", a, k*m)
	checkLen("MulTN b", b, k*n)
	gemm(out, n, a, m, b, n, m, k, n, true, false, accumulate)
}

// Mul is the general product behind MulNT, MulNN and MulTN, for operands
// that are blocks of larger matrices: out (M, N) (+)= op(A) · op(B), where A
// is stored (M, K), or (K, M) when aT, with its rows lda apart; B is stored
// (K, N), or (N, K) when bT, with its rows ldb apart; out's rows are ldc
// apart. Each output element is summed in the same order as by MulNT, MulNN
// or MulTN with the same op(A), op(B) and K.
func Mul(out []float32, ldc int, a []float32, lda int, aT bool, b []float32, ldb int, bT bool, m, k, n int,
	accumulate bool) {
	checkDims("Mul", m, k, n)
	checkStrided("Mul out", out, m, n, ldc)
	checkOperand("Mul a", a, m, k, lda, aT)
	checkOperand("Mul b", b, k, n, ldb, bT)
	gemm(out, ldc, a, lda, b, ldb, m, k, n, aT, bT, accumulate)
}

// Packed is a right-hand operand B packed once for several products that
// read it (or a leading block of it) with MulPacked: attention multiplies
// every block of query rows by the same keys and values. The zero value is
// empty; Pack reuses its memory.
type Packed struct {
	data []float32
	k, n int
	nPad int
}

// Pack packs B, stored (K, N) with rows ldb apart, or (N, K) when bT.
func (p *Packed) Pack(b []float32, ldb int, bT bool, k, n int) {
	checkDims("Pack", k, 0, n)
	checkOperand("Pack b", b, k, n, ldb, bT)
	colT := ceilDiv(n, tileCols)
	nPad := colT * tileCols
	if cap(p.data) < k*nPad {
		p.data = make([]float32, k*nPad)
	}
	p.data = p.data[:k*nPad]
	p.k, p.n, p.nPad = k, n, nPad
	op := operands{b: b, ldb: ldb, bT: bT, k: k, n: n, bPack: p.data, nPad: nPad, colT: colT}
	op.packB(0, colT)
}

// MulPacked computes out (M, N) (+)= A (M, K) · B[:K, :N] on the calling
// goroutine, with B packed by p (K <= its K, N <= its N), A stored (M, K)
// with rows lda apart and out's rows ldc apart. The bits are those of Mul
// with the same A and the same block of B.
func MulPacked(out []float32, ldc int, a []float32, lda int, p *Packed, m, k, n int, accumulate bool) {
	checkDims("MulPacked", m, k, n)
	if k > p.k || n > p.n {
		panic("matmul: bad shape: MulPacked reads past its packed operand")
	}
	checkStrided("MulPacked out", out, m, n, ldc)
	checkStrided("MulPacked a", a, m, k, lda)
	if emptyProduct(out, ldc, m, k, n, accumulate) {
		return
	}
	op := operands{out: out, a: a, ldc: ldc, lda: lda, m: m, k: k, n: n, accumulate: accumulate,
		bPack: p.data, kPack: p.k, nPad: p.nPad, rowT: ceilDiv(m, tileRows), colT: ceilDiv(n, tileCols)}
	op.run(0, op.rowT, 0, op.colT)
}

func checkDims(what string, m, k, n int) {
	if m < 0 || k < 0 || n < 0 {
		panic("matmul: bad shape: " + what + " has a negative dimension")
	}
}

// checkOperand is checkStrided for an operand of shape (rows, cols), stored
// transposed, (cols, rows), when t is set.
func checkOperand(what string, s []float32, rows, cols, ld int, t bool) {
	if t {
		rows, cols = cols, rows
	}
	checkStrided(what, s, rows, cols, ld)
}

// checkStrided panics unless s holds rows×cols values with rows ld apart.
func checkStrided(what string, s []float32, rows, cols, ld int) {
	if ld < cols {
		panic("matmul: bad shape: " + what + " has rows closer than their length")
	}
	if rows > 0 && cols > 0 {
		checkLen(what, s, (rows-1)*ld+cols)
	}
}

func checkLen(what string, s []float32, want int) {
	if len(s) < want {
		panic("matmul: bad shape: " + what + " is shorter than its shape says")
	}
}
