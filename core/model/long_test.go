package model

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// At the shipped size and a full context, the training forward pass (blocked
// attention) and the KV-cache decoder (one row at a time) must agree: tiny
// configs cannot catch a bug that only appears past one matmul block.
func TestDecoderMatchesForwardFullContext(t *testing.T) {
	cfg := DefaultConfig()
	m := randomModel(t, cfg, 3)
	T := cfg.SeqLen
	bt := randomBatch(cfg, 1, T, 9)
	acts := m.NewActs(1, T)
	m.Forward(acts, bt.inputs, nil, nil, 1, T)
	d := m.NewDecoder(1)
	V := cfg.VocabSize
	worst, at := 0.0, 0
	for pos, tok := range bt.inputs {
		logits, err := d.Next(tok)
		require.NoError(t, err)
		for j := range V {
			if diff := float64(acts.Logits[pos*V+j] - logits[j]); diff > worst || -diff > worst {
				worst, at = max(diff, -diff), pos
			}
		}
	}
	t.Logf("logit[T-1][0..2] %v", acts.Logits[(T-1)*V:(T-1)*V+3])
	t.Logf("worst |logit difference| %.2e at position %d", worst, at)
	require.LessOrEqual(t, worst, decoderTol)
}
