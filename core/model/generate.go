// Generation: one token at a time with a KV cache, greedy or temperature / top-p sampling.
package model

import (
	"fmt"
	"sort"

	"golora/core/lora"
	"golora/core/matmul"
	"golora/core/nn"
	"golora/core/rng"
)

// Decoder runs the model one position at a time for B sequences side by side,
// caching each layer's keys and values so a step costs O(pos) instead of
// re-running the prefix. All B rows advance together (row b's token at step s
// sits at position s), so one step is one (B, C) matmul per weight: batched
// greedy decoding is how Evaluate scores a whole test split quickly.
// Adapters are applied on the fly unless merged, exactly as in Forward.
type Decoder struct {
	m              *Model
	b              int         // rows
	pos            int         // position of the next token fed
	kcache, vcache [][]float32 // (L) of (B, SeqLen, KVD)
	x, xb, xb2     []float32   // (B, C) residual stream and scratch
	q, attY        []float32   // (B, C)
	hb, hb2        []float32   // (B, H)
	scores         []float32   // (SeqLen)
	rstd           []float32   // (B)
	Logits         []float32   // (B, V) after the last Next
	probs          []float32   // (V) sampling scratch
	lora           [][NumTargets]*lora.Cache
}

// NewDecoder allocates a decoder for b sequences side by side.
func (m *Model) NewDecoder(b int) *Decoder {
	if b < 1 {
		panic(fmt.Sprintf("model: NewDecoder(%d)", b))
	}
	c := m.Config
	f := func(n int) []float32 { return make([]float32, n) }
	d := &Decoder{m: m, b: b, x: f(b * c.Dim), xb: f(b * c.Dim), xb2: f(b * c.Dim), q: f(b * c.Dim),
		attY: f(b * c.Dim), hb: f(b * c.HiddenDim), hb2: f(b * c.HiddenDim), scores: f(c.SeqLen), rstd: f(b),
		Logits: f(b * c.VocabSize), probs: f(c.VocabSize)}
	d.kcache = make([][]float32, c.NLayers)
	d.vcache = make([][]float32, c.NLayers)
	for l := range c.NLayers {
		d.kcache[l] = f(b * c.SeqLen * c.KVDim())
		d.vcache[l] = f(b * c.SeqLen * c.KVDim())
	}
	if m.adapters != nil {
		d.lora = make([][NumTargets]*lora.Cache, c.NLayers)
		for l := range m.adapters {
			for t, a := range m.adapters[l] {
				if a != nil {
					d.lora[l][t] = a.NewCache(b, false)
				}
			}
		}
	}
	return d
}

// Rows is the number of sequences the decoder runs side by side.
func (d *Decoder) Rows() int { return d.b }

// Reset starts new sequences.
func (d *Decoder) Reset() { d.pos = 0 }

// Pos is the number of positions fed since Reset.
func (d *Decoder) Pos() int { return d.pos }

// Next feeds one token per row at the next position and returns the logits
// (B, V) for the token after it. It returns an error when the context is full.
func (d *Decoder) Next(tokens ...int) ([]float32, error) {
	m, c := d.m, d.m.Config
	B := d.b
	if len(tokens) != B {
		return nil, fmt.Errorf("model: decoder has %d rows, got %d tokens", B, len(tokens))
	}
	if d.pos >= c.SeqLen {
		return nil, fmt.Errorf("model: context of %d tokens is full", c.SeqLen)
	}
	for _, tok := range tokens {
		if tok < 0 || tok >= c.VocabSize {
			return nil, fmt.Errorf("model: token %d outside the vocabulary (0..%d)", tok, c.VocabSize-1)
		}
	}
	C, KVD, H, V, S := c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize, c.SeqLen
	NH, NKV, HS := c.NHeads, c.NKVHeads, c.HeadSize()
	p := m.Params
	pos := d.pos
	nn.EmbeddingForward(d.x, p.Embed, tokens, B, C)
	for l := range c.NLayers {
		L := &p.Layers[l]
		nn.RMSNormForward(d.xb, d.rstd, d.x, L.AttnNorm, B, C, c.NormEps)
		d.linear(l, TargetQ, d.q, d.xb, L.Wq, C, C)
		// k and v go straight into the caches, row r at (r, pos).
		d.linear(l, TargetK, d.hb, d.xb, L.Wk, C, KVD)
		d.linear(l, TargetV, d.hb2, d.xb, L.Wv, C, KVD)
		for r := range B {
			k := d.kcache[l][(r*S+pos)*KVD : (r*S+pos+1)*KVD]
			copy(k, d.hb[r*KVD:(r+1)*KVD])
			m.rope.Forward(k, k, 1, 1, NKV, HS, pos)
			copy(d.vcache[l][(r*S+pos)*KVD:(r*S+pos+1)*KVD], d.hb2[r*KVD:(r+1)*KVD])
		}
		m.rope.Forward(d.q, d.q, B, 1, NH, HS, pos)
		for r := range B {
			nn.AttentionStep(d.attY[r*C:(r+1)*C], d.scores, d.q[r*C:(r+1)*C],
				d.kcache[l][r*S*KVD:(r+1)*S*KVD], d.vcache[l][r*S*KVD:(r+1)*S*KVD], pos, NH, NKV, HS)
		}
		d.linear(l, TargetO, d.xb2, d.attY, L.Wo, C, C)
		nn.ResidualForward(d.x, d.x, d.xb2, B*C)
		nn.RMSNormForward(d.xb, d.rstd, d.x, L.MLPNorm, B, C, c.NormEps)
		d.linear(l, TargetGate, d.hb, d.xb, L.Wgate, C, H)
		d.linear(l, TargetUp, d.hb2, d.xb, L.Wup, C, H)
		nn.SwiGLUForward(d.hb, nil, d.hb, d.hb2, B*H)
		d.linear(l, TargetDown, d.xb2, d.hb, L.Wdown, H, C)
		nn.ResidualForward(d.x, d.x, d.xb2, B*C)
	}
	nn.RMSNormForward(d.xb, d.rstd, d.x, p.Norm, B, C, c.NormEps)
	matmul.Forward(d.Logits, d.xb, p.LMHead, nil, B, C, V)
	d.pos++
	return d.Logits, nil
}

func (d *Decoder) linear(l int, tg Target, out, in, w []float32, ic, oc int) {
	matmul.Forward(out[:d.b*oc], in[:d.b*ic], w, nil, d.b, ic, oc)
	if ad := d.m.active(l, tg); ad != nil {
		ad.Forward(out, in, d.lora[l][tg], d.b, 0, nil)
	}
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
	if len(prompt) > m.Config.SeqLen {
		return nil, fmt.Errorf("model: prompt of %d tokens exceeds the context of %d", len(prompt), m.Config.SeqLen)
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
		if d.pos >= m.Config.SeqLen {
			break
		}
		if logits, err = d.Next(next); err != nil {
			return nil, err
		}
	}
	return out, nil
}
