// The bottleneck adapter layer that adapter-h (Houlsby et al. 2019) and
// adapter-l (Lin et al. 2020) insert at a block's sublayer outputs:
//
//	h' = h + up(act(down(z))),  z = h (Houlsby) or RMSNorm(h)·g (Lin, its own norm)
//
// down (R, C) with bias (R), up (C, R) with bias (C), R the bottleneck width.
// up and its bias start at zero, so the adapter starts as the identity: the
// base's logits, bit for bit (h + 0 = h). Shapes: N rows, C the model width.

package peft

import (
	"fmt"

	"golora/core/mathf"
	"golora/core/matmul"
	"golora/core/model"
	"golora/core/nn"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// Activation is a bottleneck's nonlinearity.
type Activation string

// The two nonlinearities: AdapterHub's Houlsby configuration uses swish
// (SiLU, also Llama's), Lin et al. ReLU.
const (
	ActSiLU Activation = "silu"
	ActReLU Activation = "relu"
)

// ---------------------------------------------------------------- layer

// Bottleneck is one adapter at one sublayer output. Its tensors are views
// into its method's flat buffers, laid out from Off: down (R, C), down's
// bias (R), up (C, R), up's bias (C), and the norm's gain (C) when Norm.
type Bottleneck struct {
	Module                           string // the names' prefix, e.g. model.layers.0.mlp.adapter
	Layer                            int
	Sublayer                         int // model.SubAttention or model.SubMLP
	Width                            int // R
	Dim                              int // C
	Act                              Activation
	Norm                             bool    // Lin's own RMSNorm before down (with a trained gain, starting at 1)
	Eps                              float32 // the norm's epsilon (the model's)
	Down, DownBias, Up, UpBias, Gain []float32
	Off                              int // where Down starts in the method's Params()
}

// Len is the bottleneck's number of parameters: 2·C·R + R + C (+ C for Lin's norm).
func (b *Bottleneck) Len() int {
	n := 2*b.Dim*b.Width + b.Width + b.Dim
	if b.Norm {
		n += b.Dim
	}
	return n
}

// views lays the bottleneck's tensors over buf (Params(), Grads() or a buffer laid out as they are).
func (b *Bottleneck) views(buf []float32) (down, downBias, up, upBias, gain []float32) {
	C, R := b.Dim, b.Width
	o := b.Off
	cut := func(n int) []float32 { s := buf[o : o+n : o+n]; o += n; return s }
	down, downBias, up, upBias = cut(R*C), cut(R), cut(C*R), cut(C)
	if b.Norm {
		gain = cut(C)
	}
	return
}

// init draws down as nn.Linear does (uniform in ±1/sqrt(C); left at zero
// with a nil r, for loading saved adapters), its bias 0, up and its bias 0
// (the identity at the start), the gain 1.
func (b *Bottleneck) init(r *rng.RNG) {
	bound := 1 / mathf.Sqrt(float32(b.Dim))
	for i := range b.Down {
		if r != nil {
			b.Down[i] = r.Uniform(-bound, bound)
		}
	}
	for i := range b.Gain {
		b.Gain[i] = 1
	}
}

// bottleneckHook is one bottleneck's work in one pass, with what its backward needs.
type bottleneckHook struct {
	b       *Bottleneck
	h       []float32 // (N, C) the sublayer output as it came in
	z       []float32 // (N, C) RMSNorm(h)·g (Lin's norm); unused for Houlsby, whose z is h
	rstd    []float32 // (N) the norm's 1/rms
	u, a    []float32 // (N, R) down's output, and after the nonlinearity
	y       []float32 // (N, C) up's output
	da, dz  []float32 // (N, R), (N, C) backward scratch
	noSaved bool      // the last Forward ran without saving (decoding)
}

func newBottleneckHook(b *Bottleneck, rows int) *bottleneckHook {
	f := func(n int) []float32 { return make([]float32, n) }
	C, R := b.Dim, b.Width
	h := &bottleneckHook{b: b, h: f(rows * C), rstd: f(rows), u: f(rows * R), a: f(rows * R), y: f(rows * C), da: f(rows * R)}
	if b.Norm {
		h.z, h.dz = f(rows*C), f(rows*C)
	}
	return h
}

// Forward: h ← h + (act(z·downᵀ + bd))·upᵀ + bu, z = h or RMSNorm(h)·g.
func (k *bottleneckHook) Forward(ctx *model.Ctx, h []float32, n int) {
	b := k.b
	C, R := b.Dim, b.Width
	hs := h[:n*C]
	if !ctx.NoGrad {
		copy(k.h[:n*C], hs) // Backward reads the input; h itself is overwritten below
	}
	z := hs
	if b.Norm {
		z = k.z[:n*C]
		nn.RMSNormForward(z, k.rstd, hs, b.Gain, n, C, b.Eps)
	}
	u, a, y := k.u[:n*R], k.a[:n*R], k.y[:n*C]
	matmul.Forward(u, z, b.Down, b.DownBias, n, C, R)
	activate(a, u, b.Act)
	matmul.Forward(y, a, b.Up, b.UpBias, n, R, C)
	nn.ResidualForward(hs, hs, y, n*C)
}

// Backward accumulates dh and the bottleneck's gradients into ctx.Grads from dout = dL/dh'.
func (k *bottleneckHook) Backward(ctx *model.Ctx, dh, dout []float32, n int) {
	b := k.b
	C, R := b.Dim, b.Width
	dDown, dDownBias, dUp, dUpBias, dGain := b.views(ctx.Grads)
	dout = dout[:n*C]
	// forward: h' = h + y
	nn.ResidualForward(dh[:n*C], dh[:n*C], dout, n*C)
	// forward: y = a·upᵀ + bu
	da := k.da[:n*R]
	clear(da)
	matmul.Backward(da, dUp, dUpBias, dout, k.a[:n*R], b.Up, n, R, C)
	// forward: a = act(u); da becomes du in place
	activateBackward(da, k.u[:n*R], b.Act)
	// forward: u = z·downᵀ + bd
	if !b.Norm {
		matmul.Backward(dh[:n*C], dDown, dDownBias, da, k.h[:n*C], b.Down, n, C, R) // z = h
		return
	}
	dz := k.dz[:n*C]
	clear(dz)
	matmul.Backward(dz, dDown, dDownBias, da, k.z[:n*C], b.Down, n, C, R)
	// forward: z = RMSNorm(h)·g
	nn.RMSNormBackward(dh[:n*C], dGain, dz, k.h[:n*C], b.Gain, k.rstd, n, C)
}

// activate sets a = act(u) elementwise.
func activate(a, u []float32, act Activation) {
	switch act {
	case ActReLU:
		for i, x := range u {
			a[i] = max(x, 0)
		}
	case ActSiLU:
		for i, x := range u {
			a[i] = nn.SiLU(x)
		}
	default:
		panic(fmt.Sprintf("peft: unknown activation %q", act))
	}
}

// activateBackward turns da into du = da · act'(u), in place.
func activateBackward(da, u []float32, act Activation) {
	switch act {
	case ActReLU:
		// forward: a = max(u, 0)
		for i, x := range u {
			if x <= 0 {
				da[i] = 0
			}
		}
	case ActSiLU:
		// forward: a = u·σ(u); a' = σ(u)·(1 + u·(1 - σ(u)))
		for i, x := range u {
			s := mathf.Sigmoid(x)
			da[i] *= s * (1 + x*(1-s))
		}
	default:
		panic(fmt.Sprintf("peft: unknown activation %q", act))
	}
}

// ---------------------------------------------------------------- attach

// bottlenecks is what adapter-h and adapter-l share: their adapters, one
// flat buffer of parameters and one of gradients, hooks at the sublayer outputs.
type bottlenecks struct {
	Adapters []Bottleneck
	params   []float32
	grads    []float32
	layers   int
}

// build lays out one bottleneck per (layer, sublayer) of sites, in layer order, and draws their initial values.
func (bs *bottlenecks) build(m *model.Model, width int, sites []int, act Activation, norm bool, r *rng.RNG) {
	c := m.Config
	bs.layers = c.NLayers
	total := 0
	for l := range c.NLayers {
		for _, site := range sites {
			part := "self_attn"
			if site == model.SubMLP {
				part = "mlp"
			}
			b := Bottleneck{Module: fmt.Sprintf("model.layers.%d.%s.adapter", l, part), Layer: l, Sublayer: site,
				Width: width, Dim: c.Dim, Act: act, Norm: norm, Eps: c.NormEps, Off: total}
			total += b.Len()
			bs.Adapters = append(bs.Adapters, b)
		}
	}
	bs.params, bs.grads = make([]float32, total), make([]float32, total)
	for i := range bs.Adapters {
		b := &bs.Adapters[i]
		b.Down, b.DownBias, b.Up, b.UpBias, b.Gain = b.views(bs.params)
		b.init(r)
	}
}

// Params is every bottleneck's tensors, back to back (layer by layer, the attention's first).
func (bs *bottlenecks) Params() []float32 { return bs.params }

// Grads is their gradients.
func (bs *bottlenecks) Grads() []float32 { return bs.grads }

// NewPass gives every bottleneck its hook for up to rows rows.
func (bs *bottlenecks) NewPass(rows int) *model.Pass {
	p := &model.Pass{Sublayer: make([][model.NumSublayers]model.Sublayer, bs.layers)}
	for i := range bs.Adapters {
		b := &bs.Adapters[i]
		p.Sublayer[b.Layer][b.Sublayer] = newBottleneckHook(b, rows)
	}
	return p
}

// Tensors names each bottleneck's tensors: <module>.down.weight (R, C),
// .down.bias (R), .up.weight (C, R), .up.bias (C), and .norm.weight (C) for Lin's.
func (bs *bottlenecks) Tensors() []Tensor {
	var ts []Tensor
	for _, b := range bs.Adapters {
		C, R := b.Dim, b.Width
		o := b.Off
		add := func(name string, shape ...int) {
			t := Tensor{Name: b.Module + "." + name, Shape: shape, Off: o}
			ts = append(ts, t)
			o += t.Len()
		}
		add("down.weight", R, C)
		add("down.bias", R)
		add("up.weight", C, R)
		add("up.bias", C)
		if b.Norm {
			add("norm.weight", C)
		}
	}
	return ts
}

// WhyNotMerged: an adapter is a nonlinear layer of its own.
func (bs *bottlenecks) WhyNotMerged() string {
	return "an adapter is a nonlinear layer of its own (down, activation, up), which no weight of a Llama checkpoint can hold; it adds its latency at inference"
}
