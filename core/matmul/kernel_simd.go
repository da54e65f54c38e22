// This file holds the SIMD micro-kernel, written once with Go's portable simd package (GOEXPERIMENT=simd).

//go:build goexperiment.simd

package matmul

import "simd"

// The tile is 4 rows × 2 vectors: 8 vector accumulators, 2 B vectors and one
// broadcast A value in registers. One accumulator alone would wait on the
// multiply-add latency; eight independent chains keep the FMA units busy.
// The vector width is the platform's (16 lanes with AVX-512, 4 in wasm), so
// tileCols is set at start-up. Each output element is still one chain of
// multiply-adds in increasing K order, so the bits do not depend on the
// vector width or on how the work is split. Natively MulAdd is a fused
// multiply-add, in wasm a multiply then an add: the two differ in the last bits.
const (
	tileRows = 4
	maxLanes = 16
	maxTile  = tileRows * 2 * maxLanes
	// blockK keeps a B panel (blockK × 32 floats = 16 KiB with AVX-512) in L1.
	blockK = 128
)

var (
	lanes    int // float32 lanes per vector
	tileCols int // 2 × lanes
)

func init() {
	lanes = simd.VectorBitSize() / 32
	if lanes > maxLanes {
		panic("matmul: vectors wider than 512 bits are not supported")
	}
	tileCols = 2 * lanes
}

// kernel sums a (kc×4 packed) · b into a 4×tileCols tile of c (row stride
// ldc), storing it when store is set and adding it otherwise; only the first
// nr rows and cols columns are written (edge tiles). Row p of B's panel
// starts at b[p*bs]: bs is tileCols for a packed panel, B's row stride when
// B is read in place.
func kernel(kc int, a, b []float32, bs int, c []float32, ldc int, store bool, nr, cols int) {
	l := lanes
	if bs != 2*l {
		// B read in place: a packed A panel is a transposed A whose K steps
		// are tileRows apart.
		kernelDirectT(kc, a, tileRows, b, bs, c, ldc, store, nr, cols)
		return
	}
	var c00, c01, c10, c11, c20, c21, c30, c31 simd.Float32s
	a = a[:4*kc]
	b = b[:2*l*kc]
	var b0, b1, x simd.Float32s
	// Two K steps per iteration halve the loop overhead; the order of the
	// multiply-adds into each accumulator is unchanged. (Slices that advance,
	// rather than indexes, let the compiler drop the bounds checks: the
	// indexed loop of kernelDirectT ran the packed products 10-15% slower.)
	for len(a) >= 8 && len(b) >= 4*l {
		b0 = simd.LoadFloat32s(b)
		b1 = simd.LoadFloat32s(b[l:])
		x = simd.BroadcastFloat32s(a[0])
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = simd.BroadcastFloat32s(a[1])
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = simd.BroadcastFloat32s(a[2])
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = simd.BroadcastFloat32s(a[3])
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
		b0 = simd.LoadFloat32s(b[2*l:])
		b1 = simd.LoadFloat32s(b[2*l+l:])
		x = simd.BroadcastFloat32s(a[4])
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = simd.BroadcastFloat32s(a[5])
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = simd.BroadcastFloat32s(a[6])
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = simd.BroadcastFloat32s(a[7])
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
		a = a[8:]
		b = b[4*l:]
	}
	if len(a) >= 4 && len(b) >= 2*l {
		b0 = simd.LoadFloat32s(b)
		b1 = simd.LoadFloat32s(b[l:])
		x = simd.BroadcastFloat32s(a[0])
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = simd.BroadcastFloat32s(a[1])
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = simd.BroadcastFloat32s(a[2])
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = simd.BroadcastFloat32s(a[3])
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	storeTile(c, ldc, store, nr, cols, c00, c01, c10, c11, c20, c21, c30, c31)
}

// directA: the SIMD build reads A in place (kernelDirect) when A is stored
// row-major, instead of packing it. The packing is a scalar copy of every
// element of A; for the narrow products of attention (P·V with N = head size)
// it cost about as much as the multiply-adds.
const directA = true

// narrowN: a product with transposed A and at most this many columns reads
// A in place (kernelDirectT) rather than packing it: with one or two column
// panels each packed element would be read once or twice (attention's
// Pᵀ·dO and dSᵀ·Q, N = head size).
const narrowN = 4 * maxLanes

// directBRows: a product with row-major B and at most this many row tiles
// reads B's whole column panels in place instead of packing them: a panel
// would be read only this many times (the LoRA gradients Aᵀ and Bᵀ, whose
// M is the rank, multiply by a whole (N, In) activation).
const directBRows = 4

// kernelDirect is kernel with A read in place: rows a0..a3 of A (K block
// only, each kc long) instead of a packed panel. The multiply-adds into each
// accumulator happen in the same order, so the bits equal kernel's.
func kernelDirect(kc int, a0, a1, a2, a3, b []float32, bs int, c []float32, ldc int, store bool, cols int) {
	l := lanes
	var c00, c01, c10, c11, c20, c21, c30, c31 simd.Float32s
	a0, a1, a2, a3 = a0[:kc], a1[:kc], a2[:kc], a3[:kc]
	b = b[:(kc-1)*bs+2*l]
	for p := range kc {
		bp := b[bs*p:]
		b0 := simd.LoadFloat32s(bp)
		b1 := simd.LoadFloat32s(bp[l:])
		x := simd.BroadcastFloat32s(a0[p])
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = simd.BroadcastFloat32s(a1[p])
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = simd.BroadcastFloat32s(a2[p])
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = simd.BroadcastFloat32s(a3[p])
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	storeTile(c, ldc, store, tileRows, cols, c00, c01, c10, c11, c20, c21, c30, c31)
}

// kernelDirectT is kernel with a transposed A read in place: the tile's four
// rows at K step p are a[p*lda : p*lda+4] (A stored (K, M), starting at the
// tile's first row and the K block's first step). Same order, same bits.
// Only the first nr rows and cols columns are written.
func kernelDirectT(kc int, a []float32, lda int, b []float32, bs int, c []float32, ldc int, store bool, nr, cols int) {
	l := lanes
	var c00, c01, c10, c11, c20, c21, c30, c31 simd.Float32s
	b = b[:(kc-1)*bs+2*l]
	for p := range kc {
		ap := a[p*lda : p*lda+4]
		bp := b[bs*p:]
		b0 := simd.LoadFloat32s(bp)
		b1 := simd.LoadFloat32s(bp[l:])
		x := simd.BroadcastFloat32s(ap[0])
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = simd.BroadcastFloat32s(ap[1])
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = simd.BroadcastFloat32s(ap[2])
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = simd.BroadcastFloat32s(ap[3])
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	storeTile(c, ldc, store, nr, cols, c00, c01, c10, c11, c20, c21, c30, c31)
}

// storeTile writes the first nr rows and cols columns of the 4×2-vector
// tile into c (row stride ldc), or adds them to c's values when store is false.
func storeTile(c []float32, ldc int, store bool, nr, cols int, c00, c01, c10, c11, c20, c21, c30, c31 simd.Float32s) {
	l := lanes
	if nr < tileRows || cols < 2*l {
		// Edge tile: each row's first cols lanes (no arrays of vectors:
		// they went through memory).
		storeRow(c[:cols], store, c00, c01)
		if nr > 1 {
			storeRow(c[ldc:ldc+cols], store, c10, c11)
		}
		if nr > 2 {
			storeRow(c[2*ldc:2*ldc+cols], store, c20, c21)
		}
		if nr > 3 {
			storeRow(c[3*ldc:3*ldc+cols], store, c30, c31)
		}
		return
	}
	r0, r1, r2, r3 := c, c[ldc:], c[2*ldc:], c[3*ldc:]
	if !store {
		c00 = c00.Add(simd.LoadFloat32s(r0))
		c01 = c01.Add(simd.LoadFloat32s(r0[l:]))
		c10 = c10.Add(simd.LoadFloat32s(r1))
		c11 = c11.Add(simd.LoadFloat32s(r1[l:]))
		c20 = c20.Add(simd.LoadFloat32s(r2))
		c21 = c21.Add(simd.LoadFloat32s(r2[l:]))
		c30 = c30.Add(simd.LoadFloat32s(r3))
		c31 = c31.Add(simd.LoadFloat32s(r3[l:]))
	}
	c00.Store(r0)
	c01.Store(r0[l:])
	c10.Store(r1)
	c11.Store(r1[l:])
	c20.Store(r2)
	c21.Store(r2[l:])
	c30.Store(r3)
	c31.Store(r3[l:])
}

// storeRow writes (or adds) the first len(row) lanes of v0, v1 into row.
func storeRow(row []float32, store bool, v0, v1 simd.Float32s) {
	l := lanes
	if len(row) > l {
		if !store {
			v0 = v0.Add(simd.LoadFloat32s(row))
		}
		v0.Store(row)
		row, v0 = row[l:], v1
	}
	if !store {
		old, _ := simd.LoadFloat32sPart(row)
		v0 = v0.Add(old)
	}
	v0.StorePart(row)
}
