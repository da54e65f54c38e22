package train

import (
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
	"golora/core/peft"
)

func tinyIntrinsic(d int) Config {
	c := tinyConfig(MethodIntrinsic)
	c.IntrinsicDim = d
	c.LR = 0.1
	return c
}

// TestIntrinsicRun: an intrinsic run trains z alone (d values), leaves the
// base weights as they were, lowers the loss, gives the same bits with one
// goroutine and with eight (three parts side by side), and resumes from a
// snapshot bit for bit.
func TestIntrinsicRun(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyIntrinsic(50)
	cfg.Shards = 3
	prev := runtime.GOMAXPROCS(1)
	one := losses(t, base, cfg, 8)
	runtime.GOMAXPROCS(8)
	eight := losses(t, base, cfg, 8)
	runtime.GOMAXPROCS(prev)
	for i := range one {
		require.Equal(t, math.Float32bits(one[i]), math.Float32bits(eight[i]), "step %d: %g vs %g", i+1, one[i], eight[i])
	}
	assert.Less(t, one[len(one)-1], one[0], "the loss falls")

	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	before := append([]float32(nil), s.Model().Params.Data...)
	_, err = s.Step(5)
	require.NoError(t, err)
	assert.Equal(t, before, s.Model().Params.Data, "the session's base weights θ0")
	info := s.Info()
	assert.Equal(t, 50, info.TrainableParams)
	assert.Equal(t, 50, info.Size)
	assert.Equal(t, SizeIntrinsicDim, info.SizeName)
	assert.Equal(t, MethodIntrinsic, info.Method)
	z := peft.IntrinsicOf(s.Model()).Params()
	assert.NotEqual(t, make([]float32, 50), z, "z moved")

	snap, err := s.Snapshot()
	require.NoError(t, err)
	resumed, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	require.NoError(t, resumed.Restore(snap))
	var rest []float32
	for range 3 {
		m, err := resumed.Step(1)
		require.NoError(t, err)
		rest = append(rest, m.Loss)
	}
	assert.Equal(t, one[5:8], rest, "the resumed run's losses")
	other := cfg
	other.IntrinsicDim = 51
	o, err := New(base, data.NewByteTokenizer(), other)
	require.NoError(t, err)
	assert.ErrorContains(t, o.Restore(snap), "other settings")
}

func TestIntrinsicValidate(t *testing.T) {
	base := tinyBase(t)
	for _, d := range []int{0, base.NumParams() + 1} {
		_, err := New(base, data.NewByteTokenizer(), tinyIntrinsic(d))
		require.Error(t, err)
		fields := FieldErrors(err)
		require.NotEmpty(t, fields, "%v", err)
		assert.Equal(t, "intrinsic_dim", fields[0].Field)
	}
}

func TestD90(t *testing.T) {
	res := []Result{
		{Method: MethodIntrinsic, MethodSettings: MethodSettings{Size: 10}, Accuracy: 0.2},
		{Method: MethodIntrinsic, MethodSettings: MethodSettings{Size: 1000}, Accuracy: 0.95},
		{Method: MethodIntrinsic, MethodSettings: MethodSettings{Size: 100}, Accuracy: 0.9},
		{Method: MethodIntrinsic, MethodSettings: MethodSettings{Size: 30}, Accuracy: 0.99, Diverged: "loss NaN"},
		{Method: MethodFull, Accuracy: 1},
	}
	s, ok := D90(res, 0.9)
	require.True(t, ok)
	assert.Equal(t, IntrinsicSummary{FullAccuracy: 1, Target: 0.9, D90: 100, D90Accuracy: 0.9, BestDim: 1000, BestAccuracy: 0.95}, s)
	s, ok = D90(res[:1], 0.9)
	assert.False(t, ok, "no full run")
	s, ok = D90(append([]Result{{Method: MethodFull, Accuracy: 1}}, res[0]), 0.9)
	require.True(t, ok)
	assert.Equal(t, 0, s.D90, "none reached 90%")
	assert.Equal(t, 10, s.BestDim)
}

// TestIntrinsicLR: a sweep's rates keep lr·√d, the size of a step in θ, at the reference's; at most 1.
func TestIntrinsicLR(t *testing.T) {
	assert.InDelta(t, 0.1, IntrinsicLR(0.03, 10000, 900), 1e-7)
	assert.Equal(t, float32(0.03), IntrinsicLR(0.03, 10000, 10000))
	assert.Equal(t, float32(1), IntrinsicLR(0.03, 10000, 1), "capped at Validate's bound")
	cfg := tinyIntrinsic(100)
	cfg.LR = 0.02
	cfgs := IntrinsicSweepConfigs(cfg, []int{25, 100, 400}, 1e-3, true)
	require.Len(t, cfgs, 4)
	for i, want := range []float32{0.04, 0.02, 0.01} {
		assert.InDelta(t, want, cfgs[i].LR, 1e-7, "d = %d", cfgs[i].IntrinsicDim)
		assert.InDelta(t, 0.2, float64(cfgs[i].LR)*math.Sqrt(float64(cfgs[i].IntrinsicDim)), 1e-6, "lr·√d")
	}
	assert.Equal(t, MethodFull, cfgs[3].Method)
	assert.Equal(t, float32(1e-3), cfgs[3].LR)
	for _, c := range IntrinsicSweepConfigs(cfg, []int{25, 400}, 0, false) {
		assert.Equal(t, float32(0.02), c.LR, "unscaled: one rate")
	}
}
