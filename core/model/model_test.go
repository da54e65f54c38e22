package model

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/lora"
	"golora/core/rng"
)

func tinyConfig() Config {
	return Config{Dim: 16, HiddenDim: 24, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 11, SeqLen: 8,
		Tied: true, NormEps: 1e-5, RopeBase: 10000}
}

// randomModel draws weights large enough that logits are far from uniform.
func randomModel(t *testing.T, cfg Config, seed uint64) *Model {
	m, err := New("tiny", cfg)
	require.NoError(t, err)
	r := rng.New(seed)
	for i := range m.Params.Data {
		m.Params.Data[i] = 0.3 * r.Normal()
	}
	for l := range m.Params.Layers {
		for i := range m.Params.Layers[l].AttnNorm {
			m.Params.Layers[l].AttnNorm[i] = 1 + 0.1*r.Normal()
			m.Params.Layers[l].MLPNorm[i] = 1 + 0.1*r.Normal()
		}
	}
	return m
}

type batch struct {
	inputs, targets []int
	mask            []float32
	b, t            int
}

func randomBatch(cfg Config, b, t int, seed uint64) batch {
	r := rng.New(seed)
	bt := batch{b: b, t: t, inputs: make([]int, b*t), targets: make([]int, b*t), mask: make([]float32, b*t)}
	for i := range bt.inputs {
		bt.inputs[i] = r.Intn(cfg.VocabSize)
		bt.targets[i] = r.Intn(cfg.VocabSize)
		bt.mask[i] = 1
		if i%t < min(2, t-1) { // the "prompt" (leaving at least one scored position): no loss
			bt.targets[i] = -1
		}
	}
	return bt
}

// gradTol bounds a float32 gradient's error, relative to the largest
// gradient of its tensor (the error of an entry is set by the magnitudes
// flowing through its chain, not by its own size: an entry near zero has a
// large error of its own). The reference differences a float64 loss (ref):
// with h = 1e-5 its truncation (h²/6·f‴) and rounding (1e-16·L/h) errors are
// about 1e-11, and steps of 1e-4 to 1e-6 gave the same errors to 1e-7, so what
// the check sees is the float32 gradient's own rounding. Each entry comes
// through a dozen float32 kernels (cross-entropy, classifier, norm, and per
// block SwiGLU, RMSNorm, attention and their products, with sums of up to a
// few hundred terms), each rounding at u = 6e-8 of the values it combines:
// tens of u of the tensor's scale. Measured over every entry of these tiny
// models: at most 5.4e-6 (90 u) in the default build, 1.4e-6 in the SIMD
// build (fused multiply-adds), 5.4e-6 and 4.7e-6 under wasm (scalar, and
// SIMD128 with multiply then add). 5e-5 leaves a factor 9 for other rounding
// orders and fails a term 1% off by a factor 200.
const gradTol = 5e-5

// gradStep is the central difference's step on the float64 reference.
const gradStep = 1e-5

// gradCheck compares a float32 gradient with central differences of the
// float64 reference loss: for every entry when the tensor has at most samples
// entries, else for samples of them drawn at random, plus two random unit
// directions over the whole tensor (the directional derivative g·v against
// (L(θ+hv) - L(θ-hv)) / 2h), which see an error in any entry the sample missed.
// param is the reference's copy of the tensor, perturbed in place.
func gradCheck(t *testing.T, what string, param []float64, grad []float32, loss func() float64, samples int) {
	t.Helper()
	r := rng.New(7)
	idx := r.Perm(len(param))
	if len(idx) > samples {
		idx = idx[:samples]
	}
	nums := make([]float64, len(idx))
	for k, i := range idx {
		old := param[i]
		param[i] = old + gradStep
		lp := loss()
		param[i] = old - gradStep
		lm := loss()
		param[i] = old
		nums[k] = (lp - lm) / (2 * gradStep)
	}
	// The scale: the largest gradient, analytic over the tensor or numerical
	// (so that an analytic gradient wrongly all zero fails), and the norm.
	var scale, norm float64
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(float64(g)))
		norm += float64(g) * float64(g)
	}
	norm = math.Sqrt(norm)
	for _, num := range nums {
		scale = math.Max(scale, math.Abs(num))
	}
	if scale == 0 { // q and k of a single position, whose softmax is 1 whatever they are: both exactly zero
		t.Logf("%s: the gradient and the reference's are zero", what)
		return
	}
	worst, worstIdx := 0.0, -1
	for k, i := range idx {
		if e := math.Abs(nums[k]-float64(grad[i])) / scale; e > worst {
			worst, worstIdx = e, i
		}
	}
	t.Logf("%s: worst error %.2e of the largest gradient %.3g, at index %d of %d checked", what, worst, scale, worstIdx, len(idx))
	assert.Less(t, worst, gradTol, "%s: gradient error at index %d, relative to the tensor's largest gradient", what, worstIdx)
	base := append([]float64(nil), param...)
	for d := range 2 {
		v := make([]float64, len(param))
		var vn float64
		for i := range v {
			v[i] = float64(r.Normal())
			vn += v[i] * v[i]
		}
		var ana float64
		for i := range v {
			v[i] /= math.Sqrt(vn)
			ana += v[i] * float64(grad[i])
		}
		step := func(h float64) float64 {
			for i := range param {
				param[i] = base[i] + h*v[i]
			}
			return loss()
		}
		num := (step(gradStep) - step(-gradStep)) / (2 * gradStep)
		copy(param, base)
		// |e·v| for a unit v is at most |e|: the bound scales with the gradient's norm.
		e := math.Abs(num-ana) / math.Max(norm, math.Abs(num))
		t.Logf("%s: direction %d: error %.2e of the gradient's norm %.3g", what, d, e, norm)
		assert.Less(t, e, gradTol, "%s: directional derivative %d, error relative to the gradient's norm", what, d)
	}
}

// refLoss returns the loss of the float64 reference r on bt, after checking
// that it is the loss the float32 forward pass computed.
func refLoss(t *testing.T, r *ref, bt batch, loss32 float32) func() float64 {
	t.Helper()
	loss := func() float64 { return r.loss(bt.inputs, bt.targets, bt.mask, bt.b, bt.t) }
	require.InEpsilon(t, loss(), float64(loss32), 1e-6, "the float32 loss against the float64 reference")
	return loss
}

func TestFullGradient(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func() Config
		b, t int
	}{
		{"tied-gqa", tinyConfig, 2, 7},
		{"untied-mha", func() Config { c := tinyConfig(); c.Tied = false; c.NKVHeads = 4; return c }, 1, 5},
		{"single-token", tinyConfig, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg()
			m := randomModel(t, cfg, 1)
			bt := randomBatch(cfg, tc.b, tc.t, 2)
			acts := m.NewActs(tc.b, tc.t)
			grads := NewParams(cfg)
			loss32 := m.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
			m.Backward(acts, grads)
			r := newRef(m, acts)
			loss := refLoss(t, r, bt, loss32)
			gviews := grads.Views(cfg)
			for _, ti := range cfg.Tensors() {
				gradCheck(t, ti.Name, r.w[ti.Name], gviews[ti.Name], loss, 48)
			}
		})
	}
}

func attachLoRA(t *testing.T, m *Model, rank int, targets []Target, randomB bool) {
	t.Helper()
	require.NoError(t, m.AddLoRA(lora.Config{Rank: rank, Alpha: 2 * float32(rank), Init: lora.InitKaiming}, targets, rng.New(3)))
	if randomB {
		r := rng.New(4)
		for _, a := range m.LoRA.Adapters {
			for i := range a.B {
				a.B[i] = 0.3 * r.Normal()
			}
		}
	}
}

func TestLoRAGradient(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, AllTargets(), true)
	bt := randomBatch(cfg, 2, 6, 2)
	acts := m.NewActs(2, 6)
	loss32 := m.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
	m.Backward(acts, nil)
	r := newRef(m, acts)
	loss := refLoss(t, r, bt, loss32)
	for _, a := range m.LoRA.Adapters {
		nA, nB := len(a.A), len(a.B)
		gradCheck(t, a.Module+".lora_A", r.lora[a.Off:a.Off+nA], a.DA, loss, 24)
		gradCheck(t, a.Module+".lora_B", r.lora[a.Off+nA:a.Off+nA+nB], a.DB, loss, 24)
	}
}

func TestLoRADropoutGradient(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	require.NoError(t, m.AddLoRA(lora.Config{Rank: 3, Alpha: 4, Dropout: 0.3}, []Target{TargetQ, TargetDown}, rng.New(3)))
	g := rng.New(4)
	for _, a := range m.LoRA.Adapters {
		for i := range a.B {
			a.B[i] = 0.3 * g.Normal()
		}
	}
	bt := randomBatch(cfg, 2, 6, 2)
	acts := m.NewActs(2, 6)
	acts.Dropout = 0.3
	acts.RNG = rng.New(99)
	loss32 := m.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
	m.Backward(acts, nil)
	r := newRef(m, acts) // with the masks this pass drew
	loss := refLoss(t, r, bt, loss32)
	for _, a := range m.LoRA.Adapters {
		nA, nB := len(a.A), len(a.B)
		gradCheck(t, a.Module+".lora_A (dropout)", r.lora[a.Off:a.Off+nA], a.DA, loss, 24)
		gradCheck(t, a.Module+".lora_B (dropout)", r.lora[a.Off+nA:a.Off+nA+nB], a.DB, loss, 24)
	}
}

func TestLoRAZeroBIsBaseBitForBit(t *testing.T) {
	cfg := tinyConfig()
	base := randomModel(t, cfg, 1)
	bt := randomBatch(cfg, 2, 7, 2)
	acts := base.NewActs(2, 7)
	baseLoss := base.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
	baseLogits := append([]float32(nil), acts.Logits[:2*7*cfg.VocabSize]...)

	m := base.Clone()
	attachLoRA(t, m, 4, AllTargets(), false)
	acts2 := m.NewActs(2, 7)
	loss := m.Forward(acts2, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
	assert.Equal(t, math.Float32bits(baseLoss), math.Float32bits(loss), "loss with B = 0")
	for i, v := range baseLogits {
		require.Equal(t, math.Float32bits(v), math.Float32bits(acts2.Logits[i]), "logit %d with B = 0", i)
	}
}

func TestMergeEqualsUnmerged(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 3, []Target{TargetQ, TargetV, TargetDown}, true)
	before := append([]float32(nil), m.Params.Data...)
	bt := randomBatch(cfg, 2, 7, 2)
	acts := m.NewActs(2, 7)
	n := 2 * 7 * cfg.VocabSize
	acts.SideAdapters = true
	m.Forward(acts, bt.inputs, nil, nil, bt.b, bt.t)
	beside := append([]float32(nil), acts.Logits[:n]...)
	acts.SideAdapters = false
	m.Forward(acts, bt.inputs, nil, nil, bt.b, bt.t)
	fused := append([]float32(nil), acts.Logits[:n]...)
	require.NoError(t, m.Merge())
	m.Forward(acts, bt.inputs, nil, nil, bt.b, bt.t)
	maxDiff := 0.0
	for i, v := range beside {
		maxDiff = math.Max(maxDiff, math.Abs(float64(v-acts.Logits[i])))
	}
	t.Logf("max |logit merged - unmerged| = %.3g", maxDiff)
	assert.Less(t, maxDiff, 1e-4)
	assert.Positive(t, maxDiff, "adapters applied beside their weights round differently from the merged weights")
	for i, v := range fused {
		require.Equal(t, math.Float32bits(v), math.Float32bits(acts.Logits[i]), "logit %d: fused weights are the merged weights", i)
	}
	require.NoError(t, m.Unmerge())
	for i, v := range before {
		assert.InDelta(t, v, m.Params.Data[i], 1e-5, "weight %d after merge+unmerge", i)
	}
	assert.Error(t, m.Unmerge())
}

func TestTrainableCount(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, []Target{TargetQ, TargetV, TargetGate}, false)
	want := 0
	for range cfg.NLayers {
		for _, tg := range []Target{TargetQ, TargetV, TargetGate} {
			in, out := cfg.Shape(tg)
			want += 2 * (in + out)
		}
	}
	assert.Equal(t, want, m.LoRA.NumParams())
}

func TestRankOutOfRange(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	err := m.AddLoRA(lora.Config{Rank: 9, Alpha: 1}, []Target{TargetK}, rng.New(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rank must be between 1 and 8")
}

// The KV-cached decoder must reproduce the training forward pass's logits.
func TestDecoderMatchesForward(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, []Target{TargetQ, TargetV, TargetUp}, true)
	bt := randomBatch(cfg, 1, 8, 5)
	acts := m.NewActs(1, 8)
	m.Forward(acts, bt.inputs, nil, nil, 1, 8)
	d := m.NewDecoder(1)
	V := cfg.VocabSize
	for pos, tok := range bt.inputs {
		logits, err := d.Next(tok)
		require.NoError(t, err)
		for j := range V {
			assert.InDelta(t, acts.Logits[pos*V+j], logits[j], 1e-5, fmt.Sprintf("pos %d logit %d", pos, j))
		}
	}
	_, err := d.Next(0)
	assert.Error(t, err, "context full")
}

// TestPrefillIsNext: feeding a prefix at once (in chunks of prefillChunk)
// leaves the decoder exactly as feeding it token by token does.
func TestPrefillIsNext(t *testing.T) {
	cfg := tinyConfig()
	cfg.SeqLen = 40
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, []Target{TargetQ, TargetV, TargetUp}, true)
	const B, n = 3, 37 // three chunks, the last partial
	bt := randomBatch(cfg, B, n+2, 6)
	known := make([]int, 0, B*n)
	for r := range B {
		known = append(known, bt.inputs[r*(n+2):r*(n+2)+n]...)
	}
	step, pre := m.NewDecoder(B), m.NewDecoder(B)
	col := func(j int) []int {
		out := make([]int, B)
		for r := range B {
			out[r] = bt.inputs[r*(n+2)+j]
		}
		return out
	}
	for j := range n {
		_, err := step.Next(col(j)...)
		require.NoError(t, err)
	}
	require.NoError(t, pre.Prefill(known, n))
	assert.Equal(t, n, pre.Pos())
	for j := n; j < n+2; j++ {
		a, err := step.Next(col(j)...)
		require.NoError(t, err)
		b, err := pre.Next(col(j)...)
		require.NoError(t, err)
		require.Equal(t, a, b, "logits at position %d after a prefill", j)
	}
	assert.Error(t, pre.Prefill(known, n), "past the context")
	assert.Error(t, pre.Prefill(known[:5], 2), "wrong token count")
}

func TestSamplerGreedyAndSeeded(t *testing.T) {
	logits := []float32{0.1, 2, 2, -1}
	probs := make([]float32, 4)
	assert.Equal(t, 1, Sampler{}.Sample(logits, probs), "first maximum wins")
	s1 := Sampler{Temperature: 1, TopP: 0.9, RNG: rng.New(1)}
	s2 := Sampler{Temperature: 1, TopP: 0.9, RNG: rng.New(1)}
	for range 20 {
		a, b := s1.Sample(logits, probs), s2.Sample(logits, probs)
		require.Equal(t, a, b)
		require.NotEqual(t, 3, a, "top-p 0.9 excludes the least likely token")
	}
}

func TestConfigValidate(t *testing.T) {
	assert.NoError(t, DefaultConfig().Validate())
	c := DefaultConfig()
	c.NKVHeads = 3
	assert.ErrorContains(t, c.Validate(), "n_kv_heads")
	c = DefaultConfig()
	c.Dim = 0
	assert.ErrorContains(t, c.Validate(), "dim must be positive")
}

// Rows of a batched decoder are independent: each matches a one-row decoder.
func TestBatchedDecoderRows(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	attachLoRA(t, m, 2, []Target{TargetK, TargetO}, true)
	seqs := [][]int{{1, 2, 3, 4, 5}, {7, 7, 0, 1, 9}, {10, 3, 3, 2, 1}}
	d := m.NewDecoder(3)
	V := cfg.VocabSize
	for pos := range 5 {
		logits, err := d.Next(seqs[0][pos], seqs[1][pos], seqs[2][pos])
		require.NoError(t, err)
		for r, s := range seqs {
			single := m.NewDecoder(1)
			var want []float32
			for _, tok := range s[:pos+1] {
				want, err = single.Next(tok)
				require.NoError(t, err)
			}
			for j := range V {
				assert.InDelta(t, want[j], logits[r*V+j], 1e-5, "row %d pos %d logit %d", r, pos, j)
			}
		}
	}
}

func TestNormSpans(t *testing.T) {
	cfg := tinyConfig()
	p := NewParams(cfg)
	for _, sp := range cfg.NormSpans() {
		for i := sp[0]; i < sp[1]; i++ {
			p.Data[i] = 7
		}
	}
	for _, L := range p.Layers {
		assert.Equal(t, float32(7), L.AttnNorm[0])
		assert.Equal(t, float32(7), L.MLPNorm[cfg.Dim-1])
		assert.Equal(t, float32(0), L.Wq[0])
	}
	assert.Equal(t, float32(7), p.Norm[0])
	assert.Len(t, cfg.NormSpans(), 2*cfg.NLayers+1)
}

// TestScoredOnly: running the classifier on the scored positions only changes
// neither the loss nor the adapters' gradients (bit for bit), and the base
// gradients only by float rounding.
func TestScoredOnly(t *testing.T) {
	cfg := tinyConfig()
	for _, lora := range []bool{false, true} {
		m := randomModel(t, cfg, 1)
		var grads *Params
		if lora {
			attachLoRA(t, m, 2, []Target{TargetQ, TargetV}, true)
		} else {
			grads = NewParams(cfg)
		}
		bt := randomBatch(cfg, 3, 7, 2)
		bt.mask[9] = 0.5 // a weighted position
		run := func(scored bool) (float32, []float32) {
			acts := m.NewActs(3, 7)
			acts.ScoredOnly = scored
			loss := m.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
			if grads != nil {
				clear(grads.Data)
				m.Backward(acts, grads)
				return loss, append([]float32(nil), grads.Data...)
			}
			clear(m.LoRA.Grads)
			m.Backward(acts, nil)
			return loss, append([]float32(nil), m.LoRA.Grads...)
		}
		l0, g0 := run(false)
		l1, g1 := run(true)
		require.Equal(t, math.Float32bits(l0), math.Float32bits(l1), "lora=%v: the loss", lora)
		if lora {
			assert.Equal(t, g0, g1, "the adapters' gradients, bit for bit")
			continue
		}
		for i := range g0 {
			require.InDelta(t, g0[i], g1[i], 1e-6*(1+math.Abs(float64(g0[i]))), "base gradient %d", i)
		}
	}
}

// TestLoadRefusesNonFinite: a saved model with a NaN or infinite weight is refused on load, naming the tensor (one
// NaN weight would make every output NaN).
func TestLoadRefusesNonFinite(t *testing.T) {
	m := randomModel(t, tinyConfig(), 1)
	var good bytes.Buffer
	require.NoError(t, m.Save(&good, nil))
	_, _, err := Load(bytes.NewReader(good.Bytes()), "good.safetensors")
	require.NoError(t, err)
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		bad := m.Clone()
		bad.Params.Layers[0].Wup[4] = v
		var buf bytes.Buffer
		require.NoError(t, bad.Save(&buf, nil))
		_, _, err := Load(&buf, "bad.safetensors")
		assert.ErrorContains(t, err, fmt.Sprintf(`model bad.safetensors: tensor "model.layers.0.mlp.up_proj.weight" holds %v at index 4`, v))
	}
}
