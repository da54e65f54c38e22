// This file holds the naive oracle and the correctness tests: fuzz, table, gonum, determinism, panics.

package matmul

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"golora/core/rng"
)

// naive is the reference triple loop: out (M, N) (+)= op(A) (M, K) · op(B) (K, N),
// summing each element over K in order in float32, then storing or adding it.
func naive(out, a, b []float32, m, k, n int, aT, bT, accumulate bool) {
	for i := range m {
		for j := range n {
			var s float32
			for p := range k {
				av := a[i*k+p]
				if aT {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if bT {
					bv = b[j*k+p]
				}
				s += av * bv
			}
			if accumulate {
				out[i*n+j] += s
			} else {
				out[i*n+j] = s
			}
		}
	}
}

// magnitude returns Σ_p |A(i,p)·B(p,j)| + |out0|, the scale of element (i, j)'s rounding error.
func magnitude(out0, a, b []float32, m, k, n int, aT, bT bool, i, j int) float64 {
	s := math.Abs(float64(out0[i*n+j]))
	for p := range k {
		av := a[i*k+p]
		if aT {
			av = a[p*m+i]
		}
		bv := b[p*n+j]
		if bT {
			bv = b[j*k+p]
		}
		s += math.Abs(float64(av) * float64(bv))
	}
	return s
}

// relTol is the tolerance relative to magnitude(), scaled by sqrt(K). The
// blocked product sums K in blocks (and the SIMD build fuses multiply-adds),
// so it rounds differently from the naive loop; both errors grow like
// sqrt(K)·eps·Σ|a·b| for random signs (eps = 6e-8 for float32). 1e-5 leaves a
// factor of about 100 over that, while a wrong index or a dropped term moves
// an element by about 1/K of its magnitude or more, far above it at these sizes.
const relTol = 1e-5

func randSlice(r *rng.RNG, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Uniform(-1, 1)
	}
	return s
}

type product struct {
	name   string
	aT, bT bool
	call   func(out, a, b []float32, m, k, n int, accumulate bool)
}

var products = []product{
	{"MulNT", false, true, MulNT},
	{"MulNN", false, false, MulNN},
	{"MulTN", true, false, MulTN},
}

// checkProduct compares one product with the naive oracle on seeded random inputs.
func checkProduct(t *testing.T, p product, m, k, n int, accumulate bool, seed uint64) {
	t.Helper()
	r := rng.New(seed)
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	out0 := randSlice(r, m*n)
	got := append([]float32(nil), out0...)
	want := append([]float32(nil), out0...)
	p.call(got, a, b, m, k, n, accumulate)
	naive(want, a, b, m, k, n, p.aT, p.bT, accumulate)
	if !accumulate {
		clear(out0)
	}
	scale := relTol * math.Sqrt(float64(max(k, 1)))
	for i := range m {
		for j := range n {
			tol := scale * max(magnitude(out0, a, b, m, k, n, p.aT, p.bT, i, j), 1e-30)
			if !assert.InDelta(t, want[i*n+j], got[i*n+j], tol,
				"%s m=%d k=%d n=%d accumulate=%v: element (%d, %d)", p.name, m, k, n, accumulate, i, j) {
				return
			}
		}
	}
}

func TestProductsTable(t *testing.T) {
	shapes := []struct{ m, k, n int }{
		{1, 1, 1}, {1, 7, 1}, {3, 5, 7}, {2, 4, 4}, {4, 4, 32}, {5, 9, 33},
		{17, 1, 31}, {0, 3, 4}, {3, 0, 4}, {64, 300, 65}, {129, 257, 70}, {8, 1024, 8},
	}
	for _, p := range products {
		for _, s := range shapes {
			for _, acc := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%dx%dx%d/acc=%v", p.name, s.m, s.k, s.n, acc), func(t *testing.T) {
					checkProduct(t, p, s.m, s.k, s.n, acc, uint64(s.m*1000+s.k*10+s.n))
				})
			}
		}
	}
}

// checkForward compares Forward (with or without bias) with the naive oracle.
func checkForward(t *testing.T, n, c, oc int, withBias bool, seed uint64) {
	t.Helper()
	r := rng.New(seed)
	in, w := randSlice(r, n*c), randSlice(r, oc*c)
	var bias []float32
	if withBias {
		bias = randSlice(r, oc)
	}
	got, want := randSlice(r, n*oc), make([]float32, n*oc)
	Forward(got, in, w, bias, n, c, oc)
	naive(want, in, w, n, c, oc, false, true, false)
	zero := make([]float32, n*oc)
	scale := relTol * math.Sqrt(float64(max(c, 1)))
	for i := range n {
		for j := range oc {
			mag := magnitude(zero, in, w, n, c, oc, false, true, i, j)
			if withBias {
				want[i*oc+j] += bias[j]
				mag += math.Abs(float64(bias[j]))
			}
			if !assert.InDelta(t, want[i*oc+j], got[i*oc+j], scale*max(mag, 1e-30),
				"Forward n=%d c=%d oc=%d bias=%v: element (%d, %d)", n, c, oc, withBias, i, j) {
				return
			}
		}
	}
}

// checkBackward compares Backward with the naive oracle; mask bit 0/1/2 keeps din/dw/dbias.
func checkBackward(t *testing.T, n, c, oc int, mask int, seed uint64) {
	t.Helper()
	r := rng.New(seed)
	dout, in, w := randSlice(r, n*oc), randSlice(r, n*c), randSlice(r, oc*c)
	din0, dw0, db0 := randSlice(r, n*c), randSlice(r, oc*c), randSlice(r, oc)
	var din, dw, dbias []float32
	if mask&1 != 0 {
		din = append([]float32(nil), din0...)
	}
	if mask&2 != 0 {
		dw = append([]float32(nil), dw0...)
	}
	if mask&4 != 0 {
		dbias = append([]float32(nil), db0...)
	}
	Backward(din, dw, dbias, dout, in, w, n, c, oc)
	if din != nil {
		want := append([]float32(nil), din0...)
		naive(want, dout, w, n, oc, c, false, false, true)
		scale := relTol * math.Sqrt(float64(max(oc, 1)))
		for i := range n {
			for j := range c {
				tol := scale * max(magnitude(din0, dout, w, n, oc, c, false, false, i, j), 1e-30)
				if !assert.InDelta(t, want[i*c+j], din[i*c+j], tol, "Backward din n=%d c=%d oc=%d: element (%d, %d)", n, c, oc, i, j) {
					return
				}
			}
		}
	}
	if dw != nil {
		want := append([]float32(nil), dw0...)
		naive(want, dout, in, oc, n, c, true, false, true)
		scale := relTol * math.Sqrt(float64(max(n, 1)))
		for i := range oc {
			for j := range c {
				tol := scale * max(magnitude(dw0, dout, in, oc, n, c, true, false, i, j), 1e-30)
				if !assert.InDelta(t, want[i*c+j], dw[i*c+j], tol, "Backward dw n=%d c=%d oc=%d: element (%d, %d)", n, c, oc, i, j) {
					return
				}
			}
		}
	}
	if dbias != nil {
		for j := range oc {
			want, mag := float64(db0[j]), math.Abs(float64(db0[j]))
			for i := range n {
				want += float64(dout[i*oc+j])
				mag += math.Abs(float64(dout[i*oc+j]))
			}
			assert.InDelta(t, want, float64(dbias[j]), relTol*math.Sqrt(float64(max(n, 1)))*mag+1e-30,
				"Backward dbias n=%d c=%d oc=%d: element %d", n, c, oc, j)
		}
	}
}

func TestForwardBackward(t *testing.T) {
	shapes := []struct{ n, c, oc int }{{1, 1, 1}, {3, 5, 2}, {37, 19, 11}, {64, 128, 96}}
	for _, s := range shapes {
		for _, bias := range []bool{false, true} {
			checkForward(t, s.n, s.c, s.oc, bias, uint64(s.n+s.c+s.oc))
		}
		for mask := range 8 {
			checkBackward(t, s.n, s.c, s.oc, mask, uint64(mask+s.n))
		}
	}
}

// FuzzMatmul compares the blocked products, Forward and Backward with the
// naive oracle on random shapes (0 to 79 per side, so odd sizes, sizes that are
// not multiples of any tile, and products above the parallel threshold).
// kind picks MulNT, MulNN, MulTN, Forward or Backward; flags carries
// accumulate, bias, or Backward's nil mask.
func FuzzMatmul(f *testing.F) {
	f.Add(uint64(1), uint8(1), uint8(1), uint8(1), uint8(0), uint8(0))
	f.Add(uint64(2), uint8(3), uint8(5), uint8(7), uint8(1), uint8(1))
	f.Add(uint64(3), uint8(33), uint8(17), uint8(65), uint8(2), uint8(1))
	f.Add(uint64(4), uint8(79), uint8(79), uint8(79), uint8(0), uint8(1))
	f.Add(uint64(5), uint8(64), uint8(70), uint8(45), uint8(1), uint8(0))
	f.Add(uint64(6), uint8(2), uint8(255), uint8(9), uint8(2), uint8(0))
	f.Add(uint64(7), uint8(13), uint8(8), uint8(6), uint8(3), uint8(1))
	f.Add(uint64(8), uint8(50), uint8(31), uint8(1), uint8(3), uint8(0))
	f.Add(uint64(9), uint8(21), uint8(11), uint8(75), uint8(4), uint8(5))
	f.Add(uint64(10), uint8(77), uint8(66), uint8(70), uint8(4), uint8(2))
	f.Add(uint64(11), uint8(9), uint8(0), uint8(4), uint8(4), uint8(7))
	f.Fuzz(func(t *testing.T, seed uint64, m8, k8, n8, kind, flags uint8) {
		m, k, n := int(m8)%80, int(k8)%80, int(n8)%80
		switch kind % 5 {
		case 0, 1, 2:
			checkProduct(t, products[kind%5], m, k, n, flags&1 != 0, seed)
		case 3:
			checkForward(t, m, k, n, flags&1 != 0, seed)
		case 4:
			checkBackward(t, m, k, n, int(flags%8), seed)
		}
	})
}

// TestAgainstGonum compares each product with gonum's Sgemm at model-like shapes.
func TestAgainstGonum(t *testing.T) {
	impl := gonum.Implementation{}
	cases := []struct {
		m, k, n int
		tol     float64 // absolute, inputs in [-1, 1): sqrt(K)·relTol·K bounds Σ|a·b| ≤ K
	}{
		{256, 128, 128, 0}, {128, 512, 96, 0}, {33, 64, 130, 0}, {96, 1024, 64, 0},
		{96, 4096, 96, 0}, {256, 4096, 96, 0}, // weight gradients of a training batch: K = B*T rows
	}
	for _, p := range products {
		for _, c := range cases {
			r := rng.New(uint64(c.m * c.n))
			a, b := randSlice(r, c.m*c.k), randSlice(r, c.k*c.n)
			got, want := make([]float32, c.m*c.n), make([]float32, c.m*c.n)
			p.call(got, a, b, c.m, c.k, c.n, false)
			tA, lda := blas.NoTrans, c.k
			if p.aT {
				tA, lda = blas.Trans, c.m
			}
			tB, ldb := blas.NoTrans, c.n
			if p.bT {
				tB, ldb = blas.Trans, c.k
			}
			impl.Sgemm(tA, tB, c.m, c.n, c.k, 1, a, lda, b, ldb, 0, want, c.n)
			tol := relTol * math.Sqrt(float64(c.k)) * float64(c.k)
			for i := range got {
				if !assert.InDelta(t, want[i], got[i], tol, "%s vs gonum Sgemm %dx%dx%d: index %d", p.name, c.m, c.k, c.n, i) {
					break
				}
			}
		}
	}
}

// TestDeterministicGOMAXPROCS requires the same bits with 1, 2 and 8 Ps: the
// work is split into different rectangles each time, but each output element
// is summed over K in the same order.
func TestDeterministicGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	shapes := []struct{ m, k, n int }{{256, 128, 128}, {128, 1024, 128}, {8, 300, 512}, {131, 257, 77}}
	for _, p := range products {
		for _, s := range shapes {
			r := rng.New(7)
			a, b, out0 := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
			var ref []float32
			for _, procs := range []int{1, 2, 8} {
				runtime.GOMAXPROCS(procs)
				got := append([]float32(nil), out0...)
				p.call(got, a, b, s.m, s.k, s.n, true)
				if ref == nil {
					ref = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Errorf("%s %dx%dx%d: GOMAXPROCS=%d differs from 1 at index %d: %v vs %v",
							p.name, s.m, s.k, s.n, procs, i, got[i], ref[i])
						break
					}
				}
			}
		}
	}
}

// TestPartitionIndependent requires that a band of output rows computed on
// its own (a different blocking and tiling of the same elements) has the
// same bits as those rows of the whole product.
func TestPartitionIndependent(t *testing.T) {
	const m, k, n, r0, r1 = 203, 300, 45, 37, 150
	r := rng.New(11)
	a, b := randSlice(r, m*k), randSlice(r, n*k)
	whole := make([]float32, m*n)
	MulNT(whole, a, b, m, k, n, false)
	band := make([]float32, (r1-r0)*n)
	MulNT(band, a[r0*k:r1*k], b, r1-r0, k, n, false)
	for i := range band {
		if math.Float32bits(band[i]) != math.Float32bits(whole[r0*n+i]) {
			t.Fatalf("MulNT: row band differs from the whole product at index %d: %v vs %v", i, band[i], whole[r0*n+i])
		}
	}
}

// requirePanics runs each case and requires it to panic with a "matmul: " message.
func requirePanics(t *testing.T, cases map[string]func()) {
	t.Helper()
	for name, call := range cases {
		func() {
			defer func() {
				msg, _ := recover().(string)
				require.NotEmpty(t, msg, "%s: expected a panic", name)
				assert.Regexp(t, "^matmul: ", msg, name)
			}()
			call()
		}()
	}
}

func TestBadShapesPanic(t *testing.T) {
	s := make([]float32, 6)
	cases := map[string]func(){
		"MulNT short out": func() { MulNT(s[:5], s, s, 2, 3, 3, false) },
		"MulNN short a":   func() { MulNN(s, s[:5], s, 2, 3, 2, false) },
		"MulTN short b":   func() { MulTN(s, s, s[:5], 2, 3, 2, false) },
		"MulNT negative":  func() { MulNT(s, s, s, -1, 3, 2, false) },
		"Forward bias":    func() { Forward(s, s, s, s[:1], 2, 3, 3) },
		"Backward dw":     func() { Backward(nil, s[:2], nil, s, s, s, 2, 3, 3) },
	}
	requirePanics(t, cases)
}

// TestPackingBuffersReused requires that a product allocates no packing
// buffers of its own once the pool is warm: only the small operands record
// (one allocation) remains, so the training loop makes almost no garbage.
func TestPackingBuffersReused(t *testing.T) {
	const m, k, n = 64, 300, 50
	a, b, out := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
	for _, p := range products {
		allocs := testing.AllocsPerRun(20, func() { p.call(out, a, b, m, k, n, false) })
		assert.LessOrEqual(t, allocs, 1.5, "%s: allocations per call", p.name)
	}
}

// embed copies a (rows, cols) matrix into a larger random one with rows ld
// apart, starting at offset off, and returns the larger one.
func embed(r *rng.RNG, x []float32, rows, cols, ld, off int) []float32 {
	big := randSlice(r, off+rows*ld)
	for i := range rows {
		copy(big[off+i*ld:off+i*ld+cols], x[i*cols:(i+1)*cols])
	}
	return big
}

func requireSameBits(t *testing.T, want, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestMulStrided requires Mul on blocks of larger matrices to give exactly
// the bits of MulNT, MulNN and MulTN on compact copies, and to write nothing
// outside its block of out.
func TestMulStrided(t *testing.T) {
	shapes := []struct{ m, k, n int }{{1, 1, 1}, {5, 9, 33}, {17, 3, 31}, {64, 300, 65}, {129, 257, 70}, {3, 0, 4}}
	for _, p := range products {
		for _, s := range shapes {
			for _, acc := range []bool{false, true} {
				r := rng.New(uint64(s.m*1000 + s.k*10 + s.n))
				a, b, out0 := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
				want := append([]float32(nil), out0...)
				p.call(want, a, b, s.m, s.k, s.n, acc)

				aRows, aCols := s.m, s.k
				if p.aT {
					aRows, aCols = s.k, s.m
				}
				bRows, bCols := s.k, s.n
				if p.bT {
					bRows, bCols = s.n, s.k
				}
				lda, ldb, ldc := aCols+3, bCols+5, s.n+7
				bigA := embed(r, a, aRows, aCols, lda, 2)
				bigB := embed(r, b, bRows, bCols, ldb, 1)
				bigOut := embed(r, out0, s.m, s.n, ldc, 4)
				before := append([]float32(nil), bigOut...)
				Mul(bigOut[4:], ldc, bigA[2:], lda, p.aT, bigB[1:], ldb, p.bT, s.m, s.k, s.n, acc)

				got := make([]float32, s.m*s.n)
				for i := range s.m {
					copy(got[i*s.n:(i+1)*s.n], bigOut[4+i*ldc:4+i*ldc+s.n])
					clear(bigOut[4+i*ldc : 4+i*ldc+s.n])
					clear(before[4+i*ldc : 4+i*ldc+s.n])
				}
				what := fmt.Sprintf("%s %dx%dx%d acc=%v", p.name, s.m, s.k, s.n, acc)
				requireSameBits(t, want, got, what)
				requireSameBits(t, before, bigOut, what+": outside the block")
			}
		}
	}
}

// TestMulPacked requires products with a packed B, or a leading block of it,
// to give exactly the bits of MulNN and MulNT on a compact copy of that block.
func TestMulPacked(t *testing.T) {
	const K, N, lda, ldc = 300, 70, 310, 80
	r := rng.New(21)
	bRM := randSlice(r, K*N) // (K, N)
	bCM := make([]float32, N*K)
	for p := range K {
		for j := range N {
			bCM[j*K+p] = bRM[p*N+j]
		}
	}
	var rowMajor, transposed Packed
	rowMajor.Pack(embed(r, bRM, K, N, N+3, 0), N+3, false, K, N)
	transposed.Pack(embed(r, bCM, N, K, K+1, 0), K+1, true, K, N)
	for _, s := range []struct{ m, k, n int }{{1, 1, 1}, {7, 24, 24}, {32, 128, 24}, {19, 115, 70}, {33, 300, 65}, {4, 129, 33}, {5, 0, 3}} {
		for _, acc := range []bool{false, true} {
			a := randSlice(r, s.m*s.k)
			out0 := randSlice(r, s.m*s.n)
			block := make([]float32, s.k*s.n)
			for p := range s.k {
				copy(block[p*s.n:(p+1)*s.n], bRM[p*N:p*N+s.n])
			}
			want := append([]float32(nil), out0...)
			MulNN(want, a, block, s.m, s.k, s.n, acc)
			for name, pk := range map[string]*Packed{"row-major": &rowMajor, "transposed": &transposed} {
				bigOut := embed(r, out0, s.m, s.n, ldc, 0)
				MulPacked(bigOut, ldc, embed(r, a, s.m, s.k, lda, 0), lda, pk, s.m, s.k, s.n, acc)
				got := make([]float32, s.m*s.n)
				for i := range s.m {
					copy(got[i*s.n:(i+1)*s.n], bigOut[i*ldc:i*ldc+s.n])
				}
				requireSameBits(t, want, got, fmt.Sprintf("%s %dx%dx%d acc=%v", name, s.m, s.k, s.n, acc))
			}
		}
	}
}

func TestStridedBadShapesPanic(t *testing.T) {
	s := make([]float32, 12)
	var p Packed
	p.Pack(s, 4, false, 3, 4)
	cases := map[string]func(){
		"Mul short strided a":   func() { Mul(s, 2, s[:9], 4, false, s, 2, false, 3, 2, 2, false) },
		"Mul rows overlap":      func() { Mul(s, 2, s, 1, false, s, 2, false, 3, 2, 2, false) },
		"MulPacked past its K":  func() { MulPacked(s, 4, s, 4, &p, 1, 4, 4, false) },
		"MulPacked past its N":  func() { MulPacked(s, 5, s, 3, &p, 1, 3, 5, false) },
		"MulPacked short out":   func() { MulPacked(s[:7], 4, s, 3, &p, 2, 3, 4, false) },
		"Pack short transposed": func() { p.Pack(s[:11], 3, true, 3, 4) },
	}
	requirePanics(t, cases)
}

// TestEdgeAndNarrowSameBits: the first columns of a product computed alone
// (edge tiles, and with transposed A read in place when narrow) have the
// bits of the same columns computed inside a wider product (whole tiles,
// packed A), for every transpose case.
func TestEdgeAndNarrowSameBits(t *testing.T) {
	const m, k, wide = 45, 300, 100
	r := rng.New(17)
	for _, p := range products {
		for _, narrow := range []int{1, 7, 24, 33, 64} {
			a := randSlice(r, m*k)
			bw := randSlice(r, k*wide) // (K, wide) or, for MulNT, (wide, K)
			bn := make([]float32, k*narrow)
			for pp := range k {
				for j := range narrow {
					if p.bT {
						bn[j*k+pp] = bw[j*k+pp]
					} else {
						bn[pp*narrow+j] = bw[pp*wide+j]
					}
				}
			}
			for _, acc := range []bool{false, true} {
				out0 := randSlice(r, m*wide)
				outW := append([]float32(nil), out0...)
				p.call(outW, a, bw, m, k, wide, acc)
				outN := make([]float32, m*narrow)
				for i := range m {
					copy(outN[i*narrow:(i+1)*narrow], out0[i*wide:i*wide+narrow])
				}
				p.call(outN, a, bn, m, k, narrow, acc)
				for i := range m {
					requireSameBits(t, outW[i*wide:i*wide+narrow], outN[i*narrow:(i+1)*narrow],
						fmt.Sprintf("%s narrow=%d acc=%v row %d", p.name, narrow, acc, i))
				}
			}
		}
	}
}

// TestDirectBSameBits: a product with few rows (which reads a row-major B in
// place in SIMD builds) gives the bits of the same rows of a taller product
// (which packs B).
func TestDirectBSameBits(t *testing.T) {
	const tall, k, n = 45, 300, 100
	r := rng.New(23)
	for _, p := range products {
		for _, m := range []int{1, 4, 8, 13, 16} {
			a := randSlice(r, tall*k) // (tall, K), or for MulTN (K, tall)
			b := randSlice(r, k*n)
			outT := make([]float32, tall*n)
			p.call(outT, a, b, tall, k, n, false)
			sub := make([]float32, m*k) // the first m rows of op(A)
			for i := range m {
				for pp := range k {
					if p.aT {
						sub[pp*m+i] = a[pp*tall+i]
					} else {
						sub[i*k+pp] = a[i*k+pp]
					}
				}
			}
			out := make([]float32, m*n)
			p.call(out, sub, b, m, k, n, false)
			requireSameBits(t, outT[:m*n], out, fmt.Sprintf("%s m=%d", p.name, m))
		}
	}
}
