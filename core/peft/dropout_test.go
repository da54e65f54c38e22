// Dropout checked by its statistics: the kept fraction, the mean of the dropped-out input and the mean of the
// adapter's output over many masks, each against a bound derived from the binomial, and the output of each mask.
package peft

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
)

// The gradient checks reuse one mask for the forward pass and for the finite
// difference, so they cannot see a wrong keep rate or scale: these tests can.
//
// PEFT computes lora_B(lora_A(dropout(x))) · scaling with torch.nn.Dropout(p),
// which zeroes each element with probability p and multiplies the others by
// 1/(1-p) ("inverted" dropout), so that in expectation the input, and hence
// the adapter's output, which is linear in it, is the one evaluation sees.
//
// Every bound below is Hoeffding's inequality: for m = (1/D)·Σ_j Y_j, a sum of
// independent terms Y_j, each in an interval of width w_j, divided by D (the
// number of masks), P(|m - E m| >= t) <= 2 exp(-2 D² t² / Σ w_j²). Solving for
// the t at which that is δ gives t = sqrt(Σ w_j² · ln(2/δ) / (2 D²));
// a check of K such means at once takes δ/K each (the union bound). With
// δ = 1e-9 a correct dropout would fail one of these checks for at most one
// seed in a billion; the seeds are fixed, so the tests are deterministic anyway.
const dropoutDelta = 1e-9

// hoeffding is the t above for a sum divided by d with Σ w² = sumW2, checked
// as one of k means.
func hoeffding(sumW2 float64, d, k int) float64 {
	return math.Sqrt(sumW2 * math.Log(2*float64(k)/dropoutDelta) / (2 * float64(d) * float64(d)))
}

const dropoutDraws = 20000 // masks per probability: the bounds shrink as 1/sqrt(draws)

// TestDropoutKeepRateAndScale: over many masks, the fraction of kept inputs
// is 1-p and the mean of each dropped-out input x_d = x·keep is x.
func TestDropoutKeepRateAndScale(t *testing.T) {
	const n, in, out, rank = 8, 32, 4, 2
	for _, p := range []float32{0.1, 0.5} {
		_, a := newAdapter(t, in, out, rank, p)
		x := randn(rng.New(5), n*in, 1)
		c := a.NewCache(n, true)
		o := make([]float32, n*out)
		r := rng.New(6)
		kept := 0
		sum := make([]float64, n*in) // Σ over masks of x_d
		for range dropoutDraws {
			a.Forward(o, x, c, n, p, r)
			for i, k := range c.Keep[:n*in] {
				if k != 0 {
					kept++
				}
				sum[i] += float64(c.XD[i])
			}
		}
		// Kept fraction: D·n·in Bernoulli(1-p) indicators, each in [0, 1].
		total := dropoutDraws * n * in
		frac := float64(kept) / float64(total)
		bound := hoeffding(float64(total), total, 1)
		assert.InDelta(t, 1-float64(p), frac, bound, "p=%g: kept fraction of %d inputs (bound %.2g)", p, total, bound)
		// Mean of x_d[i] over D masks: each term is 0 or x[i]/(1-p), an
		// interval of width |x[i]|/(1-p); n·in means are checked at once.
		worst, worstAt := 0.0, 0
		for i, s := range sum {
			w := math.Abs(float64(x[i])) / (1 - float64(p))
			tol := hoeffding(dropoutDraws*w*w, dropoutDraws, n*in)
			if e := math.Abs(s/dropoutDraws-float64(x[i])) / tol; e > worst {
				worst, worstAt = e, i
			}
		}
		t.Logf("p=%g: kept %.5f (bound ±%.5f); worst |mean x_d - x| is %.2f of its bound, at input %d", p, frac, bound, worst, worstAt)
		assert.Less(t, worst, 1.0, "p=%g: mean of the dropped-out input %d over %d masks, in units of its bound", p, worstAt, dropoutDraws)
	}
}

// TestDropoutMeanIsEvalOutput: the mean of the adapter's output over many
// masks converges to its output without dropout (which the PyTorch fixtures
// of core/model pin): out_j = Σ_k c_jk x_k keep_k with c = scaling·B·A, so
// its D·in terms over D masks lie in intervals of width |c_jk x_k|/(1-p).
func TestDropoutMeanIsEvalOutput(t *testing.T) {
	const n, in, out, rank = 8, 32, 16, 4
	for _, p := range []float32{0.1, 0.5} {
		_, a := newAdapter(t, in, out, rank, p)
		x := randn(rng.New(5), n*in, 1)
		c := a.NewCache(n, true)
		eval := make([]float32, n*out)
		a.Forward(eval, x, c, n, 0, rng.New(1))
		o := make([]float32, n*out)
		sum := make([]float64, n*out)
		r := rng.New(7)
		for range dropoutDraws {
			clear(o)
			a.Forward(o, x, c, n, p, r)
			for i, v := range o {
				sum[i] += float64(v)
			}
		}
		delta := a.Delta() // (Out, In) = c
		worst, worstAt := 0.0, 0
		for i := range n {
			for j := range out {
				var sumW2, sumW float64
				for k := range in {
					w := math.Abs(float64(delta[j*in+k])*float64(x[i*in+k])) / (1 - float64(p))
					sumW2 += w * w
					sumW += w
				}
				// Float32 rounding of the outputs (a few ulps of their terms' sum)
				// is far below the statistical bound; 1e-5·Σw allows for it.
				tol := hoeffding(dropoutDraws*sumW2, dropoutDraws, n*out) + 1e-5*sumW
				e := math.Abs(sum[i*out+j]/dropoutDraws-float64(eval[i*out+j])) / tol
				if e > worst {
					worst, worstAt = e, i*out+j
				}
			}
		}
		t.Logf("p=%g: worst |mean output - eval output| is %.2f of its bound, at output %d", p, worst, worstAt)
		assert.Less(t, worst, 1.0, "p=%g: mean of output %d over %d masks against the output without dropout, in units of its bound", p, worstAt, dropoutDraws)
	}
}

// TestDropoutOutputIsMaskedUpdate: with each mask, the output is the update of
// the masked input, scaling·((x·keep)·Aᵀ)·Bᵀ, computed here in float64 from the
// mask the forward pass kept; every mask entry is 0 or exactly 1/(1-p), so
// dropout applies to the adapter's input and to nothing else.
func TestDropoutOutputIsMaskedUpdate(t *testing.T) {
	const n, in, out, rank, p = 4, 12, 6, 3, 0.3
	_, a := newAdapter(t, in, out, rank, p)
	x := randn(rng.New(5), n*in, 1)
	c := a.NewCache(n, true)
	o := make([]float32, n*out)
	r := rng.New(8)
	scale := float32(1 / (1 - p))
	for draw := range 50 {
		clear(o)
		a.Forward(o, x, c, n, p, r)
		for i, k := range c.Keep[:n*in] {
			require.True(t, k == 0 || k == scale, "draw %d: keep[%d] = %g, want 0 or 1/(1-p) = %g", draw, i, k, scale)
			require.Equal(t, x[i]*k, c.XD[i], "draw %d: x_d[%d] = x·keep", draw, i)
		}
		for i := range n {
			for j := range out {
				var want float64
				for k := range rank {
					var u float64
					for m := range in {
						u += float64(a.A[k*in+m]) * float64(x[i*in+m]) * float64(c.Keep[i*in+m])
					}
					want += float64(a.Scaling) * u * float64(a.B[j*rank+k])
				}
				require.InDelta(t, want, o[i*out+j], 1e-5, "draw %d: output (%d, %d) of the masked input", draw, i, j)
			}
		}
	}
}
