// prefix-layer: prefix tuning (Li & Liang 2021), l_p trainable keys and values
// in every layer, which every query attends to before the sequence's own
// (model.Pass.KV), as Hugging Face PEFT's PREFIX_TUNING hands a Llama model
// its past key values:
//
//	attention(q, [K_p; K], [V_p; V]),  K_p, V_p (l_p, KVD) per layer, trained
//
// Their layout is PEFT's: one vector of 2·L·KVD per virtual token (its
// prompt_embeddings, before get_prompt's view), [k_0, v_0, k_1, v_1, ...],
// each KVD laid out (NKV, HS) as a Llama cache holds a position's keys (PEFT
// sizes token_dim as NKV·HS for grouped-query attention). The keys are read as
// they are, with no rotary embedding, as a Llama cache holds rotated keys;
// the tokens start at position l_p, as Llama counts a cache of l_p past
// positions; the prefix counts against the context (Model.Context is SeqLen -
// l_p).
//
// Optionally (Projection) the prefix is reparametrised during training as Li
// & Liang do, through PEFT's PrefixEncoder MLP: P = tanh(E·W1ᵀ + b1)·W2ᵀ + b2,
// E (l_p, KVD), W1 (H, KVD), W2 (2·L·KVD, H), recomputed at every pass
// (Pass.Begin) and differentiated back to E, W1, W2 after the backward pass
// (Pass.End); once trained only P is kept (PastKeyValues).
//
// Initialisation: without the projection, the keys and values the base
// computes for l_p tokens (random ones, or given ones), so that at the start
// the model is the base reading those tokens before its input (Li & Liang
// found initialising with real words' activations helps); with it, PEFT's
// defaults (E ~ N(0, 1), each Linear uniform in ±1/sqrt(fan_in)). Either
// way the method does not start at the base itself, and it cannot be merged
// into a Llama checkpoint.

package peft

import (
	"fmt"

	"golora/core/mathf"
	"golora/core/matmul"
	"golora/core/model"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// PrefixLayerConfig is prefix tuning's size knob and its reparametrisation.
type PrefixLayerConfig struct {
	Len        int   // l_p, PEFT's num_virtual_tokens (1 .. SeqLen-1)
	Projection bool  // PEFT's prefix_projection: train P through an MLP (Li & Liang's reparametrisation)
	Hidden     int   // the MLP's width, PEFT's encoder_hidden_size (0: KVD, PEFT's default token_dim)
	Init       []int // without the projection: the tokens whose keys and values start the prefix (nil: drawn at random)
}

// ---------------------------------------------------------------- layer

// prefixPass is one pass's prefix: P from the MLP (Projection) and its gradient.
type prefixPass struct {
	p    *PrefixLayer
	z, a []float32 // (l_p, H) the MLP's hidden layer, before and after tanh
	kv   []float32 // (l_p, W) P, W = 2·L·KVD
	dkv  []float32 // (l_p, W) dL/dP, summed over the layers' backward passes
	da   []float32 // (l_p, H) scratch
}

// begin computes P = tanh(E·W1ᵀ + b1)·W2ᵀ + b2 from the current parameters.
func (pp *prefixPass) begin(*model.Ctx) {
	p := pp.p
	E, W1, b1, W2, b2 := p.mlp(p.params)
	lp, K, H, W := p.Len, p.kvd, p.Hidden, p.width()
	matmul.Forward(pp.z, E, W1, b1, lp, K, H)
	for i, z := range pp.z {
		pp.a[i] = mathf.Tanh(z)
	}
	matmul.Forward(pp.kv, pp.a, W2, b2, lp, H, W)
	clear(pp.dkv)
}

// end takes dL/dP back through the MLP into ctx.Grads.
func (pp *prefixPass) end(ctx *model.Ctx) {
	p := pp.p
	E, W1, _, W2, _ := p.mlp(p.params)
	dE, dW1, db1, dW2, db2 := p.mlp(ctx.Grads)
	lp, K, H, W := p.Len, p.kvd, p.Hidden, p.width()
	// forward: P = a·W2ᵀ + b2
	clear(pp.da)
	matmul.Backward(pp.da, dW2, db2, pp.dkv, pp.a, W2, lp, H, W)
	// forward: a = tanh(z); da becomes dz in place
	for i, a := range pp.a {
		pp.da[i] *= 1 - a*a
	}
	// forward: z = E·W1ᵀ + b1
	matmul.Backward(dE, dW1, db1, pp.da, E, W1, lp, K, H)
}

// prefixKV is prefix-layer's hook at the attention's keys and values.
type prefixKV struct{ pp *prefixPass }

// Len is l_p.
func (h prefixKV) Len() int { return h.pp.p.Len }

// Forward copies layer l's keys and values out of P: k[t] = P[t, 2l·KVD:], v[t] = P[t, (2l+1)·KVD:].
func (h prefixKV) Forward(_ *model.Ctx, l int, k, v []float32) {
	p := h.pp.p
	src := p.params
	if p.Projection {
		src = h.pp.kv
	}
	K, W := p.kvd, p.width()
	for t := range p.Len {
		row := src[t*W : (t+1)*W]
		copy(k[t*K:(t+1)*K], row[2*l*K:(2*l+1)*K])
		copy(v[t*K:(t+1)*K], row[(2*l+1)*K:(2*l+2)*K])
	}
}

// Backward adds dk and dv into dL/dP: the parameters' gradients, or the pass's dP for the MLP (End).
func (h prefixKV) Backward(ctx *model.Ctx, l int, dk, dv []float32) {
	p := h.pp.p
	dst := ctx.Grads
	if p.Projection {
		dst = h.pp.dkv
	}
	K, W := p.kvd, p.width()
	for t := range p.Len {
		row := dst[t*W : (t+1)*W]
		// forward: k[t] = P[t, 2l·KVD:], v[t] = P[t, (2l+1)·KVD:]
		for e, d := range dk[t*K : (t+1)*K] {
			row[2*l*K+e] += d
		}
		for e, d := range dv[t*K : (t+1)*K] {
			row[(2*l+1)*K+e] += d
		}
	}
}

// ---------------------------------------------------------------- attach

// PrefixLayer is prefix tuning's keys and values, in every layer.
type PrefixLayer struct {
	Len        int
	Projection bool
	Hidden     int   // the MLP's width (Projection)
	Tokens     []int // the tokens whose keys and values the prefix started as (without the projection)
	layers     int
	kvd        int
	params     []float32
	grads      []float32
}

// width is one virtual token's vector: 2·L·KVD.
func (p *PrefixLayer) width() int { return 2 * p.layers * p.kvd }

// mlp lays E, W1, b1, W2, b2 over buf (Params(), Grads() or a buffer laid out as they are).
func (p *PrefixLayer) mlp(buf []float32) (E, W1, b1, W2, b2 []float32) {
	o := 0
	cut := func(n int) []float32 { s := buf[o : o+n : o+n]; o += n; return s }
	K, H, W := p.kvd, p.Hidden, p.width()
	return cut(p.Len * K), cut(H * K), cut(H), cut(W * H), cut(W)
}

// AddPrefixLayer attaches prefix tuning to m, its prefix starting as the
// base's keys and values of cfg.Init or of Len tokens drawn from r, or (with
// the projection) its MLP drawn from r as PEFT does (all zero with a nil r,
// for loading saved ones). Errors: Len outside 1..SeqLen-1 (less what other
// methods place before the tokens), a negative width, a token outside the vocabulary.
func AddPrefixLayer(m *model.Model, cfg PrefixLayerConfig, r *rng.RNG) (*PrefixLayer, error) {
	c := m.Config
	if cfg.Len < 1 || cfg.Len >= m.Context() {
		return nil, fmt.Errorf("prefix-layer: the prefix length must be between 1 and %d (the context, %d, less one token), got %d",
			m.Context()-1, m.Context(), cfg.Len)
	}
	p := &PrefixLayer{Len: cfg.Len, Projection: cfg.Projection, layers: c.NLayers, kvd: c.KVDim()}
	n := cfg.Len * p.width()
	if cfg.Projection {
		switch {
		case cfg.Hidden < 0:
			return nil, fmt.Errorf("prefix-layer: the MLP's width must be positive (0: %d), got %d", p.kvd, cfg.Hidden)
		case cfg.Hidden == 0:
			p.Hidden = p.kvd
		default:
			p.Hidden = cfg.Hidden
		}
		n = cfg.Len*p.kvd + p.Hidden*p.kvd + p.Hidden + p.width()*p.Hidden + p.width()
	}
	p.params, p.grads = make([]float32, n), make([]float32, n)
	if cfg.Projection {
		if r != nil {
			p.initMLP(r)
		}
	} else {
		var err error
		if p.Tokens, err = initTokens("prefix-layer", cfg.Init, cfg.Len, c.VocabSize, r); err != nil {
			return nil, err
		}
		if p.Tokens != nil {
			p.initFromTokens(m)
		}
	}
	if err := m.Attach(p); err != nil {
		return nil, err
	}
	return p, nil
}

// initMLP draws PEFT's PrefixEncoder defaults: the embedding N(0, 1) (torch's
// Embedding), each Linear's weight and bias uniform in ±1/sqrt(fan_in) (torch's Linear).
func (p *PrefixLayer) initMLP(r *rng.RNG) {
	E, W1, b1, W2, b2 := p.mlp(p.params)
	for i := range E {
		E[i] = r.Normal()
	}
	uniform := func(fanIn int, ws ...[]float32) {
		bound := 1 / mathf.Sqrt(float32(fanIn))
		for _, w := range ws {
			for i := range w {
				w[i] = r.Uniform(-bound, bound)
			}
		}
	}
	uniform(p.kvd, W1, b1)
	uniform(p.Hidden, W2, b2)
}

// initFromTokens sets the prefix to the keys and values the base (m's
// weights, without methods) computes for p.Tokens at positions 0..l_p-1.
func (p *PrefixLayer) initFromTokens(m *model.Model) {
	base := m.Clone()
	acts := base.NewActs(1, p.Len)
	base.Forward(acts, p.Tokens, nil, nil, 1, p.Len)
	K, W := p.kvd, p.width()
	for l := range p.layers {
		A := &acts.Layers[l]
		for t := range p.Len {
			row := p.params[t*W : (t+1)*W]
			copy(row[2*l*K:(2*l+1)*K], A.K[t*K:(t+1)*K])
			copy(row[(2*l+1)*K:(2*l+2)*K], A.V[t*K:(t+1)*K])
		}
	}
}

// Name is "prefix-layer".
func (*PrefixLayer) Name() string { return "prefix-layer" }

// Params is P (l_p, 2·L·KVD), or with the projection E, W1, b1, W2, b2 back to back.
func (p *PrefixLayer) Params() []float32 { return p.params }

// Grads is their gradients.
func (p *PrefixLayer) Grads() []float32 { return p.grads }

// TrainsBase is false: every base weight stays frozen.
func (*PrefixLayer) TrainsBase(string) bool { return false }

// NewPass puts the prefix at the keys and values; with the projection,
// each pass computes P at Begin and takes its gradient through the MLP at End.
func (p *PrefixLayer) NewPass(int) *model.Pass {
	pp := &prefixPass{p: p}
	mp := &model.Pass{KV: prefixKV{pp}}
	if p.Projection {
		W := p.width()
		pp.z, pp.a, pp.da = make([]float32, p.Len*p.Hidden), make([]float32, p.Len*p.Hidden), make([]float32, p.Len*p.Hidden)
		pp.kv, pp.dkv = make([]float32, p.Len*W), make([]float32, p.Len*W)
		mp.Begin, mp.End = pp.begin, pp.end
	}
	return mp
}

// Tensors names P as PEFT saves a prefix tuning adapter, prompt_embeddings
// (l_p, 2·L·KVD); with the projection, PEFT's PrefixEncoder's own tensors:
// embedding.weight (l_p, KVD), transform.0.weight (H, KVD), transform.0.bias
// (H), transform.2.weight (2·L·KVD, H), transform.2.bias (2·L·KVD).
func (p *PrefixLayer) Tensors() []Tensor {
	W := p.width()
	if !p.Projection {
		return []Tensor{{Name: "prompt_embeddings", Shape: []int{p.Len, W}, Off: 0}}
	}
	K, H := p.kvd, p.Hidden
	var ts []Tensor
	o := 0
	for _, t := range []Tensor{{"embedding.weight", []int{p.Len, K}, 0}, {"transform.0.weight", []int{H, K}, 0},
		{"transform.0.bias", []int{H}, 0}, {"transform.2.weight", []int{W, H}, 0}, {"transform.2.bias", []int{W}, 0}} {
		t.Off = o
		o += t.Len()
		ts = append(ts, t)
	}
	return ts
}

// PastKeyValues is the prefix as PEFT saves it, prompt_embeddings (l_p,
// 2·L·KVD): the parameters themselves, or the projection's output for the
// current parameters (what Li & Liang keep after training).
func (p *PrefixLayer) PastKeyValues() []float32 {
	if !p.Projection {
		return append([]float32(nil), p.params...)
	}
	pp := &prefixPass{p: p, z: make([]float32, p.Len*p.Hidden), a: make([]float32, p.Len*p.Hidden),
		kv: make([]float32, p.Len*p.width()), dkv: make([]float32, p.Len*p.width())}
	pp.begin(nil)
	return pp.kv
}

// WhyNotMerged: the keys and values are extra positions.
func (*PrefixLayer) WhyNotMerged() string {
	return "its keys and values are extra attention positions, which no weight of a Llama checkpoint can hold (they also take l_p positions of the context)"
}

// PrefixLayerParams is the formula prefix-layer's trainable count follows on
// c: l_p·2·L·KVD; with the projection, the MLP's l_p·KVD + H·KVD + H +
// 2·L·KVD·H + 2·L·KVD instead (hidden 0: KVD).
func PrefixLayerParams(c model.Config, lp int, projection bool, hidden int) int {
	K, W := c.KVDim(), 2*c.NLayers*c.KVDim()
	if !projection {
		return lp * W
	}
	if hidden == 0 {
		hidden = K
	}
	return lp*K + hidden*K + hidden + W*hidden + W
}
