// (IA)³ (Liu et al. 2022): learned vectors that rescale the keys, the values
// and the MLP's inner activation, initialised to 1 (the base, bit for bit):
//
//	k = (x·Wkᵀ) ⊙ l_k,  v = (x·Wvᵀ) ⊙ l_v,  down's output = ((silu(g)·u) ⊙ l_ff)·Wdownᵀ
//
// PEFT's Llama defaults: target_modules k_proj, v_proj, down_proj, with
// down_proj a feedforward module (its input is scaled). Each scaled layer
// keeps one product forward and one backward (the scaling is elementwise);
// merging folds l into W0's rows (k, v) or columns (down).

package peft

import (
	"fmt"

	"golora/core/matmul"
	"golora/core/model"
)

// ---------------------------------------------------------------- config

// IA3Targets are the layers (IA)³ scales: the keys and values (outputs) and
// the MLP's inner activation (down_proj's input).
var IA3Targets = []model.Target{model.TargetK, model.TargetV, model.TargetDown}

// ia3Input reports whether (IA)³ scales t's input (a feedforward module) rather than its output.
func ia3Input(t model.Target) bool { return t == model.TargetDown }

// ---------------------------------------------------------------- layer

// ia3Linear computes one scaled layer in one pass.
type ia3Linear struct {
	p       *ia3Pass
	s       *Scale
	in, out int
	saved   []float32 // (N, Out) x·W0ᵀ for an output scaling, (N, In) x ⊙ l for an input one
}

// Forward: out = (x·W0ᵀ) ⊙ l, or out = (x ⊙ l)·W0ᵀ.
func (h *ia3Linear) Forward(_ *model.Ctx, out, x, w []float32, n int) {
	l := h.s.L
	if h.s.Input {
		xs := h.saved[:n*h.in]
		for r := range n {
			xr, sr := x[r*h.in:(r+1)*h.in], xs[r*h.in:(r+1)*h.in]
			for j, s := range l {
				sr[j] = xr[j] * s
			}
		}
		matmul.Forward(out[:n*h.out], xs, w, nil, n, h.in, h.out)
		return
	}
	y := h.saved[:n*h.out]
	matmul.Forward(y, x[:n*h.in], w, nil, n, h.in, h.out)
	for r := range n {
		yr, or := y[r*h.out:(r+1)*h.out], out[r*h.out:(r+1)*h.out]
		for o, s := range l {
			or[o] = yr[o] * s
		}
	}
}

// Backward accumulates din, dw (when W0 trains) and dl into ctx.Grads.
func (h *ia3Linear) Backward(ctx *model.Ctx, din, dw, dout, x, w []float32, n int) {
	l, dl := h.s.L, ctx.Grads[h.s.off:h.s.off+len(h.s.L)]
	acc := h.p.acc[:len(l)]
	clear(acc)
	if h.s.Input {
		// forward: out = xs·W0ᵀ, xs = x ⊙ l
		dxs := h.p.scratch[:n*h.in]
		clear(dxs)
		matmul.Backward(dxs, dw, nil, dout[:n*h.out], h.saved[:n*h.in], w, n, h.in, h.out)
		for r := range n {
			dr, xr := dxs[r*h.in:(r+1)*h.in], x[r*h.in:(r+1)*h.in]
			for j, d := range dr {
				acc[j] += float64(d) * float64(xr[j])
			}
			if din != nil {
				dinr := din[r*h.in : (r+1)*h.in]
				for j, d := range dr {
					dinr[j] += d * l[j]
				}
			}
		}
	} else {
		// forward: out = y ⊙ l, y = x·W0ᵀ
		dy, y := h.p.scratch[:n*h.out], h.saved[:n*h.out]
		for r := range n {
			d, yr, dyr := dout[r*h.out:(r+1)*h.out], y[r*h.out:(r+1)*h.out], dy[r*h.out:(r+1)*h.out]
			for o, s := range l {
				dyr[o] = d[o] * s
				acc[o] += float64(d[o]) * float64(yr[o])
			}
		}
		matmul.Backward(din, dw, nil, dy, x[:n*h.in], w, n, h.in, h.out)
	}
	for i, a := range acc {
		dl[i] += float32(a)
	}
}

// ---------------------------------------------------------------- attach

// IA3 is every scaling vector of a model.
type IA3 struct {
	Scales []Scale
	params []float32
	grads  []float32
	layers int
	saved  [][]float32 // the weights Merge overwrote, for Unmerge
}

// Scale is one learned vector: the layer it scales, whether its input or
// output, and l (PEFT's ia3_l) with its gradient, views into the IA3's buffers.
type Scale struct {
	Module  string
	Layer   int
	Target  model.Target
	Input   bool
	In, Out int // the scaled layer's sizes: l is (In) when Input, else (Out)
	L, DL   []float32
	off     int
}

// AddIA3 attaches (IA)³ to m: l_k, l_v and l_ff in every layer, all ones.
func AddIA3(m *model.Model) (*IA3, error) {
	c := m.Config
	ia := &IA3{layers: c.NLayers}
	total := 0
	for l := range c.NLayers {
		for _, t := range IA3Targets {
			in, out := c.Shape(t)
			n := out
			if ia3Input(t) {
				n = in
			}
			ia.Scales = append(ia.Scales, Scale{Module: t.Module(l), Layer: l, Target: t, Input: ia3Input(t),
				In: in, Out: out, off: total})
			total += n
		}
	}
	ia.params, ia.grads = make([]float32, total), make([]float32, total)
	for i := range ia.Scales {
		s := &ia.Scales[i]
		next := total
		if i+1 < len(ia.Scales) {
			next = ia.Scales[i+1].off
		}
		s.L, s.DL = ia.params[s.off:next:next], ia.grads[s.off:next:next]
		for j := range s.L {
			s.L[j] = 1
		}
	}
	if err := m.Attach(ia); err != nil {
		return nil, err
	}
	return ia, nil
}

// Name is "ia3".
func (*IA3) Name() string { return "ia3" }

// Params is every l, back to back (layer by layer: k, v, down).
func (ia *IA3) Params() []float32 { return ia.params }

// Grads is their gradients.
func (ia *IA3) Grads() []float32 { return ia.grads }

// TrainsBase is false: (IA)³ keeps every base weight frozen.
func (*IA3) TrainsBase(string) bool { return false }

// ia3Pass is the IA3's work in one pass: a hook per scaled layer and their shared scratch.
type ia3Pass struct {
	scratch []float32 // (N, max(In, Out))
	acc     []float64 // (the longest l)
}

// NewPass gives every scaled layer its hook for up to rows rows.
func (ia *IA3) NewPass(rows int) *model.Pass {
	widest, longest := 0, 0
	for _, s := range ia.Scales {
		widest, longest = max(widest, s.In, s.Out), max(longest, len(s.L))
	}
	p := &ia3Pass{scratch: make([]float32, rows*widest), acc: make([]float64, longest)}
	mp := &model.Pass{Linear: make([][model.NumTargets]model.Linear, ia.layers)}
	for i := range ia.Scales {
		s := &ia.Scales[i]
		h := &ia3Linear{p: p, s: s, in: s.In, out: s.Out}
		if s.Input {
			h.saved = make([]float32, rows*s.In)
		} else {
			h.saved = make([]float32, rows*s.Out)
		}
		mp.Linear[s.Layer][s.Target] = h
	}
	return mp
}

// Merge folds each l into its weight: W0's rows (k, v) or columns (down) scaled.
func (ia *IA3) Merge(m *model.Model) error {
	ia.saved = ia.saved[:0]
	for _, s := range ia.Scales {
		w := m.Params.Layers[s.Layer].Weight(s.Target)
		ia.saved = append(ia.saved, append([]float32(nil), w...))
		for o := range s.Out {
			row := w[o*s.In : (o+1)*s.In]
			if s.Input {
				for j, l := range s.L {
					row[j] *= l
				}
			} else {
				for j := range row {
					row[j] *= s.L[o]
				}
			}
		}
	}
	return nil
}

// Unmerge puts back the weights Merge scaled, exactly.
func (ia *IA3) Unmerge(m *model.Model) error {
	if len(ia.saved) != len(ia.Scales) {
		return fmt.Errorf("ia3: not merged")
	}
	for i, s := range ia.Scales {
		copy(m.Params.Layers[s.Layer].Weight(s.Target), ia.saved[i])
	}
	ia.saved = ia.saved[:0]
	return nil
}

// IA3Params is the formula (IA)³'s trainable count follows on c: per layer
// 2·KVD (keys, values) + H (the MLP's inner activation).
func IA3Params(c model.Config) int { return c.NLayers * (2*c.KVDim() + c.HiddenDim) }
