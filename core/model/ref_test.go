// A float64 reference of the model's forward pass, written plainly, for the finite-difference gradient checks.
package model

import (
	"fmt"
	"math"
)

// ref is the model's loss in float64, loop by loop, with no kernel of core/nn
// or core/matmul. The gradient checks difference it: its rounding (about
// 1e-16 of the loss) divided by the step is far below any error of a float32
// gradient, where the float32 loss's rounding (about 1e-7) divided by the
// step drowned errors of a percent.
type ref struct {
	cfg      Config
	params   []float64            // the model's weights, laid out as Params.Data (a gradient's index is its weight's)
	lora     []float64            // the adapters' A and B, laid out as the Set's Params; nil without adapters
	w        map[string][]float64 // views of params by tensor name
	embed    []float64            // views of params: (V, C)
	layers   []refLayer
	norm     []float64 // (C)
	head     []float64 // (V, C), embed when tied
	cos, sin []float64 // (SeqLen, HS/2) the rotary angles pos·base^(-2i/HS)

	// scratch, sized for the batch at the first loss
	x, ln, q, k, v, y, o []float64 // (N, C) or (N, KVD)
	g, u                 []float64 // (N, H)
	p, logits, lu        []float64 // (T), (V), (R)
}

// refLayer is one block's weights (views of ref.params) and adapters.
type refLayer struct {
	attnNorm, mlpNorm []float64
	w                 [NumTargets][]float64 // the weight each target names
	ad                [NumTargets]*refAdapter
}

// refAdapter is one adapter: A (R, In) and B (Out, R), views of ref.lora.
type refAdapter struct {
	a, b    []float64
	rank    int
	scaling float64
	keep    []float64 // (N, In) the dropout mask of the model's last Forward; nil without dropout
}

// newRef copies m's weights and adapters (with the dropout masks of acts'
// last Forward, when that pass dropped out) into a float64 reference.
func newRef(m *Model, acts *Acts) *ref {
	c := m.Config
	r := &ref{cfg: c, params: make([]float64, len(m.Params.Data)), w: map[string][]float64{}}
	for i, v := range m.Params.Data {
		r.params[i] = float64(v)
	}
	off := 0
	for _, ti := range c.Tensors() {
		n := numel(ti.Shape)
		r.w[ti.Name] = r.params[off : off+n]
		off += n
	}
	r.embed, r.norm = r.w["model.embed_tokens.weight"], r.w["model.norm.weight"]
	r.head = r.embed
	if !c.Tied {
		r.head = r.w["lm_head.weight"]
	}
	r.layers = make([]refLayer, c.NLayers)
	for l := range r.layers {
		L := &r.layers[l]
		pre := fmt.Sprintf("model.layers.%d.", l)
		L.attnNorm, L.mlpNorm = r.w[pre+"input_layernorm.weight"], r.w[pre+"post_attention_layernorm.weight"]
		for tg := range NumTargets {
			L.w[tg] = r.w[Target(tg).Module(l)+".weight"]
		}
	}
	half := c.HeadSize() / 2
	r.cos, r.sin = make([]float64, c.SeqLen*half), make([]float64, c.SeqLen*half)
	for pos := range c.SeqLen {
		for i := range half {
			ang := float64(pos) * math.Pow(c.RopeBase, -float64(2*i)/float64(2*half))
			r.cos[pos*half+i], r.sin[pos*half+i] = math.Cos(ang), math.Sin(ang)
		}
	}
	if m.LoRA == nil {
		return r
	}
	r.lora = make([]float64, len(m.LoRA.Params))
	for i, v := range m.LoRA.Params {
		r.lora[i] = float64(v)
	}
	r.lu = make([]float64, m.LoRA.Rank)
	for l := range r.layers {
		for tg := range NumTargets {
			a := m.Adapter(l, Target(tg))
			if a == nil {
				continue
			}
			nA, nB := len(a.A), len(a.B)
			ra := &refAdapter{a: r.lora[a.Off : a.Off+nA], b: r.lora[a.Off+nA : a.Off+nA+nB], rank: a.Rank, scaling: float64(a.Scaling)}
			if keep := acts.Layers[l].lora[tg].Keep; len(keep) > 0 {
				ra.keep = make([]float64, len(keep))
				for i, k := range keep {
					ra.keep[i] = float64(k)
				}
			}
			r.layers[l].ad[tg] = ra
		}
	}
	return r
}

// linear sets y (N, Out) = x (N, In) · Wᵀ, plus scaling · ((x·keep) · Aᵀ) · Bᵀ
// when the target has an adapter.
func (r *ref) linear(y, x []float64, L *refLayer, tg Target, n, in, out int) {
	w, ad := L.w[tg], L.ad[tg]
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
		if ad == nil {
			continue
		}
		R, u := ad.rank, r.lu
		for k := range R {
			ak := ad.a[k*in : (k+1)*in]
			var s float64
			for j, v := range xi {
				if ad.keep != nil {
					v *= ad.keep[i*in+j]
				}
				s += ak[j] * v
			}
			u[k] = s
		}
		for o := range out {
			var s float64
			for k := range R {
				s += ad.b[o*R+k] * u[k]
			}
			y[i*out+o] += ad.scaling * s
		}
	}
}

// rmsnorm sets y = x / sqrt(mean(x²) + eps) · w, row by row.
func (r *ref) rmsnorm(y, x, w []float64, n int) {
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

// rope rotates each pair (2i, 2i+1) of every head of x (B, T, heads·HS) by pos·base^(-2i/HS).
func (r *ref) rope(x []float64, b, t, heads int) {
	HS := r.cfg.HeadSize()
	half := HS / 2
	for bt := range b * t {
		pos := bt % t
		for h := range heads {
			for i := range half {
				c, s := r.cos[pos*half+i], r.sin[pos*half+i]
				p := x[(bt*heads+h)*HS+2*i:]
				p[0], p[1] = p[0]*c-p[1]*s, p[0]*s+p[1]*c
			}
		}
	}
}

// attention sets y to causal softmax(q·kᵀ/sqrt(HS))·v; query head h reads kv head h/(NH/NKV).
func (r *ref) attention(y, q, k, v []float64, b, t int) {
	c := r.cfg
	NH, NKV, HS := c.NHeads, c.NKVHeads, c.HeadSize()
	C, KVD := c.Dim, c.KVDim()
	clear(y[:b*t*C])
	p := r.p
	for s := range b {
		for h := range NH {
			kh := h / (NH / NKV)
			for i := range t {
				qi := q[(s*t+i)*C+h*HS : (s*t+i)*C+(h+1)*HS]
				top := math.Inf(-1)
				for j := 0; j <= i; j++ {
					kj := k[(s*t+j)*KVD+kh*HS : (s*t+j)*KVD+(kh+1)*HS]
					var d float64
					for e, qe := range qi {
						d += qe * kj[e]
					}
					p[j] = d / math.Sqrt(float64(HS))
					top = math.Max(top, p[j])
				}
				var z float64
				for j := 0; j <= i; j++ {
					p[j] = math.Exp(p[j] - top)
					z += p[j]
				}
				yi := y[(s*t+i)*C+h*HS : (s*t+i)*C+(h+1)*HS]
				for j := 0; j <= i; j++ {
					vj := v[(s*t+j)*KVD+kh*HS : (s*t+j)*KVD+(kh+1)*HS]
					for e, ve := range vj {
						yi[e] += p[j] / z * ve
					}
				}
			}
		}
	}
}

// loss is Forward's loss: the mean cross-entropy of the positions with a
// target, weighted by mask (nil: weight 1).
func (r *ref) loss(inputs, targets []int, mask []float32, b, t int) float64 {
	c := r.cfg
	N, C, KVD, H, V := b*t, c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize
	if len(r.x) < N*C {
		f := func(n int) []float64 { return make([]float64, n) }
		r.x, r.ln, r.q, r.y, r.o = f(N*C), f(N*C), f(N*C), f(N*C), f(N*C)
		r.k, r.v, r.g, r.u = f(N*KVD), f(N*KVD), f(N*H), f(N*H)
		r.p, r.logits = f(t), f(V)
	}
	x, ln, o := r.x[:N*C], r.ln[:N*C], r.o[:N*C]
	for i, tok := range inputs {
		copy(x[i*C:(i+1)*C], r.embed[tok*C:(tok+1)*C])
	}
	add := func(a, b []float64) {
		for i := range a {
			a[i] += b[i]
		}
	}
	for l := range r.layers {
		L := &r.layers[l]
		r.rmsnorm(ln, x, L.attnNorm, N)
		r.linear(r.q, ln, L, TargetQ, N, C, C)
		r.linear(r.k, ln, L, TargetK, N, C, KVD)
		r.linear(r.v, ln, L, TargetV, N, C, KVD)
		r.rope(r.q, b, t, c.NHeads)
		r.rope(r.k, b, t, c.NKVHeads)
		r.attention(r.y, r.q, r.k, r.v, b, t)
		r.linear(o, r.y, L, TargetO, N, C, C)
		add(x, o)
		r.rmsnorm(ln, x, L.mlpNorm, N)
		r.linear(r.g, ln, L, TargetGate, N, C, H)
		r.linear(r.u, ln, L, TargetUp, N, C, H)
		for i, gi := range r.g[:N*H] {
			r.g[i] = gi / (1 + math.Exp(-gi)) * r.u[i] // silu(g)·u
		}
		r.linear(o, r.g, L, TargetDown, N, H, C)
		add(x, o)
	}
	r.rmsnorm(ln, x, r.norm, N)
	var num, den float64
	logits := r.logits
	for i, tg := range targets {
		if tg < 0 {
			continue
		}
		w := 1.0
		if mask != nil {
			w = float64(mask[i])
		}
		top := math.Inf(-1)
		for o := range V {
			ho := r.head[o*C : (o+1)*C]
			var s float64
			for j, v := range ln[i*C : (i+1)*C] {
				s += v * ho[j]
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
