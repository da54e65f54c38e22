package lora

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/matmul"
	"golora/core/rng"
)

func randn(r *rng.RNG, n int, std float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = std * r.Normal()
	}
	return x
}

func newAdapter(t testing.TB, in, out, rank int, dropout float32) (*Set, *Adapter) {
	t.Helper()
	s, err := NewSet(Config{Rank: rank, Alpha: 3, Dropout: dropout}, []Shape{{Module: "m", In: in, Out: out}}, rng.New(1))
	require.NoError(t, err)
	a := s.Adapters[0]
	copy(a.B, randn(rng.New(2), len(a.B), 0.5))
	return s, a
}

// The adapter's output is x·W0ᵀ + scaling·(x·Aᵀ)·Bᵀ, and with the update
// merged into W0 the plain product gives the same numbers.
func TestForwardEqualsMergedWeight(t *testing.T) {
	const n, in, out, rank = 5, 7, 6, 3
	_, a := newAdapter(t, in, out, rank, 0)
	r := rng.New(3)
	x, w := randn(r, n*in, 1), randn(r, out*in, 1)
	got := make([]float32, n*out)
	matmul.Forward(got, x, w, nil, n, in, out)
	a.Forward(got, x, a.NewCache(n, false), n, 0, nil)
	a.Merge(w)
	want := make([]float32, n*out)
	matmul.Forward(want, x, w, nil, n, in, out)
	assert.InDeltaSlice(t, want, got, 1e-5)
	merged := append([]float32(nil), w...)
	a.Unmerge(w)
	a.Merge(w)
	assert.InDeltaSlice(t, merged, w, 1e-6, "merge after unmerge")
}

// Central differences of L = Σ g·out against Backward, with and without dropout.
func TestBackwardGradient(t *testing.T) {
	for _, dropout := range []float32{0, 0.4} {
		const n, in, out, rank = 4, 6, 5, 2
		_, a := newAdapter(t, in, out, rank, dropout)
		r := rng.New(4)
		x, g := randn(r, n*in, 1), randn(r, n*out, 1)
		cache := a.NewCache(n, dropout > 0)
		loss := func() float64 {
			o := make([]float32, n*out)
			a.Forward(o, x, cache, n, dropout, rng.New(9)) // same mask every time
			var s float64
			for i, v := range o {
				s += float64(v) * float64(g[i])
			}
			return s
		}
		loss()
		dx := make([]float32, n*in)
		a.Backward(dx, g, x, cache, make([]float32, n*rank), n)
		check := func(what string, p, grad []float32) {
			worst := 0.0
			for i := range p {
				old := p[i]
				p[i] = old + 1e-2
				lp := loss()
				p[i] = old - 1e-2
				lm := loss()
				p[i] = old
				num := (lp - lm) / 2e-2
				rel := math.Abs(num-float64(grad[i])) / math.Max(1e-2, math.Abs(num)+math.Abs(float64(grad[i])))
				worst = math.Max(worst, rel)
			}
			assert.Less(t, worst, 5e-3, "%s (dropout %g): worst relative error", what, dropout)
		}
		check("A", a.A, a.DA)
		check("B", a.B, a.DB)
		check("x", x, dx)
	}
}

func TestInitAndScaling(t *testing.T) {
	s, err := NewSet(Config{Rank: 4, Alpha: 8, Init: InitKaiming}, []Shape{{"q", 64, 32}, {"v", 64, 16}}, rng.New(1))
	require.NoError(t, err)
	assert.Equal(t, 4*(64+32)+4*(64+16), s.NumParams())
	for _, a := range s.Adapters {
		assert.Equal(t, float32(2), a.Scaling)
		bound := 1 / math.Sqrt(64)
		for _, v := range a.A {
			require.LessOrEqual(t, math.Abs(float64(v)), bound)
		}
		for _, v := range a.B {
			require.Zero(t, v, "B starts at zero")
		}
	}
	assert.Equal(t, float32(4), Scaling(8, 4, true), "rsLoRA: alpha/sqrt(r)")
	g, err := NewSet(Config{Rank: 4, Alpha: 8, Init: InitGaussian}, []Shape{{"q", 512, 512}}, rng.New(1))
	require.NoError(t, err)
	var sum, sq float64
	for _, v := range g.Adapters[0].A {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	std := math.Sqrt(sq / float64(len(g.Adapters[0].A)))
	assert.InDelta(t, 0.25, std, 0.01, "gaussian init std 1/r")
}

func TestNewSetErrors(t *testing.T) {
	_, err := NewSet(Config{Rank: 17, Alpha: 1}, []Shape{{"model.layers.0.self_attn.k_proj", 64, 16}}, nil)
	assert.ErrorContains(t, err, "rank must be between 1 and 16")
	_, err = NewSet(Config{Rank: 0, Alpha: 1}, []Shape{{"q", 8, 8}}, nil)
	assert.ErrorContains(t, err, "rank")
	_, err = NewSet(Config{Rank: 1, Alpha: 0}, []Shape{{"q", 8, 8}}, nil)
	assert.ErrorContains(t, err, "alpha")
	_, err = NewSet(Config{Rank: 1, Alpha: 1, Dropout: 1}, []Shape{{"q", 8, 8}}, nil)
	assert.ErrorContains(t, err, "dropout")
}

// TestGradViews: an adapter's views into another gradient buffer sit where
// DA and DB sit in the Set's, and BackwardTo fills them exactly as Backward
// fills DA and DB.
func TestGradViews(t *testing.T) {
	s, err := NewSet(Config{Rank: 2, Alpha: 3}, []Shape{{Module: "a", In: 5, Out: 4}, {Module: "b", In: 3, Out: 6}}, rng.New(1))
	require.NoError(t, err)
	other := make([]float32, len(s.Grads))
	for i := range s.Grads {
		s.Grads[i] = float32(i)
	}
	for _, a := range s.Adapters {
		dA, dB := a.GradViews(s.Grads)
		assert.Equal(t, a.DA, dA)
		assert.Equal(t, a.DB, dB)
		copy(a.B, randn(rng.New(4), len(a.B), 0.5))
		const n = 3
		r := rng.New(7)
		x, dout := randn(r, n*a.In, 1), randn(r, n*a.Out, 1)
		c := a.NewCache(n, false)
		a.ForwardFused(x, c, n)
		clear(s.Grads)
		a.Backward(nil, dout, x, c, make([]float32, n*a.Rank), n)
		oA, oB := a.GradViews(other)
		a.BackwardTo(oA, oB, nil, dout, x, c, make([]float32, n*a.Rank), n)
		assert.Equal(t, a.DA, oA, a.Module)
		assert.Equal(t, a.DB, oB, a.Module)
	}
}
