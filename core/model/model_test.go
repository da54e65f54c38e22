package model

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
	"golora/internal/ref"
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

// newRef copies m's weights into the float64 reference (internal/ref).
func newRef(m *Model) *ref.Model {
	c := m.Config
	var names []string
	var shapes [][]int
	for _, ti := range c.Tensors() {
		names, shapes = append(names, ti.Name), append(shapes, ti.Shape)
	}
	rc := ref.Config{Dim: c.Dim, HiddenDim: c.HiddenDim, NLayers: c.NLayers, NHeads: c.NHeads, NKVHeads: c.NKVHeads,
		VocabSize: c.VocabSize, SeqLen: c.SeqLen, Tied: c.Tied, NormEps: c.NormEps, RopeBase: c.RopeBase}
	return ref.New(rc, names, shapes, m.Params.Data)
}

// refLoss returns the loss of the float64 reference r on bt, after checking
// that it is the loss the float32 forward pass computed.
func refLoss(t *testing.T, r *ref.Model, bt batch, loss32 float32) func() float64 {
	t.Helper()
	loss := func() float64 { return r.Loss(bt.inputs, bt.targets, bt.mask, bt.b, bt.t) }
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
			r := newRef(m)
			loss := refLoss(t, r, bt, loss32)
			gviews := grads.Views(cfg)
			for _, ti := range cfg.Tensors() {
				ref.GradCheck(t, ti.Name, r.W[ti.Name], gviews[ti.Name], loss, 48)
			}
		})
	}
}

// The KV-cached decoder must reproduce the training forward pass's logits.
func TestDecoderMatchesForward(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
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
// neither the loss (bit for bit) nor the base gradients beyond float rounding
// (core/peft checks the methods' gradients, bit for bit).
func TestScoredOnly(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	grads := NewParams(cfg)
	bt := randomBatch(cfg, 3, 7, 2)
	bt.mask[9] = 0.5 // a weighted position
	run := func(scored bool) (float32, []float32) {
		acts := m.NewActs(3, 7)
		acts.ScoredOnly = scored
		loss := m.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
		clear(grads.Data)
		m.Backward(acts, grads)
		return loss, append([]float32(nil), grads.Data...)
	}
	l0, g0 := run(false)
	l1, g1 := run(true)
	require.Equal(t, math.Float32bits(l0), math.Float32bits(l1), "the loss")
	for i := range g0 {
		require.InDelta(t, g0[i], g1[i], 1e-6*(1+math.Abs(float64(g0[i]))), "base gradient %d", i)
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
