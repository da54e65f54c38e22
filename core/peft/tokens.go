// Trainable token rows (Hugging Face PEFT's TrainableTokens, or
// trainable_token_indices beside LoRA): trainable copies of a few chosen rows
// of the embedding, which replace the base's rows wherever those tokens are
// read, and, through a tied classifier, wherever they are scored. A base that
// never learned some tokens (bytes its corpus never held share one vector)
// can neither tell them apart nor produce one rather than another; adapters
// on the linear layers cannot undo that, while the few rows can.
//
//	x_i      = rows[k]      when ids[i] is the k-th trained token, else Embed[ids[i]]
//	logits_v = h · rows[k]  when v is the k-th trained token, else h · LMHead[v]
//
// The rows start as copies of the base's (PEFT's init_weights=True), so the
// model starts at the base bit for bit. With an untied classifier PEFT's list
// form trains the embedding's rows only; golora also trains the classifier's
// rows of the same tokens when TokensConfig.Output is set (PEFT's dict form,
// {"embed_tokens": ids, "lm_head": ids}). Merge writes the rows into the
// embedding (and classifier), as PEFT's merge does (index_copy).
//
// Shapes: K trained tokens, C the model's width, V its vocabulary, N rows.

package peft

import (
	"fmt"
	"math"

	"golora/core/matmul"
	"golora/core/model"
)

// ---------------------------------------------------------------- config

// TokensConfig is which token rows train.
type TokensConfig struct {
	IDs []int // token ids, each once and inside the vocabulary (PEFT's token_indices)
	// Output, with an untied classifier, also trains the classifier's rows
	// of these tokens (a tied classifier always shares the embedding's rows).
	Output bool
}

// PEFT's names for the rows: the module the TrainableTokensWrapper wraps,
// then its token_adapter's parameter (PEFT drops the adapter name on save).
const (
	TokensEmbedModule = "model.embed_tokens"
	TokensHeadModule  = "lm_head"
	TokensParam       = ".token_adapter.trainable_tokens_delta"
)

// ---------------------------------------------------------------- layer

// tokensPass is the rows' work in one pass: the classifier with the rows
// written into it (rebuilt at the first Classify after Begin), and scratch.
type tokensPass struct {
	t     *Tokens
	head  []float32 // (V, C) the classifier with the trained rows in place
	stale bool
	g     []float32 // (K, N) the trained tokens' columns of dlogits, transposed
}

func (p *tokensPass) begin(*model.Ctx) { p.stale = true }

// Embed: x_i = rows[k] for the k-th trained token, the base's row otherwise.
func (p *tokensPass) Embed(_ *model.Ctx, x, embed []float32, ids []int, n int) {
	t, C := p.t, p.t.dim
	for i, id := range ids[:n] {
		if id < 0 || id >= t.vocab {
			panic(fmt.Sprintf("peft: tokens: token id %d at row %d is outside the vocabulary of %d", id, i, t.vocab))
		}
		row := embed[id*C : (id+1)*C]
		if k := t.slot[id]; k >= 0 {
			row = t.embedRows[k*C : (k+1)*C]
		}
		copy(x[i*C:(i+1)*C], row)
	}
}

// EmbedBackward: drows[k] += dx_i for every row i reading the k-th trained
// token; dembed (when the base embedding trains) gets the other rows.
func (p *tokensPass) EmbedBackward(ctx *model.Ctx, dembed, dx []float32, ids []int, n int) {
	t, C := p.t, p.t.dim
	drows := ctx.Grads[:t.K*C]
	for i, id := range ids[:n] {
		// forward: x_i = rows[slot[id]] or Embed[id]
		var drow []float32
		if k := t.slot[id]; k >= 0 {
			drow = drows[k*C : (k+1)*C]
		} else if dembed != nil {
			drow = dembed[id*C : (id+1)*C]
		} else {
			continue
		}
		for j, d := range dx[i*C : (i+1)*C] {
			drow[j] += d
		}
	}
}

// Classify: logits = h · headᵀ with the trained rows written into head (the
// bits the merged model computes). Without classifier rows (untied, Output
// unset) the base's classifier is used as it is.
func (p *tokensPass) Classify(_ *model.Ctx, logits, h, head []float32, n int) {
	t := p.t
	w := head
	if t.headRows != nil {
		if p.stale {
			copy(p.head, head)
			t.writeRows(p.head, t.headRows)
			p.stale = false
		}
		w = p.head
	}
	matmul.Forward(logits[:n*t.vocab], h[:n*t.dim], w, nil, n, t.dim, t.vocab)
}

// ClassifyBackward: dh += dlogits · head (with the rows in place), dhead +=
// dlogitsᵀ · h when the classifier trains, and drows[k] += Σ_i dlogits[i, id_k] h_i.
func (p *tokensPass) ClassifyBackward(ctx *model.Ctx, dh, dhead, dlogits, h, head []float32, n int) {
	t, C, V, K := p.t, p.t.dim, p.t.vocab, p.t.K
	w := head
	if t.headRows != nil {
		w = p.head
	}
	matmul.Backward(dh, dhead, nil, dlogits[:n*V], h[:n*C], w, n, C, V)
	if t.headRows == nil {
		return
	}
	// forward: logits[i, id_k] = h_i · rows[k]
	g := p.g[:K*n]
	for k, id := range t.IDs {
		for i := range n {
			g[k*n+i] = dlogits[i*V+id]
		}
	}
	matmul.MulNN(t.headGrads(ctx.Grads), g, h[:n*C], K, n, C, true)
}

// ---------------------------------------------------------------- attach

// Tokens is the trainable rows of a model: the method's one type. Its
// parameters are the embedding's rows (K, C), then, for an untied classifier
// with Output, the classifier's rows (K, C).
type Tokens struct {
	TokensConfig
	K         int
	Tied      bool      // the rows serve the embedding and the tied classifier
	embedRows []float32 // (K, C) view of params
	headRows  []float32 // (K, C) the rows the classifier reads: embedRows when tied, nil when untied without Output
	params    []float32
	grads     []float32
	slot      []int // (V) k for the k-th trained token, -1 for the others
	dim       int
	vocab     int
	saved     []float32 // the base rows Merge overwrote, for Unmerge
}

// AddTokens attaches trainable copies of the rows of cfg.IDs to m. Errors:
// no ids, an id outside the vocabulary or given twice, or the token rows (or
// the embedding or an untied classifier) already taken by another method.
func AddTokens(m *model.Model, cfg TokensConfig) (*Tokens, error) {
	c := m.Config
	if err := CheckTokenIDs(cfg.IDs, c.VocabSize); err != nil {
		return nil, err
	}
	t := &Tokens{TokensConfig: TokensConfig{IDs: append([]int(nil), cfg.IDs...), Output: cfg.Output},
		K: len(cfg.IDs), Tied: c.Tied, dim: c.Dim, vocab: c.VocabSize, slot: make([]int, c.VocabSize)}
	KC := t.K * c.Dim
	n := KC
	if !c.Tied && cfg.Output {
		n += KC
	}
	t.params, t.grads = make([]float32, n), make([]float32, n)
	t.embedRows = t.params[:KC:KC]
	switch {
	case c.Tied:
		t.headRows = t.embedRows
	case cfg.Output:
		t.headRows = t.params[KC:]
	}
	for v := range t.slot {
		t.slot[v] = -1
	}
	for k, id := range t.IDs {
		t.slot[id] = k
	}
	t.Reset(m)
	if err := m.Attach(t); err != nil {
		return nil, err
	}
	return t, nil
}

// CheckTokenIDs refuses an empty list, an id outside 0..vocab-1 and an id given twice.
func CheckTokenIDs(ids []int, vocab int) error {
	if len(ids) == 0 {
		return fmt.Errorf("tokens: at least one token id is needed")
	}
	seen := make(map[int]bool, len(ids))
	for _, id := range ids {
		if id < 0 || id >= vocab {
			return fmt.Errorf("tokens: token id %d is outside the vocabulary (0..%d)", id, vocab-1)
		}
		if seen[id] {
			return fmt.Errorf("tokens: token id %d is given twice", id)
		}
		seen[id] = true
	}
	return nil
}

// Reset copies the base's rows of the trained tokens into the method's
// (PEFT's init_weights=True): the model computes exactly the base.
func (t *Tokens) Reset(m *model.Model) {
	C := t.dim
	for k, id := range t.IDs {
		copy(t.embedRows[k*C:(k+1)*C], m.Params.Embed[id*C:(id+1)*C])
		if t.headRows != nil && !t.Tied {
			copy(t.headRows[k*C:(k+1)*C], m.Params.LMHead[id*C:(id+1)*C])
		}
	}
}

// writeRows writes rows (K, C) into w (V, C) at the trained tokens.
func (t *Tokens) writeRows(w, rows []float32) {
	C := t.dim
	for k, id := range t.IDs {
		copy(w[id*C:(id+1)*C], rows[k*C:(k+1)*C])
	}
}

// headGrads is the gradient of the rows the classifier reads, in grads
// (laid out as Grads): the embedding's rows when tied.
func (t *Tokens) headGrads(grads []float32) []float32 {
	KC := t.K * t.dim
	if t.Tied {
		return grads[:KC]
	}
	return grads[KC : 2*KC]
}

// Name is "tokens".
func (*Tokens) Name() string { return "tokens" }

// Params is the embedding's rows, then the untied classifier's (with Output).
func (t *Tokens) Params() []float32 { return t.params }

// Grads is their gradients.
func (t *Tokens) Grads() []float32 { return t.grads }

// TrainsBase is false: the rows are the method's own, every base weight stays frozen.
func (*Tokens) TrainsBase(string) bool { return false }

// NewPass gives the token rows their hook for up to rows rows.
func (t *Tokens) NewPass(rows int) *model.Pass {
	p := &tokensPass{t: t, stale: true}
	if t.headRows != nil {
		p.head = make([]float32, t.vocab*t.dim)
		p.g = make([]float32, t.K*rows)
	}
	return &model.Pass{Begin: p.begin, Tokens: p}
}

// Merge writes the rows into the embedding (and the untied classifier with
// Output), keeping the base's rows for Unmerge. It refuses non-finite rows
// (PEFT's safe_merge).
func (t *Tokens) Merge(m *model.Model) error {
	for i, v := range t.params {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("tokens: row of token %d holds %g; not merged", t.IDs[(i/t.dim)%t.K], v)
		}
	}
	C := t.dim
	t.saved = t.saved[:0]
	for _, id := range t.IDs {
		t.saved = append(t.saved, m.Params.Embed[id*C:(id+1)*C]...)
	}
	if !t.Tied && t.headRows != nil {
		for _, id := range t.IDs {
			t.saved = append(t.saved, m.Params.LMHead[id*C:(id+1)*C]...)
		}
	}
	t.writeRows(m.Params.Embed, t.embedRows)
	if !t.Tied && t.headRows != nil {
		t.writeRows(m.Params.LMHead, t.headRows)
	}
	return nil
}

// Unmerge puts the base's rows back, exactly.
func (t *Tokens) Unmerge(m *model.Model) error {
	KC := t.K * t.dim
	if len(t.saved) < KC {
		return fmt.Errorf("tokens: not merged")
	}
	t.writeRows(m.Params.Embed, t.saved[:KC])
	if !t.Tied && t.headRows != nil {
		t.writeRows(m.Params.LMHead, t.saved[KC:2*KC])
	}
	t.saved = t.saved[:0]
	return nil
}

// Tensors names the rows as PEFT saves them: <module>.token_adapter.trainable_tokens_delta (K, C)
// for model.embed_tokens, then for lm_head (untied, with Output). A tied classifier's rows are the
// embedding's (PEFT saves only those too).
func (t *Tokens) Tensors() []Tensor {
	ts := []Tensor{{TokensEmbedModule + TokensParam, []int{t.K, t.dim}, 0}}
	if !t.Tied && t.headRows != nil {
		ts = append(ts, Tensor{TokensHeadModule + TokensParam, []int{t.K, t.dim}, t.K * t.dim})
	}
	return ts
}

// TokensParams is the formula the rows' trainable count follows on c: K·C,
// twice that for an untied classifier whose rows train too.
func TokensParams(c model.Config, k int, output bool) int {
	if !c.Tied && output {
		return 2 * k * c.Dim
	}
	return k * c.Dim
}

// TokensOf returns the token rows attached to m, or nil.
func TokensOf(m *model.Model) *Tokens {
	for _, meth := range m.Methods() {
		if t, ok := meth.(*Tokens); ok {
			return t
		}
	}
	return nil
}
