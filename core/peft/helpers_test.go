// Test helpers shared by every method's tests: a tiny random model, a random batch, finite differences, fixtures.
package peft

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/model"
	"golora/core/rng"
	"golora/internal/ref"
)

var qvDown = []model.Target{model.TargetQ, model.TargetV, model.TargetDown}

func tinyConfig() model.Config {
	return model.Config{Dim: 16, HiddenDim: 24, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 11, SeqLen: 8,
		Tied: true, NormEps: 1e-5, RopeBase: 10000}
}

// randomModel draws weights large enough that logits are far from uniform.
func randomModel(t testing.TB, cfg model.Config, seed uint64) *model.Model {
	m, err := model.New("tiny", cfg)
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

// randomBatch draws b sequences of t tokens; the first two of each (at most t-1) are the prompt (no loss).
func randomBatch(cfg model.Config, b, t int, seed uint64) batch {
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

// forward runs bt through m and returns the loss.
func (bt batch) forward(m *model.Model, acts *model.Acts) float32 {
	return m.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
}

// gradCheck compares analytic gradients with central differences of the loss
// for a sample of parameters; it reports the worst relative error and its index.
func gradCheck(t *testing.T, what string, params, grads []float32, loss func() float64, samples int) {
	t.Helper()
	const eps = 1e-2
	r := rng.New(7)
	worst, worstIdx := 0.0, -1
	for range samples {
		i := r.Intn(len(params))
		old := params[i]
		params[i] = old + eps
		lp := loss()
		params[i] = old - eps
		lm := loss()
		params[i] = old
		num := (lp - lm) / (2 * eps)
		ana := float64(grads[i])
		rel := math.Abs(num-ana) / math.Max(math.Abs(num)+math.Abs(ana), 1e-2)
		if rel > worst {
			worst, worstIdx = rel, i
		}
	}
	t.Logf("%s: worst relative error %.2e at index %d", what, worst, worstIdx)
	assert.Less(t, worst, 2e-2, "%s: gradient check worst relative error at index %d", what, worstIdx)
}

// requireSameBits fails unless a and b hold the same float32 bits.
func requireSameBits(t *testing.T, what string, a, b []float32) {
	t.Helper()
	require.Len(t, b, len(a), what)
	for i := range a {
		require.Equal(t, math.Float32bits(a[i]), math.Float32bits(b[i]), "%s: element %d", what, i)
	}
}

// The PyTorch fixtures (testdata/gen/*.py; format in testdata/model/README.md):
// a base model, a batch, and the logits, loss and gradients PyTorch computed.
type fixTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type fixture struct {
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
	B       int                  `json:"B"`
	T       int                  `json:"T"`
	Inputs  []int                `json:"inputs"`
	Targets []int                `json:"targets"`
	Mask    []float32            `json:"mask"`
	Weights map[string]fixTensor `json:"weights"`
	Logits  []float64            `json:"logits"`
	Loss    float64              `json:"loss"`
	Grads   map[string][]float64 `json:"grads"`
	// Method holds the method's settings and tensors (named as in PEFT where it names them).
	Method json.RawMessage `json:"method"`
	LoRA   *struct {
		Rank     int                             `json:"rank"`
		Alpha    float32                         `json:"alpha"`
		Targets  []string                        `json:"targets"`
		Adapters map[string]map[string]fixTensor `json:"adapters"`
	} `json:"lora"`
}

func f32(xs []float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

// loadFixture reads testdata/<dir>/<name>.json and builds its base model.
func loadFixture(t *testing.T, dir, name string) (*fixture, *model.Model) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", dir, name+".json"))
	require.NoError(t, err)
	var fx fixture
	require.NoError(t, json.Unmarshal(raw, &fx))
	c := fx.Config
	cfg := model.Config{Dim: c.Dim, HiddenDim: c.Hidden, NLayers: c.Layers, NHeads: c.Heads, NKVHeads: c.KVHeads,
		VocabSize: c.Vocab, SeqLen: c.SeqLen, Tied: c.Tied, NormEps: c.NormEps, RopeBase: c.RopeBase}
	var ts []checkpoint.Tensor
	for name, w := range fx.Weights {
		ts = append(ts, checkpoint.Tensor{Name: name, Shape: w.Shape, Data: f32(w.Data)})
	}
	m, err := model.FromTensors(name, cfg, ts)
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

// newRef copies m's base weights into the float64 reference (internal/ref);
// a method's check puts its own float64 version at the places it acts.
func newRef(m *model.Model) *ref.Model {
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

// to64 copies a float32 slice.
func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// view64 is t's span of a float64 copy of a method's parameters.
func view64(t Tensor, buf []float64) []float64 { return buf[t.Off : t.Off+t.Len()] }

// methodTensors is the fixture's "method" object's tensors, by name.
func (fx *fixture) methodTensors(t *testing.T) map[string]fixTensor {
	t.Helper()
	var m struct {
		Tensors map[string]fixTensor `json:"tensors"`
	}
	require.NoError(t, json.Unmarshal(fx.Method, &m))
	return m.Tensors
}
