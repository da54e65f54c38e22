// This file holds the benchmarks: each product at the model's linear-layer shapes, and gonum's Sgemm at the same shapes.

package matmul

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"golora/core/rng"
)

// benchShapes are the model's linear layers as (N tokens, C in, OC out).
var benchShapes = []struct{ n, c, oc int }{
	{1024, 128, 128}, {1024, 128, 512}, {1024, 512, 128}, {1024, 128, 384},
}

// benchCase maps a layer shape to the product each pass runs:
// forward MulNT (N,C)·(OC,C)ᵀ, input gradient MulNN (N,OC)·(OC,C),
// weight gradient MulTN (N,OC)ᵀ·(N,C).
func benchCase(p product, n, c, oc int) (m, k, nn int) {
	switch p.name {
	case "MulNT":
		return n, c, oc
	case "MulNN":
		return n, oc, c
	default:
		return oc, n, c
	}
}

func BenchmarkProducts(b *testing.B) {
	for _, p := range products {
		for _, s := range benchShapes {
			m, k, n := benchCase(p, s.n, s.c, s.oc)
			b.Run(fmt.Sprintf("%s/N=%d,C=%d,OC=%d", p.name, s.n, s.c, s.oc), func(b *testing.B) {
				r := rng.New(1)
				x, y, out := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
				b.ResetTimer()
				for b.Loop() {
					p.call(out, x, y, m, k, n, false)
				}
				b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkGonumSgemm(b *testing.B) {
	impl := gonum.Implementation{}
	for _, p := range products {
		for _, s := range benchShapes {
			m, k, n := benchCase(p, s.n, s.c, s.oc)
			tA, lda := blas.NoTrans, k
			if p.aT {
				tA, lda = blas.Trans, m
			}
			tB, ldb := blas.NoTrans, n
			if p.bT {
				tB, ldb = blas.Trans, k
			}
			b.Run(fmt.Sprintf("%s/N=%d,C=%d,OC=%d", p.name, s.n, s.c, s.oc), func(b *testing.B) {
				r := rng.New(1)
				x, y, out := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
				b.ResetTimer()
				for b.Loop() {
					impl.Sgemm(tA, tB, m, n, k, 1, x, lda, y, ldb, 0, out, n)
				}
				b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
