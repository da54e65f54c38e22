// Package model is golora's Llama-style decoder: token embedding, L blocks of
// [RMSNorm -> q, k, v -> RoPE -> causal grouped-query attention -> o ->
// residual -> RMSNorm -> SwiGLU MLP (gate, up, down) -> residual], a final
// RMSNorm and a classifier tied to the embedding or separate. Forward and
// Backward are orchestration only: the math lives in core/nn and core/matmul,
// and LoRA's update in core/lora.
//
// Three structs with distinct roles, as in llama2.c: Config (the blueprint),
// Params (the weights, one flat buffer with named views) and Acts (the wave of
// activations one batch leaves behind for the backward pass).
package model

import (
	"fmt"

	"golora/core/lora"
	"golora/core/mathf"
	"golora/core/nn"
	"golora/core/rng"
)

// Model is a decoder's weights plus, optionally, LoRA adapters over them.
type Model struct {
	Name   string
	Config Config
	Params *Params
	LoRA   *lora.Set // nil when no adapters are attached

	adapters [][NumTargets]*lora.Adapter // (L) adapter per target, nil where none
	merged   bool                        // adapters folded into Params (inference only)
	rope     *nn.RoPE
}

// New returns a model with zeroed weights, or an error if cfg is invalid.
func New(name string, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Model{Name: name, Config: cfg, Params: NewParams(cfg),
		rope: nn.NewRoPE(cfg.SeqLen, cfg.HeadSize(), cfg.RopeBase)}, nil
}

// NumParams is the number of base parameters (adapters not included).
func (m *Model) NumParams() int { return len(m.Params.Data) }

// Init draws fresh weights for pretraining (GPT-2's recipe): every matrix
// N(0, 0.02), the projections that write into the residual stream (o, down)
// scaled down by sqrt(2L), norm weights 1.
func (m *Model) Init(r *rng.RNG) {
	const std = 0.02
	resid := std / mathf.Sqrt(float32(2*m.Config.NLayers))
	normal := func(w []float32, s float32) {
		for i := range w {
			w[i] = s * r.Normal()
		}
	}
	ones := func(w []float32) {
		for i := range w {
			w[i] = 1
		}
	}
	p := m.Params
	normal(p.Embed, std)
	for l := range p.Layers {
		L := &p.Layers[l]
		ones(L.AttnNorm)
		normal(L.Wq, std)
		normal(L.Wk, std)
		normal(L.Wv, std)
		normal(L.Wo, resid)
		ones(L.MLPNorm)
		normal(L.Wgate, std)
		normal(L.Wup, std)
		normal(L.Wdown, resid)
	}
	ones(p.Norm)
	if !m.Config.Tied {
		normal(p.LMHead, std)
	}
}

// Clone returns a deep copy of the base weights, without adapters.
func (m *Model) Clone() *Model {
	c, err := New(m.Name, m.Config)
	if err != nil {
		panic("model: cloning a model whose config does not validate: " + err.Error())
	}
	copy(c.Params.Data, m.Params.Data)
	return c
}

// AddLoRA attaches fresh adapters (A random, B zero) to targets in every layer.
// Errors: adapters already attached, or an invalid rank/alpha/dropout.
func (m *Model) AddLoRA(cfg lora.Config, targets []Target, r *rng.RNG) error {
	if m.LoRA != nil {
		return fmt.Errorf("model: LoRA adapters are already attached")
	}
	if len(targets) == 0 {
		return fmt.Errorf("model: LoRA needs at least one target")
	}
	var shapes []lora.Shape
	for l := range m.Config.NLayers {
		for _, t := range targets {
			in, out := m.Config.Shape(t)
			shapes = append(shapes, lora.Shape{Module: t.Module(l), In: in, Out: out})
		}
	}
	set, err := lora.NewSet(cfg, shapes, r)
	if err != nil {
		return err
	}
	m.LoRA = set
	m.adapters = make([][NumTargets]*lora.Adapter, m.Config.NLayers)
	i := 0
	for l := range m.Config.NLayers {
		for _, t := range targets {
			m.adapters[l][t] = set.Adapters[i]
			i++
		}
	}
	return nil
}

// Adapter returns the adapter on target t of layer l, or nil.
func (m *Model) Adapter(l int, t Target) *lora.Adapter {
	if m.adapters == nil {
		return nil
	}
	return m.adapters[l][t]
}

// Targets lists the adapted targets (empty without LoRA).
func (m *Model) Targets() []Target {
	var ts []Target
	if len(m.adapters) == 0 {
		return ts
	}
	for t, a := range m.adapters[0] {
		if a != nil {
			ts = append(ts, Target(t))
		}
	}
	return ts
}

// Merged reports whether the adapters are folded into the base weights.
func (m *Model) Merged() bool { return m.merged }

// Merge folds every adapter into its base weight: W = W0 + scaling * B A.
// Afterwards the forward pass no longer applies the adapters separately.
func (m *Model) Merge() error {
	if m.LoRA == nil {
		return fmt.Errorf("model: no LoRA adapters to merge")
	}
	if m.merged {
		return fmt.Errorf("model: adapters are already merged")
	}
	m.eachAdapter(func(a *lora.Adapter, w []float32) { a.Merge(w) })
	m.merged = true
	return nil
}

// Unmerge subtracts the adapters back out of the base weights.
func (m *Model) Unmerge() error {
	if !m.merged {
		return fmt.Errorf("model: adapters are not merged")
	}
	m.eachAdapter(func(a *lora.Adapter, w []float32) { a.Unmerge(w) })
	m.merged = false
	return nil
}

func (m *Model) eachAdapter(f func(a *lora.Adapter, w []float32)) {
	m.eachAdapterAt(func(_ int, _ Target, a *lora.Adapter, w []float32) { f(a, w) })
}

// eachAdapterAt calls f for every adapter with its layer, target and base weight.
func (m *Model) eachAdapterAt(f func(l int, t Target, a *lora.Adapter, w []float32)) {
	for l := range m.adapters {
		for t, a := range m.adapters[l] {
			if a != nil {
				f(l, Target(t), a, m.Params.Layers[l].Weight(Target(t)))
			}
		}
	}
}

// fuseAdapters writes each adapter's fused weight, W0 + scaling·B·A
// (lora.Adapter.Fuse), into dst(l, t) for layer l and target t.
func (m *Model) fuseAdapters(dst func(l int, t Target) []float32) {
	m.eachAdapterAt(func(l int, t Target, a *lora.Adapter, w []float32) { a.Fuse(dst(l, t), w) })
}

// active returns the adapter to apply on the fly (nil when merged or absent).
func (m *Model) active(l int, t Target) *lora.Adapter {
	if m.merged || m.adapters == nil {
		return nil
	}
	return m.adapters[l][t]
}
