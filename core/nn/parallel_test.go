package nn

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"golora/core/rng"
)

// TestRowKernelsAnyGoroutines: the kernels that spread rows over goroutines
// give the same bits on one goroutine and on several, at sizes past parallelMin.
func TestRowKernelsAnyGoroutines(t *testing.T) {
	const n, c, h, v, heads, hs = 300, 96, 256, 258, 4, 24
	r := rng.New(11)
	x, w, d := randn(r, n*c, 1), randn(r, c, 1), randn(r, n*c, 1)
	a, b, dh := randn(r, n*h, 2), randn(r, n*h, 1), randn(r, n*h, 1)
	logits := randn(r, n*v, 3)
	targets := make([]int, n)
	dl := make([]float32, n)
	for i := range targets {
		targets[i] = r.Intn(v)
		if i%3 == 0 {
			targets[i] = -1
		}
		dl[i] = 1 / float32(n)
	}
	rope := NewRoPE(100, hs, 10000)
	run := func() [][]float32 {
		out, rstd, din, dw := floats(n*c), floats(n), floats(n*c), floats(c)
		RMSNormForward(out, rstd, x, w, n, c, 1e-5)
		RMSNormBackward(din, dw, d, x, w, rstd, n, c)
		sw, sig, da, db := floats(n*h), floats(n*h), floats(n*h), floats(n*h)
		SwiGLUForward(sw, sig, a, b, n*h)
		SwiGLUBackward(da, db, dh, a, b, sig, n*h)
		res := floats(n * c)
		ResidualForward(res, x, d, n*c)
		losses, probs, dlog := floats(n), floats(n*v), floats(n*v)
		mean := CrossEntropyForward(losses, probs, logits, targets, n, v)
		CrossEntropyBackward(dlog, probs, targets, dl, n, v)
		rot, drot := floats(n*c), floats(n*c)
		rope.Forward(rot, x, 3, 100, heads, hs, 0)
		rope.Backward(drot, d, 3, 100, heads, hs, 0)
		return [][]float32{out, rstd, din, dw, sw, sig, da, db, res, losses, probs, dlog, {mean}, rot, drot}
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one := run()
	runtime.GOMAXPROCS(4)
	four := run()
	for i := range one {
		assert.Equal(t, one[i], four[i], "output %d", i)
	}
}
