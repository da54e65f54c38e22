package train

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/analysis"
	"golora/core/data"
	"golora/core/model"
)

// trainedRun trains cfg for a few steps and returns its session.
func trainedRun(t *testing.T, base *model.Model, cfg Config) *Session {
	t.Helper()
	cfg.Steps = 6
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.Step(6)
	require.NoError(t, err)
	return s
}

func adapterOf(t *testing.T, s *Session, name string) RunWeights {
	t.Helper()
	w, c, err := s.ExportAdapter("tiny")
	require.NoError(t, err)
	return RunWeights{Name: name, AdapterWeights: w, AdapterConfig: c}
}

func modelOf(t *testing.T, s *Session, name string) RunWeights {
	t.Helper()
	m, err := s.ExportModel(nil)
	require.NoError(t, err)
	return RunWeights{Name: name, Model: m}
}

// TestAnalyse: what the page's Analyse panel calls, from the files a run keeps: two LoRA runs give φ per module with
// its random control (an adapter against itself: φ = 1 wherever one span holds the other), a full run gives its
// spectra and amplification for every linear layer, and a LoRA run beside a full one gives both.
func TestAnalyse(t *testing.T) {
	base := tinyBase(t)
	c2, c4 := tinyConfig(MethodLoRA), tinyConfig(MethodLoRA)
	c2.Rank, c4.Rank, c4.Seed = 2, 4, 2
	r2, r4 := adapterOf(t, trainedRun(t, base, c2), "r=2"), adapterOf(t, trainedRun(t, base, c4), "r=4")
	opt := analysis.DefaultOptions()

	rep, err := Analyse(base, r2, &r4, opt)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Rank)
	assert.Equal(t, 4, rep.CompareRank)
	require.Len(t, rep.Modules, 2*base.Config.NLayers, "q and v of every layer")
	for _, m := range rep.Modules {
		require.NotNil(t, m.Compare, m.Name)
		require.NotNil(t, m.LoRA, m.Name)
		for _, g := range [][][]float64{m.Compare.A, m.Compare.DeltaW, m.Compare.RandomA, m.Compare.RandomDeltaW} {
			require.Len(t, g, 2)
			require.Len(t, g[0], 4)
			for _, row := range g {
				for _, v := range row {
					assert.True(t, v >= 0 && v <= 1, "%s: φ = %g", m.Name, v)
				}
			}
		}
		assert.Greater(t, m.LoRA.Projection.Amplification, 0.0, m.Name)
		assert.Len(t, m.LoRA.Spectrum.Values, min(m.In, m.Out))
	}
	self, err := Analyse(base, r4, &r4, opt)
	require.NoError(t, err)
	for _, m := range self.Modules {
		for i := range 4 {
			assert.InDelta(t, 1, m.Compare.A[i][3], 1e-9, "%s: φ(%d, 4) of an adapter with itself", m.Name, i+1)
		}
	}

	full := trainedRun(t, base, tinyConfig(MethodFull))
	fw := modelOf(t, full, "full")
	rep, err = Analyse(base, fw, nil, opt)
	require.NoError(t, err)
	require.Len(t, rep.Modules, int(model.NumTargets)*base.Config.NLayers, "every linear layer of a full run")
	for _, m := range rep.Modules {
		require.NotNil(t, m.Full, m.Name)
		assert.Nil(t, m.LoRA, m.Name)
		assert.Equal(t, opt.FullRank, m.Full.Projection.R, m.Name)
		assert.Greater(t, m.Full.Projection.NormDelta, 0.0, "%s: full fine-tuning moved it", m.Name)
	}
	for _, pair := range [][2]RunWeights{{r2, fw}, {fw, r2}} {
		rep, err = Analyse(base, pair[0], &pair[1], opt)
		require.NoError(t, err)
		for _, m := range rep.Modules {
			assert.NotNil(t, m.LoRA, m.Name)
			assert.NotNil(t, m.Full, m.Name)
		}
	}

	_, err = Analyse(base, fw, &fw, opt)
	assert.ErrorContains(t, err, "both fully fine-tuned")
	_, err = Analyse(base, RunWeights{Name: "empty"}, nil, opt)
	assert.ErrorContains(t, err, "run empty: nothing kept")
	both := r2
	both.Model = fw.Model
	_, err = Analyse(base, both, nil, opt)
	assert.ErrorContains(t, err, "not both")
	bad := r2
	bad.AdapterWeights = bad.AdapterWeights[:10]
	_, err = Analyse(base, bad, nil, opt)
	assert.Error(t, err)
}

// TestFineTuned: an intrinsic run's fine-tuned model computes exactly what the run computes (θ0 + P z, bit for bit),
// a full run's is its trained weights, and a LoRA run has none (its adapter is its file).
func TestFineTuned(t *testing.T) {
	base := tinyBase(t)
	s := trainedRun(t, base, tinyIntrinsic(30))
	m, err := s.FineTuned()
	require.NoError(t, err)
	assert.Equal(t, base.Params.Data, s.Model().Params.Data, "the session keeps θ0")
	inputs := []int{0, 40, 50, 60, 70, 80}
	a, b := s.Model().NewActs(1, 6), m.NewActs(1, 6)
	s.Model().Forward(a, inputs, nil, nil, 1, 6)
	m.Forward(b, inputs, nil, nil, 1, 6)
	n := 6 * base.Config.VocabSize
	for i := range n {
		require.Equal(t, math.Float32bits(a.Logits[i]), math.Float32bits(b.Logits[i]), "logit %d", i)
	}
	assert.NotEqual(t, base.Params.Data, m.Params.Data)

	full := trainedRun(t, base, tinyConfig(MethodFull))
	fm, err := full.FineTuned()
	require.NoError(t, err)
	assert.Equal(t, full.Model().Params.Data, fm.Params.Data)

	_, err = trainedRun(t, base, tinyConfig(MethodLoRA)).FineTuned()
	assert.ErrorContains(t, err, "export its adapter")
}
