// Places: where a fine-tuning method acts on the model, and how a run's trainable weights are laid out.
package model

import (
	"fmt"

	"golora/core/rng"
)

// A Method is a way to fine-tune attached to a model (core/peft holds them).
// It acts at some of the model's places, through the hooks of a Pass, and it
// may train its own parameters, some of the base weights, or both. Forward
// and Backward call the places in order and do no method's work themselves.
//
// The places:
//   - a linear layer's weight or output (Pass.Linear): the method computes
//     the layer, out = f(in, W0), and its backward (LoRA, DoRA, IA³, BitFit's biases);
//   - which base weights train (TrainsBase): their gradients are computed,
//     every other weight-gradient product is skipped (full, top, BitFit's gains);
//   - the weights themselves (Pass.Weights): the method supplies every base
//     weight a pass computes with, receives their gradient, and maps it onto
//     its own parameters (intrinsic: θ = θ0 + P z, so dL/dz = Pᵀ dL/dθ);
//   - the token rows (Pass.Tokens): the embedding lookup that starts the
//     residual stream and the classifier that ends it (trainable token rows).
type Method interface {
	// Name is the method's name as the CLI and the files spell it (lora, full, ...).
	Name() string
	// Params and Grads are the method's own trainable parameters and their
	// gradients, one flat buffer each of the same length (empty when it
	// trains base weights only). Hooks find their views by offset, so that a
	// pass can put the gradients in another buffer of that layout (Ctx.Grads).
	Params() []float32
	Grads() []float32
	// TrainsBase reports whether the base tensor of that name (Config.Tensors)
	// trains under this method.
	TrainsBase(name string) bool
	// NewPass returns the method's hooks for one pass over up to rows token
	// rows: one per Acts and per Decoder, holding that pass's caches.
	NewPass(rows int) *Pass
}

// A Merger is a method whose change can be folded into the base weights
// (for inference at the base's cost) and taken out again.
type Merger interface {
	Merge(m *Model) error
	Unmerge(m *Model) error
}

// Pass is one method's hooks for one pass of the model, nil where the method
// does not act. A hook keeps what its backward needs in its own caches.
type Pass struct {
	// Begin is called before the places run: at every Forward, and at every
	// first position of a Decoder (so that weights the method folds together
	// are rebuilt from its current parameters). It may be nil.
	Begin func(ctx *Ctx)
	// Linear holds, per layer (L) and target, the hook that computes that
	// linear layer in place of out = in · W0ᵀ.
	Linear [][NumTargets]Linear
	// Weights, when not nil, are the base weights the pass computes with in
	// place of the model's own (laid out as Params; the method writes them
	// in Begin). WeightGrads, when not nil, receives dL/dWeights in every
	// Backward (every tensor; the model zeroes it first), and End, called at
	// the end of every Backward, maps it onto the method's own gradients in
	// ctx.Grads. One method at most supplies them, and no other method then
	// trains base weights.
	Weights     *Params
	WeightGrads *Params
	End         func(ctx *Ctx)
	// Tokens, when set, computes the embedding lookup and the classifier.
	Tokens Tokens
}

// Linear is a method's work at one linear layer with base weight w (Out, In).
type Linear interface {
	// Forward computes out (N, Out) from in (N, In), saving what Backward needs
	// unless ctx.NoGrad.
	Forward(ctx *Ctx, out, in, w []float32, n int)
	// Backward accumulates din += dL/din (din may be nil: nothing below needs
	// it), dw += dL/dW0 (nil when the base weight is frozen) and the method's
	// own gradients into ctx.Grads, from dout (N, Out).
	Backward(ctx *Ctx, din, dw, dout, in, w []float32, n int)
}

// Tokens is a method's work at the token rows: the embedding lookup that
// starts the residual stream and the classifier that ends it (one matrix,
// Params.Embed, when the model is tied). With C the model's width and V its
// vocabulary:
type Tokens interface {
	// Embed writes x (N, C), row i the embedding of ids[i], from embed (V, C).
	Embed(ctx *Ctx, x, embed []float32, ids []int, n int)
	// EmbedBackward accumulates the method's gradients into ctx.Grads (and
	// dembed (V, C), when it is not nil: the base embedding trains) from dx (N, C).
	EmbedBackward(ctx *Ctx, dembed, dx []float32, ids []int, n int)
	// Classify computes logits (N, V) from h (N, C) in place of h · headᵀ.
	Classify(ctx *Ctx, logits, h, head []float32, n int)
	// ClassifyBackward accumulates dh += dL/dh, dhead += dL/dhead (nil when
	// the classifier is frozen) and the method's gradients, from dlogits (N, V).
	ClassifyBackward(ctx *Ctx, dh, dhead, dlogits, h, head []float32, n int)
}

// Ctx is what a pass tells a method's hooks: the same for every place of the
// pass, set by the model from Acts (or the Decoder) before the pass.
type Ctx struct {
	Dropout float32  // the method's dropout probability in this pass (0: none, as in evaluation)
	RNG     *rng.RNG // draws the dropout masks, in the order the places run
	// Beside asks each method to compute as its paper writes it, beside the
	// frozen weights (out = x·W0ᵀ + s·(x·Aᵀ)·Bᵀ for LoRA), instead of through
	// weights it folds together (W0 + s·B·A, the merged model's bits). Checks
	// of merging compare the two.
	Beside bool
	NoGrad bool      // decoding: nothing is saved for a backward pass
	Grads  []float32 // laid out as the method's Grads(): where its gradients go
}

// Attach adds a method to the model. Methods act at disjoint places; a merged
// model takes no new method.
func (m *Model) Attach(meth Method) error {
	if m.merged {
		return fmt.Errorf("model: the attached methods are merged; unmerge before attaching %s", meth.Name())
	}
	if len(meth.Params()) != len(meth.Grads()) {
		return fmt.Errorf("model: method %s has %d parameters and %d gradients", meth.Name(), len(meth.Params()), len(meth.Grads()))
	}
	ms := append(append([]Method(nil), m.methods...), meth)
	hooked, err := m.checkPlaces(ms)
	if err != nil {
		return err
	}
	m.methods, m.hooked = ms, hooked
	return nil
}

// Methods lists the attached methods in the order they were attached.
func (m *Model) Methods() []Method { return m.methods }

// checkPlaces refuses two methods at one place, and reports which methods
// act at some place (the others train base weights only).
func (m *Model) checkPlaces(ms []Method) ([]bool, error) {
	var at [][NumTargets]string
	var hooked []bool
	tokens := "" // the method acting on the token rows
	for _, meth := range ms {
		p := meth.NewPass(1)
		if p.Linear != nil && len(p.Linear) != m.Config.NLayers {
			return nil, fmt.Errorf("model: method %s has linear hooks for %d layers, the model has %d", meth.Name(), len(p.Linear), m.Config.NLayers)
		}
		hooked = append(hooked, p.Linear != nil || p.Tokens != nil || p.Weights != nil)
		if p.Tokens != nil {
			if tokens != "" {
				return nil, fmt.Errorf("model: %s and %s both act on the token rows", tokens, meth.Name())
			}
			tokens = meth.Name()
		}
		if p.Weights != nil {
			if err := m.checkWeightsPlace(ms, meth); err != nil {
				return nil, err
			}
		}
		if at == nil {
			at = make([][NumTargets]string, m.Config.NLayers)
		}
		for l := range p.Linear {
			for t, h := range p.Linear[l] {
				if h == nil {
					continue
				}
				if prev := at[l][t]; prev != "" {
					return nil, fmt.Errorf("model: %s and %s both act on %s", prev, meth.Name(), Target(t).Module(l))
				}
				at[l][t] = meth.Name()
			}
		}
	}
	if tokens != "" {
		rows := []string{"model.embed_tokens.weight"}
		if !m.Config.Tied {
			rows = append(rows, "lm_head.weight")
		}
		for _, meth := range ms {
			for _, name := range rows {
				if meth.TrainsBase(name) {
					return nil, fmt.Errorf("model: %s trains %s, whose rows %s replaces", meth.Name(), name, tokens)
				}
			}
		}
	}
	return hooked, nil
}

// checkWeightsPlace refuses a second method supplying the weights, or one
// training base weights beside meth, which supplies them: the model would
// not know which weights to compute with or where their gradient goes.
func (m *Model) checkWeightsPlace(ms []Method, meth Method) error {
	for _, other := range ms {
		if other == meth {
			continue
		}
		if other.NewPass(1).Weights != nil {
			return fmt.Errorf("model: %s and %s both supply the base weights", other.Name(), meth.Name())
		}
		for _, ti := range m.Config.Tensors() {
			if other.TrainsBase(ti.Name) {
				return fmt.Errorf("model: %s trains %s while %s supplies the base weights", other.Name(), ti.Name, meth.Name())
			}
		}
	}
	return nil
}

// weightsOf returns the base weights passes compute with: those a method
// supplies (Pass.Weights), else the model's own (and those when merged).
func (m *Model) weightsOf(passes []*pass) *Params {
	if !m.merged {
		for _, p := range passes {
			if p.hooks.Weights != nil {
				return p.hooks.Weights
			}
		}
	}
	return m.Params
}

// weightGradsOf returns the zeroed buffer a method supplying the weights
// receives their gradient in (Pass.WeightGrads), or nil.
func weightGradsOf(passes []*pass) *Params {
	for _, p := range passes {
		if g := p.hooks.WeightGrads; g != nil {
			clear(g.Data)
			return g
		}
	}
	return nil
}

// endPasses calls every method's End at the end of a Backward.
func endPasses(passes []*pass) {
	for _, p := range passes {
		if p.hooks.End != nil {
			p.hooks.End(&p.ctx)
		}
	}
}

// pass is one attached method's hooks and context within one Acts or Decoder.
type pass struct {
	meth  Method
	hooks *Pass
	ctx   Ctx
	off   int // where the method's gradients start in Acts.MethodGrads
}

// linearAt is the hook at one linear layer and its method's context.
type linearAt struct {
	h   Linear
	ctx *Ctx
}

// newPasses makes every attached method's hooks for rows token rows, and
// the table of linear hooks (nil where a layer runs plainly).
func (m *Model) newPasses(rows int) ([]*pass, [][NumTargets]linearAt) {
	var ps []*pass
	var lin [][NumTargets]linearAt
	off := 0
	for _, meth := range m.methods {
		p := &pass{meth: meth, hooks: meth.NewPass(rows), off: off}
		off += len(meth.Params())
		ps = append(ps, p)
		for l := range p.hooks.Linear {
			if lin == nil {
				lin = make([][NumTargets]linearAt, m.Config.NLayers)
			}
			for t, h := range p.hooks.Linear[l] {
				if h != nil {
					lin[l][t] = linearAt{h: h, ctx: &p.ctx}
				}
			}
		}
	}
	return ps, lin
}

// tokensAt is the hook at the token rows and its method's context.
type tokensAt struct {
	h   Tokens
	ctx *Ctx
}

// tokensOf finds the hook at the token rows among a pass's methods (checkPlaces allows one).
func tokensOf(ps []*pass) tokensAt {
	for _, p := range ps {
		if p.hooks.Tokens != nil {
			return tokensAt{h: p.hooks.Tokens, ctx: &p.ctx}
		}
	}
	return tokensAt{}
}

// Merged reports whether the attached methods are folded into the base weights.
func (m *Model) Merged() bool { return m.merged }

// Merge folds every attached method into the base weights (each must be a
// Merger); afterwards the passes no longer run their hooks.
func (m *Model) Merge() error {
	if m.merged {
		return fmt.Errorf("model: the methods are already merged")
	}
	var ms []Merger
	for i, meth := range m.methods {
		if !m.hooked[i] {
			continue // trains base weights only: nothing to fold
		}
		mg, ok := meth.(Merger)
		if !ok {
			return fmt.Errorf("model: method %s cannot be merged into the base weights", meth.Name())
		}
		ms = append(ms, mg)
	}
	if len(ms) == 0 {
		return fmt.Errorf("model: no attached method to merge")
	}
	for i, mg := range ms {
		if err := mg.Merge(m); err != nil {
			for _, done := range ms[:i] {
				_ = done.Unmerge(m)
			}
			return err
		}
	}
	m.merged = true
	return nil
}

// Unmerge takes the merged methods back out of the base weights.
func (m *Model) Unmerge() error {
	if !m.merged {
		return fmt.Errorf("model: the methods are not merged")
	}
	for i := len(m.methods) - 1; i >= 0; i-- {
		if mg, ok := m.methods[i].(Merger); ok && m.hooked[i] {
			if err := mg.Unmerge(m); err != nil {
				return err
			}
		}
	}
	m.merged = false
	return nil
}

// Trainable is everything a run trains, as one flat vector: the base tensors
// that some attached method trains, in storage order, then each method's own
// parameters in attach order. The optimizer, gradient clipping, the parts of
// a step and snapshots all see this one vector.
type Trainable struct {
	Params   [][]float32 // the trained weights in flat order (adjacent base tensors joined)
	Len      int         // total length
	BaseLen  int         // the base tensors' share, at the start
	NoDecay  [][2]int    // [lo, hi) spans of the flat vector that weight decay skips (RMSNorm gains)
	baseUsed []bool      // per Config.Tensors() entry: trains
}

// Trainable lays out what the attached methods train.
func (m *Model) Trainable() Trainable {
	var tr Trainable
	off, start, end := 0, -1, -1 // [start, end): the run of trained tensors being joined, in Params.Data
	flush := func() {
		if start >= 0 {
			tr.Params = append(tr.Params, m.Params.Data[start:end:end])
		}
		start = -1
	}
	for _, ti := range m.Config.Tensors() {
		n := numel(ti.Shape)
		on := false
		for _, meth := range m.methods {
			on = on || meth.TrainsBase(ti.Name)
		}
		tr.baseUsed = append(tr.baseUsed, on)
		if on {
			if len(ti.Shape) == 1 {
				tr.NoDecay = append(tr.NoDecay, [2]int{tr.Len, tr.Len + n})
			}
			if start < 0 || end != off {
				flush()
				start = off
			}
			end = off + n
			tr.Len += n
		}
		off += n
	}
	flush()
	tr.BaseLen = tr.Len
	for _, meth := range m.methods {
		if p := meth.Params(); len(p) > 0 {
			tr.Params = append(tr.Params, p)
			tr.Len += len(p)
		}
	}
	return tr
}

// BindGrads lays the gradient views of a run over grad (Len values, laid out
// as the Trainable): base gradients (nil where nothing trains, and a nil view
// for every frozen tensor) and the methods' gradients (for Acts.MethodGrads).
func (tr Trainable) BindGrads(c Config, grad []float32) (base *Params, methods []float32) {
	if len(grad) != tr.Len {
		panic(fmt.Sprintf("model: BindGrads of %d values for a run that trains %d", len(grad), tr.Len))
	}
	methods = grad[tr.BaseLen:]
	if tr.BaseLen == 0 {
		return nil, methods
	}
	base = &Params{}
	off := 0
	var views []*[]float32
	base.Layers = make([]Layer, c.NLayers)
	views = append(views, &base.Embed)
	for l := range base.Layers {
		L := &base.Layers[l]
		views = append(views, &L.AttnNorm, &L.Wq, &L.Wk, &L.Wv, &L.Wo, &L.MLPNorm, &L.Wgate, &L.Wup, &L.Wdown)
	}
	views = append(views, &base.Norm)
	if !c.Tied {
		views = append(views, &base.LMHead)
	}
	for i, ti := range c.Tensors() {
		if !tr.baseUsed[i] {
			continue
		}
		n := numel(ti.Shape)
		*views[i] = grad[off : off+n : off+n]
		off += n
	}
	if c.Tied {
		base.LMHead = base.Embed
	}
	if off == len(grad[:tr.BaseLen]) && len(tr.Params) > 0 && tr.BaseLen == c.NumParams() {
		base.Data = grad[:tr.BaseLen] // every base tensor trains: the gradients are laid out as Params
	}
	return base, methods
}
