package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/optim"
)

// The whole-model fixtures come from PyTorch (testdata/gen/gen_model.py; the
// format is in testdata/model/README.md). Tolerances follow that README:
// PyTorch's own float32 results differ from float64 by ~1e-5 relative to each
// tensor's scale, and golora sums in another order, so gradients are held to
// 1e-4 of the tensor's largest gradient, logits to 1e-4 absolute.

type fixTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type modelFixture struct {
	Config struct {
		Dim      int     `json:"dim"`
		Hidden   int     `json:"hidden_dim"`
		Layers   int     `json:"n_layers"`
		Heads    int     `json:"n_heads"`
		KVHeads  int     `json:"n_kv_heads"`
		Vocab    int     `json:"vocab_size"`
		SeqLen   int     `json:"seq_len"`
		Tied     bool    `json:"tied"`
		NormEps  float32 `json:"norm_eps"`
		RopeBase float64 `json:"rope_base"`
	} `json:"config"`
	B         int                  `json:"B"`
	T         int                  `json:"T"`
	Inputs    []int                `json:"inputs"`
	Targets   []int                `json:"targets"`
	Mask      []float32            `json:"mask"`
	Weights   map[string]fixTensor `json:"weights"`
	Logits    []float64            `json:"logits"`
	Loss      float64              `json:"loss"`
	Grads     map[string][]float64 `json:"grads"`
	Optimizer *struct {
		LR          float32 `json:"lr"`
		WeightDecay float32 `json:"weight_decay"`
	} `json:"optimizer"`
	LossAfterStep float64              `json:"loss_after_step"`
	Updated       map[string]fixTensor `json:"updated"`
}

func f32(xs []float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

func loadModelFixture(t *testing.T, name string) (*modelFixture, *Model) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "model", name+".json"))
	require.NoError(t, err)
	var fx modelFixture
	require.NoError(t, json.Unmarshal(raw, &fx))
	c := fx.Config
	cfg := Config{Dim: c.Dim, HiddenDim: c.Hidden, NLayers: c.Layers, NHeads: c.Heads, NKVHeads: c.KVHeads,
		VocabSize: c.Vocab, SeqLen: c.SeqLen, Tied: c.Tied, NormEps: c.NormEps, RopeBase: c.RopeBase}
	var ts []checkpoint.Tensor
	for name, w := range fx.Weights {
		ts = append(ts, checkpoint.Tensor{Name: name, Shape: w.Shape, Data: f32(w.Data)})
	}
	m, err := FromTensors(name, cfg, ts)
	require.NoError(t, err)
	return &fx, m
}

// assertScaled compares got with want within tol times want's largest magnitude (at least 1).
func assertScaled(t *testing.T, what string, want []float64, got []float32, tol float64) float64 {
	t.Helper()
	require.Len(t, got, len(want), what)
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	worst, at := 0.0, 0
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > worst {
			worst, at = d, i
		}
	}
	assert.LessOrEqual(t, worst, tol*scale, "%s: worst |diff| %.3g at index %d (scale %.3g)", what, worst, at, scale)
	return worst / scale
}

func TestPyTorchFixtures(t *testing.T) {
	// The "lora" fixture, the same model with adapters, is checked in core/peft.
	for _, name := range []string{"tiny", "untied", "long"} {
		t.Run(name, func(t *testing.T) {
			fx, m := loadModelFixture(t, name)
			grads := NewParams(m.Config)
			acts := m.NewActs(fx.B, fx.T)
			loss := m.Forward(acts, fx.Inputs, fx.Targets, fx.Mask, fx.B, fx.T)
			assert.InDelta(t, fx.Loss, float64(loss), 1e-5, "loss")
			worst := assertScaled(t, "logits", fx.Logits, acts.Logits[:len(fx.Logits)], 1e-5)
			m.Backward(acts, grads)
			views := grads.Views(m.Config)
			for _, ti := range m.Config.Tensors() {
				want, ok := fx.Grads[ti.Name]
				require.True(t, ok, ti.Name)
				worst = math.Max(worst, assertScaled(t, ti.Name+" grad", want, views[ti.Name], 1e-4))
			}
			t.Logf("%s: loss %.7f (torch %.7f), worst scaled difference %.2g", name, loss, fx.Loss, worst)
		})
	}
}

// One AdamW step of full fine-tuning, then the loss again: model and optimizer together.
func TestPyTorchAdamWStep(t *testing.T) {
	fx, m := loadModelFixture(t, "adamw_step")
	grads := NewParams(m.Config)
	acts := m.NewActs(fx.B, fx.T)
	loss := m.Forward(acts, fx.Inputs, fx.Targets, fx.Mask, fx.B, fx.T)
	assert.InDelta(t, fx.Loss, float64(loss), 1e-5)
	m.Backward(acts, grads)
	opt := optim.NewAdamW(len(m.Params.Data), fx.Optimizer.WeightDecay)
	opt.Step(m.Params.Data, grads.Data, fx.Optimizer.LR)
	views := m.Params.Views(m.Config)
	for name, w := range fx.Updated {
		assertScaled(t, name+" after one step", w.Data, views[name], 1e-5)
	}
	after := m.Forward(acts, fx.Inputs, fx.Targets, fx.Mask, fx.B, fx.T)
	assert.InDelta(t, fx.LossAfterStep, float64(after), 1e-4, "loss after one AdamW step")
}
