package model

import (
	"math"
	"strings"
	"testing"

	"golora/core/matmul"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trainsNames is a test method that trains the base tensors whose names contain one of its parts.
type trainsNames []string

func (trainsNames) Name() string      { return "test" }
func (trainsNames) Params() []float32 { return nil }
func (trainsNames) Grads() []float32  { return nil }
func (trainsNames) NewPass(int) *Pass { return &Pass{} }
func (t trainsNames) TrainsBase(n string) bool {
	for _, part := range t {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// TestTrainableSubset: a method that trains some base tensors gets, in the
// views BindGrads lays over the run's flat vector, exactly the gradients
// full training computes for them (bit for bit: skipping the frozen
// weights' products and the layers below the lowest trained one changes no
// other sum), nil views for the rest, and the flat layout joins adjacent tensors.
func TestTrainableSubset(t *testing.T) {
	for _, tc := range []struct {
		name    string
		parts   []string
		untied  bool
		segs    int
		noDecay int
	}{
		{"top block and final norm", []string{"layers.1.", "model.norm"}, false, 1, 3},
		{"norm gains only", []string{"layernorm", "model.norm"}, false, 5, 5},
		{"top block, untied classifier", []string{"layers.1.", "model.norm", "lm_head"}, true, 1, 3},
		{"first block's value projection", []string{"layers.0.self_attn.v_proj"}, false, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Tied = !tc.untied
			base := randomModel(t, cfg, 1)
			bt := randomBatch(cfg, 2, 7, 2)
			full := NewParams(cfg)
			acts := base.NewActs(2, 7)
			base.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
			base.Backward(acts, full)

			m := base.Clone()
			require.NoError(t, m.Attach(trainsNames(tc.parts)))
			tr := m.Trainable()
			assert.Len(t, tr.Params, tc.segs, "segments of the flat vector")
			assert.Len(t, tr.NoDecay, tc.noDecay, "RMSNorm gains among them")
			grad := make([]float32, tr.Len)
			g, meth := tr.BindGrads(cfg, grad)
			assert.Empty(t, meth)
			acts = m.NewActs(2, 7)
			m.Forward(acts, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
			m.Backward(acts, g)
			got, want := named(cfg, g), full.Views(cfg)
			n := 0
			for _, ti := range cfg.Tensors() {
				if !trainsNames(tc.parts).TrainsBase(ti.Name) {
					continue
				}
				n += numel(ti.Shape)
				for i, v := range want[ti.Name] {
					require.Equal(t, math.Float32bits(v), math.Float32bits(got[ti.Name][i]), "%s[%d]", ti.Name, i)
				}
			}
			assert.Equal(t, n, tr.Len)
		})
	}
}

// TestLinearPlace: Forward computes a linear layer through the hook a
// method puts there, and two methods may not act on one linear layer.
func TestLinearPlace(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	bt := randomBatch(cfg, 1, 5, 2)
	acts := m.NewActs(1, 5)
	base := m.Forward(acts, bt.inputs, bt.targets, bt.mask, 1, 5)
	require.NoError(t, m.Attach(scaleQ{}))
	assert.NotEqual(t, base, m.Forward(acts, bt.inputs, bt.targets, bt.mask, 1, 5), "the hook computes q in layer 0")
	err := m.Attach(scaleQ{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "model.layers.0.self_attn.q_proj")
}

// scaleQ is a test method that doubles the first block's query projection.
type scaleQ struct{}

func (scaleQ) Name() string           { return "scale-q" }
func (scaleQ) Params() []float32      { return nil }
func (scaleQ) Grads() []float32       { return nil }
func (scaleQ) TrainsBase(string) bool { return false }
func (scaleQ) NewPass(rows int) *Pass {
	p := &Pass{Linear: make([][NumTargets]Linear, 2)}
	p.Linear[0][TargetQ] = doubled{}
	return p
}

type doubled struct{}

func (doubled) Forward(_ *Ctx, out, in, w []float32, n int) {
	ic := len(in) / n
	oc := len(w) / ic
	matmul.Forward(out[:n*oc], in[:n*ic], w, nil, n, ic, oc)
	for i := range out[:n*oc] {
		out[i] *= 2
	}
}

func (doubled) Backward(*Ctx, []float32, []float32, []float32, []float32, []float32, int) {}

// named maps tensor names to p's current views (nil where frozen), without rebinding them.
func named(c Config, p *Params) map[string][]float32 {
	views := [][]float32{p.Embed}
	for _, L := range p.Layers {
		views = append(views, L.AttnNorm, L.Wq, L.Wk, L.Wv, L.Wo, L.MLPNorm, L.Wgate, L.Wup, L.Wdown)
	}
	views = append(views, p.Norm)
	if !c.Tied {
		views = append(views, p.LMHead)
	}
	out := map[string][]float32{}
	for i, ti := range c.Tensors() {
		out[ti.Name] = views[i]
	}
	return out
}
