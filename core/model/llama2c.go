// Conversion between llama2.c checkpoints and golora models.
package model

import "golora/core/checkpoint"

// FromLlama2C builds a model from a llama2.c checkpoint's header and tensors
// (as checkpoint.ReadLlama2C returns them, in Hugging Face names). llama2.c
// rotates interleaved pairs (2i, 2i+1) as golora does, so no permutation is
// needed; eps and the RoPE base are llama2.c's fixed 1e-5 and 10000.
func FromLlama2C(name string, lc checkpoint.Llama2CConfig, tensors []checkpoint.Tensor) (*Model, error) {
	cfg := Config{Dim: lc.Dim, HiddenDim: lc.HiddenDim, NLayers: lc.NLayers, NHeads: lc.NHeads, NKVHeads: lc.NKVHeads,
		VocabSize: lc.VocabSize, SeqLen: lc.SeqLen, Tied: lc.SharedClassifier, NormEps: 1e-5, RopeBase: 10000}
	return FromTensors(name, cfg, tensors)
}

// Llama2C returns the header and tensors that checkpoint.WriteLlama2C writes
// for m (llama2.c's runner fixes eps 1e-5 and RoPE base 10000, so a model
// with other values cannot be exported faithfully: ok reports that).
func (m *Model) Llama2C() (lc checkpoint.Llama2CConfig, tensors []checkpoint.Tensor, ok bool) {
	c := m.Config
	lc = checkpoint.Llama2CConfig{Dim: c.Dim, HiddenDim: c.HiddenDim, NLayers: c.NLayers, NHeads: c.NHeads,
		NKVHeads: c.NKVHeads, VocabSize: c.VocabSize, SeqLen: c.SeqLen, SharedClassifier: c.Tied}
	return lc, m.Tensors(), c.NormEps == 1e-5 && c.RopeBase == 10000
}
