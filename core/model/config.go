// Config: the blueprint of a Llama-style decoder, with golora's base model as the default.
package model

import (
	"errors"
	"fmt"
)

// Config is the blueprint of a model: every size the parameters and activations derive from.
type Config struct {
	Dim       int     // C: width of the residual stream
	HiddenDim int     // H: width of the SwiGLU MLP
	NLayers   int     // L: transformer blocks
	NHeads    int     // NH: query heads; head size HS = Dim/NHeads
	NKVHeads  int     // NKV: key/value heads (grouped-query attention when < NHeads)
	VocabSize int     // V: tokenizer vocabulary
	SeqLen    int     // longest sequence the model is trained and run on (context)
	Tied      bool    // classifier shares the token embedding (lm_head = embed_tokens)
	NormEps   float32 // RMSNorm epsilon
	RopeBase  float64 // rotary embedding base (10000 in Llama and llama2.c)
}

// DefaultConfig is golora's shipped base: a byte-level model small enough to
// fine-tune in a browser tab within about two minutes (see models/README.md).
func DefaultConfig() Config {
	return Config{
		Dim:       96,    // wide enough for a small English-like world; 430K parameters train at browser speed
		HiddenDim: 256,   // ~2.7x Dim, Llama's SwiGLU ratio (8/3) rounded to a multiple of 32
		NLayers:   4,     // four blocks: enough depth for copying and lookup (cipher, facts)
		NHeads:    4,     // head size 24
		NKVHeads:  2,     // grouped-query attention, as in Llama 2 70B and stories260K
		VocabSize: 258,   // BOS, EOS and the 256 bytes (data.ByteTokenizer)
		SeqLen:    128,   // the longest task example (120 bytes + BOS + End) fits
		Tied:      true,  // tying saves V*C parameters at no cost in quality at this size
		NormEps:   1e-5,  // Llama's value (and llama2.c's, so the base exports to llama2.c)
		RopeBase:  10000, // Llama's value
	}
}

// HeadSize is the per-head width HS.
func (c Config) HeadSize() int { return c.Dim / c.NHeads }

// KVDim is the width of the key and value projections, NKV*HS.
func (c Config) KVDim() int { return c.NKVHeads * c.HeadSize() }

// Validate reports the first invalid field, by name.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("model config: %s must be positive, got %d", name, v))
		}
	}
	pos("dim", c.Dim)
	pos("hidden_dim", c.HiddenDim)
	pos("n_layers", c.NLayers)
	pos("n_heads", c.NHeads)
	pos("n_kv_heads", c.NKVHeads)
	pos("vocab_size", c.VocabSize)
	pos("seq_len", c.SeqLen)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.Dim%c.NHeads != 0 {
		return fmt.Errorf("model config: dim %d is not a multiple of n_heads %d", c.Dim, c.NHeads)
	}
	if c.NHeads%c.NKVHeads != 0 {
		return fmt.Errorf("model config: n_heads %d is not a multiple of n_kv_heads %d", c.NHeads, c.NKVHeads)
	}
	if c.HeadSize()%2 != 0 {
		return fmt.Errorf("model config: head size %d must be even for rotary embeddings", c.HeadSize())
	}
	if !(c.NormEps > 0) {
		return fmt.Errorf("model config: norm_eps must be positive, got %g", c.NormEps)
	}
	if !(c.RopeBase > 1) {
		return fmt.Errorf("model config: rope_base must be > 1, got %g", c.RopeBase)
	}
	const limit = 1 << 16
	if c.Dim > limit || c.HiddenDim > limit || c.VocabSize > 1<<20 || c.SeqLen > limit || c.NLayers > 1024 {
		return fmt.Errorf("model config: sizes out of range (dim %d, hidden_dim %d, vocab_size %d, seq_len %d, n_layers %d)",
			c.Dim, c.HiddenDim, c.VocabSize, c.SeqLen, c.NLayers)
	}
	return nil
}
