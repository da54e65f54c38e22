// LoRA attached to a model: gradients through the whole model, the base at
// B = 0, merging, the trainable count, decoding, and the PyTorch fixture.
package peft

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/model"
	"golora/core/rng"
	"golora/internal/ref"
)

// attachLoRA adds rank-r adapters on targets, with a random B when randomB (else B = 0: the base).
func attachLoRA(t testing.TB, m *model.Model, rank int, targets []model.Target, randomB bool) *LoRA {
	t.Helper()
	lr, err := AddLoRA(m, LoRAConfig{Rank: rank, Alpha: 2 * float32(rank), Init: InitKaiming, Targets: targets}, rng.New(3))
	require.NoError(t, err)
	if randomB {
		r := rng.New(4)
		for _, a := range lr.Adapters {
			for i := range a.B {
				a.B[i] = 0.3 * r.Normal()
			}
		}
	}
	return lr
}

// loraRef puts lr's float64 version on r: y = x·Wᵀ + s·((x·keep)·Aᵀ)·Bᵀ,
// with A and B views of p64 (a float64 copy of lr.Params()) and the dropout
// masks acts' last Forward drew (none without dropout). It returns p64.
func loraRef(r *ref.Model, lr *LoRA, acts *model.Acts, p64 []float64) []float64 {
	hooks := acts.Hooks(lr)
	for _, a := range lr.Adapters {
		A, B := p64[a.Off:a.Off+len(a.A)], p64[a.Off+len(a.A):a.Off+len(a.A)+len(a.B)]
		var keep []float64
		if k := hooks.Linear[a.Layer][a.Target].(*loraLinear).cache.Keep; len(k) > 0 {
			keep = to64(k)
		}
		R, s := a.Rank, float64(a.Scaling)
		r.Linear[a.Layer][a.Target] = func(y, x, w []float64, n, in, out int) {
			ref.Plain(y, x, w, n, in, out)
			u := make([]float64, R)
			for i := range n {
				xi := x[i*in : (i+1)*in]
				for k := range R {
					var sum float64
					for j, v := range xi {
						if keep != nil {
							v *= keep[i*in+j]
						}
						sum += A[k*in+j] * v
					}
					u[k] = sum
				}
				for o := range out {
					var sum float64
					for k := range R {
						sum += B[o*R+k] * u[k]
					}
					y[i*out+o] += s * sum
				}
			}
		}
	}
	return p64
}

func TestLoRAGradient(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	lr := attachLoRA(t, m, 2, model.AllTargets(), true)
	bt := randomBatch(cfg, 2, 6, 2)
	acts := m.NewActs(2, 6)
	loss32 := bt.forward(m, acts)
	m.Backward(acts, nil)
	r := newRef(m)
	p64 := loraRef(r, lr, acts, to64(lr.Params()))
	loss := refLoss(t, r, bt, loss32)
	for _, a := range lr.Adapters {
		nA, nB := len(a.A), len(a.B)
		ref.GradCheck(t, a.Module+".lora_A", p64[a.Off:a.Off+nA], a.DA, loss, 24)
		ref.GradCheck(t, a.Module+".lora_B", p64[a.Off+nA:a.Off+nA+nB], a.DB, loss, 24)
	}
}

func TestLoRADropoutGradient(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	lr, err := AddLoRA(m, LoRAConfig{Rank: 3, Alpha: 4, Dropout: 0.3, Targets: []model.Target{model.TargetQ, model.TargetDown}}, rng.New(3))
	require.NoError(t, err)
	g := rng.New(4)
	for _, a := range lr.Adapters {
		for i := range a.B {
			a.B[i] = 0.3 * g.Normal()
		}
	}
	bt := randomBatch(cfg, 2, 6, 2)
	acts := m.NewActs(2, 6)
	acts.Dropout = 0.3
	acts.RNG = rng.New(99)
	loss32 := bt.forward(m, acts)
	m.Backward(acts, nil)
	r := newRef(m)
	p64 := loraRef(r, lr, acts, to64(lr.Params())) // with the masks this pass drew
	loss := refLoss(t, r, bt, loss32)
	for _, a := range lr.Adapters {
		nA, nB := len(a.A), len(a.B)
		ref.GradCheck(t, a.Module+".lora_A (dropout)", p64[a.Off:a.Off+nA], a.DA, loss, 24)
		ref.GradCheck(t, a.Module+".lora_B (dropout)", p64[a.Off+nA:a.Off+nA+nB], a.DB, loss, 24)
	}
}

func TestLoRAZeroBIsBaseBitForBit(t *testing.T) {
	cfg := tinyConfig()
	base := randomModel(t, cfg, 1)
	bt := randomBatch(cfg, 2, 7, 2)
	acts := base.NewActs(2, 7)
	baseLoss := base.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
	baseLogits := append([]float32(nil), acts.Logits[:2*7*cfg.VocabSize]...)

	m := base.Clone()
	attachLoRA(t, m, 4, model.AllTargets(), false)
	acts2 := m.NewActs(2, 7)
	loss := m.Forward(acts2, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
	assert.Equal(t, math.Float32bits(baseLoss), math.Float32bits(loss), "loss with B = 0")
	for i, v := range baseLogits {
		require.Equal(t, math.Float32bits(v), math.Float32bits(acts2.Logits[i]), "logit %d with B = 0", i)
	}
}

func TestLoRAMergeEqualsUnmerged(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 3, []model.Target{model.TargetQ, model.TargetV, model.TargetDown}, true)
	before := append([]float32(nil), m.Params.Data...)
	bt := randomBatch(cfg, 2, 7, 2)
	acts := m.NewActs(2, 7)
	n := 2 * 7 * cfg.VocabSize
	acts.SideAdapters = true
	m.Forward(acts, bt.inputs, nil, nil, bt.b, bt.t)
	beside := append([]float32(nil), acts.Logits[:n]...)
	acts.SideAdapters = false
	m.Forward(acts, bt.inputs, nil, nil, bt.b, bt.t)
	fused := append([]float32(nil), acts.Logits[:n]...)
	require.NoError(t, m.Merge())
	m.Forward(acts, bt.inputs, nil, nil, bt.b, bt.t)
	maxDiff := 0.0
	for i, v := range beside {
		maxDiff = math.Max(maxDiff, math.Abs(float64(v-acts.Logits[i])))
	}
	t.Logf("max |logit merged - unmerged| = %.3g", maxDiff)
	assert.Less(t, maxDiff, 1e-4)
	assert.Positive(t, maxDiff, "adapters applied beside their weights round differently from the merged weights")
	for i, v := range fused {
		require.Equal(t, math.Float32bits(v), math.Float32bits(acts.Logits[i]), "logit %d: fused weights are the merged weights", i)
	}
	require.NoError(t, m.Unmerge())
	for i, v := range before {
		assert.InDelta(t, v, m.Params.Data[i], 1e-5, "weight %d after merge+unmerge", i)
	}
	assert.Error(t, m.Unmerge())
}

func TestLoRATrainableCount(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	targets := []model.Target{model.TargetQ, model.TargetV, model.TargetGate}
	lr := attachLoRA(t, m, 2, targets, false)
	want := 0
	for range cfg.NLayers {
		for _, tg := range targets {
			in, out := cfg.Shape(tg)
			want += 2 * (in + out)
		}
	}
	assert.Equal(t, want, lr.NumParams())
	assert.Equal(t, want, m.Trainable().Len, "the run's trainable vector is the adapters alone")
}

func TestLoRARankOutOfRange(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	_, err := AddLoRA(m, LoRAConfig{Rank: 9, Alpha: 1, Targets: []model.Target{model.TargetK}}, rng.New(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rank must be between 1 and 8")
}

// The KV-cached decoder must reproduce the training forward pass's logits with adapters.
func TestLoRADecoderMatchesForward(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, []model.Target{model.TargetQ, model.TargetV, model.TargetUp}, true)
	bt := randomBatch(cfg, 1, 8, 5)
	acts := m.NewActs(1, 8)
	m.Forward(acts, bt.inputs, nil, nil, 1, 8)
	d := m.NewDecoder(1)
	V := cfg.VocabSize
	for pos, tok := range bt.inputs {
		logits, err := d.Next(tok)
		require.NoError(t, err)
		for j := range V {
			assert.InDelta(t, acts.Logits[pos*V+j], logits[j], 1e-5, fmt.Sprintf("pos %d logit %d", pos, j))
		}
	}
}

// TestLoRAPrefillIsNext: with adapters, feeding a prefix at once leaves the
// decoder exactly as feeding it token by token does.
func TestLoRAPrefillIsNext(t *testing.T) {
	cfg := tinyConfig()
	cfg.SeqLen = 40
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, []model.Target{model.TargetQ, model.TargetV, model.TargetUp}, true)
	const B, n = 3, 37
	bt := randomBatch(cfg, B, n+2, 6)
	known := make([]int, 0, B*n)
	for r := range B {
		known = append(known, bt.inputs[r*(n+2):r*(n+2)+n]...)
	}
	step, pre := m.NewDecoder(B), m.NewDecoder(B)
	col := func(j int) []int {
		out := make([]int, B)
		for r := range B {
			out[r] = bt.inputs[r*(n+2)+j]
		}
		return out
	}
	for j := range n {
		_, err := step.Next(col(j)...)
		require.NoError(t, err)
	}
	require.NoError(t, pre.Prefill(known, n))
	for j := n; j < n+2; j++ {
		a, err := step.Next(col(j)...)
		require.NoError(t, err)
		b, err := pre.Next(col(j)...)
		require.NoError(t, err)
		require.Equal(t, a, b, "logits at position %d after a prefill", j)
	}
}

// Rows of a batched decoder with adapters are independent: each matches a one-row decoder.
func TestLoRABatchedDecoderRows(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, []model.Target{model.TargetK, model.TargetO}, true)
	seqs := [][]int{{1, 2, 3, 4, 5}, {7, 7, 0, 1, 9}, {10, 3, 3, 2, 1}}
	d := m.NewDecoder(3)
	V := cfg.VocabSize
	for pos := range 5 {
		logits, err := d.Next(seqs[0][pos], seqs[1][pos], seqs[2][pos])
		require.NoError(t, err)
		for r, s := range seqs {
			single := m.NewDecoder(1)
			var want []float32
			for _, tok := range s[:pos+1] {
				want, err = single.Next(tok)
				require.NoError(t, err)
			}
			for j := range V {
				assert.InDelta(t, want[j], logits[r*V+j], 1e-5, "row %d pos %d logit %d", r, pos, j)
			}
		}
	}
}

// TestLoRAScoredOnly: running the classifier on the scored positions only
// changes neither the loss nor the adapters' gradients, bit for bit.
func TestLoRAScoredOnly(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	lr := attachLoRA(t, m, 2, []model.Target{model.TargetQ, model.TargetV}, true)
	bt := randomBatch(cfg, 3, 7, 2)
	bt.mask[9] = 0.5 // a weighted position
	run := func(scored bool) (float32, []float32) {
		acts := m.NewActs(3, 7)
		acts.ScoredOnly = scored
		loss := bt.forward(m, acts)
		clear(lr.Grads())
		m.Backward(acts, nil)
		return loss, append([]float32(nil), lr.Grads()...)
	}
	l0, g0 := run(false)
	l1, g1 := run(true)
	require.Equal(t, math.Float32bits(l0), math.Float32bits(l1), "the loss")
	requireSameBits(t, "the adapters' gradients", g0, g1)
}

// TestLoRAMethodGrads: gradients routed to another buffer (Acts.MethodGrads,
// as a part of a step computed side by side) are the ones the adapters' own
// buffer gets, bit for bit.
func TestLoRAMethodGrads(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	lr := attachLoRA(t, m, 2, []model.Target{model.TargetQ, model.TargetV, model.TargetDown}, true)
	bt := randomBatch(cfg, 2, 7, 3)
	acts := m.NewActs(2, 7)
	bt.forward(m, acts)
	m.Backward(acts, nil)
	other := make([]float32, len(lr.Grads()))
	acts.MethodGrads = other
	bt.forward(m, acts)
	m.Backward(acts, nil)
	requireSameBits(t, "gradients in Acts.MethodGrads", lr.Grads(), other)
}

// TestLoRAPyTorchFixture: the lora fixture (testdata/gen/gen_model.py): the
// model with adapters on q and v, its logits, loss and adapter gradients.
func TestLoRAPyTorchFixture(t *testing.T) {
	fx, m := loadFixture(t, "model", "lora")
	require.NotNil(t, fx.LoRA)
	targets, err := model.ParseTargets(fx.LoRA.Targets)
	require.NoError(t, err)
	lr, err := AddLoRA(m, LoRAConfig{Rank: fx.LoRA.Rank, Alpha: fx.LoRA.Alpha, Targets: targets}, nil)
	require.NoError(t, err)
	for _, a := range lr.Adapters {
		ad, ok := fx.LoRA.Adapters[a.Module]
		require.True(t, ok, a.Module)
		copy(a.A, f32(ad["A"].Data))
		copy(a.B, f32(ad["B"].Data))
	}
	acts := m.NewActs(fx.B, fx.T)
	loss := m.Forward(acts, fx.Inputs, fx.Targets, fx.Mask, fx.B, fx.T)
	assert.InDelta(t, fx.Loss, float64(loss), 1e-5, "loss")
	worst := assertScaled(t, "logits", fx.Logits, acts.Logits[:len(fx.Logits)], 1e-5)
	m.Backward(acts, nil)
	for _, a := range lr.Adapters {
		worst = math.Max(worst, assertScaled(t, a.Module+".lora_A", fx.Grads[a.Module+".lora_A"], a.DA, 1e-4))
		worst = math.Max(worst, assertScaled(t, a.Module+".lora_B", fx.Grads[a.Module+".lora_B"], a.DB, 1e-4))
	}
	t.Logf("lora: loss %.7f (torch %.7f), worst scaled difference %.2g", loss, fx.Loss, worst)
}
