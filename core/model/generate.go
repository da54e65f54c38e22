// Generation: one token at a time with a KV cache, greedy or temperature / top-p sampling.
package model

import (
	"fmt"
	"sort"

	"golora/core/matmul"
	"golora/core/nn"
	"golora/core/rng"
)

// Decoder runs the model one position at a time for B sequences side by side,
// caching each layer's keys and values so a step costs O(pos) instead of
// re-running the prefix. All B rows advance together (row b's token at step s
// sits at position s), so one step is one (B, C) matmul per weight: batched
// greedy decoding is how Evaluate scores a whole test split quickly.
// The attached methods act at their places unless merged, as in Forward.
type Decoder struct {
	m              *Model
	b              int                    // rows
	pos            int                    // position of the next token fed
	kcache, vcache [][]float32            // (L) of (B, SeqLen, KVD)
	x, xb, xb2     []float32              // (B*prefillChunk, C) residual stream and scratch
	q, attY        []float32              // (B*prefillChunk, C)
	hb, hb2        []float32              // (B*prefillChunk, H)
	scores         []float32              // (SeqLen)
	rstd           []float32              // (B*prefillChunk)
	Logits         []float32              // (B, V) after the last Next
	probs          []float32              // (V) sampling scratch
	ids            []int                  // (B*prefillChunk) Prefill's tokens, one chunk
	passes         []*pass                // each attached method's hooks, saving nothing for a backward pass
	hooks          [][NumTargets]linearAt // (L) the hook computing each linear layer; nil h: plain
	tokens         tokensAt               // the hook at the token rows; nil h: plain
	places         places                 // the hooks at the input, the keys and values, the sublayer outputs
	lead           []float32              // (rows, C) an Input hook's rows
}

// prefillChunk is how many positions Prefill feeds per pass: the decoder's
// scratch holds B×prefillChunk rows.
const prefillChunk = 16

// NewDecoder allocates a decoder for b sequences side by side.
func (m *Model) NewDecoder(b int) *Decoder {
	if b < 1 {
		panic(fmt.Sprintf("model: NewDecoder(%d)", b))
	}
	c := m.Config
	f := func(n int) []float32 { return make([]float32, n) }
	rows := b * prefillChunk
	d := &Decoder{m: m, b: b, x: f(rows * c.Dim), xb: f(rows * c.Dim), xb2: f(rows * c.Dim), q: f(rows * c.Dim),
		attY: f(rows * c.Dim), hb: f(rows * c.HiddenDim), hb2: f(rows * c.HiddenDim), scores: f(c.SeqLen), rstd: f(rows),
		Logits: f(b * c.VocabSize), probs: f(c.VocabSize), ids: make([]int, rows)}
	d.kcache = make([][]float32, c.NLayers)
	d.vcache = make([][]float32, c.NLayers)
	for l := range c.NLayers {
		d.kcache[l] = f(b * c.SeqLen * c.KVDim())
		d.vcache[l] = f(b * c.SeqLen * c.KVDim())
	}
	d.passes, d.hooks = m.newPasses(rows)
	d.tokens = tokensOf(d.passes)
	d.places = placesOf(d.passes, c.NLayers)
	d.lead = f(d.places.rows * c.Dim)
	return d
}

// Context is the number of token positions each row may hold: SeqLen less
// the positions the methods place before the tokens (Model.Context).
func (d *Decoder) Context() int { return d.m.Config.SeqLen - d.places.rows - d.places.keys }

// Rows is the number of sequences the decoder runs side by side.
func (d *Decoder) Rows() int { return d.b }

// Reset starts new sequences.
func (d *Decoder) Reset() { d.pos = 0 }

// Pos is the number of token positions fed since Reset (the positions the
// methods place before the tokens not counted).
func (d *Decoder) Pos() int { return d.pos }

// Next feeds one token per row at the next position and returns the logits
// (B, V) for the token after it. It returns an error when the context is full.
func (d *Decoder) Next(tokens ...int) ([]float32, error) {
	if len(tokens) != d.b {
		return nil, fmt.Errorf("model: decoder has %d rows, got %d tokens", d.b, len(tokens))
	}
	if err := d.feed(tokens, 1, true); err != nil {
		return nil, err
	}
	return d.Logits, nil
}

// Prefill feeds n known tokens per row at the next n positions (tokens is
// (B, n), row-major) without computing logits: a prompt's prefix goes through
// big matmuls instead of n one-row steps. The caches end up exactly (bit for
// bit) as n calls of Next would leave them, since every kernel computes a row
// the same way whatever the other rows.
func (d *Decoder) Prefill(tokens []int, n int) error {
	if n < 0 || len(tokens) != d.b*n {
		return fmt.Errorf("model: Prefill of %d positions for %d rows needs %d tokens, got %d", n, d.b, d.b*n, len(tokens))
	}
	for j0 := 0; j0 < n; j0 += prefillChunk {
		k := min(prefillChunk, n-j0)
		ids := d.ids[:d.b*k]
		for r := range d.b {
			copy(ids[r*k:(r+1)*k], tokens[r*n+j0:r*n+j0+k])
		}
		if err := d.feed(ids, k, false); err != nil {
			return err
		}
	}
	return nil
}

// feed runs n positions per row, tokens (B, n) row-major, through the model,
// filling the caches; with logits it leaves the last position's logits in d.Logits.
func (d *Decoder) feed(tokens []int, n int, logits bool) error {
	m, c := d.m, d.m.Config
	B := d.b
	if d.pos+n > d.Context() {
		if d.Context() < c.SeqLen {
			return fmt.Errorf("model: context of %d tokens is full (%d of its %d positions hold the methods' leading rows, keys and values)",
				d.Context(), c.SeqLen-d.Context(), c.SeqLen)
		}
		return fmt.Errorf("model: context of %d tokens is full", c.SeqLen)
	}
	for _, tok := range tokens {
		if tok < 0 || tok >= c.VocabSize {
			return fmt.Errorf("model: token %d outside the vocabulary (0..%d)", tok, c.VocabSize-1)
		}
	}
	C := c.Dim
	p := m.weightsOf(d.passes)
	if d.pos == 0 && !m.merged {
		// New sequences: the methods start from their current parameters
		// (folding them into the weights they adapt, as Forward does), and
		// what they place before the tokens goes into the caches.
		for _, p := range d.passes {
			p.ctx = Ctx{NoGrad: true}
			if p.hooks.Begin != nil {
				p.hooks.Begin(&p.ctx)
			}
		}
		d.fillLead()
	}
	m.embed(d.tokensHook(), p.Embed, d.x, tokens, B*n)
	d.blocks(n, d.places.keys+d.places.rows+d.pos)
	d.pos += n
	if !logits {
		return nil
	}
	// The logits of each row's last position (row r*n+n-1): with n = 1, every row.
	last := d.x
	if n > 1 {
		last = d.xb2
		for r := range B {
			copy(last[r*C:(r+1)*C], d.x[(r*n+n-1)*C:(r*n+n)*C])
		}
	}
	nn.RMSNormForward(d.xb, d.rstd, last, p.Norm, B, C, c.NormEps)
	m.classify(d.tokensHook(), p.LMHead, d.Logits, d.xb, B)
	return nil
}

// fillLead puts what the methods place before the tokens into every row's
// caches: a KV hook's keys and values at positions 0..keys-1, then an Input
// hook's rows, run through the blocks at the positions after them.
func (d *Decoder) fillLead() {
	c, pl, B := d.m.Config, &d.places, d.b
	KVD, S := c.KVDim(), c.SeqLen
	if pl.keys > 0 {
		n := pl.keys * KVD
		for l := range c.NLayers {
			k, v := d.kcache[l], d.vcache[l]
			pl.kv.Forward(pl.kvCtx, l, k[:n], v[:n])
			for r := 1; r < B; r++ {
				copy(k[r*S*KVD:r*S*KVD+n], k[:n])
				copy(v[r*S*KVD:r*S*KVD+n], v[:n])
			}
		}
	}
	if pl.rows > 0 {
		C := c.Dim
		pl.input.Forward(pl.inputCtx, d.lead)
		for j0 := 0; j0 < pl.rows; j0 += prefillChunk {
			k := min(prefillChunk, pl.rows-j0)
			for r := range B {
				copy(d.x[r*k*C:(r+1)*k*C], d.lead[j0*C:(j0+k)*C])
			}
			d.blocks(k, pl.keys+j0)
		}
	}
}

// blocks runs the n rows per sequence in d.x ((B, n, C), row r*n+j is
// sequence r at cache position pos+j) through every block, filling the caches.
func (d *Decoder) blocks(n, pos int) {
	m, c := d.m, d.m.Config
	B := d.b
	C, KVD, H, S := c.Dim, c.KVDim(), c.HiddenDim, c.SeqLen
	NH, NKV, HS := c.NHeads, c.NKVHeads, c.HeadSize()
	p := m.weightsOf(d.passes)
	R := B * n
	for l := range c.NLayers {
		L := &p.Layers[l]
		nn.RMSNormForward(d.xb, d.rstd, d.x, L.AttnNorm, R, C, c.NormEps)
		d.linear(l, TargetQ, d.q, d.xb, L.Wq, R, C, C)
		// k and v go into the caches, sequence r's position pos+j at (r, pos+j).
		d.linear(l, TargetK, d.hb, d.xb, L.Wk, R, C, KVD)
		d.linear(l, TargetV, d.hb2, d.xb, L.Wv, R, C, KVD)
		m.rope.Forward(d.hb, d.hb, B, n, NKV, HS, pos)
		m.rope.Forward(d.q, d.q, B, n, NH, HS, pos)
		for r := range B {
			at := (r*S + pos) * KVD
			copy(d.kcache[l][at:at+n*KVD], d.hb[r*n*KVD:(r+1)*n*KVD])
			copy(d.vcache[l][at:at+n*KVD], d.hb2[r*n*KVD:(r+1)*n*KVD])
		}
		for r := range B {
			for j := range n {
				i := r*n + j
				nn.AttentionStep(d.attY[i*C:(i+1)*C], d.scores, d.q[i*C:(i+1)*C],
					d.kcache[l][r*S*KVD:(r+1)*S*KVD], d.vcache[l][r*S*KVD:(r+1)*S*KVD], pos+j, NH, NKV, HS)
			}
		}
		d.linear(l, TargetO, d.xb2, d.attY, L.Wo, R, C, C)
		d.sublayer(l, SubAttention, d.xb2, R)
		nn.ResidualForward(d.x, d.x, d.xb2, R*C)
		nn.RMSNormForward(d.xb, d.rstd, d.x, L.MLPNorm, R, C, c.NormEps)
		d.linear(l, TargetGate, d.hb, d.xb, L.Wgate, R, C, H)
		d.linear(l, TargetUp, d.hb2, d.xb, L.Wup, R, C, H)
		nn.SwiGLUForward(d.hb, nil, d.hb, d.hb2, R*H)
		d.linear(l, TargetDown, d.xb2, d.hb, L.Wdown, R, H, C)
		d.sublayer(l, SubMLP, d.xb2, R)
		nn.ResidualForward(d.x, d.x, d.xb2, R*C)
	}
}

// sublayer applies the hook at layer l's sublayer output k to h (rows, C), if any.
func (d *Decoder) sublayer(l, k int, h []float32, rows int) {
	if d.places.sub == nil || d.m.merged {
		return
	}
	if at := d.places.sub[l][k]; at.h != nil {
		at.h.Forward(at.ctx, h[:rows*d.m.Config.Dim], rows)
	}
}

// tokensHook is the hook at the token rows, or none (plain, or merged).
func (d *Decoder) tokensHook() tokensAt {
	if d.m.merged {
		return tokensAt{}
	}
	return d.tokens
}

// linear computes out = in · Wᵀ, or what the method acting on (l, tg) makes of it.
func (d *Decoder) linear(l int, tg Target, out, in, w []float32, rows, ic, oc int) {
	if !d.m.merged && d.hooks != nil {
		if at := d.hooks[l][tg]; at.h != nil {
			at.h.Forward(at.ctx, out, in, w, rows)
			return
		}
	}
	matmul.Forward(out[:rows*oc], in[:rows*ic], w, nil, rows, ic, oc)
}

// Sampler picks the next token from logits: greedy (argmax, first maximum
// wins, as llama2.c) when Temperature is 0, else softmax(logits/Temperature),
// restricted to the smallest set whose mass reaches TopP when 0 < TopP < 1.
type Sampler struct {
	Temperature float32
	TopP        float32
	RNG         *rng.RNG
}

// Sample returns the next token; probs is scratch of len(logits).
func (s Sampler) Sample(logits, probs []float32) int {
	if s.Temperature <= 0 || s.RNG == nil {
		return Argmax(logits)
	}
	for i, l := range logits {
		probs[i] = l / s.Temperature
	}
	nn.Softmax(probs, probs)
	coin := s.RNG.Float32()
	if s.TopP <= 0 || s.TopP >= 1 {
		var cdf float32
		for i, p := range probs {
			cdf += p
			if coin < cdf {
				return i
			}
		}
		return len(probs) - 1
	}
	// top-p (nucleus): sort by probability, keep the smallest prefix with mass >= TopP.
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	var mass float32
	last := len(idx) - 1
	for i, j := range idx {
		mass += probs[j]
		if mass >= s.TopP {
			last = i
			break
		}
	}
	r := coin * mass
	var cdf float32
	for _, j := range idx[:last+1] {
		cdf += probs[j]
		if r < cdf {
			return j
		}
	}
	return idx[last]
}

// Argmax returns the index of the largest value (the first one on ties).
func Argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// Generate feeds prompt (which should start with BOS) and then samples up to
// maxNew tokens, stopping after any token in stop or when the context is
// full. It returns the new tokens (a stop token included).
func (m *Model) Generate(d *Decoder, prompt []int, maxNew int, stop []int, s Sampler) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("model: Generate needs at least one prompt token")
	}
	if len(prompt) > d.Context() {
		return nil, fmt.Errorf("model: prompt of %d tokens exceeds the context of %d", len(prompt), d.Context())
	}
	if d.b != 1 {
		return nil, fmt.Errorf("model: Generate needs a one-row decoder, got %d rows", d.b)
	}
	d.Reset()
	var logits []float32
	var err error
	for _, tok := range prompt {
		if logits, err = d.Next(tok); err != nil {
			return nil, err
		}
	}
	var out []int
	for len(out) < maxNew {
		next := s.Sample(logits, d.probs)
		out = append(out, next)
		for _, st := range stop {
			if next == st {
				return out, nil
			}
		}
		if d.pos >= d.Context() {
			break
		}
		if logits, err = d.Next(next); err != nil {
			return nil, err
		}
	}
	return out, nil
}
