// Every method through the same run code: resumed bit for bit, its trainable count and state, its settings checked
// by field; LoRA+ and PiSSA at the level of a run.
package train

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
)

// methodRuns is one small run of every method that trains, plus LoRA's options.
func methodRuns() []struct {
	name string
	cfg  Config
} {
	var runs []struct {
		name string
		cfg  Config
	}
	add := func(name string, c Config) {
		runs = append(runs, struct {
			name string
			cfg  Config
		}{name, c})
	}
	for _, spec := range Methods() {
		if spec.Name == MethodFrozen {
			continue
		}
		c := tinyConfig(spec.Name)
		if len(spec.Ladder) > 0 {
			c = c.WithSize(spec.Ladder[0])
		}
		add(spec.Name, c)
	}
	c := tinyConfig(MethodLoRA)
	c.Init = string(peft.InitPiSSA)
	add("lora-pissa", c)
	c = tinyConfig(MethodLoRA)
	c.LRRatioB = 4
	add("lora-plus", c)
	c = tinyConfig(MethodDoRA)
	c.LRRatioB, c.Dropout = 4, 0.1
	add("dora-plus-dropout", c)
	c = tinyConfig(MethodPrefixLayer)
	c.PrefixLen, c.PrefixProjection = 2, true
	add("prefix-layer-projection", c)
	return runs
}

// TestEveryMethodResumes: a run of each method saved after 5 steps and restored into a new session takes the same
// 7 steps as the run that never stopped, bit for bit, through the one Snapshot/Restore.
func TestEveryMethodResumes(t *testing.T) {
	base := tinyBase(t)
	for _, run := range methodRuns() {
		t.Run(run.name, func(t *testing.T) {
			cfg := run.cfg
			cfg.Steps = 12
			whole := losses(t, base, cfg, 12)
			first, err := New(base, data.NewByteTokenizer(), cfg)
			require.NoError(t, err)
			_, err = first.Step(5)
			require.NoError(t, err)
			snap, err := first.Snapshot()
			require.NoError(t, err)
			resumed, err := New(base, data.NewByteTokenizer(), cfg)
			require.NoError(t, err)
			require.NoError(t, resumed.Restore(snap))
			var rest []float32
			for range 7 {
				m, err := resumed.Step(1)
				require.NoError(t, err)
				rest = append(rest, m.Loss)
			}
			assert.Equal(t, whole[5:], rest, "the resumed run's losses")
			_, err = first.Step(7)
			require.NoError(t, err)
			assert.Equal(t, first.loop.params, resumed.loop.params, "the weights after 12 steps")
			assert.NotEqual(t, whole[0], whole[11], "the run trains")

			other := cfg
			if spec, _ := LookupMethod(cfg.Method); spec.Size != "" {
				other = cfg.WithSize(cfg.Size() + 1)
			} else {
				other.Seed++
			}
			o, err := New(base, data.NewByteTokenizer(), other)
			require.NoError(t, err)
			assert.Error(t, o.Restore(snap), "a snapshot of another size (or seed) is refused")
		})
	}
}

// TestSnapshotIgnoresOtherMethodsKnobs: a snapshot matches its run whatever the size knobs of other methods hold
// (a LoRA run's snapshot taken before they existed still resumes).
func TestSnapshotIgnoresOtherMethodsKnobs(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodLoRA)
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.Step(2)
	require.NoError(t, err)
	snap, err := s.Snapshot()
	require.NoError(t, err)
	other := cfg
	other.Layers, other.Bottleneck, other.PrefixLen, other.IntrinsicDim = 1, 32, 16, 7
	o, err := New(base, data.NewByteTokenizer(), other)
	require.NoError(t, err)
	assert.NoError(t, o.Restore(snap))
	j, err := json.Marshal(cfg.forFingerprint())
	require.NoError(t, err)
	for _, k := range []string{"Layers", "Bottleneck", "PrefixLen", "LRRatioB", "IntrinsicDim"} {
		assert.NotContains(t, string(j), k, "a LoRA run's fingerprint holds no %s", k)
	}
}

// TestMethodInfo: each method's trainable count is its formula, its state is 16 bytes per trainable value, and its
// settings name what it trains.
func TestMethodInfo(t *testing.T) {
	base := tinyBase(t)
	c := base.Config
	lora := func(r int, extra bool) int {
		n := 0
		for _, tg := range []model.Target{model.TargetQ, model.TargetV} {
			in, out := c.Shape(tg)
			n += r * (in + out)
			if extra {
				n += out
			}
		}
		return c.NLayers * n
	}
	for _, tc := range []struct {
		method string
		size   int
		want   int
		set    MethodSettings
	}{
		{MethodLoRA, 2, lora(2, false), MethodSettings{Size: 2, SizeName: SizeRank, Rank: 2, Alpha: 16, Targets: []string{"q", "v"}, Init: "kaiming"}},
		{MethodDoRA, 3, lora(3, true), MethodSettings{Size: 3, SizeName: SizeRank, Rank: 3, Alpha: 16, Targets: []string{"q", "v"}, Init: "kaiming"}},
		{MethodFull, 0, c.NumParams(), MethodSettings{}},
		{MethodTop, 1, peft.TopParams(c, 1), MethodSettings{Size: 1, SizeName: SizeLayers, Layers: 1}},
		{MethodBitFit, 0, peft.BitFitParams(c, model.AllTargets()),
			MethodSettings{Targets: []string{"q", "k", "v", "o", "gate", "up", "down"}}},
		{MethodIA3, 0, peft.IA3Params(c), MethodSettings{Targets: []string{"k", "v", "down"}}},
		{MethodAdapterH, 4, peft.AdapterHParams(c, 4, false), MethodSettings{Size: 4, SizeName: SizeBottleneck, Bottleneck: 4}},
		{MethodAdapterL, 2, peft.AdapterLParams(c, 2), MethodSettings{Size: 2, SizeName: SizeBottleneck, Bottleneck: 2}},
		{MethodPrefixEmbed, 3, peft.PrefixEmbedParams(c, 3), MethodSettings{Size: 3, SizeName: SizePrefixLen, PrefixLen: 3}},
		{MethodPrefixLayer, 2, peft.PrefixLayerParams(c, 2, false, 0), MethodSettings{Size: 2, SizeName: SizePrefixLen, PrefixLen: 2}},
		{MethodFrozen, 0, 0, MethodSettings{}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			cfg := tinyConfig(tc.method).WithSize(tc.size)
			s, err := New(base, data.NewByteTokenizer(), cfg)
			require.NoError(t, err)
			info := s.Info()
			assert.Equal(t, tc.want, info.TrainableParams)
			assert.Equal(t, int64(16*tc.want), info.TrainableBytes)
			assert.Equal(t, tc.set, info.MethodSettings)
			assert.Equal(t, tc.size, cfg.Size())
		})
	}
}

// TestValidateMethodSettings: each method's own settings are checked and reported by their field.
func TestValidateMethodSettings(t *testing.T) {
	base := tinyBase(t)
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		field string
		msg   string
	}{
		{"unknown method", func(c *Config) { c.Method = "lorax" }, "method", "dora"},
		{"top k 0", func(c *Config) { c.Method, c.Layers = MethodTop, 0 }, "layers", "between 1 and 2"},
		{"top k above the blocks", func(c *Config) { c.Method, c.Layers = MethodTop, 3 }, "layers", "between 1 and 2"},
		{"dora rank", func(c *Config) { c.Method, c.Rank = MethodDoRA, 0 }, "rank", "between 1"},
		{"dora pissa", func(c *Config) { c.Method, c.Init = MethodDoRA, "pissa" }, "init", "LoRA only"},
		{"init", func(c *Config) { c.Init = "olora" }, "init", "kaiming, gaussian or pissa"},
		{"lora+ on ia3", func(c *Config) { c.Method, c.LRRatioB = MethodIA3, 4 }, "lr_ratio_b", "no B"},
		{"lora+ negative", func(c *Config) { c.LRRatioB = -1 }, "lr_ratio_b", "between 0"},
		{"lora+ NaN", func(c *Config) { c.LRRatioB = float32(math.NaN()) }, "lr_ratio_b", "between 0"},
		{"bottleneck 0", func(c *Config) { c.Method, c.Bottleneck = MethodAdapterH, 0 }, "bottleneck", "between 1 and 32"},
		{"bottleneck wide", func(c *Config) { c.Method, c.Bottleneck = MethodAdapterL, 33 }, "bottleneck", "between 1 and 32"},
		{"prefix 0", func(c *Config) { c.Method, c.PrefixLen = MethodPrefixEmbed, 0 }, "prefix_len", "between 1 and 127"},
		{"prefix the context", func(c *Config) { c.Method, c.PrefixLen = MethodPrefixLayer, 128 }, "prefix_len", "between 1 and 127"},
		{"projection on lora", func(c *Config) { c.PrefixProjection = true }, "prefix_projection", "prefix-layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig(MethodLoRA)
			tc.edit(&c)
			fes := FieldErrors(c.Validate(base))
			require.Len(t, fes, 1, "%v", fes)
			assert.Equal(t, tc.field, fes[0].Field)
			assert.Contains(t, fes[0].Reason, tc.msg)
		})
	}
	// A method ignores the settings of the others: a top run with a LoRA rank out of range is fine.
	c := tinyConfig(MethodTop)
	c.Rank, c.Targets, c.Bottleneck = 999, []string{"nope"}, -3
	assert.NoError(t, c.Validate(base))
}

// TestLoRAPlusStep: with LoRA+ at ratio k, the first step moves every lora_B (and DoRA's magnitudes) k times as far
// as the same run without it, and A not at all (B = 0 gives A no gradient at step 1).
func TestLoRAPlusStep(t *testing.T) {
	base := tinyBase(t)
	for _, method := range []string{MethodLoRA, MethodDoRA} {
		t.Run(method, func(t *testing.T) {
			start := map[float32][]float32{}
			moved := map[float32][]float32{}
			var tensors []peft.Tensor
			for _, ratio := range []float32{0, 4} {
				cfg := tinyConfig(method)
				cfg.LRRatioB = ratio
				s, err := New(base, data.NewByteTokenizer(), cfg)
				require.NoError(t, err)
				meth := s.Model().Methods()[0].(peft.Method)
				tensors = meth.Tensors()
				start[ratio] = append([]float32(nil), meth.Params()...)
				_, err = s.Step(1)
				require.NoError(t, err)
				moved[ratio] = append([]float32(nil), meth.Params()...)
			}
			require.Equal(t, start[0], start[4], "both runs start alike")
			sawB := false
			for _, tn := range tensors {
				b := tn.Name[len(tn.Name)-6:] == "lora_B" || len(tn.Shape) == 1
				sawB = sawB || b
				for i := tn.Off; i < tn.Off+tn.Len(); i++ {
					d1, d4 := moved[0][i]-start[0][i], moved[4][i]-start[4][i]
					if !b {
						assert.Zero(t, d1, "%s[%d]: A does not move at step 1", tn.Name, i-tn.Off)
						assert.Zero(t, d4, "%s[%d]", tn.Name, i-tn.Off)
						continue
					}
					assert.InDelta(t, 4*d1, d4, 2e-6*(1+math.Abs(float64(start[0][i]))), "%s[%d]: B's step is 4x", tn.Name, i-tn.Off)
				}
			}
			assert.True(t, sawB)
			var any bool
			for i := range moved[0] {
				any = any || moved[0][i] != start[0][i]
			}
			assert.True(t, any, "the step moved something")
		})
	}
}

// TestPiSSARun: a PiSSA run starts at the base (validation loss within float tolerance of the frozen base's, while a
// run's base fingerprint is the base as given, not its residual), trains, and its merged model is the unmerged one.
func TestPiSSARun(t *testing.T) {
	base := tinyBase(t)
	frozen, err := New(base, data.NewByteTokenizer(), tinyConfig(MethodFrozen))
	require.NoError(t, err)
	cfg := tinyConfig(MethodLoRA)
	cfg.Init = string(peft.InitPiSSA)
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	assert.InDelta(t, frozen.ValLoss(), s.ValLoss(), 1e-4, "PiSSA starts at the base")
	assert.Equal(t, weightsSum(base.Params.Data), s.baseSum, "the fingerprint is the base as given")
	assert.NotEqual(t, weightsSum(base.Params.Data), weightsSum(s.Model().Params.Data), "the run's model holds the residual")
	require.Len(t, s.pissaInit, len(s.Model().Methods()[0].Params()))
	_, err = s.Step(5)
	require.NoError(t, err)
	worst, err := s.Merge()
	require.NoError(t, err)
	assert.Less(t, worst, float32(1e-3), "merged = unmerged")
}

// TestMergeRefusesWhatCannotMerge: top, bitfit and full train base weights or add biases, adapters add layers and
// prefixes positions: Merge says why.
func TestMergeRefusesWhatCannotMerge(t *testing.T) {
	base := tinyBase(t)
	for _, method := range []string{MethodTop, MethodBitFit, MethodFull, MethodAdapterH, MethodAdapterL, MethodPrefixEmbed, MethodPrefixLayer} {
		s, err := New(base, data.NewByteTokenizer(), tinyConfig(method))
		require.NoError(t, err)
		_, err = s.Merge()
		assert.ErrorContains(t, err, fmt.Sprintf("%s cannot be merged", method))
	}
	s, err := New(base, data.NewByteTokenizer(), tinyConfig(MethodIA3))
	require.NoError(t, err)
	_, err = s.Step(2)
	require.NoError(t, err)
	worst, err := s.Merge()
	require.NoError(t, err)
	assert.Less(t, worst, float32(1e-3))
}

// TestMethodSweepConfigs: each method at its ladder (or the sizes given), at its own default rate, alpha = the
// scaling times r for the rank methods; a method without a size knob runs once.
func TestMethodSweepConfigs(t *testing.T) {
	cfg := DefaultConfig()
	runs, err := MethodSweepConfigs(cfg, []string{MethodLoRA, MethodTop, MethodIA3, MethodFull}, map[string][]int{MethodLoRA: {2, 8}}, true)
	require.NoError(t, err)
	var got []string
	for _, r := range runs {
		got = append(got, r.Label())
		assert.Equal(t, DefaultLR(r.Method), r.LR, r.Label())
	}
	assert.Equal(t, []string{"lora r=2", "lora r=8", "top k=1", "top k=2", "ia3", "full"}, got)
	assert.Equal(t, float32(8), runs[0].Alpha)
	assert.Equal(t, float32(32), runs[1].Alpha)
	runs, err = MethodSweepConfigs(cfg, []string{MethodDoRA}, nil, false)
	require.NoError(t, err)
	require.Len(t, runs, 3)
	assert.Equal(t, cfg.Alpha, runs[2].Alpha, "without keepScaling every run takes cfg's alpha")
	_, err = MethodSweepConfigs(cfg, []string{"x"}, nil, true)
	assert.ErrorContains(t, err, `unknown method "x"`)
	_, err = MethodSweepConfigs(cfg, []string{MethodIA3}, map[string][]int{MethodIA3: {2}}, true)
	assert.ErrorContains(t, err, "no size knob")
	_, err = MethodSweepConfigs(cfg, nil, nil, true)
	assert.Error(t, err)
}

// TestPrefixTakesContext: a prefix takes l_p positions of the context: a task whose examples fit the base but not
// what the prefix leaves is refused by field, naming the prefix.
func TestPrefixTakesContext(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodPrefixEmbed)
	cfg.Task, cfg.Custom = "custom", nil
	for i := range 20 {
		cfg.Custom = append(cfg.Custom, data.Example{Prompt: fmt.Sprintf("%090d", i), Completion: "twenty-eight chars long here"})
	}
	cfg.PrefixLen = 1
	_, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err, "fits with l_p = 1")
	cfg.PrefixLen = 16
	_, err = New(base, data.NewByteTokenizer(), cfg)
	fes := FieldErrors(err)
	require.Len(t, fes, 1, "%v", err)
	assert.Equal(t, "task", fes[0].Field)
	assert.Contains(t, fes[0].Reason, "16 of the base's 128 positions go to prefix-embed's prefix")
}
