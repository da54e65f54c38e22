// DoRA: Weight-Decomposed Low-Rank Adaptation (Liu et al. 2024). Each adapted
// weight is split into a magnitude per output row and a direction:
//
//	W' = m · V / ||V||,  V = W0 + s·B·A,  norms per output row (over the input dimension),
//
// with A and B LoRA's (same rank, alpha, targets, init and dropout) and m
// (Out) PEFT's lora_magnitude_vector, initialised to W0's row norms: with
// B = 0 then V = W0 and m / ||V|| = 1 exactly, so training starts at the base
// bit for bit. The gradient goes through the norm too (the paper's eq. 5;
// its section 4.3 and PEFT treat ||V|| as a constant to save memory, which
// changes the training, not the model).
//
// A layer computes y = x·Vᵀ through the fused V (as LoRA does; beside W0 with
// dropout), then out = y · c with c = m / ||V|| per column, so no product of
// the size of W0's gradient is needed in the backward pass: with dy = dout·c,
// dc_o = Σ_n dout[n,o]·y[n,o], and ||V||'s gradient is the rank-sized
// s·B·A path, dA and dB get the norm's share through two (R, In) x (Out, In) products.

package peft

import (
	"fmt"

	"golora/core/mathf"
	"golora/core/matmul"
	"golora/core/model"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// DoRA shares LoRA's config: LoRAConfig's rank, alpha, targets, init and dropout.

// ---------------------------------------------------------------- layer

// rowNorm is ||row||₂, summed in float64 in order (the same bits natively and in wasm).
func rowNorm(row []float32) float32 {
	var ss float64
	for _, v := range row {
		ss += float64(v) * float64(v)
	}
	return float32(mathf.Sqrt64(ss))
}

// doraLinear computes one adapted layer in one pass.
type doraLinear struct {
	p     *doraPass
	a     *Adapter
	mOff  int       // where m starts in the DoRA's flat buffers
	m     []float32 // (Out) the magnitude, a view into the DoRA's parameters
	cache *Cache
	v     []float32 // (Out, In) V = W0 + s·B·A, rebuilt at the first Forward after Begin
	norm  []float32 // (Out) ||V|| per row
	c     []float32 // (Out) m / ||V||
	y     []float32 // (N, Out) x·Vᵀ, saved for dc
	stale bool
}

// refresh rebuilds V, its row norms and c from the current A, B and m.
func (h *doraLinear) refresh(w []float32) {
	a := h.a
	a.Fuse(h.v, w)
	for o := range a.Out {
		h.norm[o] = rowNorm(h.v[o*a.In : (o+1)*a.In])
		h.c[o] = h.m[o] / h.norm[o]
	}
	h.stale = false
}

// Forward: y = x·Vᵀ (x·W0ᵀ + s·(x_d·Aᵀ)·Bᵀ with dropout), out = y · c.
func (h *doraLinear) Forward(ctx *model.Ctx, out, in, w []float32, n int) {
	a := h.a
	if h.stale {
		h.refresh(w)
	}
	y := h.y[:n*a.Out]
	if h.p.fused {
		matmul.Forward(y, in[:n*a.In], h.v, nil, n, a.In, a.Out)
		if !ctx.NoGrad {
			a.ForwardFused(in, h.cache, n)
		}
	} else {
		matmul.Forward(y, in[:n*a.In], w, nil, n, a.In, a.Out)
		a.Forward(y, in, h.cache, n, ctx.Dropout, ctx.RNG)
	}
	for r := range n {
		yr, or := y[r*a.Out:(r+1)*a.Out], out[r*a.Out:(r+1)*a.Out]
		for o, c := range h.c {
			or[o] = yr[o] * c
		}
	}
}

// Backward accumulates din, dw (W0's gradient, when it trains) and the
// gradients of A, B and m into ctx.Grads.
func (h *doraLinear) Backward(ctx *model.Ctx, din, dw, dout, in, w []float32, n int) {
	a, p := h.a, h.p
	O, I, R := a.Out, a.In, a.Rank
	// forward: out = y · c
	dy, dc := p.dy[:n*O], p.dc[:O]
	clear(dc)
	y := h.y[:n*O]
	for r := range n {
		d, yr, dyr := dout[r*O:(r+1)*O], y[r*O:(r+1)*O], dy[r*O:(r+1)*O]
		for o, c := range h.c {
			dyr[o] = d[o] * c
			dc[o] += float64(d[o]) * float64(yr[o])
		}
	}
	// forward: y = x·Vᵀ, V = W0 + s·B·A (through the fused V, or beside W0)
	wv, dxAdapter := w, din
	if p.fused {
		wv, dxAdapter = h.v, nil
	}
	matmul.Backward(din, dw, nil, dy, in[:n*I], wv, n, I, O)
	grads := ctx.Grads
	dA, dB := a.GradViews(grads)
	dm := grads[h.mOff : h.mOff+O]
	a.BackwardTo(dA, dB, dxAdapter, dy, in, h.cache, p.du, n)
	// forward: c_o = m_o / ||V_o||: dm_o = dc_o / ||V_o||, and
	// dV_o = g_o · V_o with g_o = -dc_o · m_o / ||V_o||³ (d||v||/dv = v/||v||)
	G := p.g[:O*I]
	for o := range O {
		nrm := h.norm[o]
		dco := float32(dc[o])
		dm[o] += dco / nrm
		g := -dco * h.m[o] / (nrm * nrm * nrm)
		row, vrow := G[o*I:(o+1)*I], h.v[o*I:(o+1)*I]
		for i, v := range vrow {
			row[i] = g * v
		}
	}
	if dw != nil {
		for i, g := range G {
			dw[i] += g
		}
	}
	// forward: V = W0 + s·B·A: dB += s·dV·Aᵀ, dA += s·Bᵀ·dV
	for i := range G {
		G[i] *= a.Scaling
	}
	matmul.MulNT(dB, G, a.A, O, I, R, true)
	matmul.MulTN(dA, a.B, G, R, O, I, true)
}

// ---------------------------------------------------------------- attach

// DoRA is LoRA's adapters plus a magnitude per output row of every adapted
// weight. Params holds every A and B (laid out as LoRA's), then every m.
type DoRA struct {
	LoRA               // A and B; LoRA.Params() is the head of DoRA.Params()
	Mags   [][]float32 // (Out) per adapter: lora_magnitude_vector
	DMags  [][]float32 // their gradients
	magOff []int       // where each m starts in the flat buffers
	params []float32
	grads  []float32
	saved  [][]float32 // the weights Merge overwrote, for Unmerge
}

// AddDoRA attaches DoRA adapters to cfg.Targets in every layer of m, with
// each magnitude set to its weight's row norms (so that B = 0 is the base).
func AddDoRA(m *model.Model, cfg LoRAConfig, r *rng.RNG) (*DoRA, error) {
	shapes, err := loraShapes(m, cfg)
	if err != nil {
		return nil, err
	}
	d, err := NewDoRA(cfg, shapes, r)
	if err != nil {
		return nil, err
	}
	for i, a := range d.Adapters {
		w := m.Params.Layers[a.Layer].Weight(a.Target)
		for o := range a.Out {
			d.Mags[i][o] = rowNorm(w[o*a.In : (o+1)*a.In])
		}
	}
	if err := m.Attach(d); err != nil {
		return nil, err
	}
	return d, nil
}

// NewDoRA allocates DoRA adapters for shapes (A from r, B zero, m zero until
// AddDoRA or a loaded adapter sets it).
func NewDoRA(cfg LoRAConfig, shapes []Shape, r *rng.RNG) (*DoRA, error) {
	extra := 0
	for _, sh := range shapes {
		extra += sh.Out
	}
	l, params, grads, err := newLoRA(cfg, shapes, r, extra)
	if err != nil {
		return nil, fmt.Errorf("dora: %w", err)
	}
	d := &DoRA{LoRA: *l, params: params, grads: grads}
	off := len(l.params)
	for _, a := range l.Adapters {
		d.magOff = append(d.magOff, off)
		d.Mags = append(d.Mags, params[off:off+a.Out:off+a.Out])
		d.DMags = append(d.DMags, grads[off:off+a.Out:off+a.Out])
		off += a.Out
	}
	return d, nil
}

// Name is "dora".
func (d *DoRA) Name() string { return "dora" }

// Params is every A and B, then every m.
func (d *DoRA) Params() []float32 { return d.params }

// Grads is their gradients, laid out the same way.
func (d *DoRA) Grads() []float32 { return d.grads }

// NumParams is Σ r·(in+out) + out over the adapted weights.
func (d *DoRA) NumParams() int { return len(d.params) }

// Merge replaces each adapted weight by m · V / ||V|| (keeping W0 for Unmerge).
func (d *DoRA) Merge(m *model.Model) error {
	d.saved = d.saved[:0]
	for i, a := range d.Adapters {
		w := m.Params.Layers[a.Layer].Weight(a.Target)
		d.saved = append(d.saved, append([]float32(nil), w...))
		h := d.newLinear(nil, i, 0)
		h.refresh(w)
		for o := range a.Out {
			row := w[o*a.In : (o+1)*a.In]
			for j, v := range h.v[o*a.In : (o+1)*a.In] {
				row[j] = v * h.c[o]
			}
		}
	}
	return nil
}

// Unmerge puts back the weights Merge replaced, exactly.
func (d *DoRA) Unmerge(m *model.Model) error {
	if len(d.saved) != len(d.Adapters) {
		return fmt.Errorf("dora: not merged")
	}
	for i, a := range d.Adapters {
		copy(m.Params.Layers[a.Layer].Weight(a.Target), d.saved[i])
	}
	d.saved = d.saved[:0]
	return nil
}

// doraPass is the DoRA's work in one pass: a hook per adapter and their shared scratch.
type doraPass struct {
	fused bool
	du    []float32 // (R, N)
	dy    []float32 // (N, Out) the largest Out
	dc    []float64 // (Out)
	g     []float32 // (Out, In) the largest
	hooks []*doraLinear
}

func (d *DoRA) newLinear(p *doraPass, i, rows int) *doraLinear {
	a := d.Adapters[i]
	return &doraLinear{p: p, a: a, mOff: d.magOff[i], m: d.Mags[i], cache: a.NewCache(rows, d.Dropout > 0),
		v: make([]float32, a.Out*a.In), norm: make([]float32, a.Out), c: make([]float32, a.Out),
		y: make([]float32, rows*a.Out), stale: true}
}

// NewPass gives every adapted layer its hook for up to rows rows.
func (d *DoRA) NewPass(rows int) *model.Pass {
	maxOut, maxW := 0, 0
	for _, a := range d.Adapters {
		maxOut, maxW = max(maxOut, a.Out), max(maxW, a.Out*a.In)
	}
	p := &doraPass{du: make([]float32, rows*d.Rank), dy: make([]float32, rows*maxOut), dc: make([]float64, maxOut),
		g: make([]float32, maxW)}
	mp := &model.Pass{Linear: make([][model.NumTargets]model.Linear, d.layers())}
	for i, a := range d.Adapters {
		h := d.newLinear(p, i, rows)
		p.hooks = append(p.hooks, h)
		mp.Linear[a.Layer][a.Target] = h
	}
	mp.Begin = func(ctx *model.Ctx) {
		p.fused = !ctx.Beside && (ctx.Dropout <= 0 || ctx.RNG == nil)
		for _, h := range p.hooks {
			h.stale = true
		}
	}
	return mp
}

// DoRAOf returns the DoRA attached to m, or nil.
func DoRAOf(m *model.Model) *DoRA {
	for _, meth := range m.Methods() {
		if d, ok := meth.(*DoRA); ok {
			return d
		}
	}
	return nil
}
