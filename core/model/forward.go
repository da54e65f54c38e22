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
}

// LayerActs is what one block saves.
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
	N, C, KVD, H, V := maxB*maxT, c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize
	att := maxB * c.NHeads * maxT * maxT
	f := func(n int) []float32 { return make([]float32, n) }
	a := &Acts{MaxB: maxB, MaxT: maxT,
		inputs: make([]int, N), targets: make([]int, N), mask: f(N), rows: make([]int, N), lnS: f(N * C), dlnS: f(N * C),
		X0: f(N * C), LnF: f(N * C), RstdF: f(N), Logits: f(N * V), Probs: f(N * V), Losses: f(N),
		dres: f(N * C), dln: f(N * C), dattY: f(N * C), dq: f(N * C), dqPre: f(N * C),
		dk: f(N * KVD), dkPre: f(N * KVD), dv: f(N * KVD), datt: f(att),
		dg: f(N * H), du: f(N * H), dh: f(N * H), dlogits: f(N * V), dlosses: f(N)}
	a.Layers = make([]LayerActs, c.NLayers)
	for l := range a.Layers {
		a.Layers[l] = LayerActs{Ln1: f(N * C), Rstd1: f(N), Q: f(N * C), K: f(N * KVD), V: f(N * KVD),
			Att: f(att), AttY: f(N * C), XMid: f(N * C), Ln2: f(N * C), Rstd2: f(N),
			G: f(N * H), U: f(N * H), Sig: f(N * H), Hd: f(N * H), XOut: f(N * C)}
	}
	m.sizePasses(a)
	return a
}

// sizePasses gives every attached method its hooks for a (again after Attach).
func (m *Model) sizePasses(a *Acts) {
	a.passes, a.linear = m.newPasses(a.MaxB * a.MaxT)
	a.tokens = tokensOf(a.passes)
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

	m.embed(a.tokensHook(m), p.Embed, a.X0, inputs, N)
	x := a.X0
	for l := range c.NLayers {
		L, A := &p.Layers[l], &a.Layers[l]
		nn.RMSNormForward(A.Ln1, A.Rstd1, x, L.AttnNorm, N, C, c.NormEps)
		m.linear(a, l, TargetQ, A.Q, A.Ln1, L.Wq, N, C, C)
		m.linear(a, l, TargetK, A.K, A.Ln1, L.Wk, N, C, KVD)
		m.linear(a, l, TargetV, A.V, A.Ln1, L.Wv, N, C, KVD)
		m.rope.Forward(A.Q, A.Q, b, t, NH, HS, 0)
		m.rope.Forward(A.K, A.K, b, t, NKV, HS, 0)
		nn.AttentionForward(A.AttY, A.Att, A.Q, A.K, A.V, b, t, NH, NKV, HS)
		m.linear(a, l, TargetO, A.XMid, A.AttY, L.Wo, N, C, C) // o_proj output, then += x below
		nn.ResidualForward(A.XMid, x, A.XMid, N*C)
		nn.RMSNormForward(A.Ln2, A.Rstd2, A.XMid, L.MLPNorm, N, C, c.NormEps)
		m.linear(a, l, TargetGate, A.G, A.Ln2, L.Wgate, N, C, H)
		m.linear(a, l, TargetUp, A.U, A.Ln2, L.Wup, N, C, H)
		nn.SwiGLUForward(A.Hd, A.Sig, A.G, A.U, N*H)
		m.linear(a, l, TargetDown, A.XOut, A.Hd, L.Wdown, N, H, C)
		nn.ResidualForward(A.XOut, A.XMid, A.XOut, N*C)
		x = A.XOut
	}
	nn.RMSNormForward(a.LnF, a.RstdF, x, p.Norm, N, C, c.NormEps)
	weight := func(i int) float32 {
		switch {
		case targets[i] < 0:
			return 0
		case mask == nil:
			return 1
		}
		return mask[i]
	}
	a.packed, a.scored = a.ScoredOnly && targets != nil, N
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
		for i, tg := range targets {
			if tg >= 0 {
				a.rows[M], a.targets[M], a.mask[M] = i, tg, weight(i)
				copy(a.lnS[M*C:(M+1)*C], a.LnF[i*C:(i+1)*C])
				M++
			}
		}
		a.scored = M
		m.classify(a.tokensHook(m), p.LMHead, a.Logits[:M*V], a.lnS[:M*C], M)
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
	if (grads != nil && grads.Embed != nil) || a.tokensHook(m).h != nil {
		return -1
	}
	for l := range m.Config.NLayers {
		for tg := range NumTargets {
			if a.linearHook(m, l, Target(tg)).h != nil {
				return l
			}
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
	N, C, KVD, H, V := b*t, c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize
	NH, NKV, HS := c.NHeads, c.NKVHeads, c.HeadSize()
	p := m.weightsOf(a.passes)
	if wg := weightGradsOf(a.passes); wg != nil {
		if grads != nil {
			panic("model: Backward with base gradients while a method supplies the weights")
		}
		grads = wg
	}
	defer endPasses(a.passes)
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
		// dres holds dL/dXOut. forward: XOut = XMid + down(Hd)
		dh := zero(a.dh[:N*H])
		m.linearBackward(a, l, TargetDown, dh, gw(func(L *Layer) []float32 { return L.Wdown }), dres, A.Hd, L.Wdown, N, H, C)
		// forward: Hd = silu(G) * U
		dg, du := zero(a.dg[:N*H]), zero(a.du[:N*H])
		nn.SwiGLUBackward(dg, du, dh, A.G, A.U, A.Sig, N*H)
		// forward: G = Ln2 · Wgateᵀ; U = Ln2 · Wupᵀ
		dln = zero(a.dln[:N*C])
		m.linearBackward(a, l, TargetGate, dln, gw(func(L *Layer) []float32 { return L.Wgate }), dg, A.Ln2, L.Wgate, N, C, H)
		m.linearBackward(a, l, TargetUp, dln, gw(func(L *Layer) []float32 { return L.Wup }), du, A.Ln2, L.Wup, N, C, H)
		// forward: Ln2 = RMSNorm(XMid); the residual adds dL/dXOut, already in dres
		nn.RMSNormBackward(dres, gw(func(L *Layer) []float32 { return L.MLPNorm }), dln, A.XMid, L.MLPNorm, A.Rstd2, N, C)
		// dres holds dL/dXMid. forward: XMid = x + o(AttY)
		dattY := zero(a.dattY[:N*C])
		m.linearBackward(a, l, TargetO, dattY, gw(func(L *Layer) []float32 { return L.Wo }), dres, A.AttY, L.Wo, N, C, C)
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
		if need(TargetQ) {
			dq, dqPre = zero(a.dq[:N*C]), zero(a.dqPre[:N*C])
		}
		if need(TargetK) {
			dk, dkPre = zero(a.dk[:N*KVD]), zero(a.dkPre[:N*KVD])
		}
		if need(TargetV) {
			dv = zero(a.dv[:N*KVD])
		}
		nn.AttentionBackward(dq, dk, dv, a.datt, dattY, A.Q, A.K, A.V, A.Att, b, t, NH, NKV, HS)
		// forward: Q = RoPE(Ln1 · Wqᵀ); K = RoPE(Ln1 · Wkᵀ)
		dln = nil
		if needLn1 {
			dln = zero(a.dln[:N*C])
		}
		if dq != nil {
			m.rope.Backward(dqPre, dq, b, t, NH, HS, 0)
			m.linearBackward(a, l, TargetQ, dln, gw(func(L *Layer) []float32 { return L.Wq }), dqPre, A.Ln1, L.Wq, N, C, C)
		}
		if dk != nil {
			m.rope.Backward(dkPre, dk, b, t, NKV, HS, 0)
			m.linearBackward(a, l, TargetK, dln, gw(func(L *Layer) []float32 { return L.Wk }), dkPre, A.Ln1, L.Wk, N, C, KVD)
		}
		if dv != nil {
			m.linearBackward(a, l, TargetV, dln, gw(func(L *Layer) []float32 { return L.Wv }), dv, A.Ln1, L.Wv, N, C, KVD)
		}
		if !needLn1 {
			return
		}
		// forward: Ln1 = RMSNorm(x); the residual adds dL/dXMid, already in dres
		nn.RMSNormBackward(dres, gw(func(L *Layer) []float32 { return L.AttnNorm }), dln, x, L.AttnNorm, A.Rstd1, N, C)
	}
	// forward: X0 = Embed[inputs]
	var dEmbed []float32
	if grads != nil {
		dEmbed = grads.Embed
	}
	switch {
	case tokens.h != nil:
		tokens.h.EmbedBackward(tokens.ctx, dEmbed, dres, a.inputs[:N], N)
	case dEmbed != nil:
		nn.EmbeddingBackward(dEmbed, dres, a.inputs[:N], N, C)
	}
}
