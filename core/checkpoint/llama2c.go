// This file holds the reader and writer for llama2.c's legacy (version 0) .bin
// checkpoints, the format of karpathy's tinyllamas (stories260K and friends).
//
// Layout, all little-endian, as llama2.c's export.py legacy_export writes it and
// run.c reads it: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len), a negative vocab_size meaning an unshared classifier;
// then float32 arrays, PyTorch (out, in) row-major, each stacked over layers:
//
//	token embedding     (V, C)
//	rms_att_weight      (L, C)
//	wq (L, C, C)   wk (L, KV, C)   wv (L, KV, C)   wo (L, C, C)
//	rms_ffn_weight      (L, C)
//	w1 (L, H, C)   w2 (L, C, H)   w3 (L, H, C)
//	rms_final_weight    (C)
//	freq_cis_real (T, hs/2)   freq_cis_imag (T, hs/2)   (RoPE tables, unused by run.c)
//	wcls (V, C)                                          (only when unshared)
//
// with C = dim, H = hidden_dim, L = n_layers, V = vocab_size, T = seq_len,
// hs = dim/n_heads, KV = dim*n_kv_heads/n_heads.
//
// No q/k permutation is needed between this file and golora's model. Hugging
// Face's Llama checkpoints permute wq and wk because HF's RoPE rotates the halves
// (i, i+hs/2) of each head; llama2.c's export undoes that (permute_reverse) and
// run.c rotates adjacent pairs (2i, 2i+1) within each head, which is what golora's
// model does too. So the legacy .bin's wq/wk are used as they are, under HF
// tensor names but in llama2.c's interleaved-pairs RoPE layout.

package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"golora/core/mathf"
)

// Llama2CConfig is the header of a llama2.c legacy checkpoint.
type Llama2CConfig struct {
	Dim              int  // C, model width
	HiddenDim        int  // H, SwiGLU hidden width
	NLayers          int  // L
	NHeads           int  // query heads
	NKVHeads         int  // key/value heads (grouped-query attention when < NHeads)
	VocabSize        int  // V
	SeqLen           int  // T, the longest context the RoPE tables cover
	SharedClassifier bool // logits use the token embedding; no lm_head.weight
}

// Limits on header values: far above any llama2.c model that fits in memory,
// low enough that products of them cannot overflow an int64.
const (
	maxDim    = 1 << 16
	maxHidden = 1 << 18
	maxLayers = 1 << 10
	maxVocab  = 1 << 20
	maxSeqLen = 1 << 20
)

// Validate checks that the header values are positive, within sane limits and
// consistent (heads divide the width, query heads are a multiple of kv heads,
// the head size is even for RoPE pairs).
func (c Llama2CConfig) Validate() error {
	checks := []struct {
		name     string
		val, max int
	}{
		{"dim", c.Dim, maxDim}, {"hidden_dim", c.HiddenDim, maxHidden}, {"n_layers", c.NLayers, maxLayers},
		{"n_heads", c.NHeads, maxDim}, {"n_kv_heads", c.NKVHeads, maxDim}, {"vocab_size", c.VocabSize, maxVocab},
		{"seq_len", c.SeqLen, maxSeqLen},
	}
	for _, ch := range checks {
		if ch.val < 1 || ch.val > ch.max {
			return fmt.Errorf("%s = %d is outside [1, %d]", ch.name, ch.val, ch.max)
		}
	}
	if c.Dim%c.NHeads != 0 {
		return fmt.Errorf("dim %d is not a multiple of n_heads %d", c.Dim, c.NHeads)
	}
	if c.NKVHeads > c.NHeads || c.NHeads%c.NKVHeads != 0 {
		return fmt.Errorf("n_heads %d is not a multiple of n_kv_heads %d", c.NHeads, c.NKVHeads)
	}
	if (c.Dim/c.NHeads)%2 != 0 {
		return fmt.Errorf("head size %d (dim %d / n_heads %d) is odd; RoPE rotates pairs", c.Dim/c.NHeads, c.Dim, c.NHeads)
	}
	return nil
}

// HeadSize is dim / n_heads.
func (c Llama2CConfig) HeadSize() int { return c.Dim / c.NHeads }

// KVDim is the width of the key and value projections.
func (c Llama2CConfig) KVDim() int { return c.Dim * c.NKVHeads / c.NHeads }

// llama2cHeaderBytes is the size of the 7-int32 header.
const llama2cHeaderBytes = 7 * 4

// llama2cSection is one stacked float32 array of the file: its per-layer tensor
// names (one name when not stacked) and the shape of each.
type llama2cSection struct {
	names []string
	shape []int
}

// layout lists the file's sections in order. The RoPE tables appear as a section
// with no names (rope != nil marks it).
func (c Llama2CConfig) layout() []llama2cSection {
	C, H, V, KV := c.Dim, c.HiddenDim, c.VocabSize, c.KVDim()
	perLayer := func(suffix string, shape ...int) llama2cSection {
		names := make([]string, c.NLayers)
		for l := range names {
			names[l] = "model.layers." + strconv.Itoa(l) + "." + suffix
		}
		return llama2cSection{names: names, shape: shape}
	}
	ropeHalf := c.SeqLen * c.HeadSize() / 2
	secs := []llama2cSection{
		{names: []string{"model.embed_tokens.weight"}, shape: []int{V, C}},
		perLayer("input_layernorm.weight", C),
		perLayer("self_attn.q_proj.weight", C, C),
		perLayer("self_attn.k_proj.weight", KV, C),
		perLayer("self_attn.v_proj.weight", KV, C),
		perLayer("self_attn.o_proj.weight", C, C),
		perLayer("post_attention_layernorm.weight", C),
		perLayer("mlp.gate_proj.weight", H, C), // w1
		perLayer("mlp.down_proj.weight", C, H), // w2
		perLayer("mlp.up_proj.weight", H, C),   // w3
		{names: []string{"model.norm.weight"}, shape: []int{C}},
		{names: nil, shape: []int{2 * ropeHalf}}, // freq_cis_real then freq_cis_imag
	}
	if !c.SharedClassifier {
		secs = append(secs, llama2cSection{names: []string{"lm_head.weight"}, shape: []int{V, C}})
	}
	return secs
}

// FileSize is the exact size in bytes of a legacy checkpoint with this config.
func (c Llama2CConfig) FileSize() int64 {
	n := int64(0)
	for _, s := range c.layout() {
		count := int64(len(s.names))
		if s.names == nil {
			count = 1
		}
		per := int64(1)
		for _, d := range s.shape {
			per *= int64(d)
		}
		n += count * per
	}
	return llama2cHeaderBytes + 4*n
}

// ReadLlama2C reads a legacy llama2.c checkpoint of size bytes and returns its
// config and its tensors under Hugging Face Llama names with PyTorch shapes, in
// file order: model.embed_tokens.weight (V, C); per layer N
// model.layers.N.input_layernorm.weight (C), self_attn.{q,k,v,o}_proj.weight,
// post_attention_layernorm.weight (C), mlp.gate_proj.weight (w1, (H, C)),
// mlp.down_proj.weight (w2, (C, H)), mlp.up_proj.weight (w3, (H, C)), grouped by
// kind as in the file; model.norm.weight (C); lm_head.weight (V, C) only when the
// classifier is unshared. The RoPE tables are read and dropped (golora computes
// its own). name is the file name used in errors.
func ReadLlama2C(r io.Reader, name string, size int64) (Llama2CConfig, []Tensor, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: "+format, append([]any{name}, args...)...)
	}
	var hdr [llama2cHeaderBytes]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Llama2CConfig{}, nil, fail("truncated: %d bytes, a llama2.c checkpoint starts with a %d-byte header", n, llama2cHeaderBytes)
		}
		return Llama2CConfig{}, nil, fail("%w", err)
	}
	field := func(i int) int { return int(int32(binary.LittleEndian.Uint32(hdr[4*i:]))) }
	cfg := Llama2CConfig{
		Dim: field(0), HiddenDim: field(1), NLayers: field(2), NHeads: field(3),
		NKVHeads: field(4), VocabSize: field(5), SeqLen: field(6), SharedClassifier: field(5) > 0,
	}
	if cfg.VocabSize < 0 {
		cfg.VocabSize = -cfg.VocabSize // negative: unshared classifier (run.c's convention)
	}
	if err := cfg.Validate(); err != nil {
		return Llama2CConfig{}, nil, fail("header: %w", err)
	}
	if want := cfg.FileSize(); size != want {
		return Llama2CConfig{}, nil, fail("size: expected %d bytes for %+v, got %d", want, cfg, size)
	}

	var tensors []Tensor
	buf := make([]byte, 1<<16)
	read := func(dst []float32) error {
		for len(dst) > 0 {
			n := min(len(dst), len(buf)/4)
			if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
				return err
			}
			for i := range n {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
			dst = dst[n:]
		}
		return nil
	}
	for _, s := range cfg.layout() {
		count, per := len(s.names), 1
		for _, d := range s.shape {
			per *= d
		}
		if s.names == nil { // RoPE tables: read and drop
			if err := read(make([]float32, per)); err != nil {
				return Llama2CConfig{}, nil, fail("truncated in the RoPE tables: %w", err)
			}
			continue
		}
		// One allocation per section; each layer's tensor is a view into it.
		block := make([]float32, count*per)
		if err := read(block); err != nil {
			return Llama2CConfig{}, nil, fail("truncated in %s: %w", s.names[0], err)
		}
		for i, n := range s.names {
			tensors = append(tensors, Tensor{Name: n, Shape: append([]int(nil), s.shape...), Data: block[i*per : (i+1)*per : (i+1)*per]})
		}
	}
	return cfg, tensors, nil
}

// RoPETables returns the freq_cis_real and freq_cis_imag tables that llama2.c's
// legacy export writes, each (SeqLen, HeadSize/2): cos and sin of pos * freq_i
// with freq_i = 1 / 10000^(2i/hs). The arithmetic follows model.py's
// precompute_freqs_cis step by step in float32 (exponent, power, reciprocal,
// product), with golora's own cos/sin so the result is identical on every platform.
func (c Llama2CConfig) RoPETables() (real, imag []float32) {
	hs, half := c.HeadSize(), c.HeadSize()/2
	freqs := make([]float32, half)
	for i := range freqs {
		e := float32(2*i) / float32(hs)
		p := float32(mathf.Pow64(10000, float64(e)))
		freqs[i] = 1 / p
	}
	real = make([]float32, c.SeqLen*half)
	imag = make([]float32, c.SeqLen*half)
	for pos := range c.SeqLen {
		for i, f := range freqs {
			angle := float32(pos) * f
			real[pos*half+i] = float32(mathf.Cos64(float64(angle)))
			imag[pos*half+i] = float32(mathf.Sin64(float64(angle)))
		}
	}
	return real, imag
}

// WriteLlama2C writes tensors (named as ReadLlama2C returns them, in any order)
// as a legacy llama2.c checkpoint that run.c can load, including the RoPE tables
// the legacy export writes. Every expected tensor must be present with its exact
// shape and nothing else may be given (lm_head.weight only when the classifier
// is unshared); nothing is written otherwise.
func WriteLlama2C(w io.Writer, cfg Llama2CConfig, tensors []Tensor) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint: write llama2.c: "+format, args...)
	}
	if err := cfg.Validate(); err != nil {
		return fail("%w", err)
	}
	byName := make(map[string]Tensor, len(tensors))
	for _, t := range tensors {
		if _, dup := byName[t.Name]; dup {
			return fail("duplicate tensor %q", t.Name)
		}
		byName[t.Name] = t
	}
	layout := cfg.layout()
	used := 0
	for _, s := range layout {
		for _, n := range s.names {
			t, ok := byName[n]
			if !ok {
				return fail("missing tensor %q", n)
			}
			if !equalShape(t.Shape, s.shape) {
				return fail("tensor %q has shape %v, want %v", n, t.Shape, s.shape)
			}
			if per, _ := numel(s.shape, math.MaxInt); len(t.Data) != per {
				return fail("tensor %q has %d floats, shape %v needs %d", n, len(t.Data), s.shape, per)
			}
			used++
		}
	}
	if used != len(byName) {
		for n := range byName {
			if !inLayout(layout, n) {
				if n == "lm_head.weight" {
					return fail("lm_head.weight given but the config says the classifier is shared")
				}
				return fail("unexpected tensor %q", n)
			}
		}
	}

	out := make([]byte, 0, cfg.FileSize())
	vocab := cfg.VocabSize
	if !cfg.SharedClassifier {
		vocab = -vocab
	}
	for _, v := range []int{cfg.Dim, cfg.HiddenDim, cfg.NLayers, cfg.NHeads, cfg.NKVHeads, vocab, cfg.SeqLen} {
		out = binary.LittleEndian.AppendUint32(out, uint32(int32(v)))
	}
	appendFloats := func(vals []float32) {
		for _, v := range vals {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	for _, s := range layout {
		if s.names == nil {
			re, im := cfg.RoPETables()
			appendFloats(re)
			appendFloats(im)
			continue
		}
		for _, n := range s.names {
			appendFloats(byName[n].Data)
		}
	}
	if _, err := w.Write(out); err != nil {
		return fail("%w", err)
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func inLayout(layout []llama2cSection, name string) bool {
	for _, s := range layout {
		for _, n := range s.names {
			if n == name {
				return true
			}
		}
	}
	return false
}
