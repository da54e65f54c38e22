package peft

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
)

// TestEvaluationNeverDropsOut: a model whose adapters were configured with
// dropout computes its evaluation passes (Acts.Dropout = 0, with a dropout
// generator attached as a training session's acts always have one) exactly as
// a model that never heard of dropout: the same logits, through the fused
// weights, beside the frozen weights and in the KV-cache decoder, and the
// generator is left untouched. A training pass with the same acts does drop out.
func TestEvaluationNeverDropsOut(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	lr, err := AddLoRA(m, LoRAConfig{Rank: 2, Alpha: 4, Dropout: 0.5, Targets: qvDown}, rng.New(3))
	require.NoError(t, err)
	r := rng.New(4)
	for _, a := range lr.Adapters {
		for i := range a.B {
			a.B[i] = 0.3 * r.Normal()
		}
	}
	const B, T = 2, 7
	bt := randomBatch(cfg, B, T, 2)
	n := B * T * cfg.VocabSize
	plain := m.NewActs(B, T) // no dropout generator at all
	wantLoss := m.Forward(plain, bt.inputs, bt.targets, bt.mask, B, T)
	want := append([]float32(nil), plain.Logits[:n]...)

	acts := m.NewActs(B, T)
	acts.RNG = rng.New(5)
	acts.Dropout = 0.5
	trainLoss := m.Forward(acts, bt.inputs, bt.targets, bt.mask, B, T)
	assert.NotEqual(t, wantLoss, trainLoss, "a training pass drops out")

	acts.Dropout = 0
	gen := *acts.RNG
	for _, side := range []bool{false, true} {
		acts.SideAdapters = side
		loss := m.Forward(acts, bt.inputs, bt.targets, bt.mask, B, T)
		assert.Equal(t, gen, *acts.RNG, "side adapters %v: evaluation draws no mask", side)
		if !side {
			require.Equal(t, math.Float32bits(wantLoss), math.Float32bits(loss), "evaluation loss through the fused weights")
			for i, v := range want {
				require.Equal(t, math.Float32bits(v), math.Float32bits(acts.Logits[i]), "evaluation logit %d through the fused weights", i)
			}
			continue
		}
		assert.InDelta(t, wantLoss, loss, 1e-6, "evaluation loss beside the frozen weights")
		assert.InDeltaSlice(t, want, acts.Logits[:n], 1e-5, "evaluation logits beside the frozen weights")
	}

	d := m.NewDecoder(B)
	V := cfg.VocabSize
	for pos := range T {
		logits, err := d.Next(bt.inputs[pos], bt.inputs[T+pos])
		require.NoError(t, err)
		for row := range B {
			for j := range V {
				require.InDelta(t, want[(row*T+pos)*V+j], logits[row*V+j], decoderTol, "decoder row %d position %d logit %d", row, pos, j)
			}
		}
	}
	assert.Equal(t, gen, *acts.RNG)
}
