// This file holds the blocked, packed, goroutine-parallel product that MulNT, MulNN and MulTN share.

package matmul

import (
	"sync"

	"golora/core/par"
)

// The product is out (M, N) (+)= A (M, K) · B (K, N), where A and B are read
// through their transpose case. Layout of the work (Goto-style):
//
//   - B is packed once per call into column panels of tileCols columns,
//     K-block by K-block: block kb (rows p0..p0+kc of B) starts at p0*nPad and
//     holds its panels one after another, each kc×tileCols, row p of a panel
//     at p*tileCols. Columns past N are zero.
//   - Each worker owns a rectangle of output tiles. For each group of up to
//     blockM rows and each K block it packs A into row panels of tileRows
//     rows (kc×tileRows, row p at p*tileRows, rows past M zero), then runs the
//     micro-kernel over every (row panel, column panel) pair.
//   - The micro-kernel sums one K block from zero in registers, then stores
//     the tile (first K block without accumulate) or adds it to out.
//
// So every output element is out = ((out?) + Σblock0) + Σblock1 + ..., with
// the blocks in increasing K order and each block summed in increasing K:
// an order fixed by the shapes alone, whatever the number of workers.

// blockM is the number of output rows whose packed A block (blockM×blockK)
// should stay in L2 while the column panels stream past it.
const blockM = 128

// parallelWork is the multiply-add count under which a product runs on the
// calling goroutine: below it, starting goroutines costs more than it saves.
const parallelWork = 1 << 17

// operands describes one product and its packed B.
type operands struct {
	out, a, b     []float32
	ldc, lda, ldb int // row strides of out, a and b as stored
	m, k, n       int
	aT            bool // A stored (K, M) instead of (M, K)
	bT            bool // B stored (N, K) instead of (K, N)
	directB       bool // whole column panels of B are read in place, only a partial last one is packed
	accumulate    bool
	bPack         []float32 // kPack × nPad, see the layout above
	kPack         int       // the K that bPack was packed for (>= k: a product may use a prefix)
	nPad          int       // N rounded up to whole column panels
	rowT, colT    int       // number of row tiles and column panels
}

var packPool = sync.Pool{New: func() any { s := make([]float32, 0); return &s }}

func getBuf(n int) *[]float32 {
	p := packPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// Workers returns how many goroutines a product of m×k×n multiply-adds uses:
// 1 below a work threshold, otherwise up to par.Workers(). The
// result never changes the numbers, only the speed.
func Workers(m, k, n int) int {
	if m*k*n < parallelWork {
		return 1
	}
	tiles := max(ceilDiv(m, tileRows), ceilDiv(n, tileCols))
	return max(1, min(par.Workers(), tiles))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// emptyProduct handles the products without multiply-adds, M, N or K zero
// (out is cleared when K is zero and the product stores), and reports
// whether it did.
func emptyProduct(out []float32, ldc, m, k, n int, accumulate bool) bool {
	if m == 0 || n == 0 {
		return true
	}
	if k != 0 {
		return false
	}
	if !accumulate {
		for i := range m {
			clear(out[i*ldc : i*ldc+n])
		}
	}
	return true
}

// gemm runs out (M, N) (+)= op(A) · op(B) with the packing chosen by aT and
// bT; lda, ldb and ldc are the row strides of a, b and out as stored.
func gemm(out []float32, ldc int, a []float32, lda int, b []float32, ldb int, m, k, n int, aT, bT, accumulate bool) {
	if emptyProduct(out, ldc, m, k, n, accumulate) {
		return
	}
	op := operands{out: out, a: a, b: b, ldc: ldc, lda: lda, ldb: ldb, m: m, k: k, n: n, kPack: k,
		aT: aT, bT: bT, accumulate: accumulate}
	op.rowT = ceilDiv(m, tileRows)
	op.colT = ceilDiv(n, tileCols)
	op.nPad = op.colT * tileCols
	op.directB = !bT && op.rowT <= directBRows
	bp := getBuf(k * op.nPad)
	defer packPool.Put(bp)
	op.bPack = *bp

	workers := Workers(m, k, n)
	if workers == 1 {
		op.packB(0, op.colT)
		op.run(0, op.rowT, 0, op.colT)
		return
	}
	shared := op // the goroutines share a heap copy; op itself stays on the stack for the common small product
	parallel(&shared, workers)
}

// parallel computes op on workers goroutines: the longer side of the tile
// grid is split into contiguous ranges, one per worker. B panels are packed
// in parallel first (a copy, so the split cannot change any number), then
// each worker computes its rectangle.
func parallel(op *operands, workers int) {
	var wg sync.WaitGroup
	for w := range workers {
		c0, c1 := w*op.colT/workers, (w+1)*op.colT/workers
		wg.Go(func() { op.packB(c0, c1) })
	}
	wg.Wait()
	splitRows := op.rowT >= op.colT
	tiles := op.colT
	if splitRows {
		tiles = op.rowT
	}
	for w := range workers {
		t0, t1 := w*tiles/workers, (w+1)*tiles/workers
		if splitRows {
			wg.Go(func() { op.run(t0, t1, 0, op.colT) })
		} else {
			wg.Go(func() { op.run(0, op.rowT, t0, t1) })
		}
	}
	wg.Wait()
}

// packB packs column panels [c0, c1) of B for every K block.
func (op *operands) packB(c0, c1 int) {
	k, n, nPad, ldb := op.k, op.n, op.nPad, op.ldb
	for p0 := 0; p0 < k; p0 += blockK {
		kc := min(blockK, k-p0)
		blk := op.bPack[p0*nPad : p0*nPad+kc*nPad]
		for jp := c0; jp < c1; jp++ {
			j0 := jp * tileCols
			cols := min(tileCols, n-j0)
			if op.directB && cols == tileCols {
				continue // read in place by run
			}
			dst := blk[jp*kc*tileCols : (jp+1)*kc*tileCols]
			if op.bT {
				// B(p, j) = b[j*ldb + p]: four source rows at a time.
				c := 0
				for ; c+4 <= cols; c += 4 {
					interleave4(dst[c:], tileCols, op.b[(j0+c)*ldb+p0:], ldb, kc)
				}
				for ; c < cols; c++ {
					src := op.b[(j0+c)*ldb+p0 : (j0+c)*ldb+p0+kc]
					for p, v := range src {
						dst[p*tileCols+c] = v
					}
				}
			} else {
				// B(p, j) = b[p*ldb + j]: copy row segments.
				for p := range kc {
					copy(dst[p*tileCols:p*tileCols+cols], op.b[(p0+p)*ldb+j0:(p0+p)*ldb+j0+cols])
				}
			}
			if cols < tileCols {
				for p := range kc {
					clear(dst[p*tileCols+cols : (p+1)*tileCols])
				}
			}
		}
	}
}

// packA packs rows [i0, i0+rows) of A, K block [p0, p0+kc), into row panels.
func (op *operands) packA(dst []float32, i0, rows, p0, kc int) {
	lda := op.lda
	for r0 := 0; r0 < rows; r0 += tileRows {
		pan := dst[(r0/tileRows)*kc*tileRows : (r0/tileRows+1)*kc*tileRows]
		nr := min(tileRows, rows-r0)
		switch {
		case nr == tileRows && op.aT:
			// A(i, p) = a[p*lda + i]: each K step is a contiguous run of
			// tileRows floats (assigned, not copied: copy's call costs more).
			for p := range kc {
				src := op.a[(p0+p)*lda+i0+r0 : (p0+p)*lda+i0+r0+tileRows]
				dst := pan[p*tileRows : p*tileRows+tileRows]
				for r := range tileRows {
					dst[r] = src[r]
				}
			}
		case nr == tileRows && tileRows == 4:
			// A(i, p) = a[i*lda + p]: four source rows at a time (a strided
			// write per row was about a third of the time at N = 128).
			interleave4(pan, tileRows, op.a[(i0+r0)*lda+p0:], lda, kc)
		case nr == tileRows && tileRows == 2:
			base := (i0+r0)*lda + p0
			s0 := op.a[base : base+kc]
			s1 := op.a[base+lda : base+lda+kc]
			for p := range kc {
				dst := pan[p*tileRows : p*tileRows+2]
				dst[0], dst[1] = s0[p], s1[p]
			}
		case op.aT:
			for p := range kc {
				src := op.a[(p0+p)*lda+i0+r0 : (p0+p)*lda+i0+r0+nr]
				copy(pan[p*tileRows:p*tileRows+nr], src)
			}
		default:
			for r := range nr {
				src := op.a[(i0+r0+r)*lda+p0 : (i0+r0+r)*lda+p0+kc]
				for p, v := range src {
					pan[p*tileRows+r] = v
				}
			}
		}
		if nr < tileRows {
			for p := range kc {
				clear(pan[p*tileRows+nr : (p+1)*tileRows])
			}
		}
	}
}

// interleave4 copies four rows of src (ld apart, n values each) side by side:
// dst[p*stride+r] = src[r*ld+p] for r < 4, p < n. Reading the four rows
// together and writing four adjacent floats per p is what makes the packing
// of a transposed operand cheap (one float per p, a panel row apart, was
// about three times slower).
func interleave4(dst []float32, stride int, src []float32, ld, n int) {
	s0 := src[:n]
	s1 := src[ld : ld+n]
	s2 := src[2*ld : 2*ld+n]
	s3 := src[3*ld : 3*ld+n]
	for p := range n {
		d := dst[p*stride : p*stride+4]
		d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
	}
}

// run computes the output tiles in row tiles [r0, r1) × column panels [c0, c1).
func (op *operands) run(r0, r1, c0, c1 int) {
	m, k, n, nPad, lda, ldc := op.m, op.k, op.n, op.nPad, op.lda, op.ldc
	// Whole row tiles of A are read in place by the SIMD kernels: row-major A
	// always; transposed A when the product is narrow (at most narrowN
	// columns), where a packed panel would be read only once or twice.
	direct := directA && !op.aT
	directT := directA && op.aT && n <= narrowN
	ap := getBuf(blockM * blockK)
	defer packPool.Put(ap)
	rowEnd := min(r1*tileRows, m)
	for i0 := r0 * tileRows; i0 < rowEnd; i0 += blockM {
		rows := min(blockM, rowEnd-i0)
		for p0 := 0; p0 < k; p0 += blockK {
			kc := min(blockK, k-p0)
			store := p0 == 0 && !op.accumulate
			// Rows [0, full) are whole row tiles; with A read in place only
			// the last, partial tile is packed (into panel 0).
			full := 0
			if direct || directT {
				full = rows / tileRows * tileRows
				if full < rows {
					op.packA(*ap, i0+full, rows-full, p0, kc)
				}
			} else {
				op.packA(*ap, i0, rows, p0, kc)
			}
			// B's panels in this K block are kp rows long (kp >= kc when
			// the product uses a prefix of the K that B was packed for).
			kp := min(blockK, op.kPack-p0)
			blk := op.bPack[p0*nPad : p0*nPad+kp*nPad]
			for jp := c0; jp < c1; jp++ {
				j0 := jp * tileCols
				cols := min(tileCols, n-j0)
				bpan, bs := blk[jp*kp*tileCols:jp*kp*tileCols+kc*tileCols], tileCols
				if op.directB && cols == tileCols {
					bpan, bs = op.b[p0*op.ldb+j0:], op.ldb
				}
				for r := 0; r < rows; r += tileRows {
					c := op.out[(i0+r)*ldc+j0:]
					switch {
					case r < full && direct:
						a := op.a[(i0+r)*lda+p0:]
						kernelDirect(kc, a, a[lda:], a[2*lda:], a[3*lda:], bpan, bs, c, ldc, store, cols)
					case r < full && directT:
						kernelDirectT(kc, op.a[p0*lda+i0+r:], lda, bpan, bs, c, ldc, store, tileRows, cols)
					default:
						pi := (r - full) / tileRows // A panel index
						nr := min(tileRows, rows-r)
						kernel(kc, (*ap)[pi*kc*tileRows:(pi+1)*kc*tileRows], bpan, bs, c, ldc, store, nr, cols)
					}
				}
			}
		}
	}
}
