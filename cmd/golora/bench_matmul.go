// bench_matmul.go holds the matmul rows of `golora bench`: our products against gonum, one goroutine against two, frozen against full backward.

package main

import (
	"fmt"
	"runtime"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"golora/core/matmul"
	"golora/core/rng"
)

func init() {
	benchSuites = append(benchSuites, benchSuite{"matmul", matmulBenchRows})
}

// matmulShapes are the model's linear layers as (N tokens, C in, OC out).
var matmulShapes = [][3]int{{1024, 128, 128}, {1024, 128, 512}, {1024, 512, 128}, {1024, 128, 384}}

// linearLayer holds the buffers of one linear layer's forward and backward pass.
type linearLayer struct {
	n, c, oc                  int
	in, w, out, dout, din, dw []float32
}

func newLinearLayer(n, c, oc int) *linearLayer {
	r := rng.New(uint64(n*c + oc))
	fill := func(size int) []float32 {
		s := make([]float32, size)
		for i := range s {
			s[i] = r.Uniform(-1, 1)
		}
		return s
	}
	return &linearLayer{n: n, c: c, oc: oc, in: fill(n * c), w: fill(oc * c), out: make([]float32, n*oc),
		dout: fill(n * oc), din: make([]float32, n*c), dw: make([]float32, oc*c)}
}

// step runs forward, then backward with or without the weight gradient.
func (l *linearLayer) step(withDW bool) {
	matmul.Forward(l.out, l.in, l.w, nil, l.n, l.c, l.oc)
	l.backward(withDW)
}

func (l *linearLayer) backward(withDW bool) {
	dw := l.dw
	if !withDW {
		dw = nil
	}
	matmul.Backward(l.din, dw, nil, l.dout, l.in, l.w, l.n, l.c, l.oc)
}

// gonumStep runs the same three products with gonum's Sgemm:
// out = in·Wᵀ, din += dout·W, dW += doutᵀ·in.
func (l *linearLayer) gonumStep(impl gonum.Implementation) {
	n, c, oc := l.n, l.c, l.oc
	impl.Sgemm(blas.NoTrans, blas.Trans, n, oc, c, 1, l.in, c, l.w, c, 0, l.out, oc)
	impl.Sgemm(blas.NoTrans, blas.NoTrans, n, c, oc, 1, l.dout, oc, l.w, c, 1, l.din, c)
	impl.Sgemm(blas.Trans, blas.NoTrans, oc, c, n, 1, l.dout, oc, l.in, c, 1, l.dw, c)
}

// atProcs returns f wrapped to run with GOMAXPROCS = procs. It switches
// only when the setting differs (a switch stops the world), so within a timing
// pass only the first call pays; the caller restores GOMAXPROCS afterwards.
func atProcs(procs int, f func()) func() {
	return func() {
		if runtime.GOMAXPROCS(0) != procs {
			runtime.GOMAXPROCS(procs)
		}
		f()
	}
}

func gflops(flops float64, d time.Duration) float64 { return flops / d.Seconds() / 1e9 }

// matmulBenchRows measures one linear layer's forward + full backward
// (3 products, 6·N·C·OC flops) at each model shape.
func matmulBenchRows(quick bool, emit func(benchRow)) error {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	procs := runtime.GOMAXPROCS(0)
	impl := gonum.Implementation{}
	for _, s := range matmulShapes {
		l := newLinearLayer(s[0], s[1], s[2])
		shape := fmt.Sprintf("N=%d,C=%d,OC=%d", l.n, l.c, l.oc)
		flops := 6 * float64(l.n*l.c*l.oc)

		// Ours on one goroutine, gonum, ours on two, measured interleaved.
		t := timeBest(quick,
			atProcs(1, func() { l.step(true) }),
			atProcs(1, func() { l.gonumStep(impl) }),
			atProcs(2, func() { l.step(true) }))
		ours1, gon, ours2 := t[0], t[1], t[2]
		emit(benchRow{Name: "matmul/" + shape, Unit: "GFLOP/s", Value: gflops(flops, ours1),
			Baseline:      "gonum Sgemm, same 3 products (forward+backward), both GOMAXPROCS=1",
			BaselineValue: gflops(flops, gon)})
		emit(benchRow{Name: "matmul-parallel/" + shape, Unit: "GFLOP/s", Value: gflops(flops, ours2),
			Baseline:      fmt.Sprintf("ours GOMAXPROCS=1 (forward+backward; value GOMAXPROCS=2, %d CPUs)", runtime.NumCPU()),
			BaselineValue: gflops(flops, ours1)})

		t = timeBest(quick, atProcs(procs, func() { l.backward(false) }), atProcs(procs, func() { l.backward(true) }))
		frozen, full := t[0], t[1]
		emit(benchRow{Name: "matmul-backward-frozen/" + shape, Unit: "ms", Value: ms(frozen),
			Baseline:      fmt.Sprintf("backward with dW (value: without dW; GOMAXPROCS=%d; target ratio <= 0.55)", procs),
			BaselineValue: ms(full)})
	}
	return nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }
