// Params: every weight of the model in one flat buffer, with named views in Hugging Face Llama naming.
package model

import "fmt"

// Params holds the weights as views into one flat buffer (Data), so an
// optimizer can treat them as one vector. The same type holds gradients.
type Params struct {
	Data   []float32 // everything below, back to back, in Tensors() order
	Embed  []float32 // (V, C)  model.embed_tokens.weight
	Layers []Layer   // (L)
	Norm   []float32 // (C)     model.norm.weight
	LMHead []float32 // (V, C)  lm_head.weight; the same slice as Embed when tied
}

// Layer is one transformer block's weights (PyTorch (out, in) layout).
type Layer struct {
	AttnNorm []float32 // (C)       input_layernorm.weight
	Wq       []float32 // (C, C)    self_attn.q_proj.weight
	Wk       []float32 // (KVD, C)  self_attn.k_proj.weight
	Wv       []float32 // (KVD, C)  self_attn.v_proj.weight
	Wo       []float32 // (C, C)    self_attn.o_proj.weight
	MLPNorm  []float32 // (C)       post_attention_layernorm.weight
	Wgate    []float32 // (H, C)    mlp.gate_proj.weight (llama2.c w1)
	Wup      []float32 // (H, C)    mlp.up_proj.weight   (llama2.c w3)
	Wdown    []float32 // (C, H)    mlp.down_proj.weight (llama2.c w2)
}

// TensorInfo names one view of Params and gives its shape.
type TensorInfo struct {
	Name  string
	Shape []int
}

// Tensors lists every parameter tensor in storage order, with Hugging Face Llama names.
func (c Config) Tensors() []TensorInfo {
	C, H, KVD, V := c.Dim, c.HiddenDim, c.KVDim(), c.VocabSize
	ts := []TensorInfo{{"model.embed_tokens.weight", []int{V, C}}}
	for l := range c.NLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		ts = append(ts,
			TensorInfo{p + "input_layernorm.weight", []int{C}},
			TensorInfo{p + "self_attn.q_proj.weight", []int{C, C}},
			TensorInfo{p + "self_attn.k_proj.weight", []int{KVD, C}},
			TensorInfo{p + "self_attn.v_proj.weight", []int{KVD, C}},
			TensorInfo{p + "self_attn.o_proj.weight", []int{C, C}},
			TensorInfo{p + "post_attention_layernorm.weight", []int{C}},
			TensorInfo{p + "mlp.gate_proj.weight", []int{H, C}},
			TensorInfo{p + "mlp.up_proj.weight", []int{H, C}},
			TensorInfo{p + "mlp.down_proj.weight", []int{C, H}},
		)
	}
	ts = append(ts, TensorInfo{"model.norm.weight", []int{C}})
	if !c.Tied {
		ts = append(ts, TensorInfo{"lm_head.weight", []int{V, C}})
	}
	return ts
}

// NumParams is the number of scalar parameters (a tied classifier counted once).
func (c Config) NumParams() int {
	n := 0
	for _, t := range c.Tensors() {
		n += numel(t.Shape)
	}
	return n
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// NewParams allocates zeroed parameters (or gradients) for c.
func NewParams(c Config) *Params {
	p := &Params{Data: make([]float32, c.NumParams())}
	p.Views(c)
	return p
}

// Views binds the named slices to Data and returns them by name, in storage order.
func (p *Params) Views(c Config) map[string][]float32 {
	byName := make(map[string][]float32)
	off := 0
	take := func(name string, shape []int) []float32 {
		n := numel(shape)
		s := p.Data[off : off+n : off+n]
		off += n
		byName[name] = s
		return s
	}
	ts := c.Tensors()
	i := 0
	next := func() []float32 { t := ts[i]; i++; return take(t.Name, t.Shape) }
	p.Embed = next()
	p.Layers = make([]Layer, c.NLayers)
	for l := range p.Layers {
		L := &p.Layers[l]
		L.AttnNorm, L.Wq, L.Wk, L.Wv, L.Wo = next(), next(), next(), next(), next()
		L.MLPNorm, L.Wgate, L.Wup, L.Wdown = next(), next(), next(), next()
	}
	p.Norm = next()
	if c.Tied {
		p.LMHead = p.Embed
	} else {
		p.LMHead = next()
	}
	return byName
}

// Weight returns the weight matrix a LoRA target adapts in layer l.
func (L *Layer) Weight(t Target) []float32 {
	switch t {
	case TargetQ:
		return L.Wq
	case TargetK:
		return L.Wk
	case TargetV:
		return L.Wv
	case TargetO:
		return L.Wo
	case TargetGate:
		return L.Wgate
	case TargetUp:
		return L.Wup
	case TargetDown:
		return L.Wdown
	}
	panic("model: unknown target")
}

// NormSpans returns the [lo, hi) offsets in Params.Data of every RMSNorm
// weight (the parameters an optimizer should not decay).
func (c Config) NormSpans() [][2]int {
	var spans [][2]int
	off := 0
	for _, t := range c.Tensors() {
		n := numel(t.Shape)
		if len(t.Shape) == 1 {
			spans = append(spans, [2]int{off, off + n})
		}
		off += n
	}
	return spans
}
