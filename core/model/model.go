// Package model is golora's Llama-style decoder: token embedding, L blocks of
// [RMSNorm -> q, k, v -> RoPE -> causal grouped-query attention -> o ->
// residual -> RMSNorm -> SwiGLU MLP (gate, up, down) -> residual], a final
// RMSNorm and a classifier tied to the embedding or separate. Forward and
// Backward are orchestration only: the math lives in core/nn and core/matmul,
// and each fine-tuning method's in core/peft, which acts at the places this
// package offers (place.go).
//
// Three structs with distinct roles, as in llama2.c: Config (the blueprint),
// Params (the weights, one flat buffer with named views) and Acts (the wave of
// activations one batch leaves behind for the backward pass).
package model

import (
	"golora/core/mathf"
	"golora/core/nn"
	"golora/core/rng"
)

// Model is a decoder's weights plus the fine-tuning methods attached to it.
type Model struct {
	Name   string
	Config Config
	Params *Params

	methods []Method // attached (Attach), in order
	hooked  []bool   // per method: it acts at some place (else it trains base weights only)
	lead    leads    // positions the methods place before the tokens
	merged  bool     // the methods are folded into Params (inference only)
	rope    *nn.RoPE
}

// New returns a model with zeroed weights, or an error if cfg is invalid.
func New(name string, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Model{Name: name, Config: cfg, Params: NewParams(cfg),
		rope: nn.NewRoPE(cfg.SeqLen, cfg.HeadSize(), cfg.RopeBase)}, nil
}

// NumParams is the number of base parameters (methods' own not included).
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

// Clone returns a deep copy of the base weights, without the attached methods.
func (m *Model) Clone() *Model {
	c, err := New(m.Name, m.Config)
	if err != nil {
		panic("model: cloning a model whose config does not validate: " + err.Error())
	}
	copy(c.Params.Data, m.Params.Data)
	return c
}
