// BitFit (Ben Zaken et al. 2022) trains only a model's biases. Llama's linear
// layers have none and its norms have no shift, so golora's BitFit trains
// what plays their part: every RMSNorm gain (a per-channel scale, the only
// per-channel parameters Llama has) and a bias added to each adapted linear
// layer, initialised to zero so that training starts at the base (x·Wᵀ + 0).
// So BitFit's claim here reads "per-channel scales and shifts suffice", with
// new shift parameters rather than the base's own; the biases cannot be
// merged into a bias-free Llama checkpoint, so BitFit is not a Merger.

package peft

import (
	"fmt"
	"strings"

	"golora/core/matmul"
	"golora/core/model"
)

// ---------------------------------------------------------------- config

// BitFitConfig is which linear layers get a bias (all seven by default).
type BitFitConfig struct {
	Targets []model.Target
}

// ---------------------------------------------------------------- layer

// biasLinear computes out = in·Wᵀ + b and its backward, db = Σ_n dout.
type biasLinear struct {
	off, out int // b's place in the BitFit's flat buffers, and its length (the layer's Out)
	b        []float32
}

// Forward: out = in·W0ᵀ + b.
func (h *biasLinear) Forward(_ *model.Ctx, out, in, w []float32, n int) {
	matmul.Forward(out[:n*h.out], in, w, h.b, n, len(w)/h.out, h.out)
}

// Backward: din += dout·W0, dw += doutᵀ·in (when W0 trains), db += Σ_n dout.
func (h *biasLinear) Backward(ctx *model.Ctx, din, dw, dout, in, w []float32, n int) {
	db := ctx.Grads[h.off : h.off+h.out]
	matmul.Backward(din, dw, db, dout[:n*h.out], in, w, n, len(w)/h.out, h.out)
}

// ---------------------------------------------------------------- attach

// BitFit is the added biases (its own parameters) and the RMSNorm gains (base weights it trains).
type BitFit struct {
	Targets []model.Target
	Biases  []Bias
	params  []float32
	grads   []float32
	layers  int
}

// Bias is one added bias: the layer and target it shifts and its values (a view into Params()).
type Bias struct {
	Module string
	Layer  int
	Target model.Target
	B, DB  []float32
	off    int
}

// AddBitFit attaches BitFit to m: zero biases on cfg.Targets in every layer.
func AddBitFit(m *model.Model, cfg BitFitConfig) (*BitFit, error) {
	if len(cfg.Targets) == 0 {
		return nil, fmt.Errorf("bitfit: at least one target is needed")
	}
	bf := &BitFit{Targets: append([]model.Target(nil), cfg.Targets...), layers: m.Config.NLayers}
	total := 0
	for l := range m.Config.NLayers {
		for _, t := range cfg.Targets {
			_, out := m.Config.Shape(t)
			bf.Biases = append(bf.Biases, Bias{Module: t.Module(l), Layer: l, Target: t, off: total})
			total += out
		}
	}
	bf.params, bf.grads = make([]float32, total), make([]float32, total)
	for i := range bf.Biases {
		b := &bf.Biases[i]
		_, out := m.Config.Shape(b.Target)
		b.B, b.DB = bf.params[b.off:b.off+out:b.off+out], bf.grads[b.off:b.off+out:b.off+out]
	}
	if err := m.Attach(bf); err != nil {
		return nil, err
	}
	return bf, nil
}

// Name is "bitfit".
func (*BitFit) Name() string { return "bitfit" }

// Params is every added bias, back to back (layer by layer, targets in block order).
func (bf *BitFit) Params() []float32 { return bf.params }

// Grads is their gradients.
func (bf *BitFit) Grads() []float32 { return bf.grads }

// TrainsBase is true for the RMSNorm gains: input_layernorm, post_attention_layernorm, model.norm.
func (*BitFit) TrainsBase(name string) bool {
	return strings.HasSuffix(name, "layernorm.weight") || name == "model.norm.weight"
}

// NewPass gives every biased layer its hook.
func (bf *BitFit) NewPass(int) *model.Pass {
	p := &model.Pass{Linear: make([][model.NumTargets]model.Linear, bf.layers)}
	for _, b := range bf.Biases {
		p.Linear[b.Layer][b.Target] = &biasLinear{off: b.off, out: len(b.B), b: b.B}
	}
	return p
}

// BitFitParams is the formula BitFit's trainable count follows on c: the
// 2·L + 1 RMSNorm gains of C, and each biased layer's Out in every layer.
func BitFitParams(c model.Config, targets []model.Target) int {
	n := (2*c.NLayers + 1) * c.Dim
	for _, t := range targets {
		_, out := c.Shape(t)
		n += c.NLayers * out
	}
	return n
}
