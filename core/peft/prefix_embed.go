// prefix-embed: prompt tuning (Lester et al. 2021), l_p trainable embeddings
// placed before every sequence's tokens at the model's input embeddings
// (model.Pass.Input), as Hugging Face PEFT's PROMPT_TUNING concatenates its
// prompt embeddings before the input's:
//
//	x0 = [P; embed(tokens)],  P (l_p, C) trained, every base weight frozen
//
// Positions and mask (core/model's Input place): the rows sit at positions
// 0..l_p-1 and the tokens at l_p.., as a Llama model numbers its whole input;
// attention stays causal, so every token sees the whole prompt. They count
// against the context (Model.Context is SeqLen - l_p), and no loss or logits
// are computed at them. The rows start as the embeddings of l_p tokens (PEFT's
// RANDOM_DISCRETE init, or its TEXT init with given tokens), so at the start
// the model is the base reading those tokens before its input: not the base
// itself, and the method cannot be merged into a Llama checkpoint.

package peft

import (
	"fmt"

	"golora/core/model"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// PrefixEmbedConfig is prompt tuning's size knob and initialisation.
type PrefixEmbedConfig struct {
	Len  int   // l_p, PEFT's num_virtual_tokens (1 .. SeqLen-1)
	Init []int // token ids whose embeddings start the rows (repeated or cut to Len, as PEFT's TEXT init); nil: Len tokens drawn at random
}

// ---------------------------------------------------------------- layer

// promptRows is prefix-embed's hook at the input embeddings.
type promptRows struct{ p *PrefixEmbed }

// Len is l_p.
func (h promptRows) Len() int { return h.p.Len }

// Forward: the rows are P.
func (h promptRows) Forward(_ *model.Ctx, rows []float32) { copy(rows, h.p.params) }

// Backward: dP += drows (already summed over the sequences by the model).
func (h promptRows) Backward(ctx *model.Ctx, drows []float32) {
	// forward: rows = P
	for i, d := range drows[:len(h.p.params)] {
		ctx.Grads[i] += d
	}
}

// ---------------------------------------------------------------- attach

// PrefixEmbed is prompt tuning's l_p trainable rows before the input.
type PrefixEmbed struct {
	Len    int
	Tokens []int // the tokens whose embeddings the rows started as
	params []float32
	grads  []float32
}

// AddPrefixEmbed attaches prompt tuning to m, its rows starting as the
// embeddings of cfg.Init or of Len tokens drawn from r (zero with neither,
// for loading saved ones). Errors: Len outside 1..SeqLen-1 (less what other
// methods place before the tokens), a token outside the vocabulary.
func AddPrefixEmbed(m *model.Model, cfg PrefixEmbedConfig, r *rng.RNG) (*PrefixEmbed, error) {
	c := m.Config
	if cfg.Len < 1 || cfg.Len >= m.Context() {
		return nil, fmt.Errorf("prefix-embed: the prefix length must be between 1 and %d (the context, %d, less one token), got %d",
			m.Context()-1, m.Context(), cfg.Len)
	}
	p := &PrefixEmbed{Len: cfg.Len, params: make([]float32, cfg.Len*c.Dim), grads: make([]float32, cfg.Len*c.Dim)}
	var err error
	if p.Tokens, err = initTokens("prefix-embed", cfg.Init, cfg.Len, c.VocabSize, r); err != nil {
		return nil, err
	}
	for i, tok := range p.Tokens {
		copy(p.params[i*c.Dim:(i+1)*c.Dim], m.Params.Embed[tok*c.Dim:(tok+1)*c.Dim])
	}
	if err := m.Attach(p); err != nil {
		return nil, err
	}
	return p, nil
}

// initTokens is the tokens a prefix starts from: init repeated or cut to n
// (PEFT's TEXT init), or n tokens drawn from r (its RANDOM_DISCRETE), or none
// when both are nil.
func initTokens(method string, init []int, n, vocab int, r *rng.RNG) ([]int, error) {
	if len(init) == 0 {
		if r == nil {
			return nil, nil
		}
		toks := make([]int, n)
		for i := range toks {
			toks[i] = r.Intn(vocab)
		}
		return toks, nil
	}
	toks := make([]int, n)
	for i := range toks {
		toks[i] = init[i%len(init)]
		if toks[i] < 0 || toks[i] >= vocab {
			return nil, fmt.Errorf("%s: init token %d outside the vocabulary (0..%d)", method, toks[i], vocab-1)
		}
	}
	return toks, nil
}

// Name is "prefix-embed".
func (*PrefixEmbed) Name() string { return "prefix-embed" }

// Params is P (l_p, C), row-major.
func (p *PrefixEmbed) Params() []float32 { return p.params }

// Grads is its gradient.
func (p *PrefixEmbed) Grads() []float32 { return p.grads }

// TrainsBase is false: every base weight stays frozen.
func (*PrefixEmbed) TrainsBase(string) bool { return false }

// NewPass puts the rows at the input embeddings.
func (p *PrefixEmbed) NewPass(int) *model.Pass { return &model.Pass{Input: promptRows{p}} }

// Tensors names P as PEFT saves a prompt tuning adapter: prompt_embeddings (l_p, C).
func (p *PrefixEmbed) Tensors() []Tensor {
	return []Tensor{{Name: "prompt_embeddings", Shape: []int{p.Len, len(p.params) / p.Len}, Off: 0}}
}

// WhyNotMerged: the rows are extra positions.
func (*PrefixEmbed) WhyNotMerged() string {
	return "its rows are extra input positions, which no weight of a Llama checkpoint can hold (they also take l_p positions of the context)"
}

// PrefixEmbedParams is the formula prefix-embed's trainable count follows on c: l_p·C.
func PrefixEmbedParams(c model.Config, lp int) int { return lp * c.Dim }
