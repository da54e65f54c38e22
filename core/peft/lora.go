// LoRA: Low-Rank Adaptation (Hu et al. 2021) over frozen linear layers, with
// loralib's vocabulary: a frozen weight W0 (out, in) gets the update
// h = W0 x + scaling * B A x, where lora_A is A (r, in), lora_B is B (out, r),
// and scaling is lora_alpha / r (or lora_alpha / sqrt(r) with rsLoRA). A
// starts random, B starts at zero, so training starts exactly at the base
// model; only A and B have gradients and optimizer state. Merge folds
// scaling * B A into W0 for zero-cost inference; Unmerge takes it out again.
//
// Shapes: N rows (batch times time), In and Out the adapted layer's sizes,
// R the rank. Activations are row-major (N, In) and (N, Out).

package peft

import (
	"fmt"

	"golora/core/mathf"
	"golora/core/matmul"
	"golora/core/model"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// LoRAConfig is one run's LoRA hyperparameters (loralib's and PEFT's names in comments).
type LoRAConfig struct {
	Rank    int            // r
	Alpha   float32        // lora_alpha
	RSLoRA  bool           // use_rslora: scale by alpha/sqrt(r) instead of alpha/r
	Init    LoRAInit       // init_lora_weights: how A starts
	Dropout float32        // lora_dropout, on the adapter's input only
	Targets []model.Target // target_modules, in every layer
}

// LoRAInit names how A is initialised (B is always zero).
type LoRAInit string

// The two initialisations: loralib's code and the paper's text.
const (
	InitKaiming  LoRAInit = "kaiming"  // loralib: kaiming_uniform_(a=sqrt(5)), uniform in ±1/sqrt(in)
	InitGaussian LoRAInit = "gaussian" // the paper: Gaussian; std 1/r as PEFT's "gaussian" init
)

// ---------------------------------------------------------------- layer

// Adapter is one low-rank update of a linear layer. A, B, DA and DB are views
// into its LoRA's flat buffers.
type Adapter struct {
	Module  string       // module path, e.g. model.layers.0.self_attn.q_proj
	Layer   int          // the block it adapts
	Target  model.Target // and which of the block's linear layers
	In, Out int          // the adapted weight is (Out, In)
	Rank    int          // r
	Scaling float32      // alpha/r, or alpha/sqrt(r) with rsLoRA
	A       []float32    // (R, In)  lora_A.weight
	B       []float32    // (Out, R) lora_B.weight
	DA, DB  []float32    // gradients of A and B, same shapes
	Off     int          // where A starts in the LoRA's flat buffers (B follows it)
}

// GradViews returns this adapter's gradient slices in another buffer laid
// out as its LoRA's Grads: a step computed in parts side by side gives each
// part its own gradient buffer.
func (a *Adapter) GradViews(grads []float32) (dA, dB []float32) {
	nA, nB := len(a.A), len(a.B)
	return grads[a.Off : a.Off+nA : a.Off+nA], grads[a.Off+nA : a.Off+nA+nB : a.Off+nA+nB]
}

// Scaling returns alpha/r, or alpha/sqrt(r) for rsLoRA (Kalajdzievski 2023).
func Scaling(alpha float32, rank int, rslora bool) float32 {
	if rslora {
		return alpha / mathf.Sqrt(float32(rank))
	}
	return alpha / float32(rank)
}

// Cache is what one adapter's forward pass saves for its backward pass.
//
// The products keep the rank on the row side: u is stored transposed, (R, N),
// so that no product has only R output columns (a SIMD kernel computes 32
// columns at a time natively: with R = 8 three quarters of its work would be
// padding), and the products with R rows read a row-major activation in
// place (matmul does for products of few rows). Each element is still one
// chain of multiply-adds.
type Cache struct {
	SUT  []float32 // (R, N) = scaling * (x_d · Aᵀ)ᵀ
	Keep []float32 // (N, In) dropout scale per input element (0 or 1/(1-p)); nil without dropout
	XD   []float32 // (N, In) dropped-out input x * Keep; nil without dropout
	DBT  []float32 // (R, Out) scratch: the step's gradient of B, transposed
}

// NewCache sizes a cache for up to n rows; dropout > 0 also keeps the mask.
func (a *Adapter) NewCache(n int, dropout bool) *Cache {
	c := &Cache{SUT: make([]float32, a.Rank*n), DBT: make([]float32, a.Rank*a.Out)}
	if dropout {
		c.Keep = make([]float32, n*a.In)
		c.XD = make([]float32, n*a.In)
	}
	return c
}

// Forward adds the adapter's update to out: out (N, Out) += scaling * (x_d · Aᵀ) · Bᵀ,
// where x_d is x after dropout with probability p (drawn from r) when p > 0.
// Pass p = 0 (or r = nil) for evaluation.
func (a *Adapter) Forward(out, x []float32, c *Cache, n int, p float32, r *rng.RNG) {
	xd := x
	if p > 0 && r != nil {
		if c.Keep == nil {
			panic("peft: lora: Forward with dropout needs a cache made with dropout")
		}
		keep, scale := c.Keep[:n*a.In], 1/(1-p)
		xd = c.XD[:n*a.In]
		for i := range keep {
			if r.Float32() < p {
				keep[i] = 0
			} else {
				keep[i] = scale
			}
			xd[i] = x[i] * keep[i]
		}
	} else if c.Keep != nil {
		c.Keep = c.Keep[:0] // marks "no dropout in this pass" for Backward
	}
	R := a.Rank
	sut := a.scaledU(xd, c, n)
	// out += (s u) · Bᵀ, added straight into out. (Scaling u rather than the
	// product rounds differently, not worse: neither is the merged weight's rounding.)
	matmul.Mul(out, a.Out, sut, n, true, a.B, R, true, n, R, a.Out, true)
}

// scaledU sets the cache's (s u)ᵀ = scaling · A · xᵀ (R, N) and returns it.
func (a *Adapter) scaledU(x []float32, c *Cache, n int) []float32 {
	sut := c.SUT[:a.Rank*n]
	matmul.MulNT(sut, a.A, x, a.Rank, a.In, n, false) // uᵀ (R, N) = A · xᵀ
	for i, v := range sut {
		sut[i] = a.Scaling * v
	}
	return sut
}

// Fuse writes the weight with the update folded in, dst = w + scaling · B · A
// (Out, In), with exactly the bits Merge gives w. A layer whose output is
// computed through it, out = x · dstᵀ, needs no adapter products in its
// forward pass and its input gradient is dout · dst: only the products for
// the gradients of A and B remain (see ForwardFused). Not with dropout, which
// applies to the adapter's input alone.
func (a *Adapter) Fuse(dst, w []float32) {
	checkWeight(a, w)
	checkWeight(a, dst)
	matmul.MulNN(dst, a.B, a.A, a.Out, a.Rank, a.In, false)
	for i, d := range dst[:len(w)] {
		dst[i] = w[i] + d*a.Scaling
	}
}

// ForwardFused is the adapter's part of a forward pass whose output the
// caller computed with the fused weight (Fuse): it saves what Backward
// needs, s·u = scaling · x · Aᵀ. Backward must then be called with dx = nil,
// the input gradient coming from the fused weight.
func (a *Adapter) ForwardFused(x []float32, c *Cache, n int) {
	if c.Keep != nil {
		c.Keep = c.Keep[:0] // no dropout in this pass
	}
	a.scaledU(x, c, n)
}

// Backward accumulates the gradients of Forward. With dout (N, Out):
// DB += doutᵀ · (s u); du = s * dout · B; DA += duᵀ · x_d; dx += (du · A) * keep.
// du is (R, N) scratch, where du is kept transposed as u is; dx may be nil
// (the first layer's input needs no gradient, and a fused layer's comes
// through its fused weight).
func (a *Adapter) Backward(dx, dout, x []float32, c *Cache, du []float32, n int) {
	a.BackwardTo(a.DA, a.DB, dx, dout, x, c, du, n)
}

// BackwardTo is Backward with the gradients of A and B accumulated into dA
// and dB (shaped as A and B) instead of DA and DB.
func (a *Adapter) BackwardTo(dA, dB, dx, dout, x []float32, c *Cache, du []float32, n int) {
	R, s := a.Rank, a.Scaling
	xd := x
	dropout := len(c.Keep) > 0
	if dropout {
		xd = c.XD[:n*a.In]
	}
	// forward: out += (s u) · Bᵀ
	dbt := c.DBT[:R*a.Out]
	matmul.MulNN(dbt, c.SUT[:R*n], dout, R, n, a.Out, false) // DBᵀ (R, Out) = (s u)ᵀ · dout
	for o := range a.Out {
		row := dB[o*R : (o+1)*R]
		for k := range row {
			row[k] += dbt[k*a.Out+o]
		}
	}
	dut := du[:R*n]
	matmul.Mul(dut, n, a.B, R, true, dout, a.Out, true, R, a.Out, n, false) // duᵀ (R, N) = Bᵀ · doutᵀ
	for i := range dut {
		dut[i] *= s
	}
	// forward: uᵀ = A · x_dᵀ
	matmul.MulNN(dA, dut, xd, R, n, a.In, true) // DA += duᵀ · x_d
	if dx == nil {
		return
	}
	if !dropout {
		matmul.Mul(dx, a.In, dut, n, true, a.A, a.In, false, n, R, a.In, true) // dx += du · A
		return
	}
	// forward: x_d = x * keep
	for i := range n {
		row := dx[i*a.In : (i+1)*a.In]
		keep := c.Keep[i*a.In : (i+1)*a.In]
		for j := range row {
			var sum float32
			for k := range R {
				sum += dut[k*n+i] * a.A[k*a.In+j]
			}
			row[j] += sum * keep[j]
		}
	}
}

// Delta returns scaling * B · A (Out, In), the update Merge adds.
func (a *Adapter) Delta() []float32 {
	d := make([]float32, a.Out*a.In)
	matmul.MulNN(d, a.B, a.A, a.Out, a.Rank, a.In, false)
	for i := range d {
		d[i] *= a.Scaling
	}
	return d
}

// Merge adds scaling * B · A into w (Out, In).
func (a *Adapter) Merge(w []float32) {
	checkWeight(a, w)
	for i, d := range a.Delta() {
		w[i] += d
	}
}

// Unmerge subtracts scaling * B · A from w, undoing Merge up to float rounding.
func (a *Adapter) Unmerge(w []float32) {
	checkWeight(a, w)
	for i, d := range a.Delta() {
		w[i] -= d
	}
}

func checkWeight(a *Adapter, w []float32) {
	if len(w) != a.Out*a.In {
		panic(fmt.Sprintf("peft: lora: %s: weight has %d elements, adapter is (%d, %d)", a.Module, len(w), a.Out, a.In))
	}
}

// Reset initialises A (kaiming or gaussian) and zeroes B.
func (a *Adapter) Reset(init LoRAInit, r *rng.RNG) {
	switch init {
	case InitGaussian:
		std := 1 / float32(a.Rank)
		for i := range a.A {
			a.A[i] = std * r.Normal()
		}
	default:
		// kaiming_uniform_(a=sqrt(5)) on a (R, In) tensor: gain sqrt(2/(1+5)),
		// bound = gain*sqrt(3/fan_in) = 1/sqrt(In).
		bound := 1 / mathf.Sqrt(float32(a.In))
		for i := range a.A {
			a.A[i] = r.Uniform(-bound, bound)
		}
	}
	clear(a.B)
}

// ---------------------------------------------------------------- attach

// Shape places one adapter: the layer and target it adapts and that weight's
// sizes (Module names it in errors and files).
type Shape struct {
	Module  string
	Layer   int
	Target  model.Target
	In, Out int
}

// LoRA is every adapter of a model, the method's one type. Its parameters
// and gradients hold all A and B matrices back to back (A then B for each
// adapter, in Shapes order), so the optimizer sees one vector; the adapters'
// slices are views into them.
type LoRA struct {
	LoRAConfig
	Adapters []*Adapter
	params   []float32
	grads    []float32
}

// AddLoRA attaches fresh adapters (A from r, B zero; with a nil r both stay
// zero, for loading saved adapters) to cfg.Targets in every layer of m.
// Errors: no targets, an invalid rank, alpha or dropout, or a place of m
// already taken by another method.
func AddLoRA(m *model.Model, cfg LoRAConfig, r *rng.RNG) (*LoRA, error) {
	shapes, err := loraShapes(m, cfg)
	if err != nil {
		return nil, err
	}
	lr, err := NewLoRA(cfg, shapes, r)
	if err != nil {
		return nil, err
	}
	if err := m.Attach(lr); err != nil {
		return nil, err
	}
	return lr, nil
}

// loraShapes places an adapter on cfg.Targets in every layer of m.
func loraShapes(m *model.Model, cfg LoRAConfig) ([]Shape, error) {
	if len(cfg.Targets) == 0 {
		return nil, fmt.Errorf("lora: at least one target is needed")
	}
	var shapes []Shape
	for l := range m.Config.NLayers {
		for _, t := range cfg.Targets {
			in, out := m.Config.Shape(t)
			shapes = append(shapes, Shape{Module: t.Module(l), Layer: l, Target: t, In: in, Out: out})
		}
	}
	return shapes, nil
}

// NewLoRA allocates and initialises adapters for shapes (A from r, B zero;
// with a nil r both stay zero). It returns an error if the rank is not in
// 1..min(in, out) for some shape, alpha is not positive or dropout is not in [0, 1).
func NewLoRA(cfg LoRAConfig, shapes []Shape, r *rng.RNG) (*LoRA, error) {
	l, _, _, err := newLoRA(cfg, shapes, r, 0)
	return l, err
}

// newLoRA is NewLoRA with extra values after the adapters in its flat
// buffers (DoRA's magnitudes): it returns the whole buffers too.
func newLoRA(cfg LoRAConfig, shapes []Shape, r *rng.RNG, extra int) (l *LoRA, params, grads []float32, err error) {
	if !(cfg.Alpha > 0) {
		return nil, nil, nil, fmt.Errorf("lora: alpha must be positive, got %g", cfg.Alpha)
	}
	if !(cfg.Dropout >= 0 && cfg.Dropout < 1) {
		return nil, nil, nil, fmt.Errorf("lora: dropout must be in [0, 1), got %g", cfg.Dropout)
	}
	total := 0
	for _, sh := range shapes {
		if cfg.Rank < 1 || cfg.Rank > min(sh.In, sh.Out) {
			return nil, nil, nil, fmt.Errorf("lora: rank must be between 1 and %d (the smaller side of %s, %d x %d), got %d",
				min(sh.In, sh.Out), sh.Module, sh.Out, sh.In, cfg.Rank)
		}
		total += cfg.Rank * (sh.In + sh.Out)
	}
	cfg.Targets = append([]model.Target(nil), cfg.Targets...)
	params, grads = make([]float32, total+extra), make([]float32, total+extra)
	s := &LoRA{LoRAConfig: cfg, params: params[:total:total], grads: grads[:total:total]}
	scaling := Scaling(cfg.Alpha, cfg.Rank, cfg.RSLoRA)
	off := 0
	take := func(buf []float32, n int) []float32 { return buf[off : off+n : off+n] }
	for _, sh := range shapes {
		a := &Adapter{Module: sh.Module, Layer: sh.Layer, Target: sh.Target, In: sh.In, Out: sh.Out,
			Rank: cfg.Rank, Scaling: scaling, Off: off}
		nA, nB := cfg.Rank*sh.In, sh.Out*cfg.Rank
		a.A, a.DA = take(s.params, nA), take(s.grads, nA)
		off += nA
		a.B, a.DB = take(s.params, nB), take(s.grads, nB)
		off += nB
		if r != nil {
			a.Reset(cfg.Init, r)
		}
		s.Adapters = append(s.Adapters, a)
	}
	return s, params, grads, nil
}

// layers is the number of blocks the adapters reach into (the model's, once attached).
func (s *LoRA) layers() int {
	n := 0
	for _, a := range s.Adapters {
		n = max(n, a.Layer+1)
	}
	return n
}

// Name is "lora".
func (s *LoRA) Name() string { return "lora" }

// Params is every A and B, back to back (A then B per adapter).
func (s *LoRA) Params() []float32 { return s.params }

// Grads is their gradients, laid out the same way.
func (s *LoRA) Grads() []float32 { return s.grads }

// NumParams is the number of trainable parameters: Σ r*(in+out) over adapters.
func (s *LoRA) NumParams() int { return len(s.params) }

// TrainsBase is false: LoRA keeps every base weight frozen.
func (s *LoRA) TrainsBase(string) bool { return false }

// Merge adds each adapter's scaling·B·A into the weight it adapts.
func (s *LoRA) Merge(m *model.Model) error {
	for _, a := range s.Adapters {
		a.Merge(m.Params.Layers[a.Layer].Weight(a.Target))
	}
	return nil
}

// Unmerge subtracts them again (up to float rounding).
func (s *LoRA) Unmerge(m *model.Model) error {
	for _, a := range s.Adapters {
		a.Unmerge(m.Params.Layers[a.Layer].Weight(a.Target))
	}
	return nil
}

// loraPass is the LoRA's work in one pass: a hook per adapter and their shared scratch.
type loraPass struct {
	fused bool      // this pass computes adapted layers through their fused weights
	du    []float32 // (R, N) the adapters' backward scratch, one adapter at a time
	hooks []*loraLinear
}

// loraLinear computes one adapted linear layer.
type loraLinear struct {
	p     *loraPass
	a     *Adapter
	cache *Cache
	fused []float32 // (Out, In) W0 + scaling·B·A, rebuilt at its first Forward after Begin
	stale bool
}

// NewPass gives every adapted layer its hook and cache for up to rows rows.
func (s *LoRA) NewPass(rows int) *model.Pass {
	p := &loraPass{du: make([]float32, rows*s.Rank)}
	mp := &model.Pass{Linear: make([][model.NumTargets]model.Linear, s.layers())}
	for _, a := range s.Adapters {
		h := &loraLinear{p: p, a: a, cache: a.NewCache(rows, s.Dropout > 0), fused: make([]float32, a.Out*a.In)}
		p.hooks = append(p.hooks, h)
		mp.Linear[a.Layer][a.Target] = h
	}
	mp.Begin = p.begin
	return mp
}

// begin decides how the pass computes: without dropout an adapted layer
// computes with its weight and update fused, W0 + scaling·B·A (what Merge
// would store): one product instead of three, and the input gradient comes
// through the same weight. Dropout touches the adapter's input alone, so it
// (and Ctx.Beside) computes the adapter beside its frozen weight.
func (p *loraPass) begin(ctx *model.Ctx) {
	p.fused = !ctx.Beside && (ctx.Dropout <= 0 || ctx.RNG == nil)
	for _, h := range p.hooks {
		h.stale = true
	}
}

// Forward: out = x · (W0 + s·B·A)ᵀ through the fused weight (saving s·u), or
// out = x·W0ᵀ + s·(x_d·Aᵀ)·Bᵀ beside it.
func (h *loraLinear) Forward(ctx *model.Ctx, out, in, w []float32, n int) {
	a := h.a
	if h.p.fused {
		if h.stale {
			a.Fuse(h.fused, w)
			h.stale = false
		}
		matmul.Forward(out[:n*a.Out], in[:n*a.In], h.fused, nil, n, a.In, a.Out)
		if !ctx.NoGrad {
			a.ForwardFused(in, h.cache, n)
		}
		return
	}
	matmul.Forward(out[:n*a.Out], in[:n*a.In], w, nil, n, a.In, a.Out)
	a.Forward(out, in, h.cache, n, ctx.Dropout, ctx.RNG)
}

// Backward: din += dout · (W0 + s·B·A) through the fused weight (or dout·W0
// plus the adapter's own input gradient beside it), dw += doutᵀ·in when the
// base weight trains, and the gradients of A and B into ctx.Grads.
func (h *loraLinear) Backward(ctx *model.Ctx, din, dw, dout, in, w []float32, n int) {
	a := h.a
	dxAdapter := din
	if h.p.fused {
		w, dxAdapter = h.fused, nil // dL/dx = dout · (W0 + s·B·A)
	}
	matmul.Backward(din, dw, nil, dout[:n*a.Out], in[:n*a.In], w, n, a.In, a.Out)
	dA, dB := a.GradViews(ctx.Grads)
	a.BackwardTo(dA, dB, dxAdapter, dout, in, h.cache, h.p.du, n)
}

// LoRAOf returns the LoRA attached to m, or nil.
func LoRAOf(m *model.Model) *LoRA {
	for _, meth := range m.Methods() {
		if l, ok := meth.(*LoRA); ok {
			return l
		}
	}
	return nil
}

// Adapter returns the adapter on target t of layer l, or nil.
func (s *LoRA) Adapter(l int, t model.Target) *Adapter {
	for _, a := range s.Adapters {
		if a.Layer == l && a.Target == t {
			return a
		}
	}
	return nil
}
