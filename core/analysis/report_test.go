package analysis

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/model"
	"golora/core/peft"
	"golora/core/rng"
)

func tinyConfig() model.Config {
	return model.Config{Dim: 16, HiddenDim: 32, NLayers: 2, NHeads: 2, NKVHeads: 1, VocabSize: 10, SeqLen: 8,
		Tied: true, NormEps: 1e-5, RopeBase: 10000}
}

func tinyBase(t *testing.T) *model.Model {
	t.Helper()
	m, err := model.New("tiny", tinyConfig())
	require.NoError(t, err)
	m.Init(rng.New(1))
	return m
}

// adapted returns a copy of base with trained-looking adapters: A from seed, B Gaussian.
func adapted(t *testing.T, base *model.Model, rank int, targets []model.Target, seed uint64) *model.Model {
	t.Helper()
	m := base.Clone()
	lr, err := peft.AddLoRA(m, peft.LoRAConfig{Rank: rank, Alpha: float32(2 * rank), Targets: targets}, rng.New(seed))
	require.NoError(t, err)
	r := rng.New(seed + 100)
	for _, a := range lr.Adapters {
		for i := range a.B {
			a.B[i] = 0.05 * r.Normal()
		}
	}
	return m
}

func TestAnalyzeAdapterAgainstItself(t *testing.T) {
	base := tinyBase(t)
	run := adapted(t, base, 3, []model.Target{model.TargetQ, model.TargetV}, 1)
	rep, err := Analyze(Inputs{Base: base, LoRA: run, Compare: run}, DefaultOptions())
	require.NoError(t, err)
	require.Len(t, rep.Modules, 4, "q and v in two layers")
	assert.Equal(t, "model.layers.0.self_attn.q_proj", rep.Modules[0].Name)
	assert.Equal(t, "model.layers.1.self_attn.v_proj", rep.Modules[3].Name)
	assert.Equal(t, 3, rep.Rank)
	for _, m := range rep.Modules {
		c := m.Compare
		require.NotNil(t, c, m.Name)
		for i := range 3 {
			assert.InDelta(t, 1, c.A[i][i], 1e-9, "%s: φ_A(%d, %d) of an adapter with itself", m.Name, i+1, i+1)
			assert.InDelta(t, 1, c.DeltaW[i][i], 1e-9, "%s: φ_ΔW(%d, %d)", m.Name, i+1, i+1)
		}
		assert.Less(t, c.RandomA[2][2], 0.99, "%s: the random control is not the identity", m.Name)
		require.NotNil(t, m.LoRA)
		assert.Equal(t, 3, m.LoRA.Projection.R)
		assert.LessOrEqual(t, m.LoRA.Spectrum.Energy90, 3, "%s: a rank-3 ΔW", m.Name)
		assert.Nil(t, m.Full)
	}
	_, err = json.Marshal(rep)
	require.NoError(t, err, "the report encodes as JSON (no NaN)")
}

// A second adapter whose A is an invertible mix of the first's rows spans the
// same input subspace: φ_A(r, r) = 1 although every row differs.
func TestAnalyzeSameRowSpace(t *testing.T) {
	base := tinyBase(t)
	targets := []model.Target{model.TargetQ}
	a := adapted(t, base, 2, targets, 1)
	b := adapted(t, base, 2, targets, 2)
	for i, ad := range peft.LoRAOf(a).Adapters {
		bd := peft.LoRAOf(b).Adapters[i]
		row0, row1 := ad.A[:ad.In], ad.A[ad.In:]
		for k := range ad.In {
			bd.A[k] = 2*row0[k] + row1[k]
			bd.A[ad.In+k] = row0[k] - 3*row1[k]
		}
	}
	rep, err := Analyze(Inputs{Base: base, LoRA: a, Compare: b}, DefaultOptions())
	require.NoError(t, err)
	for _, m := range rep.Modules {
		assert.InDelta(t, 1, m.Compare.A[1][1], 1e-9, "%s: φ_A(2, 2)", m.Name)
		assert.Less(t, m.Compare.A[0][0], 0.999, "%s: φ_A(1, 1): the top directions differ", m.Name)
	}
}

// A "fully fine-tuned" model that is the base with the adapters merged has
// the adapter's ΔW: the same spectrum, projections and intruders.
func TestAnalyzeFullEqualsMergedAdapter(t *testing.T) {
	base := tinyBase(t)
	run := adapted(t, base, 2, model.AllTargets(), 3)
	full := adapted(t, base, 2, model.AllTargets(), 3)
	require.NoError(t, full.Merge())
	rep, err := Analyze(Inputs{Base: base, LoRA: run, Full: full}, DefaultOptions())
	require.NoError(t, err)
	require.Len(t, rep.Modules, 14)
	for _, m := range rep.Modules {
		require.NotNil(t, m.Full, m.Name)
		// The merged weights are float32: ΔW agrees to float32 rounding of W0.
		assert.InDeltaSlice(t, m.LoRA.Spectrum.Values[:2], m.Full.Spectrum.Values[:2], 1e-5, "%s: top singular values", m.Name)
		assert.InDelta(t, m.LoRA.Projection.Amplification, m.Full.Projection.Amplification, 1e-2*m.LoRA.Projection.Amplification, "%s: amplification", m.Name)
		assert.Equal(t, m.LoRA.Intruders.Count, m.Full.Intruders.Count, "%s: intruders", m.Name)
		assert.Equal(t, min(10, m.Out, m.In), m.LoRA.Intruders.K, "%s: k, capped at the smaller side", m.Name)
	}
	assert.Equal(t, rep.LoRAIntruders, rep.FullIntruders)

	// Full fine-tuning alone covers every linear layer.
	only, err := Analyze(Inputs{Base: base, Full: full}, DefaultOptions())
	require.NoError(t, err)
	require.Len(t, only.Modules, 14)
	assert.Equal(t, 8, only.Modules[0].Full.Projection.R, "the default full-rank")
	assert.Equal(t, "model.layers.0.mlp.down_proj", only.Modules[6].Name)
}

func TestAnalyzeDeterministic(t *testing.T) {
	base := tinyBase(t)
	a := adapted(t, base, 2, []model.Target{model.TargetV}, 1)
	b := adapted(t, base, 3, []model.Target{model.TargetV}, 2)
	r1, err := Analyze(Inputs{Base: base, LoRA: a, Compare: b}, DefaultOptions())
	require.NoError(t, err)
	r2, err := Analyze(Inputs{Base: base, LoRA: a, Compare: b, Full: base}, DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, r1.Modules[0].Compare, r2.Modules[0].Compare, "the controls do not move when -full is added")
	assert.Equal(t, r1.Modules[0].LoRA, r2.Modules[0].LoRA)
	require.Len(t, r1.Modules[0].Compare.A, 2)
	require.Len(t, r1.Modules[0].Compare.A[0], 3, "φ over i ≤ 2, j ≤ 3")
	opt := DefaultOptions()
	opt.Seed = 2
	r3, err := Analyze(Inputs{Base: base, LoRA: a, Compare: b}, opt)
	require.NoError(t, err)
	assert.NotEqual(t, r1.Modules[0].Compare.RandomA, r3.Modules[0].Compare.RandomA, "another seed, another control")
	assert.Equal(t, r1.Modules[0].Compare.A, r3.Modules[0].Compare.A, "the adapters' φ does not depend on the seed")
}

func TestAnalyzeErrors(t *testing.T) {
	base := tinyBase(t)
	q := adapted(t, base, 2, []model.Target{model.TargetQ}, 1)
	v := adapted(t, base, 2, []model.Target{model.TargetV}, 1)
	other := model.DefaultConfig()
	wide, err := model.New("wide", other)
	require.NoError(t, err)
	bad := DefaultOptions()
	bad.IntruderEps = 1.5
	for _, c := range []struct {
		name string
		in   Inputs
		opt  Options
		want string
	}{
		{"no base", Inputs{LoRA: q}, DefaultOptions(), "no base model"},
		{"nothing", Inputs{Base: base}, DefaultOptions(), "nothing to analyse"},
		{"no adapters", Inputs{Base: base, LoRA: base}, DefaultOptions(), "has no adapters"},
		{"compare alone", Inputs{Base: base, Compare: q, Full: base}, DefaultOptions(), "needs two models with adapters"},
		{"disjoint", Inputs{Base: base, LoRA: q, Compare: v}, DefaultOptions(), "no module in common"},
		{"other config", Inputs{Base: base, LoRA: q, Full: wide}, DefaultOptions(), "fully fine-tuned model's config"},
		{"bad option", Inputs{Base: base, LoRA: q}, bad, "intruder-eps"},
	} {
		_, err := Analyze(c.in, c.opt)
		assert.ErrorContains(t, err, c.want, c.name)
	}
}
