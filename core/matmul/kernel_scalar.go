// This file holds the portable scalar micro-kernel, used by every build without GOEXPERIMENT=simd.

//go:build !goexperiment.simd

package matmul

// A 2×4 tile keeps 8 accumulators, 4 B values and 2 A values in registers
// (amd64 has 15 usable; a 4×4 tile spills and ran slower). The loop is plain
// c += a*b: GOAMD64=v1 and wasm never fuse it into an FMA, so the scalar
// build gives the same bits natively and in wasm.
const (
	tileRows = 2
	tileCols = 4
	maxTile  = tileRows * tileCols
	// blockK keeps a B panel (blockK×4) and an A panel (blockK×2) in L1.
	blockK = 256
)

// kernel sums a (kc×2 packed) · b (kc×4 packed) into a 2×4 tile of c (row
// stride ldc), storing it when store is set and adding it otherwise; only
// the first nr rows and cols columns of the tile are written (edge tiles).
func kernel(kc int, a, b []float32, bs int, c []float32, ldc int, store bool, nr, cols int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a = a[:2*kc]
	b = b[:4*kc] // bs is always tileCols here: the scalar build packs B
	for len(a) >= 2 && len(b) >= 4 {
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a = a[2:]
		b = b[4:]
	}
	if nr < tileRows || cols < tileCols {
		t := [maxTile]float32{c00, c01, c02, c03, c10, c11, c12, c13}
		for r := range nr {
			row := c[r*ldc : r*ldc+cols]
			for j := range row {
				if store {
					row[j] = t[r*tileCols+j]
				} else {
					row[j] += t[r*tileCols+j]
				}
			}
		}
		return
	}
	r0 := c[0:4:4]
	r1 := c[ldc : ldc+4 : ldc+4]
	if store {
		r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
		r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
		return
	}
	r0[0] += c00
	r0[1] += c01
	r0[2] += c02
	r0[3] += c03
	r1[0] += c10
	r1[1] += c11
	r1[2] += c12
	r1[3] += c13
}

// directA: the scalar build always packs A (its 2-row panels are cheap to
// build), so kernelDirect and kernelDirectT are never called.
const directA = false

// narrowN and directBRows are unused in the scalar build (see kernel_simd.go).
const (
	narrowN     = 0
	directBRows = 0
)

func kernelDirect(kc int, a0, a1, a2, a3, b []float32, bs int, c []float32, ldc int, store bool, cols int) {
	panic("matmul: kernelDirect in the scalar build")
}

func kernelDirectT(kc int, a []float32, lda int, b []float32, bs int, c []float32, ldc int, store bool, nr, cols int) {
	panic("matmul: kernelDirectT in the scalar build")
}
