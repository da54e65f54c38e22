// Package ref is a float64 reference of golora's Llama-style model, written
// plainly loop by loop with no kernel of core/nn or core/matmul, for
// finite-difference gradient checks: its rounding (about 1e-16 of the loss)
// divided by the step is far below any error of a float32 gradient, where the
// float32 loss's rounding (about 1e-7) divided by the step drowned errors of
// a percent. A fine-tuning method's checks put their own float64 version of
// the method at the model's places (Linear, Input, KV, Sublayer), with the
// position and mask rules core/model documents for them. It imports nothing
// of golora, so core/model's own tests can use it.
package ref

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"golora/core/rng"
)

// Config is the blueprint (core/model.Config's fields).
type Config struct {
	Dim, HiddenDim, NLayers, NHeads, NKVHeads, VocabSize, SeqLen int
	Tied                                                         bool
	NormEps                                                      float32
	RopeBase                                                     float64
}

func (c Config) headSize() int { return c.Dim / c.NHeads }
func (c Config) kvDim() int    { return c.NKVHeads * c.headSize() }

// The linear layers of a block, in core/model's Target order.
const (
	TargetQ = iota
	TargetK
	TargetV
	TargetO
	TargetGate
	TargetUp
	TargetDown
	NumTargets
)

var targetModules = [NumTargets]string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
	"self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}

// Module is target t's module path in layer l (Hugging Face Llama naming).
func Module(l, t int) string { return fmt.Sprintf("model.layers.%d.%s", l, targetModules[t]) }

// LinearFunc computes a linear layer: y (N, Out) from x (N, In) and the base weight w (Out, In).
type LinearFunc func(y, x, w []float64, n, in, out int)

// Model is the reference: weights in float64 and the places' hooks.
type Model struct {
	cfg    Config
	Params []float64            // the weights, laid out as the float32 model's (a gradient's index is its weight's)
	W      map[string][]float64 // views of Params by tensor name
	// Linear holds, per layer and target, the method's version of that layer (nil: y = x·Wᵀ).
	Linear [][NumTargets]LinearFunc
	// Input, when set, returns the rows (P, C) placed before every
	// sequence's tokens: they take positions 0..P-1 (after KV's), the tokens
	// follow, and no loss is computed at them.
	Input func() []float64
	// KV, when set, returns layer l's leading keys and values (P, KVD) each,
	// which every query attends to, read without rotation; the sequence's
	// own positions start at P.
	KV func(l int) (k, v []float64)
	// Sublayer holds, per layer, the transforms of the attention's output
	// ([0]) and the MLP's ([1]) before each residual add, h = f(h) in place
	// over n rows (nil: none).
	Sublayer [][2]func(h []float64, n int)
	// EmbedRow and HeadRow, when set, give a token's embedding row and a
	// vocabulary entry's classifier row (C) in place of the base's: the token
	// rows' place (a method training some rows puts its own there).
	EmbedRow func(tok int) []float64
	HeadRow  func(v int) []float64

	embed  []float64
	layers []refLayer
	norm   []float64 // (C)
	head   []float64 // (V, C), embed when tied
	cos    []float64 // (SeqLen, HS/2) the rotary angles pos·base^(-2i/HS)
	sin    []float64

	// scratch, sized for the batch at the first loss
	x, ln, q, k, v, y, o []float64 // (N, C) or (N, KVD)
	g, u                 []float64 // (N, H)
	p, logits            []float64 // (T), (V)
}

// refLayer is one block's weights (views of Params).
type refLayer struct {
	attnNorm, mlpNorm []float64
	w                 [NumTargets][]float64
}

// New copies weights (in the order of names, each of shapes' size) into a reference.
func New(c Config, names []string, shapes [][]int, weights []float32) *Model {
	r := &Model{cfg: c, Params: make([]float64, len(weights)), W: map[string][]float64{},
		Linear: make([][NumTargets]LinearFunc, c.NLayers), Sublayer: make([][2]func([]float64, int), c.NLayers)}
	for i, v := range weights {
		r.Params[i] = float64(v)
	}
	off := 0
	for i, name := range names {
		n := 1
		for _, d := range shapes[i] {
			n *= d
		}
		r.W[name] = r.Params[off : off+n]
		off += n
	}
	r.embed, r.norm = r.W["model.embed_tokens.weight"], r.W["model.norm.weight"]
	r.head = r.embed
	if !c.Tied {
		r.head = r.W["lm_head.weight"]
	}
	r.layers = make([]refLayer, c.NLayers)
	for l := range r.layers {
		L := &r.layers[l]
		pre := fmt.Sprintf("model.layers.%d.", l)
		L.attnNorm, L.mlpNorm = r.W[pre+"input_layernorm.weight"], r.W[pre+"post_attention_layernorm.weight"]
		for tg := range NumTargets {
			L.w[tg] = r.W[Module(l, tg)+".weight"]
		}
	}
	half := c.headSize() / 2
	r.cos, r.sin = make([]float64, c.SeqLen*half), make([]float64, c.SeqLen*half)
	for pos := range c.SeqLen {
		for i := range half {
			ang := float64(pos) * math.Pow(c.RopeBase, -float64(2*i)/float64(2*half))
			r.cos[pos*half+i], r.sin[pos*half+i] = math.Cos(ang), math.Sin(ang)
		}
	}
	return r
}

// Plain sets y (N, Out) = x (N, In) · wᵀ.
func Plain(y, x, w []float64, n, in, out int) {
	for i := range n {
		xi := x[i*in : (i+1)*in]
		for o := range out {
			wo := w[o*in : (o+1)*in]
			var s float64
			for k, v := range xi {
				s += v * wo[k]
			}
			y[i*out+o] = s
		}
	}
}

// linear computes layer l's target tg: through its hook when it has one.
func (r *Model) linear(y, x []float64, l, tg, n, in, out int) {
	w := r.layers[l].w[tg]
	if f := r.Linear[l][tg]; f != nil {
		f(y, x, w, n, in, out)
		return
	}
	Plain(y, x, w, n, in, out)
}

// rmsnorm sets y = x / sqrt(mean(x²) + eps) · w, row by row.
func (r *Model) rmsnorm(y, x, w []float64, n int) {
	C := r.cfg.Dim
	for i := range n {
		xi := x[i*C : (i+1)*C]
		var ss float64
		for _, v := range xi {
			ss += v * v
		}
		rs := 1 / math.Sqrt(ss/float64(C)+float64(r.cfg.NormEps))
		for j, v := range xi {
			y[i*C+j] = v * rs * w[j]
		}
	}
}

// rope rotates each pair (2i, 2i+1) of every head of x (B, T, heads·HS) by
// pos·base^(-2i/HS), row t of a sequence at position pos0+t.
func (r *Model) rope(x []float64, b, t, heads, pos0 int) {
	HS := r.cfg.headSize()
	half := HS / 2
	for bt := range b * t {
		pos := pos0 + bt%t
		for h := range heads {
			for i := range half {
				c, s := r.cos[pos*half+i], r.sin[pos*half+i]
				p := x[(bt*heads+h)*HS+2*i:]
				p[0], p[1] = p[0]*c-p[1]*s, p[0]*s+p[1]*c
			}
		}
	}
}

// attention sets y to causal softmax(q·kᵀ/sqrt(HS))·v; query head h reads
// kv head h/(NH/NKV). k and v hold pk leading keys and values before each
// sequence's t own ((B, pk+t, KVD)), and query i attends to keys 0..pk+i.
func (r *Model) attention(y, q, k, v []float64, b, t, pk int) {
	c := r.cfg
	NH, NKV, HS := c.NHeads, c.NKVHeads, c.headSize()
	C, KVD := c.Dim, c.kvDim()
	tk := pk + t
	clear(y[:b*t*C])
	p := r.p
	for s := range b {
		for h := range NH {
			kh := h / (NH / NKV)
			for i := range t {
				qi := q[(s*t+i)*C+h*HS : (s*t+i)*C+(h+1)*HS]
				top := math.Inf(-1)
				for j := 0; j <= pk+i; j++ {
					kj := k[(s*tk+j)*KVD+kh*HS : (s*tk+j)*KVD+(kh+1)*HS]
					var d float64
					for e, qe := range qi {
						d += qe * kj[e]
					}
					p[j] = d / math.Sqrt(float64(HS))
					top = math.Max(top, p[j])
				}
				var z float64
				for j := 0; j <= pk+i; j++ {
					p[j] = math.Exp(p[j] - top)
					z += p[j]
				}
				yi := y[(s*t+i)*C+h*HS : (s*t+i)*C+(h+1)*HS]
				for j := 0; j <= pk+i; j++ {
					vj := v[(s*tk+j)*KVD+kh*HS : (s*tk+j)*KVD+(kh+1)*HS]
					for e, ve := range vj {
						yi[e] += p[j] / z * ve
					}
				}
			}
		}
	}
}

// Loss is the model's loss: the mean cross-entropy of the positions with a
// target, weighted by mask (nil: weight 1).
func (r *Model) Loss(inputs, targets []int, mask []float32, b, t int) float64 {
	c := r.cfg
	C, KVD, H, V := c.Dim, c.kvDim(), c.HiddenDim, c.VocabSize
	var rows []float64
	if r.Input != nil {
		rows = r.Input()
	}
	pre, pk := len(rows)/C, 0 // rows before the tokens; leading keys and values
	if r.KV != nil {
		k0, _ := r.KV(0)
		pk = len(k0) / KVD
	}
	tt := pre + t // rows per sequence
	N := b * tt
	if len(r.x) < N*C || len(r.k) < b*(pk+tt)*KVD || len(r.p) < pk+tt {
		f := func(n int) []float64 { return make([]float64, n) }
		r.x, r.ln, r.q, r.y, r.o = f(N*C), f(N*C), f(N*C), f(N*C), f(N*C)
		r.k, r.v, r.g, r.u = f(b*(pk+tt)*KVD), f(b*(pk+tt)*KVD), f(N*H), f(N*H)
		r.p, r.logits = f(pk+tt), f(V)
	}
	x, ln, o := r.x[:N*C], r.ln[:N*C], r.o[:N*C]
	for s := range b {
		copy(x[s*tt*C:(s*tt+pre)*C], rows)
		for i, tok := range inputs[s*t : (s+1)*t] {
			at := s*tt + pre + i
			row := r.embed[tok*C : (tok+1)*C]
			if r.EmbedRow != nil {
				row = r.EmbedRow(tok)
			}
			copy(x[at*C:(at+1)*C], row)
		}
	}
	add := func(a, b []float64) {
		for i := range a {
			a[i] += b[i]
		}
	}
	// spread puts layer l's leading keys and values before each sequence's own.
	spread := func(kv []float64, lead []float64) {
		tk := pk + tt
		for s := b - 1; s >= 0; s-- {
			copy(kv[(s*tk+pk)*KVD:(s+1)*tk*KVD], kv[s*tt*KVD:(s+1)*tt*KVD])
			copy(kv[s*tk*KVD:(s*tk+pk)*KVD], lead)
		}
	}
	sub := func(l, k int, h []float64) {
		if f := r.Sublayer[l][k]; f != nil {
			f(h, N)
		}
	}
	for l := range r.layers {
		L := &r.layers[l]
		r.rmsnorm(ln, x, L.attnNorm, N)
		r.linear(r.q, ln, l, TargetQ, N, C, C)
		r.linear(r.k, ln, l, TargetK, N, C, KVD)
		r.linear(r.v, ln, l, TargetV, N, C, KVD)
		r.rope(r.q, b, tt, c.NHeads, pk)
		r.rope(r.k, b, tt, c.NKVHeads, pk)
		if pk > 0 {
			lk, lv := r.KV(l)
			spread(r.k, lk)
			spread(r.v, lv)
		}
		r.attention(r.y, r.q, r.k, r.v, b, tt, pk)
		r.linear(o, r.y, l, TargetO, N, C, C)
		sub(l, 0, o)
		add(x, o)
		r.rmsnorm(ln, x, L.mlpNorm, N)
		r.linear(r.g, ln, l, TargetGate, N, C, H)
		r.linear(r.u, ln, l, TargetUp, N, C, H)
		for i, gi := range r.g[:N*H] {
			r.g[i] = gi / (1 + math.Exp(-gi)) * r.u[i] // silu(g)·u
		}
		r.linear(o, r.g, l, TargetDown, N, H, C)
		sub(l, 1, o)
		add(x, o)
	}
	r.rmsnorm(ln, x, r.norm, N)
	var num, den float64
	logits := r.logits
	for j, tg := range targets {
		if tg < 0 {
			continue
		}
		i := j + (j/t+1)*pre // token j's row
		w := 1.0
		if mask != nil {
			w = float64(mask[j])
		}
		top := math.Inf(-1)
		for o := range V {
			ho := r.head[o*C : (o+1)*C]
			if r.HeadRow != nil {
				ho = r.HeadRow(o)
			}
			var s float64
			for e, v := range ln[i*C : (i+1)*C] {
				s += v * ho[e]
			}
			logits[o] = s
			top = math.Max(top, s)
		}
		var z float64
		for _, s := range logits {
			z += math.Exp(s - top)
		}
		num += w * (top + math.Log(z) - logits[tg])
		den += w
	}
	return num / den
}

// GradTol bounds a float32 gradient's error, relative to the largest
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
const GradTol = 5e-5

// GradStep is the central difference's step on the float64 reference.
const GradStep = 1e-5

// GradCheck compares a float32 gradient with central differences of the
// float64 reference loss: for every entry when the tensor has at most samples
// entries, else for samples of them drawn at random, plus two random unit
// directions over the whole tensor (the directional derivative g·v against
// (L(θ+hv) - L(θ-hv)) / 2h), which see an error in any entry the sample missed.
// param is the reference's copy of the tensor, perturbed in place.
func GradCheck(t *testing.T, what string, param []float64, grad []float32, loss func() float64, samples int) {
	t.Helper()
	r := rng.New(7)
	idx := r.Perm(len(param))
	if len(idx) > samples {
		idx = idx[:samples]
	}
	nums := make([]float64, len(idx))
	for k, i := range idx {
		old := param[i]
		param[i] = old + GradStep
		lp := loss()
		param[i] = old - GradStep
		lm := loss()
		param[i] = old
		nums[k] = (lp - lm) / (2 * GradStep)
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
	assert.Less(t, worst, GradTol, "%s: gradient error at index %d, relative to the tensor's largest gradient", what, worstIdx)
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
		num := (step(GradStep) - step(-GradStep)) / (2 * GradStep)
		copy(param, base)
		// |e·v| for a unit v is at most |e|: the bound scales with the gradient's norm.
		e := math.Abs(num-ana) / math.Max(norm, math.Abs(num))
		t.Logf("%s: direction %d: error %.2e of the gradient's norm %.3g", what, d, e, norm)
		assert.Less(t, e, GradTol, "%s: directional derivative %d, error relative to the gradient's norm", what, d)
	}
}
