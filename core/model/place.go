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
//     residual stream and the classifier that ends it (trainable token rows);
//   - the input embeddings (Pass.Input): rows placed before every sequence's
//     tokens (prompt tuning);
//   - the attention's keys and values (Pass.KV): leading keys and values
//     every query attends to (prefix tuning);
//   - a block's sublayer outputs (Pass.Sublayer): a transform of the
//     attention's and the MLP's output before each residual add (adapters).
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
	// trains base weights. Any method may set End (never called in
	// decoding): prefix tuning's MLP, whose output Begin computes, takes its
	// gradient back to the MLP's parameters there.
	Weights     *Params
	WeightGrads *Params
	End         func(ctx *Ctx)
	// Tokens, when set, computes the embedding lookup and the classifier.
	Tokens Tokens
	// Input, when not nil, places rows before every sequence's tokens.
	Input Input
	// KV, when not nil, gives every layer's attention leading keys and values.
	KV KV
	// Sublayer holds, per layer (L), the transforms of the attention's and
	// the MLP's output before each residual add (nil where none).
	Sublayer [][NumSublayers]Sublayer
}

// Input is a method's work at the input embeddings: Len rows, the same for
// every sequence, placed before its tokens, as Hugging Face PEFT's prompt
// tuning concatenates its prompt before the input embeddings. Positions: the
// rows sit at positions 0..Len-1 (after the leading keys and values of a KV
// hook, if any), so the first token is at position Len, as a Llama model
// counts positions over its whole input. Mask: causal as any position, so
// every token attends to all the rows and the rows to each other (earlier
// ones) only. They count against the context (Model.Context), and no logits
// are computed at them: Acts.Logits holds the tokens' rows alone.
type Input interface {
	Len() int
	// Forward writes the rows (Len, C).
	Forward(ctx *Ctx, rows []float32)
	// Backward accumulates the method's gradients into ctx.Grads from drows
	// (Len, C): the rows' gradient summed over the batch's sequences.
	Backward(ctx *Ctx, drows []float32)
}

// KV is a method's work at the attention's keys and values: Len leading keys
// and values in every layer, the same for every sequence, which every query
// attends to, as Hugging Face PEFT's prefix tuning hands a Llama model its
// past key values. The keys are read as they are, with no rotary embedding
// applied (a Llama cache holds keys after their rotation). They take
// positions 0..Len-1, so the sequence's own rows start at position Len, as a
// Llama model counts a cache of Len past positions. They count against the
// context (Model.Context).
type KV interface {
	Len() int
	// Forward writes layer l's leading keys and values, (Len, KVD) each.
	Forward(ctx *Ctx, l int, k, v []float32)
	// Backward accumulates the method's gradients from dk and dv (Len,
	// KVD): layer l's leading keys' and values' gradients summed over the
	// batch's sequences.
	Backward(ctx *Ctx, l int, dk, dv []float32)
}

// The two sublayer outputs of a block, in the order the block computes them.
const (
	SubAttention = iota // the attention's output (after o_proj), before x + it
	SubMLP              // the MLP's output (after down_proj), before x + it
	NumSublayers
)

// Sublayer is a method's work at one of a block's sublayer outputs: h (N, C)
// becomes f(h) before the residual add, x + f(h).
type Sublayer interface {
	// Forward transforms h in place, saving what Backward needs unless ctx.NoGrad.
	Forward(ctx *Ctx, h []float32, n int)
	// Backward accumulates dh += dL/dh from dout = dL/df(h) (N, C), and the
	// method's gradients into ctx.Grads.
	Backward(ctx *Ctx, dh, dout []float32, n int)
}

// Unmergeable is a method that cannot be folded into a Llama checkpoint's
// weights and says why: Model.Merge's error quotes it.
type Unmergeable interface {
	WhyNotMerged() string
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
	lead, err := m.checkLead(ms)
	if err != nil {
		return err
	}
	m.methods, m.hooked, m.lead = ms, hooked, lead
	return nil
}

// Context is the number of token positions a sequence may hold: SeqLen less
// the positions the attached methods place before the tokens (an Input
// hook's rows, a KV hook's keys and values).
func (m *Model) Context() int { return m.Config.SeqLen - m.lead.rows - m.lead.kv }

// leads is how many positions the attached methods place before the tokens.
type leads struct {
	rows int // an Input hook's rows: positions the blocks compute
	kv   int // a KV hook's keys and values: positions attention only reads
}

// checkLead refuses two methods at the input embeddings or at the keys and
// values, sublayer hooks for the wrong number of layers or two at one
// sublayer output, and leading positions that leave no room for a token.
func (m *Model) checkLead(ms []Method) (leads, error) {
	var ld leads
	var input, kv string
	var sub [][NumSublayers]string
	for _, meth := range ms {
		p := meth.NewPass(1)
		if p.Input != nil {
			if input != "" {
				return ld, fmt.Errorf("model: %s and %s both act on the input embeddings", input, meth.Name())
			}
			input, ld.rows = meth.Name(), p.Input.Len()
		}
		if p.KV != nil {
			if kv != "" {
				return ld, fmt.Errorf("model: %s and %s both act on the attention's keys and values", kv, meth.Name())
			}
			kv, ld.kv = meth.Name(), p.KV.Len()
		}
		if p.Sublayer == nil {
			continue
		}
		if len(p.Sublayer) != m.Config.NLayers {
			return ld, fmt.Errorf("model: method %s has sublayer hooks for %d layers, the model has %d", meth.Name(), len(p.Sublayer), m.Config.NLayers)
		}
		if sub == nil {
			sub = make([][NumSublayers]string, m.Config.NLayers)
		}
		for l := range p.Sublayer {
			for k, h := range p.Sublayer[l] {
				if h == nil {
					continue
				}
				if prev := sub[l][k]; prev != "" {
					return ld, fmt.Errorf("model: %s and %s both act on layer %d's %s output", prev, meth.Name(), l, [...]string{"attention", "MLP"}[k])
				}
				sub[l][k] = meth.Name()
			}
		}
	}
	if ld.rows < 0 || ld.kv < 0 || ld.rows+ld.kv >= m.Config.SeqLen {
		return ld, fmt.Errorf("model: the methods place %d positions before the tokens, the context is %d: no room left for a token", ld.rows+ld.kv, m.Config.SeqLen)
	}
	return ld, nil
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
		hooked = append(hooked, p.Linear != nil || p.Tokens != nil || p.Weights != nil || p.Input != nil || p.KV != nil || p.Sublayer != nil)
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

// places is the hooks at the input embeddings, the keys and values and the
// sublayer outputs within one Acts or Decoder, each with its method's context.
type places struct {
	input      Input
	inputCtx   *Ctx
	kv         KV
	kvCtx      *Ctx
	sub        [][NumSublayers]subAt // (L), nil when no method transforms a sublayer output
	rows, keys int                   // leading positions: the Input's rows, the KV's keys and values
}

// subAt is the hook at one sublayer output and its method's context.
type subAt struct {
	h   Sublayer
	ctx *Ctx
}

// placesOf collects the passes' hooks at the input, the keys and values and the sublayer outputs.
func placesOf(ps []*pass, layers int) places {
	var pl places
	for _, p := range ps {
		h := p.hooks
		if h.Input != nil {
			pl.input, pl.inputCtx, pl.rows = h.Input, &p.ctx, h.Input.Len()
		}
		if h.KV != nil {
			pl.kv, pl.kvCtx, pl.keys = h.KV, &p.ctx, h.KV.Len()
		}
		for l := range h.Sublayer {
			if pl.sub == nil {
				pl.sub = make([][NumSublayers]subAt, layers)
			}
			for k, s := range h.Sublayer[l] {
				if s != nil {
					pl.sub[l][k] = subAt{h: s, ctx: &p.ctx}
				}
			}
		}
	}
	return pl
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
			if u, ok := meth.(Unmergeable); ok {
				return fmt.Errorf("model: method %s cannot be merged into the base weights: %s", meth.Name(), u.WhyNotMerged())
			}
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
