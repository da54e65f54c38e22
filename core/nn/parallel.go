// This file holds forRows, how kernels whose rows are independent use several cores.

package nn

import (
	"sync"

	"golora/core/par"
)

// parallelMin is the work (rows × cost per row, in elements) under which a
// kernel runs on the calling goroutine: below it goroutines cost more than they save.
const parallelMin = 1 << 15

// forRows calls f on contiguous ranges [r0, r1) covering rows [0, n), one
// range per goroutine (up to par.Workers()) when n × rowCost reaches
// parallelMin, else f(0, n) on the calling goroutine. Each row is computed by
// one goroutine exactly as it would be alone, so the results do not depend on
// the number of goroutines; kernels that sum across rows do not use it for those sums.
func forRows(n, rowCost int, f func(r0, r1 int)) {
	workers := min(par.Workers(), n)
	if workers < 2 || n*rowCost < parallelMin {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		r0, r1 := w*n/workers, (w+1)*n/workers
		wg.Go(func() { f(r0, r1) })
	}
	wg.Wait()
}

// elemChunk is the slice length forElems hands out: a multiple of every
// vector width, so vectorised kernels see the same lanes whatever the split.
const elemChunk = 256

// forElems is forRows over the n elements of an elementwise kernel, in chunks of elemChunk.
func forElems(n int, f func(i0, i1 int)) {
	forRows((n+elemChunk-1)/elemChunk, elemChunk, func(c0, c1 int) { f(c0*elemChunk, min(c1*elemChunk, n)) })
}
