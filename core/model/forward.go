// Acts and the training forward/backward passes: the same list of kernel calls, run forwards then backwards.
package model

import (
	"fmt"

	"golora/core/matmul"
	"golora/core/nn"
	"golora/core/rng"
)

// Acts is the wave of activations of one batch (sized for up to MaxB x MaxT
// tokens), kept for the backward pass, plus the scratch the backward needs.
// Make one per model and reuse it every step: nothing here is allocated per step.
type Acts struct {
	MaxB, MaxT int
	B, T       int // the current batch's shape

	Dropout float32  // the methods' dropout probability for this pass (0 in evaluation)
	RNG     *rng.RNG // draws the dropout masks
	// SideAdapters has each method compute beside its frozen weights, as
	// its paper writes it (LoRA: out = x·W0ᵀ + s·(x·Aᵀ)·Bᵀ), instead of
	// through the weights it folds together (W0 + s·B·A: one product instead
	// of three, with the bits of the merged model). The two agree to float
	// rounding; checks of merging compare them (Ctx.Beside).
	SideAdapters bool
	// MethodGrads, when not nil, receives the attached methods' gradients,
	// laid out as their Grads() back to back in attach order (the tail of
	// a Trainable's vector, see Trainable.BindGrads), instead of the methods'
	// own buffers: parts of a step computed side by side each accumulate
	// into their own buffer.
	MethodGrads []float32
	// LossDen, when > 0, divides the summed masked loss instead of this
	// batch's own Σ mask: a step computed in parts passes the whole batch's
	// count, so that the parts' losses and gradients add up to the batch's.
	LossDen float64
	// ScoredOnly, when set, runs the classifier only on the positions that
	// have a target: a fine-tuning batch never reads a prompt position's
	// logits, and skipping them saves the largest matmul's share of those rows.
	// a.Logits and a.Probs then hold the scored rows, packed, in order. The
	// loss and every gradient are unchanged (the skipped rows contributed exact zeros).
	ScoredOnly bool

	inputs  []int     // (N)
	targets []int     // (N) -1 where no loss
	mask    []float32 // (N) loss weight per position
	X0      []float32 // (N, C) token embeddings
	Layers  []LayerActs
	LnF     []float32 // (N, C) final RMSNorm output
	RstdF   []float32 // (N)
	Logits  []float32 // (N, V)
	Probs   []float32 // (N, V) softmax of the logits
	Losses  []float32 // (N) per-position cross-entropy

	scored int       // rows the classifier ran on in the last Forward (N unless packed)
	packed bool      // the last Forward ran the classifier on the scored rows only
	rows   []int     // (N) packed row k is position rows[k]
	lnS    []float32 // (N, C) the scored rows of LnF, packed
	dlnS   []float32 // (N, C) their gradient

	// backward scratch
	dres, dln, dattY []float32 // (N, C)
	dq, dqPre        []float32 // (N, C)
	dk, dkPre, dv    []float32 // (N, KVD)
	datt             []float32 // (B, NH, T, T)
	dg, du, dh       []float32 // (N, H)
	dlogits          []float32 // (N, V)
	dlosses          []float32 // (N)

	passes []*pass                // each attached method's hooks for these activations
	linear [][NumTargets]linearAt // (L) the hook computing each linear layer; nil h: plain
	tokens tokensAt               // the hook at the token rows; nil h: plain
	nmeth  int                    // len(m.Methods()) when passes were made
	places places                 // the hooks at the input, the keys and values, the sublayer outputs
	lead   leads                  // the leading positions the buffers were sized for
	dsub   []float32              // (N', C) a sublayer hook's input gradient
}

// LayerActs is what one block saves. With methods that place rows before
// the tokens (Pass.Input), every sequence has T' = rows + T rows, and N' =
// B·T' replaces N below; with leading keys and values (Pass.KV), K and V hold
// them before each sequence's own: (B, keys + T', KVD), and Att is (B, NH,
// T', keys + T').
type LayerActs struct {
	Ln1   []float32 // (N, C) input_layernorm output
	Rstd1 []float32 // (N)
	Q     []float32 // (N, C) queries after RoPE
	K     []float32 // (N, KVD) keys after RoPE
	V     []float32 // (N, KVD)
	Att   []float32 // (B, NH, T, T) attention probabilities
	AttY  []float32 // (N, C) attention output before o_proj
	XMid  []float32 // (N, C) residual after attention
	Ln2   []float32 // (N, C) post_attention_layernorm output
	Rstd2 []float32 // (N)
	G     []float32 // (N, H) gate_proj output
	U     []float32 // (N, H) up_proj output
	Sig   []float32 // (N, H) sigmoid(G), saved for the backward pass
	Hd    []float32 // (N, H) silu(G) * U
	XOut  []float32 // (N, C) block output
}

// NewActs sizes the activations for batches of up to maxB sequences of up to maxT tokens.
func (m *Model) NewActs(maxB, maxT int) *Acts {
	c := m.Config
	if maxB < 1 || maxT < 1 || maxT > c.SeqLen {
		panic(fmt.Sprintf("model: NewActs(%d, %d) outside 1..%d tokens", maxB, maxT, c.SeqLen))
	}
	if maxT+m.lead.rows+m.lead.kv > c.SeqLen {
		panic(fmt.Sprintf("model: NewActs(%d, %d): the attached methods place %d positions before the tokens, the context is %d",
			maxB, maxT, m.lead.rows+m.lead.kv, c.SeqLen))
	}
	T, TK := maxT+m.lead.rows, maxT+m.lead.rows+m.lead.kv // rows and keys per sequence
	N, C, KVD, H, V := maxB*maxT, c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize
	NT, NK := maxB*T, maxB*TK
	att := maxB * c.NHeads * T * TK
	f := func(n int) []float32 { return make([]float32, n) }
	a := &Acts{MaxB: maxB, MaxT: maxT,
		inputs: make([]int, N), targets: make([]int, N), mask: f(N), rows: make([]int, N), lnS: f(N * C), dlnS: f(N * C),
		X0: f(NT * C), LnF: f(NT * C), RstdF: f(NT), Logits: f(N * V), Probs: f(N * V), Losses: f(N),
		dres: f(NT * C), dln: f(NT * C), dattY: f(NT * C), dq: f(NT * C), dqPre: f(NT * C),
		dk: f(NK * KVD), dkPre: f(NT * KVD), dv: f(NK * KVD), datt: f(att),
		dg: f(NT * H), du: f(NT * H), dh: f(NT * H), dlogits: f(N * V), dlosses: f(N)}
	a.Layers = make([]LayerActs, c.NLayers)
	for l := range a.Layers {
		a.Layers[l] = LayerActs{Ln1: f(NT * C), Rstd1: f(NT), Q: f(NT * C), K: f(NK * KVD), V: f(NK * KVD),
			Att: f(att), AttY: f(NT * C), XMid: f(NT * C), Ln2: f(NT * C), Rstd2: f(NT),
			G: f(NT * H), U: f(NT * H), Sig: f(NT * H), Hd: f(NT * H), XOut: f(NT * C)}
	}
	a.lead = m.lead
	m.sizePasses(a)
	return a
}

// sizePasses gives every attached method its hooks for a (again after Attach).
func (m *Model) sizePasses(a *Acts) {
	if m.lead != a.lead {
		panic("model: these Acts were made before a method that places positions before the tokens was attached: make new ones (NewActs)")
	}
	a.passes, a.linear = m.newPasses(a.MaxB * (a.MaxT + a.lead.rows))
	a.tokens = tokensOf(a.passes)
	a.places = placesOf(a.passes, m.Config.NLayers)
	if a.places.sub != nil && a.dsub == nil { // only a sublayer hook's backward needs it
		a.dsub = make([]float32, a.MaxB*(a.MaxT+a.lead.rows)*m.Config.Dim)
	}
	a.nmeth = len(m.methods)
}

// beginPasses hands the pass's settings to every method and calls its Begin.
func (m *Model) beginPasses(a *Acts) {
	if a.nmeth != len(m.methods) {
		m.sizePasses(a)
	}
	for _, p := range a.passes {
		p.ctx = Ctx{Dropout: a.Dropout, RNG: a.RNG, Beside: a.SideAdapters, Grads: p.meth.Grads()}
		if a.MethodGrads != nil {
			n := len(p.meth.Params())
			p.ctx.Grads = a.MethodGrads[p.off : p.off+n : p.off+n]
		}
		if p.hooks.Begin != nil && !m.merged {
			p.hooks.Begin(&p.ctx)
		}
	}
}

// Hooks returns the hooks meth holds in these activations (its caches, for
// checks that read what a pass saved), or nil when meth is not attached.
func (a *Acts) Hooks(meth Method) *Pass {
	for _, p := range a.passes {
		if p.meth == meth {
			return p.hooks
		}
	}
	return nil
}

// linearHook is the hook computing linear layer (l, tg), or nil (plain, or merged).
func (a *Acts) linearHook(m *Model, l int, tg Target) linearAt {
	if m.merged || a.linear == nil {
		return linearAt{}
	}
	return a.linear[l][tg]
}

// Forward runs the model on inputs (B*T token ids) and, when targets is not
// nil, returns the masked mean cross-entropy against targets (-1 = no loss at
// that position) weighted by mask (nil: every position with a target counts).
// The logits are left in a.Logits.
func (m *Model) Forward(a *Acts, inputs, targets []int, mask []float32, b, t int) float32 {
	c := m.Config
	if b < 1 || t < 1 || b > a.MaxB || t > a.MaxT {
		panic(fmt.Sprintf("model: Forward batch (%d, %d) outside the acts' (%d, %d)", b, t, a.MaxB, a.MaxT))
	}
	if len(inputs) != b*t || (targets != nil && len(targets) != b*t) || (mask != nil && len(mask) != b*t) {
		panic("model: Forward inputs, targets and mask must each hold B*T entries")
	}
	a.B, a.T = b, t
	N, C, KVD, H, V := b*t, c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize
	NH, NKV, HS := c.NHeads, c.NKVHeads, c.HeadSize()
	copy(a.inputs, inputs)
	m.beginPasses(a)
	p := m.weightsOf(a.passes)
	// With an Input hook every sequence has pre rows before its t tokens, and
	// the blocks compute tt rows per sequence, NT in all; with a KV hook the
	// attention reads keys leading keys first, at positions 0..keys-1.
	pre, keys := a.places.rows, a.places.keys
	tt := pre + t
	NT := b * tt

	m.inputRows(a, p.Embed, inputs, b, t) // X0 = [the Input hook's rows; Embed[inputs]] per sequence
	x := a.X0
	for l := range c.NLayers {
		L, A := &p.Layers[l], &a.Layers[l]
		nn.RMSNormForward(A.Ln1, A.Rstd1, x, L.AttnNorm, NT, C, c.NormEps)
		m.linear(a, l, TargetQ, A.Q, A.Ln1, L.Wq, NT, C, C)
		m.linear(a, l, TargetK, A.K, A.Ln1, L.Wk, NT, C, KVD)
		m.linear(a, l, TargetV, A.V, A.Ln1, L.Wv, NT, C, KVD)
		m.rope.Forward(A.Q, A.Q, b, tt, NH, HS, keys)
		m.rope.Forward(A.K, A.K, b, tt, NKV, HS, keys)
		m.leadKV(a, l, b, tt) // K, V = [the KV hook's keys and values; K, V] per sequence
		nn.AttentionForwardLead(A.AttY, A.Att, A.Q, A.K, A.V, b, tt, keys, NH, NKV, HS)
		m.linear(a, l, TargetO, A.XMid, A.AttY, L.Wo, NT, C, C) // o_proj output, then += x below
		m.sublayer(a, l, SubAttention, A.XMid, NT)
		nn.ResidualForward(A.XMid, x, A.XMid, NT*C)
		nn.RMSNormForward(A.Ln2, A.Rstd2, A.XMid, L.MLPNorm, NT, C, c.NormEps)
		m.linear(a, l, TargetGate, A.G, A.Ln2, L.Wgate, NT, C, H)
		m.linear(a, l, TargetUp, A.U, A.Ln2, L.Wup, NT, C, H)
		nn.SwiGLUForward(A.Hd, A.Sig, A.G, A.U, NT*H)
		m.linear(a, l, TargetDown, A.XOut, A.Hd, L.Wdown, NT, H, C)
		m.sublayer(a, l, SubMLP, A.XOut, NT)
		nn.ResidualForward(A.XOut, A.XMid, A.XOut, NT*C)
		x = A.XOut
	}
	nn.RMSNormForward(a.LnF, a.RstdF, x, p.Norm, NT, C, c.NormEps)
	weight := func(i int) float32 {
		switch {
		case targets[i] < 0:
			return 0
		case mask == nil:
			return 1
		}
		return mask[i]
	}
	// The classifier runs on the tokens' rows: all of them (packed, when
	// rows precede them), or the scored ones (packed) with ScoredOnly.
	scoredOnly := a.ScoredOnly && targets != nil
	a.packed, a.scored = scoredOnly || pre > 0, N
	if !a.packed {
		m.classify(a.tokensHook(m), p.LMHead, a.Logits[:N*V], a.LnF[:N*C], N)
		if targets == nil {
			return 0
		}
		copy(a.targets, targets)
		for i := range N {
			a.mask[i] = weight(i)
		}
	} else {
		M := 0
		for i := range N {
			if scoredOnly && targets[i] < 0 {
				continue
			}
			r := i + (i/t+1)*pre // token i's row among the NT
			a.rows[M] = r
			if targets != nil {
				a.targets[M], a.mask[M] = targets[i], weight(i)
			}
			copy(a.lnS[M*C:(M+1)*C], a.LnF[r*C:(r+1)*C])
			M++
		}
		a.scored = M
		m.classify(a.tokensHook(m), p.LMHead, a.Logits[:M*V], a.lnS[:M*C], M)
		if targets == nil {
			return 0
		}
	}
	M := a.scored
	nn.CrossEntropyForward(a.Losses, a.Probs, a.Logits, a.targets[:M], M, V)
	return nn.MaskedMeanOver(a.Losses[:M], a.mask[:M], a.LossDen)
}

// tokensHook is the hook at the token rows, or none (plain, or merged).
func (a *Acts) tokensHook(m *Model) tokensAt {
	if m.merged {
		return tokensAt{}
	}
	return a.tokens
}

// embed writes x (N, C) = embed[ids] (the pass's embedding), or what the method acting on the token rows makes of it.
func (m *Model) embed(at tokensAt, embed, x []float32, ids []int, n int) {
	if at.h != nil {
		at.h.Embed(at.ctx, x[:n*m.Config.Dim], embed, ids, n)
		return
	}
	nn.EmbeddingForward(x, embed, ids, n, m.Config.Dim)
}

// classify computes logits (N, V) = h (N, C) · lmHeadᵀ (the pass's classifier), or what the method acting on the token rows makes of it.
func (m *Model) classify(at tokensAt, lmHead, logits, h []float32, n int) {
	C, V := m.Config.Dim, m.Config.VocabSize
	if at.h != nil {
		at.h.Classify(at.ctx, logits[:n*V], h[:n*C], lmHead, n)
		return
	}
	matmul.Forward(logits[:n*V], h[:n*C], lmHead, nil, n, C, V)
}

// linear computes out (N, OC) = in (N, IC) · Wᵀ, or what the method acting on (l, tg) makes of it.
func (m *Model) linear(a *Acts, l int, tg Target, out, in, w []float32, n, ic, oc int) {
	if at := a.linearHook(m, l, tg); at.h != nil {
		at.h.Forward(at.ctx, out, in, w, n)
		return
	}
	matmul.Forward(out[:n*oc], in[:n*ic], w, nil, n, ic, oc)
}

// inputRows writes X0 (B, pre+t, C): per sequence, the Input hook's rows
// (when one is attached), then its t tokens' embeddings (embed).
func (m *Model) inputRows(a *Acts, embed []float32, inputs []int, b, t int) {
	C, pl, tokens := m.Config.Dim, &a.places, a.tokensHook(m)
	if pl.rows == 0 {
		m.embed(tokens, embed, a.X0, inputs, b*t)
		return
	}
	pre, tt := pl.rows, pl.rows+t
	pl.input.Forward(pl.inputCtx, a.X0[:pre*C])
	for s := range b {
		x := a.X0[s*tt*C : (s+1)*tt*C]
		copy(x[:pre*C], a.X0[:pre*C])
		m.embed(tokens, embed, x[pre*C:], inputs[s*t:], t)
	}
}

// inputRowsBackward takes the gradient of X0 (dx, (B, pre+t, C)) to the
// Input hook's rows (summed over the sequences) and to the token rows'
// hook, or to the embedding when it trains (dembed not nil).
func (m *Model) inputRowsBackward(a *Acts, dembed, dx []float32, b, t int) {
	C, pl, tokens := m.Config.Dim, &a.places, a.tokensHook(m)
	pre, tt := pl.rows, pl.rows+t
	if pre > 0 {
		// forward: every sequence's rows 0..pre-1 are the same rows
		for s := 1; s < b; s++ {
			nn.ResidualForward(dx[:pre*C], dx[:pre*C], dx[s*tt*C:], pre*C)
		}
		pl.input.Backward(pl.inputCtx, dx[:pre*C])
	}
	// forward: each sequence's rows pre.. = Embed[inputs] (or the token rows' hook)
	for s := range b {
		n, d, ids := t, dx[(s*tt+pre)*C:(s+1)*tt*C], a.inputs[s*t:]
		if pre == 0 { // the tokens' rows are contiguous: one call for the batch
			if s > 0 {
				break
			}
			n, d, ids = b*t, dx[:b*t*C], a.inputs[:b*t]
		}
		switch {
		case tokens.h != nil:
			tokens.h.EmbedBackward(tokens.ctx, dembed, d, ids, n)
		case dembed != nil:
			nn.EmbeddingBackward(dembed, d, ids, n, C)
		}
	}
}

// leadKV puts the KV hook's keys and values before each sequence's own in
// layer l's K and V, which hold the b·tt rows the linear layers wrote: those
// move to (B, keys+tt, KVD), sequence s's own at rows keys.. of its block.
func (m *Model) leadKV(a *Acts, l, b, tt int) {
	pl := &a.places
	if pl.keys == 0 {
		return
	}
	A, KVD, keys := &a.Layers[l], m.Config.KVDim(), pl.keys
	tk := keys + tt
	for _, kv := range [2][]float32{A.K, A.V} {
		for s := b - 1; s >= 0; s-- { // last first: a block moves up over its own old rows only
			copy(kv[(s*tk+keys)*KVD:(s+1)*tk*KVD], kv[s*tt*KVD:(s+1)*tt*KVD])
		}
	}
	pl.kv.Forward(pl.kvCtx, l, A.K[:keys*KVD], A.V[:keys*KVD])
	for s := 1; s < b; s++ {
		copy(A.K[s*tk*KVD:(s*tk+keys)*KVD], A.K[:keys*KVD])
		copy(A.V[s*tk*KVD:(s*tk+keys)*KVD], A.V[:keys*KVD])
	}
}

// leadKVBackward hands the KV hook the gradients of layer l's leading keys
// and values, summed over the sequences, and moves each sequence's own
// gradients (dk, dv: (B, keys+tt, KVD), either may be nil) to the front, (B·tt, KVD).
func (m *Model) leadKVBackward(a *Acts, l int, dk, dv []float32, b, tt int) {
	pl, KVD := &a.places, m.Config.KVDim()
	keys := pl.keys
	tk := keys + tt
	// forward: every sequence's leading keys and values are the same ones
	for s := 1; s < b; s++ {
		nn.ResidualForward(dk[:keys*KVD], dk[:keys*KVD], dk[s*tk*KVD:], keys*KVD)
		nn.ResidualForward(dv[:keys*KVD], dv[:keys*KVD], dv[s*tk*KVD:], keys*KVD)
	}
	pl.kv.Backward(pl.kvCtx, l, dk[:keys*KVD], dv[:keys*KVD])
	for _, d := range [2][]float32{dk, dv} {
		for s := range b { // first first: a block moves down over its own old rows only
			copy(d[s*tt*KVD:(s+1)*tt*KVD], d[(s*tk+keys)*KVD:(s+1)*tk*KVD])
		}
	}
}

// sublayer applies the hook at layer l's sublayer output k to h (n, C), if any.
func (m *Model) sublayer(a *Acts, l, k int, h []float32, n int) {
	if a.places.sub == nil {
		return
	}
	if at := a.places.sub[l][k]; at.h != nil {
		at.h.Forward(at.ctx, h[:n*m.Config.Dim], n)
	}
}

// sublayerBackward returns the gradient of layer l's sublayer output k
// before its hook: dout itself when no method transforms it.
func (m *Model) sublayerBackward(a *Acts, l, k int, dout []float32, n int) []float32 {
	if a.places.sub == nil {
		return dout
	}
	at := a.places.sub[l][k]
	if at.h == nil {
		return dout
	}
	C := m.Config.Dim
	dh := a.dsub[:n*C]
	clear(dh)
	at.h.Backward(at.ctx, dh, dout[:n*C], n)
	return dh
}

// linearBackward accumulates din += dout·W (when din is not nil) and dw +=
// doutᵀ·in (when dw is not nil: frozen weights skip it), or the backward of
// the method acting on (l, tg).
func (m *Model) linearBackward(a *Acts, l int, tg Target, din, dw, dout, in, w []float32, n, ic, oc int) {
	var dinN []float32
	if din != nil {
		dinN = din[:n*ic]
	}
	if at := a.linearHook(m, l, tg); at.h != nil {
		at.h.Backward(at.ctx, dinN, dw, dout, in, w, n)
		return
	}
	matmul.Backward(dinN, dw, nil, dout[:n*oc], in[:n*ic], w, n, ic, oc)
}

// lowestTrained is the lowest layer where something trains: a method's hook
// or a base weight with a gradient (-1: the embedding; NLayers: nothing
// below the final norm). Below it no gradient is needed at all.
func (m *Model) lowestTrained(a *Acts, grads *Params) int {
	if (grads != nil && grads.Embed != nil) || a.tokensHook(m).h != nil || a.places.input != nil {
		return -1
	}
	for l := range m.Config.NLayers {
		for tg := range NumTargets {
			if a.linearHook(m, l, Target(tg)).h != nil {
				return l
			}
		}
		if a.places.kv != nil {
			return l
		}
		if a.places.sub != nil && (a.places.sub[l][SubAttention].h != nil || a.places.sub[l][SubMLP].h != nil) {
			return l
		}
		if grads != nil {
			G := &grads.Layers[l]
			for _, w := range [][]float32{G.AttnNorm, G.Wq, G.Wk, G.Wv, G.Wo, G.MLPNorm, G.Wgate, G.Wup, G.Wdown} {
				if w != nil {
					return l
				}
			}
		}
	}
	return m.Config.NLayers
}

// Backward accumulates the gradients of the last Forward's loss. Base weight
// gradients go into grads, whose nil views (or a nil grads) mark frozen
// weights: their weight-gradient products are skipped, and so is every
// layer below the lowest one where something trains. The methods' gradients
// go into their Grads() (or Acts.MethodGrads). Callers zero the gradients
// once per step.
func (m *Model) Backward(a *Acts, grads *Params) {
	if m.merged {
		panic("model: Backward on a merged model (unmerge before training)")
	}
	c := m.Config
	b, t := a.B, a.T
	C, KVD, H, V := c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize
	NH, NKV, HS := c.NHeads, c.NKVHeads, c.HeadSize()
	p := m.weightsOf(a.passes)
	if wg := weightGradsOf(a.passes); wg != nil {
		if grads != nil {
			panic("model: Backward with base gradients while a method supplies the weights")
		}
		grads = wg
	}
	defer endPasses(a.passes)
	pre, keys := a.places.rows, a.places.keys
	tt := pre + t
	N := b * tt // the rows the blocks computed (b·t without an Input hook)
	g := func(f func(*Params) []float32) []float32 {
		if grads == nil {
			return nil
		}
		return f(grads)
	}
	zero := func(s []float32) []float32 { s = s[:len(s)]; clear(s); return s }

	M := a.scored // classifier rows: N, or the scored ones packed
	// forward: loss = MaskedMeanOver(losses, mask, LossDen)
	nn.MaskedMeanBackwardOver(a.dlosses[:M], a.mask[:M], a.LossDen)
	// forward: losses = CrossEntropy(logits, targets)
	dlogits := zero(a.dlogits[:M*V])
	nn.CrossEntropyBackward(dlogits, a.Probs, a.targets[:M], a.dlosses, M, V)
	// forward: logits = LnF · LMHeadᵀ (on the packed scored rows of LnF when packed)
	dln := zero(a.dln[:N*C])
	dLMHead := g(func(p *Params) []float32 { return p.LMHead })
	tokens := a.tokensHook(m)
	classifyBackward := func(dh, h []float32, n int) {
		if tokens.h != nil {
			tokens.h.ClassifyBackward(tokens.ctx, dh, dLMHead, dlogits, h, p.LMHead, n)
			return
		}
		matmul.Backward(dh, dLMHead, nil, dlogits, h, p.LMHead, n, C, V)
	}
	if !a.packed {
		classifyBackward(dln, a.LnF[:N*C], N)
	} else {
		dh := zero(a.dlnS[:M*C])
		classifyBackward(dh, a.lnS[:M*C], M)
		for k, i := range a.rows[:M] {
			copy(dln[i*C:(i+1)*C], dh[k*C:(k+1)*C])
		}
	}
	// forward: LnF = RMSNorm(x_L)
	dres := zero(a.dres[:N*C])
	xLast := a.X0
	if c.NLayers > 0 {
		xLast = a.Layers[c.NLayers-1].XOut
	}
	nn.RMSNormBackward(dres, g(func(p *Params) []float32 { return p.Norm }), dln, xLast, p.Norm, a.RstdF, N, C)

	low := m.lowestTrained(a, grads)
	for l := c.NLayers - 1; l >= low && l >= 0; l-- {
		L, A := &p.Layers[l], &a.Layers[l]
		var G *Layer
		if grads != nil {
			G = &grads.Layers[l]
		}
		gw := func(f func(*Layer) []float32) []float32 {
			if G == nil {
				return nil
			}
			return f(G)
		}
		x := a.X0
		if l > 0 {
			x = a.Layers[l-1].XOut
		}
		// dres holds dL/dXOut. forward: XOut = XMid + f(down(Hd)), f the MLP's sublayer hook or none
		dh := zero(a.dh[:N*H])
		dout := m.sublayerBackward(a, l, SubMLP, dres, N)
		m.linearBackward(a, l, TargetDown, dh, gw(func(L *Layer) []float32 { return L.Wdown }), dout, A.Hd, L.Wdown, N, H, C)
		// forward: Hd = silu(G) * U
		dg, du := zero(a.dg[:N*H]), zero(a.du[:N*H])
		nn.SwiGLUBackward(dg, du, dh, A.G, A.U, A.Sig, N*H)
		// forward: G = Ln2 · Wgateᵀ; U = Ln2 · Wupᵀ
		dln = zero(a.dln[:N*C])
		m.linearBackward(a, l, TargetGate, dln, gw(func(L *Layer) []float32 { return L.Wgate }), dg, A.Ln2, L.Wgate, N, C, H)
		m.linearBackward(a, l, TargetUp, dln, gw(func(L *Layer) []float32 { return L.Wup }), du, A.Ln2, L.Wup, N, C, H)
		// forward: Ln2 = RMSNorm(XMid); the residual adds dL/dXOut, already in dres
		nn.RMSNormBackward(dres, gw(func(L *Layer) []float32 { return L.MLPNorm }), dln, A.XMid, L.MLPNorm, A.Rstd2, N, C)
		// dres holds dL/dXMid. forward: XMid = x + f(o(AttY)), f the attention's sublayer hook or none
		dattY := zero(a.dattY[:N*C])
		dout = m.sublayerBackward(a, l, SubAttention, dres, N)
		m.linearBackward(a, l, TargetO, dattY, gw(func(L *Layer) []float32 { return L.Wo }), dout, A.AttY, L.Wo, N, C, C)
		// forward: AttY = Attention(Q, K, V)
		// dL/dx of the block's input is needed only when something below
		// trains; the lowest trained block computes only the gradients of q,
		// k and v that its own hooks or trained weights read.
		needInput := l > low
		needLn1 := needInput || gw(func(L *Layer) []float32 { return L.AttnNorm }) != nil
		need := func(tg Target) bool {
			return needLn1 || a.linearHook(m, l, tg).h != nil || gw(func(L *Layer) []float32 { return L.Weight(tg) }) != nil
		}
		var dq, dk, dv, dqPre, dkPre []float32
		NK := b * (keys + tt) // keys and values: the KV hook's leading ones, then each sequence's own
		needK, needV := need(TargetK), need(TargetV)
		if need(TargetQ) {
			dq, dqPre = zero(a.dq[:N*C]), zero(a.dqPre[:N*C])
		}
		if needK || keys > 0 {
			dk, dkPre = zero(a.dk[:NK*KVD]), zero(a.dkPre[:N*KVD])
		}
		if needV || keys > 0 {
			dv = zero(a.dv[:NK*KVD])
		}
		nn.AttentionBackwardLead(dq, dk, dv, a.datt, dattY, A.Q, A.K, A.V, A.Att, b, tt, keys, NH, NKV, HS)
		if keys > 0 {
			m.leadKVBackward(a, l, dk, dv, b, tt) // dk, dv now hold each sequence's own rows: (N, KVD)
		}
		// forward: Q = RoPE(Ln1 · Wqᵀ); K = RoPE(Ln1 · Wkᵀ)
		dln = nil
		if needLn1 {
			dln = zero(a.dln[:N*C])
		}
		if dq != nil {
			m.rope.Backward(dqPre, dq, b, tt, NH, HS, keys)
			m.linearBackward(a, l, TargetQ, dln, gw(func(L *Layer) []float32 { return L.Wq }), dqPre, A.Ln1, L.Wq, N, C, C)
		}
		if needK {
			m.rope.Backward(dkPre, dk, b, tt, NKV, HS, keys)
			m.linearBackward(a, l, TargetK, dln, gw(func(L *Layer) []float32 { return L.Wk }), dkPre, A.Ln1, L.Wk, N, C, KVD)
		}
		if needV {
			m.linearBackward(a, l, TargetV, dln, gw(func(L *Layer) []float32 { return L.Wv }), dv, A.Ln1, L.Wv, N, C, KVD)
		}
		if !needLn1 {
			break
		}
		// forward: Ln1 = RMSNorm(x); the residual adds dL/dXMid, already in dres
		nn.RMSNormBackward(dres, gw(func(L *Layer) []float32 { return L.AttnNorm }), dln, x, L.AttnNorm, A.Rstd1, N, C)
	}
	// forward: X0 = [the Input hook's rows; Embed[inputs]] per sequence
	if low < 0 {
		m.inputRowsBackward(a, g(func(p *Params) []float32 { return p.Embed }), dres, b, t)
	}
}
