package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
)

// TestSweeperChunks: a sweep stepped a chunk at a time trains or evaluates in each call, evaluates at EvalEvery
// and at the end, and finishes each run with the Result that running it whole gives.
func TestSweeperChunks(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodLoRA)
	cfg.Steps, cfg.Warmup, cfg.EvalEvery = 6, 0, 4
	cfgs := append(SweepConfigs(cfg, []int{2}, true, 0), IntrinsicSweepConfigs(tinyIntrinsic(40), []int{40}, 0, false)...)
	cfgs[1].Steps, cfgs[1].Warmup, cfgs[1].EvalEvery = 6, 0, 4
	w, err := NewSweeper(base, data.NewByteTokenizer(), cfgs, false)
	require.NoError(t, err)
	type call struct {
		run, step int
		eval, res bool
	}
	var calls []call
	for !w.Done() {
		st, err := w.Step(3)
		require.NoError(t, err)
		calls = append(calls, call{st.Run, st.Metrics.Step, st.Eval != nil, st.Result != nil})
		assert.Equal(t, w.Done(), st.Done)
	}
	// 3 steps, 1 step (to the evaluation at 4), the evaluation, 2 steps, the final evaluation: per run.
	want := []call{{0, 3, false, false}, {0, 4, false, false}, {0, 4, true, false}, {0, 6, false, false}, {0, 6, true, true}}
	for _, c := range want[:5] {
		want = append(want, call{1, c.step, c.eval, c.res})
	}
	assert.Equal(t, want, calls)
	res := w.Results()
	require.Len(t, res, 2)
	whole, err := Sweep(base, data.NewByteTokenizer(), cfgs, nil)
	require.NoError(t, err)
	for i := range res {
		assert.Equal(t, whole[i].ValLoss, res[i].ValLoss, "run %d", i)
		assert.Equal(t, whole[i].Accuracy, res[i].Accuracy, "run %d", i)
		assert.Equal(t, whole[i].TrainableParams, res[i].TrainableParams, "run %d", i)
	}
	assert.Equal(t, 40, res[1].Size)
	assert.Equal(t, 40, res[1].TrainableParams)
	st, err := w.Step(3)
	require.NoError(t, err)
	assert.True(t, st.Done, "a finished sweep stays done")
	_, err = NewSweeper(base, data.NewByteTokenizer(), IntrinsicSweepConfigs(tinyIntrinsic(1), []int{0}, 0, false), false)
	assert.ErrorContains(t, err, "intrinsic_dim")
}
