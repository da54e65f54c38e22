package peft

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

func newAdapter(t testing.TB, in, out, rank int, dropout float32) (*LoRA, *Adapter) {
	t.Helper()
	s, err := NewLoRA(LoRAConfig{Rank: rank, Alpha: 3, Dropout: dropout}, []Shape{{Module: "m", In: in, Out: out}}, rng.New(1))
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

func TestScaling(t *testing.T) {
	for _, tc := range []struct {
		alpha  float32
		rank   int
		rslora bool
		want   float32
	}{
		{8, 4, false, 2}, {8, 16, false, 0.5}, {6, 1, false, 6},
		{8, 4, true, 4}, {8, 16, true, 2}, {6, 9, true, 2}, {6, 1, true, 6}, // alpha/sqrt(r): 16 and 9 tell it from alpha/(r/2)
	} {
		assert.Equal(t, tc.want, Scaling(tc.alpha, tc.rank, tc.rslora), "alpha %g, rank %d, rsLoRA %v", tc.alpha, tc.rank, tc.rslora)
		s, err := NewLoRA(LoRAConfig{Rank: tc.rank, Alpha: tc.alpha, RSLoRA: tc.rslora}, []Shape{{Module: "q", In: 32, Out: 32}, {Module: "v", In: 32, Out: 16}}, rng.New(1))
		require.NoError(t, err)
		assert.Equal(t, tc.rank*(32+32)+tc.rank*(32+16), s.NumParams(), "r·(in+out) per adapter")
		for _, a := range s.Adapters {
			assert.Equal(t, tc.want, a.Scaling, "%s: NewLoRA's scaling, alpha %g, rank %d, rsLoRA %v", a.Module, tc.alpha, tc.rank, tc.rslora)
		}
	}
}

// The initial A is checked by its distribution over many entries, against
// bounds that a correct draw exceeds with probability at most δ = 1e-9 (see
// dropoutDelta; the seeds are fixed, so the tests are deterministic anyway);
// B starts at zero.
const initEntries = 1 << 18

func TestInitKaiming(t *testing.T) {
	const rank = 16
	s, err := NewLoRA(LoRAConfig{Rank: rank, Alpha: 8, Init: InitKaiming}, []Shape{{Module: "q", In: initEntries / rank, Out: 16}}, rng.New(1))
	require.NoError(t, err)
	a := s.Adapters[0]
	assert.Equal(t, make([]float32, len(a.B)), a.B, "B starts at zero")
	// kaiming_uniform_(a=sqrt(5)): uniform in ±b, b = 1/sqrt(in): mean 0, E v² = b²/3.
	b := 1 / math.Sqrt(float64(a.In))
	n := float64(len(a.A))
	var sum, sq, top float64
	for _, v := range a.A {
		sum += float64(v)
		sq += float64(v) * float64(v)
		top = math.Max(top, math.Abs(float64(v)))
	}
	// Hoeffding (as in dropout_test.go): v in [-b, b], v² in [0, b²].
	tMean := hoeffding(n*4*b*b, int(n), 2)
	tSq := hoeffding(n*b*b*b*b, int(n), 2)
	assert.InDelta(t, 0, sum/n, tMean, "mean of A")
	assert.InDelta(t, b*b/3, sq/n, tSq, "mean of A², b²/3 with b = 1/sqrt(in)")
	assert.LessOrEqual(t, top, b, "every |A| within the bound")
	// P(max |v| < (1-ε) b) = (1-ε)^n <= δ for ε = ln(1/δ)/n.
	assert.Greater(t, top, b*(1-math.Log(1/dropoutDelta)/n), "the largest |A| reaches the bound")
}

func TestInitGaussian(t *testing.T) {
	for _, rank := range []int{4, 16} {
		s, err := NewLoRA(LoRAConfig{Rank: rank, Alpha: 8, Init: InitGaussian}, []Shape{{Module: "q", In: initEntries / rank, Out: 16}}, rng.New(1))
		require.NoError(t, err)
		a := s.Adapters[0]
		assert.Equal(t, make([]float32, len(a.B)), a.B, "B starts at zero")
		sigma := 1 / float64(rank) // PEFT's "gaussian": std 1/r
		n := float64(len(a.A))
		var sum, sq float64
		for _, v := range a.A {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		// The mean of n draws of N(0, σ²) is N(0, σ²/n): P(|mean| >= t) <= 2 exp(-n t² / 2σ²).
		x := math.Log(2 / dropoutDelta)
		assert.InDelta(t, 0, sum/n, sigma*math.Sqrt(2*x/n), "rank %d: mean of A", rank)
		// Z = Σ v²/σ² is chi-square with n degrees of freedom; Laurent and
		// Massart (2000): P(Z - n >= 2 sqrt(n x) + 2x) <= e^-x and P(n - Z >= 2 sqrt(n x)) <= e^-x.
		z := sq / (sigma * sigma)
		assert.Less(t, z-n, 2*math.Sqrt(n*x)+2*x, "rank %d: Σ A²/σ² - n, σ = 1/r", rank)
		assert.Less(t, n-z, 2*math.Sqrt(n*x), "rank %d: n - Σ A²/σ², σ = 1/r", rank)
		t.Logf("rank %d: std %.5f (1/r = %.5f), bound on the variance ±%.2f%%", rank, math.Sqrt(sq/n), sigma, 100*(2*math.Sqrt(x/n)+2*x/n))
	}
}

func TestNewLoRAErrors(t *testing.T) {
	_, err := NewLoRA(LoRAConfig{Rank: 17, Alpha: 1}, []Shape{{Module: "model.layers.0.self_attn.k_proj", In: 64, Out: 16}}, nil)
	assert.ErrorContains(t, err, "rank must be between 1 and 16")
	_, err = NewLoRA(LoRAConfig{Rank: 0, Alpha: 1}, []Shape{{Module: "q", In: 8, Out: 8}}, nil)
	assert.ErrorContains(t, err, "rank")
	_, err = NewLoRA(LoRAConfig{Rank: 1, Alpha: 0}, []Shape{{Module: "q", In: 8, Out: 8}}, nil)
	assert.ErrorContains(t, err, "alpha")
	_, err = NewLoRA(LoRAConfig{Rank: 1, Alpha: 1, Dropout: 1}, []Shape{{Module: "q", In: 8, Out: 8}}, nil)
	assert.ErrorContains(t, err, "dropout")
}

// TestGradViews: an adapter's views into another gradient buffer sit where
// DA and DB sit in the LoRA's, and BackwardTo fills them exactly as Backward
// fills DA and DB.
func TestGradViews(t *testing.T) {
	s, err := NewLoRA(LoRAConfig{Rank: 2, Alpha: 3}, []Shape{{Module: "a", In: 5, Out: 4}, {Module: "b", In: 3, Out: 6}}, rng.New(1))
	require.NoError(t, err)
	other := make([]float32, len(s.Grads()))
	for i := range s.Grads() {
		s.Grads()[i] = float32(i)
	}
	for _, a := range s.Adapters {
		dA, dB := a.GradViews(s.Grads())
		assert.Equal(t, a.DA, dA)
		assert.Equal(t, a.DB, dB)
		copy(a.B, randn(rng.New(4), len(a.B), 0.5))
		const n = 3
		r := rng.New(7)
		x, dout := randn(r, n*a.In, 1), randn(r, n*a.Out, 1)
		c := a.NewCache(n, false)
		a.ForwardFused(x, c, n)
		clear(s.Grads())
		a.Backward(nil, dout, x, c, make([]float32, n*a.Rank), n)
		oA, oB := a.GradViews(other)
		a.BackwardTo(oA, oB, nil, dout, x, c, make([]float32, n*a.Rank), n)
		assert.Equal(t, a.DA, oA, a.Module)
		assert.Equal(t, a.DB, oB, a.Module)
	}
}
