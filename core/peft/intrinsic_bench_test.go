package peft

import (
	"fmt"
	"testing"

	"golora/core/rng"
)

// BenchmarkFastfood: the intrinsic-dimension method's two products at the
// shipped base's size (D = 431,136, a transform of 2^19), whatever d.
func BenchmarkFastfood(b *testing.B) {
	const D = 431_136
	for _, dim := range []int{10, 10_000} {
		f := NewFastfood(D, dim, rng.New(1))
		z, g, w := make([]float32, dim), make([]float32, D), make([]float32, D)
		r := rng.New(2)
		for i := range z {
			z[i] = r.Normal()
		}
		for i := range g {
			g[i] = r.Normal()
		}
		buf, tmp := make([]float32, f.L), make([]float32, f.L)
		b.Run(fmt.Sprintf("apply/d=%d", dim), func(b *testing.B) {
			for b.Loop() {
				f.Apply(w, g, z, buf, tmp)
			}
		})
		b.Run(fmt.Sprintf("applyT/d=%d", dim), func(b *testing.B) {
			for b.Loop() {
				f.ApplyT(z, g, buf, tmp)
			}
		})
	}
}
