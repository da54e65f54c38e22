package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
)

func tinyPretrain(t testing.TB) PretrainConfig {
	cfg := DefaultPretrainConfig()
	cfg.Model = tinyBase(t).Config
	cfg.World, cfg.Formats, cfg.Exercises, cfg.ProseRepeat, cfg.Steps, cfg.Batch, cfg.SeqLen, cfg.Warmup = 200, 200, 200, 0, 30, 4, 64, 5
	return cfg
}

func TestPretrainerLearnsAndIsDeterministic(t *testing.T) {
	cfg := tinyPretrain(t)
	run := func() (*Pretrainer, Metrics) {
		p, err := NewPretrainer(cfg, data.NewByteTokenizer())
		require.NoError(t, err)
		m, err := p.Step(cfg.Steps)
		require.NoError(t, err)
		return p, m
	}
	p, m := run()
	first, err := NewPretrainer(cfg, data.NewByteTokenizer())
	require.NoError(t, err)
	before := first.ValLoss(8)
	after := p.ValLoss(8)
	t.Logf("validation loss %.3f -> %.3f after %d steps", before, after, cfg.Steps)
	assert.Less(t, after, before-0.5, "30 steps lower the validation loss")
	assert.Equal(t, cfg.Steps, p.StepsDone())
	assert.EqualValues(t, cfg.Steps*cfg.Batch*cfg.SeqLen, p.TokensSeen())
	acc := p.CopyAccuracy(data.NewByteTokenizer(), 5)
	assert.True(t, acc >= 0 && acc <= 1, "copy accuracy %g", acc)
	acc = p.CopyAccuracyDigits(data.NewByteTokenizer(), 5)
	assert.True(t, acc >= 0 && acc <= 1, "copy accuracy on numbers %g", acc)
	_, m2 := run()
	assert.Equal(t, m.Loss, m2.Loss, "same recipe, same losses")
}

func TestPretrainerFrom(t *testing.T) {
	cfg := tinyPretrain(t)
	init := tinyBase(t)
	init.Params.Data[0] = 0.5
	p, err := NewPretrainerFrom(cfg, data.NewByteTokenizer(), init)
	require.NoError(t, err)
	assert.Equal(t, init.Params.Data, p.Model().Params.Data, "starts from the given weights")
	_, err = p.Step(2)
	require.NoError(t, err)
	assert.Equal(t, float32(0.5), init.Params.Data[0], "the given model is copied, never trained in place")

	other := cfg
	other.Model.Dim = 64
	_, err = NewPretrainerFrom(other, data.NewByteTokenizer(), init)
	assert.ErrorContains(t, err, "differs from the recipe")
}

func TestPretrainerCopyMix(t *testing.T) {
	cfg := tinyPretrain(t)
	cfg.CopyMix = 0.5
	cfg.Drills = data.DrillConfig{MaxAlphabet: 4, MaxPeriod: 12, Periodic: 0.5}
	p, err := NewPretrainer(cfg, data.NewByteTokenizer())
	require.NoError(t, err)
	_, err = p.Step(3)
	require.NoError(t, err)

	bad := cfg
	bad.CopyMix = 1.5
	_, err = NewPretrainer(bad, data.NewByteTokenizer())
	assert.ErrorContains(t, err, "copy mix")
	bad = cfg
	bad.Drills.MaxAlphabet = 1
	_, err = NewPretrainer(bad, data.NewByteTokenizer())
	assert.ErrorContains(t, err, "alphabet")
	bad = cfg
	bad.MinLR = 2 * cfg.LR
	_, err = NewPretrainer(bad, data.NewByteTokenizer())
	assert.ErrorContains(t, err, "min lr")
}
