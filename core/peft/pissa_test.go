// PiSSA: the factors are W0's principal part (Eckart-Young), the residual plus
// s·B·A gives W0 back, the model starts at the base, and ToLoRA is the same
// model as a plain LoRA on W0.
package peft

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"golora/core/model"
	"golora/core/rng"
)

// TestPiSSAFactorsArePrincipal: s·B·A is the best rank-r approximation of w,
// so ||w - s·B·A||²_F is the sum of the other squared singular values
// (Eckart-Young), and A's rows are orthogonal with norms σ_k/s (B's columns
// too): a wrong split of σ, a wrong scaling or the smallest triplets fail.
func TestPiSSAFactorsArePrincipal(t *testing.T) {
	r := rng.New(7)
	const out, in = 12, 20
	w := make([]float32, out*in)
	for i := range w {
		w[i] = r.Normal()
	}
	w64 := make([]float64, len(w))
	for i, v := range w {
		w64[i] = float64(v)
	}
	var svd mat.SVD
	require.True(t, svd.Factorize(mat.NewDense(out, in, w64), mat.SVDNone))
	sv := svd.Values(nil)
	for _, tc := range []struct {
		rank int
		s    float32
	}{{1, 1}, {3, 2}, {5, 0.5}, {12, 4}} {
		t.Run(fmt.Sprintf("r=%d,s=%g", tc.rank, tc.s), func(t *testing.T) {
			a, b, err := PiSSAFactors(w, out, in, tc.rank, tc.s)
			require.NoError(t, err)
			var rest, norm float64
			for k := tc.rank; k < len(sv); k++ {
				rest += sv[k] * sv[k]
			}
			for _, v := range sv {
				norm += v * v
			}
			var resid float64
			for o := range out {
				for j := range in {
					var d float64
					for k := range tc.rank {
						d += float64(b[o*tc.rank+k]) * float64(a[k*in+j])
					}
					e := float64(w[o*in+j]) - float64(tc.s)*d
					resid += e * e
				}
			}
			assert.InDelta(t, rest, resid, 1e-5*norm, "||W0 - s·B·A||² is the sum of the dropped σ²")
			for k := range tc.rank {
				for k2 := range tc.rank {
					var dot, dotB float64
					for j := range in {
						dot += float64(a[k*in+j]) * float64(a[k2*in+j])
					}
					for o := range out {
						dotB += float64(b[o*tc.rank+k]) * float64(b[o*tc.rank+k2])
					}
					want := 0.0
					if k == k2 {
						want = sv[k] / float64(tc.s)
					}
					assert.InDelta(t, want, dot, 1e-5*sv[0], "A rows %d·%d", k, k2)
					assert.InDelta(t, want, dotB, 1e-5*sv[0], "B columns %d·%d", k, k2)
				}
			}
		})
	}
	_, _, err := PiSSAFactors(w, out, in, 13, 1)
	assert.Error(t, err, "rank above min(out, in)")
	w[3] = float32(math.NaN())
	_, _, err = PiSSAFactors(w, out, in, 2, 1)
	assert.Error(t, err, "a NaN weight")
}

// TestPiSSAStartsAtBase: with PiSSA attached, each adapted weight holds the
// residual, the residual plus s·B·A reconstructs W0 within float32 rounding,
// the other weights are untouched, and the model's logits (fused, as training
// computes, and beside, as the paper writes it) are the base's within float
// tolerance; merging stores W0 back up to the same rounding.
func TestPiSSAStartsAtBase(t *testing.T) {
	for _, rs := range []bool{false, true} {
		t.Run(fmt.Sprintf("rslora=%v", rs), func(t *testing.T) {
			cfg := tinyConfig()
			base := randomModel(t, cfg, 1)
			m := base.Clone()
			l, err := AddPiSSA(m, LoRAConfig{Rank: 3, Alpha: 6, RSLoRA: rs, Targets: qvDown})
			require.NoError(t, err)
			assert.Equal(t, InitPiSSA, l.Init)
			adapted := map[string]bool{}
			var worst float64
			for _, a := range l.Adapters {
				adapted[a.Module] = true
				w0 := base.Params.Layers[a.Layer].Weight(a.Target)
				res := m.Params.Layers[a.Layer].Weight(a.Target)
				delta := a.Delta()
				var big float64
				for i := range w0 {
					big = max(big, math.Abs(float64(w0[i])))
					worst = max(worst, math.Abs(float64(res[i]+delta[i]-w0[i])))
				}
				assert.Less(t, worst, 4e-7*big*4, "%s: residual + s·B·A reconstructs W0", a.Module)
				var moved float64
				for i := range w0 {
					moved = max(moved, math.Abs(float64(res[i]-w0[i])))
				}
				assert.Greater(t, moved, 0.1*big, "%s: the residual is not W0 (the principal part was taken out)", a.Module)
			}
			for l := range cfg.NLayers {
				for _, tg := range model.AllTargets() {
					if !adapted[tg.Module(l)] {
						requireSameBits(t, tg.Module(l), base.Params.Layers[l].Weight(tg), m.Params.Layers[l].Weight(tg))
					}
				}
			}
			bt := randomBatch(cfg, 2, 6, 2)
			want := logitsOf(t, base, bt, false)
			for _, beside := range []bool{false, true} {
				got := logitsOf(t, m, bt, beside)
				assert.InDeltaSlice(t, want, got, 2e-4, "beside=%v: PiSSA at init gives the base's logits", beside)
			}
			require.NoError(t, m.Merge())
			for i, v := range base.Params.Data {
				require.InDelta(t, v, m.Params.Data[i], 2e-6, "merged weight %d is W0 again", i)
			}
		})
	}
}

// logitsOf is m's logits on bt (as float64, for InDeltaSlice).
func logitsOf(t *testing.T, m *model.Model, bt batch, beside bool) []float64 {
	t.Helper()
	acts := m.NewActs(bt.b, bt.t)
	acts.SideAdapters = beside
	bt.forward(m, acts)
	return to64(acts.Logits[:bt.b*bt.t*m.Config.VocabSize])
}

// TestPiSSAToLoRA: a trained PiSSA adapter on its residual base and its
// ToLoRA form (rank 2r, alpha doubled) on the original base are the same model.
func TestPiSSAToLoRA(t *testing.T) {
	for _, rs := range []bool{false, true} {
		t.Run(fmt.Sprintf("rslora=%v", rs), func(t *testing.T) {
			cfg := tinyConfig()
			base := randomModel(t, cfg, 1)
			m := base.Clone()
			l, err := AddPiSSA(m, LoRAConfig{Rank: 2, Alpha: 4, RSLoRA: rs, Targets: qvDown})
			require.NoError(t, err)
			init := append([]float32(nil), l.Params()...)
			perturb(l, 9) // "training"
			conv, err := l.ToLoRA(init)
			require.NoError(t, err)
			assert.Equal(t, 4, conv.Rank)
			assert.Equal(t, InitKaiming, conv.Init)
			wantAlpha := float32(8)
			if rs {
				wantAlpha = 4 * float32(math.Sqrt2)
			}
			assert.Equal(t, wantAlpha, conv.Alpha)
			assert.InDelta(t, l.Adapters[0].Scaling, conv.Adapters[0].Scaling, 1e-6)
			plain := base.Clone()
			require.NoError(t, plain.Attach(conv))
			bt := randomBatch(cfg, 2, 6, 2)
			assert.InDeltaSlice(t, logitsOf(t, m, bt, false), logitsOf(t, plain, bt, false), 2e-4,
				"the PiSSA model and its plain LoRA on W0")
			_, err = l.ToLoRA(init[1:])
			assert.Error(t, err)
		})
	}
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	l, err := AddPiSSA(m, LoRAConfig{Rank: 7, Alpha: 7, Targets: []model.Target{model.TargetV}}) // v is (8, 16)
	require.NoError(t, err)
	_, err = l.ToLoRA(l.Params())
	assert.ErrorContains(t, err, "rank 14", "2r above the smaller side has no plain LoRA form")
}
