package train

import (
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
	"golora/core/model"
	"golora/core/optim"
	"golora/core/peft"
	"golora/core/rng"
)

// tinyBase is a small random byte-level model: big enough to train, small
// enough that these tests stay fast natively and under wasm.
func tinyBase(t testing.TB) *model.Model {
	cfg := model.Config{Dim: 32, HiddenDim: 64, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: data.ByteVocabSize,
		SeqLen: 128, Tied: true, NormEps: 1e-5, RopeBase: 10000}
	m, err := model.New("tiny", cfg)
	require.NoError(t, err)
	m.Init(rng.New(5))
	return m
}

func tinyConfig(method string) Config {
	c := DefaultConfig()
	c.Method = method
	c.LR = DefaultLR(method)
	c.Task = "facts"
	c.Facts = 16
	c.Steps = 20
	c.Batch = 4
	c.Warmup = 2
	c.EvalLimit = 8
	return c
}

func losses(t testing.TB, base *model.Model, cfg Config, steps int) []float32 {
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	var out []float32
	for range steps {
		m, err := s.Step(1)
		require.NoError(t, err)
		out = append(out, m.Loss)
	}
	return out
}

// TestSameSeedSameLossesAnyGoroutines: one goroutine computes a step's parts
// one after the other; with more, the parts run side by side (three parts
// here), each kernel
// splitting its share. The losses are the same bits.
func TestSameSeedSameLossesAnyGoroutines(t *testing.T) {
	base := tinyBase(t)
	for _, method := range []string{MethodLoRA, MethodFull, "lora+dropout"} {
		cfg := tinyConfig(method)
		if method == "lora+dropout" {
			cfg = tinyConfig(MethodLoRA)
			cfg.Dropout = 0.1
		}
		cfg.Shards = 3
		prev := runtime.GOMAXPROCS(1)
		one := losses(t, base, cfg, 8)
		runtime.GOMAXPROCS(8)
		eight := losses(t, base, cfg, 8)
		runtime.GOMAXPROCS(prev)
		for i := range one {
			require.Equal(t, math.Float32bits(one[i]), math.Float32bits(eight[i]), "%s step %d: %g vs %g", method, i+1, one[i], eight[i])
		}
		assert.Less(t, one[len(one)-1], one[0], "%s: loss should fall", method)
	}
}

func TestLoRATrainingLeavesBaseUntouched(t *testing.T) {
	base := tinyBase(t)
	before := append([]float32(nil), base.Params.Data...)
	s, err := New(base, data.NewByteTokenizer(), tinyConfig(MethodLoRA))
	require.NoError(t, err)
	copyBefore := append([]float32(nil), s.Model().Params.Data...)
	_, err = s.Step(10)
	require.NoError(t, err)
	assert.Equal(t, before, base.Params.Data, "the caller's base model")
	assert.Equal(t, copyBefore, s.Model().Params.Data, "the session's frozen base weights")
	info := s.Info()
	assert.Equal(t, peft.LoRAOf(s.Model()).NumParams(), info.TrainableParams)
	assert.Equal(t, int64(16*info.TrainableParams), info.TrainableBytes)
	assert.Equal(t, int64(16*base.NumParams()), info.FullBytes)
}

func TestNaNStopsAndKeepsWeights(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodFull)
	cfg.LR, cfg.Clip, cfg.Warmup = 0.9, 0, 0 // absurd on purpose
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	var stepErr error
	for i := 0; i < 200 && stepErr == nil; i++ {
		_, stepErr = s.Step(1)
		if stepErr == nil {
			// poison the weights so that the next loss is NaN
			s.Model().Params.Norm[0] = float32(math.Inf(1))
		}
	}
	require.Error(t, stepErr)
	assert.Contains(t, stepErr.Error(), "stopped, keeping the weights")
	done := s.StepsDone()
	_, err = s.Step(1)
	require.Error(t, err, "a poisoned run keeps failing rather than training on")
	assert.Equal(t, done, s.StepsDone())
}

func TestValidateNamesFields(t *testing.T) {
	base := tinyBase(t)
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"rank", func(c *Config) { c.Rank = 0 }},
		{"rank", func(c *Config) { c.Rank = 33 }},
		{"targets", func(c *Config) { c.Targets = []string{"q", "x"} }},
		{"lr", func(c *Config) { c.LR = -1 }},
		{"lr", func(c *Config) { c.LR = float32(math.NaN()) }},
		{"alpha", func(c *Config) { c.Alpha = float32(math.Inf(1)) }},
		{"alpha", func(c *Config) { c.Alpha = 1e30 }},
		{"alpha", func(c *Config) { c.Alpha = 65 * float32(c.Rank) }},
		{"warmup", func(c *Config) { c.Warmup = c.Steps + 1 }},
		{"task", func(c *Config) { c.Task = "" }},
		{"task", func(c *Config) { c.Task = "custom" }},
		{"method", func(c *Config) { c.Method = "qlora" }},
		{"steps", func(c *Config) { c.Steps = 0 }},
		{"batch", func(c *Config) { c.Batch = 0 }},
		{"dropout", func(c *Config) { c.Dropout = 1 }},
	} {
		c := tinyConfig(MethodLoRA)
		tc.edit(&c)
		_, err := New(base, data.NewByteTokenizer(), c)
		require.Error(t, err, tc.field)
		fields := FieldErrors(err)
		require.NotEmpty(t, fields, "%s: %v", tc.field, err)
		assert.Equal(t, tc.field, fields[0].Field, "%v", err)
	}
}

func TestEvaluateAndGenerate(t *testing.T) {
	base := tinyBase(t)
	s, err := New(base, data.NewByteTokenizer(), tinyConfig(MethodLoRA))
	require.NoError(t, err)
	ev, err := s.Evaluate()
	require.NoError(t, err)
	assert.Equal(t, 8, ev.Total)
	assert.Greater(t, ev.ValLoss, float32(0))
	assert.Len(t, ev.Samples, 4)
	// Greedy completions from Evaluate's batched decoder equal one-by-one generation.
	for _, smp := range ev.Samples {
		got, err := s.Generate(smp.Prompt, 100, 0, 1)
		require.NoError(t, err)
		assert.Equal(t, smp.Got, got, "prompt %q", smp.Prompt)
	}
	diff, err := s.Merge()
	require.NoError(t, err)
	assert.Less(t, diff, float32(1e-4))
	_, err = s.Step(1) // unmerges, trains on
	require.NoError(t, err)
}

func TestSweepShapes(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodLoRA)
	for _, r := range []int{1, 4} {
		cfg.Rank = r
		s, err := New(base, data.NewByteTokenizer(), cfg)
		require.NoError(t, err)
		in := 0
		for range base.Config.NLayers {
			i1, o1 := base.Config.Shape(model.TargetQ)
			i2, o2 := base.Config.Shape(model.TargetV)
			in += r * (i1 + o1 + i2 + o2)
		}
		assert.Equal(t, in, s.Info().TrainableParams, "rank %d", r)
	}
}

// lossHash fingerprints the first 20 losses of a tiny seeded LoRA run.
func lossHash(t testing.TB) (uint64, []float32) {
	ls := losses(t, tinyBase(t), tinyConfig(MethodLoRA), 20)
	h := fnv.New64a()
	for _, l := range ls {
		fmt.Fprintf(h, "%08x", math.Float32bits(l))
	}
	return h.Sum64(), ls
}

// TestShardsAddUp: a step computed in two parts trains like the whole batch at
// once (the same mean loss and gradient up to float rounding).
func TestShardsAddUp(t *testing.T) {
	base := tinyBase(t)
	for _, method := range []string{MethodLoRA, MethodFull} {
		cfg := tinyConfig(method)
		cfg.Shards = 1
		whole := losses(t, base, cfg, 6)
		for _, shards := range []int{2, 3, cfg.Batch} {
			cfg.Shards = shards
			parts := losses(t, base, cfg, 6)
			assert.InDeltaSlice(t, whole, parts, 2e-5, "%s in %d parts", method, shards)
		}
	}
}

// TestShardsComputedElsewhere: two sessions that each compute one part of
// every step and hand it to the other (as the page's two workers do) take
// bit-identical steps, the same as one session computing both parts, with
// dropout on.
func TestShardsComputedElsewhere(t *testing.T) {
	base := tinyBase(t)
	for _, method := range []string{MethodLoRA, MethodFull} {
		cfg := tinyConfig(method)
		cfg.Shards = 2
		if method == MethodLoRA {
			cfg.Dropout = 0.1
		}
		want := losses(t, base, cfg, 6)
		a, err := New(base, data.NewByteTokenizer(), cfg)
		require.NoError(t, err)
		b, err := New(base, data.NewByteTokenizer(), cfg)
		require.NoError(t, err)
		var got []float32
		for range 6 {
			pa, err := a.ComputeShard(0)
			require.NoError(t, err)
			pb, err := b.ComputeShard(1)
			require.NoError(t, err)
			require.NoError(t, a.PutShard(Shard{Part: pb.Part, Loss: pb.Loss, Grad: append([]float32(nil), pb.Grad...)}))
			require.NoError(t, b.PutShard(Shard{Part: pa.Part, Loss: pa.Loss, Grad: append([]float32(nil), pa.Grad...)}))
			ma, err := a.ApplyShards()
			require.NoError(t, err)
			mb, err := b.ApplyShards()
			require.NoError(t, err)
			require.Equal(t, math.Float32bits(ma.Loss), math.Float32bits(mb.Loss), "%s: both workers report the same loss", method)
			got = append(got, ma.Loss)
		}
		assert.Equal(t, want, got, "%s: parts exchanged between sessions = one session", method)
		assert.Equal(t, a.loop.params, b.loop.params, "%s: both sessions hold the same weights", method)
		assert.Equal(t, 6, a.StepsDone())
	}
}

func TestShardErrors(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodLoRA)
	cfg.Shards = 2
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.ComputeShard(2)
	assert.ErrorContains(t, err, "part 2 of a step in 2 parts")
	_, err = s.ApplyShards()
	assert.ErrorContains(t, err, "part 0 of 2 is missing")
	_, err = s.ComputeShard(0)
	require.NoError(t, err)
	assert.ErrorContains(t, s.PutShard(Shard{Part: 1, Grad: make([]float32, 3)}), "has 3 gradient values")
	_, err = s.ApplyShards()
	assert.ErrorContains(t, err, "part 1 of 2 is missing")
	// Step finishes the half-computed step itself.
	m, err := s.Step(1)
	require.NoError(t, err)
	assert.Equal(t, 1, m.Step)

	cfg.Shards = 0
	_, err = New(base, data.NewByteTokenizer(), cfg)
	assert.ErrorContains(t, err, "shards: must be between 1 and 512, got 0")
	cfg.Shards = 513
	_, err = New(base, data.NewByteTokenizer(), cfg)
	assert.ErrorContains(t, err, "shards: must be between 1 and 512, got 513")
	cfg.Shards = 5 // more parts than rows: one row per part
	s, err = New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	assert.Equal(t, 4, s.Config().Shards)
	for part := range 4 {
		_, err = s.ComputeShard(part)
		require.NoError(t, err, "part %d", part)
	}
	_, err = s.ComputeShard(4)
	assert.ErrorContains(t, err, "part 4 of a step in 4 parts")
}

// TestEvalParts: an evaluation shared among workers merges into exactly the one Evaluate computes.
func TestEvalParts(t *testing.T) {
	cfg := tinyConfig(MethodLoRA)
	cfg.EvalLimit = 7
	s, err := New(tinyBase(t), data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.Step(15)
	require.NoError(t, err)
	want, err := s.Evaluate()
	require.NoError(t, err)
	want.Seconds = 0
	for _, n := range []int{2, 3} {
		var parts []EvalPart
		for k := n - 1; k >= 0; k-- { // any order
			p, err := s.EvaluatePart(k, n)
			require.NoError(t, err)
			parts = append(parts, p)
		}
		got, err := s.MergeEval(parts)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%d parts", n)
		_, err = s.MergeEval(parts[:n-1])
		assert.Error(t, err, "a missing part")
		_, err = s.MergeEval(append(parts[:n-1:n-1], parts[0]))
		assert.Error(t, err, "a part twice")
	}
	_, err = s.EvaluatePart(2, 2)
	assert.ErrorContains(t, err, "evaluation part 2 of 2")
}

// TestCompleteStopsHopelessRows checks that decoding which stops a row once
// its text can no longer match a wanted completion (as evaluation does)
// scores exactly as full decoding: wants are what the model writes (matches),
// that with the last or the first byte changed (misses found late or at
// once), or nothing (decoded in full).
func TestCompleteStopsHopelessRows(t *testing.T) {
	cfg := tinyConfig(MethodFrozen)
	s, err := New(tinyBase(t), data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	var prompts []string
	for i := range 12 {
		prompts = append(prompts, fmt.Sprintf("q%d", i))
	}
	full, err := s.Complete(prompts)
	require.NoError(t, err)
	wants := make([]string, len(prompts))
	for i, got := range full {
		require.Greater(t, len(got), 1, "the tiny model writes something for %q", prompts[i])
		switch i % 4 {
		case 0:
			wants[i] = got
		case 1:
			wants[i] = got[:len(got)-1] + string(got[len(got)-1]^1)
		case 2:
			wants[i] = string(got[0]^1) + got[1:]
		}
	}
	pruned, err := s.complete(prompts, wants)
	require.NoError(t, err)
	for i, got := range pruned {
		if wants[i] == "" {
			assert.Equal(t, full[i], got, "prompt %d has no wanted text: decoded in full", i)
			continue
		}
		assert.Equal(t, data.ExactMatch(full[i], wants[i]), data.ExactMatch(got, wants[i]), "prompt %d scores the same", i)
		assert.True(t, strings.HasPrefix(full[i], got), "prompt %d: a stopped row's text is where full decoding went", i)
		if i%4 == 2 {
			assert.Len(t, got, 1, "prompt %d stops at its first wrong byte", i)
		}
	}
}

// TestSplitRows checks splitRows against every split of small batches, with
// rows sorted by length (as the batcher deals them) and in any order:
// non-empty parts of consecutive rows covering the batch, whose largest part
// is as small as any split's.
func TestSplitRows(t *testing.T) {
	r := rng.New(11)
	size := func(lens []int, a, b int) int { return (b - a) * slices.Max(lens[a:b]) }
	// best is the smallest largest part over every split of lens[a:] into k parts.
	var best func(lens []int, a, k int) int
	best = func(lens []int, a, k int) int {
		n := len(lens)
		if k == 1 {
			return size(lens, a, n)
		}
		b := math.MaxInt
		for e := a + 1; e <= n-(k-1); e++ {
			b = min(b, max(size(lens, a, e), best(lens, e, k-1)))
		}
		return b
	}
	for i := range 600 {
		n := 1 + r.Intn(9)
		lens := make([]int, n)
		for i := range lens {
			lens[i] = r.Intn(20)
		}
		if i%2 == 0 {
			slices.Sort(lens)
		}
		for k := 1; k <= n; k++ {
			bounds := make([]int, k+1)
			splitRows(bounds, lens)
			require.Equal(t, 0, bounds[0], "lens %v, %d parts: %v", lens, k, bounds)
			require.Equal(t, n, bounds[k], "lens %v, %d parts: %v", lens, k, bounds)
			largest := 0
			for s := range k {
				require.Less(t, bounds[s], bounds[s+1], "lens %v, %d parts: %v has an empty part", lens, k, bounds)
				largest = max(largest, size(lens, bounds[s], bounds[s+1]))
			}
			require.Equal(t, best(lens, 0, k), largest, "lens %v, %d parts: %v", lens, k, bounds)
		}
	}
}

// TestLoRASettingsReachTheAdapters: rank, alpha, rsLoRA, init, dropout and
// targets of a run's Config are those of the adapters it trains (the
// distributions and the scaling themselves are core/peft's tests).
func TestLoRASettingsReachTheAdapters(t *testing.T) {
	cfg := tinyConfig(MethodLoRA)
	cfg.Rank, cfg.Alpha, cfg.RSLoRA, cfg.Init, cfg.Dropout = 2, 6, true, string(peft.InitGaussian), 0.25
	cfg.Targets = []string{"q", "k", "down"}
	s, err := New(tinyBase(t), data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	set := peft.LoRAOf(s.Model())
	assert.Equal(t, peft.LoRAConfig{Rank: 2, Alpha: 6, RSLoRA: true, Init: peft.InitGaussian, Dropout: 0.25,
		Targets: []model.Target{model.TargetQ, model.TargetK, model.TargetDown}}, set.LoRAConfig)
	assert.Equal(t, []string{"q", "k", "down"}, s.Info().Targets)
	var sq float64
	n := 0
	for _, a := range set.Adapters {
		require.Equal(t, peft.Scaling(6, 2, true), a.Scaling, "%s: alpha/sqrt(r)", a.Module)
		for _, v := range a.A {
			sq += float64(v) * float64(v)
		}
		n += len(a.A)
	}
	// Gaussian A has std 1/r = 0.5; kaiming's would be 1/sqrt(3·in), below 0.11 here.
	assert.InDelta(t, 0.5, math.Sqrt(sq/float64(n)), 0.05, "the RMS of A")
}

// TestOptimizerSettingsReachTheStep: a run's weight decay, clip and schedule
// are the ones its steps take. Two full fine-tuning runs that differ only in
// weight decay take the same Adam update, so after one step their weights
// differ by exactly the decay, -lr·wd·θ, except the RMSNorm weights, which
// are never decayed (the same bits). The gradient the step applied has the
// clip's norm; the learning rate warms up to LR and decays to LR/10.
func TestOptimizerSettingsReachTheStep(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodFull)
	cfg.WeightDecay, cfg.Clip = 0.1, 0.05
	decayed, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	cfg.WeightDecay = 0
	plain, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	m, err := decayed.Step(1)
	require.NoError(t, err)
	_, err = plain.Step(1)
	require.NoError(t, err)

	require.Greater(t, m.GradNorm, cfg.Clip, "the gradient is large enough to be clipped")
	assert.InEpsilon(t, float64(cfg.Clip), optim.GlobalNorm(decayed.loop.grad), 1e-5, "the norm of the gradient the step applied")

	theta, a, b := base.Params.Data, decayed.Model().Params.Data, plain.Model().Params.Data
	norm := make([]bool, len(theta))
	for _, sp := range base.Config.NormSpans() {
		for i := sp[0]; i < sp[1]; i++ {
			norm[i] = true
			require.Equal(t, math.Float32bits(b[i]), math.Float32bits(a[i]), "norm weight %d is not decayed", i)
		}
	}
	// The fitted decay rate Σ (b - a)·θ / Σ θ² over the decayed weights is lr·wd
	// (the float32 rounding of each difference is far below 1% of it).
	var num, den float64
	for i, th := range theta {
		if !norm[i] {
			num += (float64(b[i]) - float64(a[i])) * float64(th)
			den += float64(th) * float64(th)
		}
	}
	assert.InEpsilon(t, float64(m.LR)*0.1, num/den, 0.01, "weight decay of one step, lr·wd")

	// The schedule: warmup to LR over Warmup steps, then cosine decay to LR/10 at Steps.
	lrs := []float32{m.LR}
	for !decayed.Done() {
		m, err := decayed.Step(1)
		require.NoError(t, err)
		lrs = append(lrs, m.LR)
	}
	require.Len(t, lrs, cfg.Steps)
	assert.InDelta(t, cfg.LR/float32(cfg.Warmup+1), lrs[0], 1e-9, "the first step's rate")
	assert.Equal(t, cfg.LR, lrs[cfg.Warmup], "the rate when warmup ends")
	for i := cfg.Warmup + 1; i < len(lrs); i++ {
		require.Less(t, lrs[i], lrs[i-1], "the rate decays after warmup, step %d", i+1)
	}
	last := lrs[len(lrs)-1]
	assert.True(t, last > cfg.LR/10 && last < cfg.LR/10*1.1, "the last step's rate %g is just above LR/10 = %g", last, cfg.LR/10)
}
