package peft

import (
	"testing"

	"golora/core/rng"
)

// BenchmarkAdapter times one adapter's forward and backward pass at the
// shipped base's q projection shape (96 -> 96), rank 8, over one worker's
// half of a default batch (920 token rows).
func BenchmarkAdapter(b *testing.B) {
	const n, in, out, rank = 920, 96, 96, 8
	_, a := newAdapter(b, in, out, rank, 0)
	r := rng.New(2)
	copy(a.B, randn(r, len(a.B), 0.1))
	x, dout := randn(r, n*in, 1), randn(r, n*out, 1)
	y, dx, du := make([]float32, n*out), make([]float32, n*in), make([]float32, n*rank)
	c := a.NewCache(n, false)
	for b.Loop() {
		a.Forward(y, x, c, n, 0, nil)
		a.Backward(dx, dout, x, c, du, n)
	}
}

// BenchmarkAdapterFused is BenchmarkAdapter for a layer computed with the
// fused weight: the adapter's own work is then u and the gradients of A and B.
func BenchmarkAdapterFused(b *testing.B) {
	const n, in, out, rank = 920, 96, 96, 8
	_, a := newAdapter(b, in, out, rank, 0)
	r := rng.New(2)
	x, dout := randn(r, n*in, 1), randn(r, n*out, 1)
	du := make([]float32, n*rank)
	c := a.NewCache(n, false)
	for b.Loop() {
		a.ForwardFused(x, c, n)
		a.Backward(nil, dout, x, c, du, n)
	}
}
