// Package par says how many goroutines one kernel may use. Kernels split
// their work by outputs, never inside a sum, so the answer changes only the
// speed, never a number.
package par

import (
	"runtime"
	"sync/atomic"
)

var limit atomic.Int64 // 0: no limit

// Workers is how many goroutines a kernel may use: runtime.GOMAXPROCS(0),
// or less while Limit is in force.
func Workers() int {
	n := runtime.GOMAXPROCS(0)
	if l := int(limit.Load()); l > 0 && l < n {
		return l
	}
	return n
}

// Limit caps Workers at n (n >= 1) until the returned function is called:
// a caller that runs independent pieces of work side by side, one per core
// (the parts of a training step), keeps each kernel on its own goroutine
// instead of splitting every product and waiting on every split. The cap
// is process-wide; nested calls restore the previous cap in turn.
func Limit(n int) (restore func()) {
	prev := limit.Swap(int64(max(n, 1)))
	return func() { limit.Store(prev) }
}
