package train

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
	"golora/core/peft"
)

// TestEvaluationNeverDropsOut: a run trained with dropout (its training steps
// do drop out) evaluates (validation loss, greedy completions, the merge
// check) exactly as a run without dropout holding the same adapter weights:
// after Step, after a step computed in parts (ComputeShard, ApplyShards),
// and evaluation after evaluation.
func TestEvaluationNeverDropsOut(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodLoRA)
	cfg.Dropout = 0.5 // large, so that an evaluation that dropped out could not pass for one that did not
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	noDrop := cfg
	noDrop.Dropout = 0
	twin, err := New(base, data.NewByteTokenizer(), noDrop)
	require.NoError(t, err)
	check := func(when string) {
		t.Helper()
		copy(peft.LoRAOf(twin.Model()).Params(), peft.LoRAOf(s.Model()).Params())
		want, err := twin.Evaluate()
		require.NoError(t, err)
		for range 2 {
			got, err := s.Evaluate()
			require.NoError(t, err)
			require.Equal(t, want.ValLoss, got.ValLoss, "%s: the validation loss of a run with dropout 0.5 against the same adapters without", when)
			want.Seconds, got.Seconds, want.Step = 0, 0, got.Step
			require.Equal(t, want, got, "%s: the whole evaluation of a run with dropout 0.5 against the same adapters without", when)
		}
	}
	_, err = s.Step(1)
	require.NoError(t, err)
	_, err = twin.Step(1)
	require.NoError(t, err)
	// B starts at zero, so the first loss is the same; its gradient of B is not.
	assert.False(t, slices.Equal(peft.LoRAOf(twin.Model()).Params(), peft.LoRAOf(s.Model()).Params()), "a training step drops out: its update differs from the twin's")
	_, err = s.Step(3)
	require.NoError(t, err)
	check("after Step")
	for part := range 2 { // one step in two parts, as the page's workers compute it
		_, err := s.ComputeShard(part)
		require.NoError(t, err)
	}
	_, err = s.ApplyShards()
	require.NoError(t, err)
	check("after a step computed in parts")
	diff, err := s.Merge()
	require.NoError(t, err)
	assert.Less(t, diff, float32(1e-4), "merged against unmerged logits: the unmerged pass drops nothing")
}
