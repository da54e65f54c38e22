// Saving and loading a base model as safetensors, its Config in the __metadata__ entry.
package model

import (
	"encoding/json"
	"fmt"
	"io"

	"golora/core/checkpoint"
)

// metadata keys written into the safetensors header.
const (
	metaFormat = "format"        // "golora"
	metaConfig = "golora.config" // the Config as JSON
	metaName   = "golora.name"
)

// configJSON is Config with Hugging Face-style field names (stable on disk).
type configJSON struct {
	Dim       int     `json:"hidden_size"`
	HiddenDim int     `json:"intermediate_size"`
	NLayers   int     `json:"num_hidden_layers"`
	NHeads    int     `json:"num_attention_heads"`
	NKVHeads  int     `json:"num_key_value_heads"`
	VocabSize int     `json:"vocab_size"`
	SeqLen    int     `json:"max_position_embeddings"`
	Tied      bool    `json:"tie_word_embeddings"`
	NormEps   float32 `json:"rms_norm_eps"`
	RopeBase  float64 `json:"rope_theta"`
}

// Save writes the model's base weights (adapters are saved separately, as a
// PEFT adapter) with its config and name in the metadata. A merged model is
// saved merged: that is how `golora merge` writes a merged base.
func (m *Model) Save(w io.Writer, extra map[string]string) error {
	c := m.Config
	cj, err := json.Marshal(configJSON{c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKVHeads, c.VocabSize, c.SeqLen, c.Tied, c.NormEps, c.RopeBase})
	if err != nil {
		return err
	}
	meta := map[string]string{metaFormat: "golora", metaConfig: string(cj), metaName: m.Name}
	for k, v := range extra {
		meta[k] = v
	}
	return checkpoint.WriteSafetensors(w, m.Tensors(), meta)
}

// Tensors returns the base weights as named tensors (views, not copies).
func (m *Model) Tensors() []checkpoint.Tensor {
	views := m.Params.Views(m.Config)
	var ts []checkpoint.Tensor
	for _, t := range m.Config.Tensors() {
		ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: views[t.Name]})
	}
	return ts
}

// Load reads a model saved by Save. name (the file name) is used in errors.
func Load(r io.Reader, name string) (*Model, map[string]string, error) {
	tensors, meta, err := checkpoint.ReadSafetensors(r, name)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := meta[metaConfig]
	if !ok {
		return nil, nil, fmt.Errorf("model %s: no %q entry in the safetensors metadata (not a golora base model)", name, metaConfig)
	}
	var cj configJSON
	if err := json.Unmarshal([]byte(raw), &cj); err != nil {
		return nil, nil, fmt.Errorf("model %s: metadata %q: %w", name, metaConfig, err)
	}
	cfg := Config{cj.Dim, cj.HiddenDim, cj.NLayers, cj.NHeads, cj.NKVHeads, cj.VocabSize, cj.SeqLen, cj.Tied, cj.NormEps, cj.RopeBase}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", name, err)
	}
	// The metadata is outside input: allocate for its config only when the file holds that many weights (a few bytes
	// claiming 1,024 layers of width 65,536 would otherwise run out of memory before any check).
	held := 0
	for _, t := range tensors {
		held += len(t.Data)
	}
	if need := cfg.NumParams(); need != held {
		return nil, nil, fmt.Errorf("model %s: its config (metadata %q) needs %d weights, the file holds %d", name, metaConfig, need, held)
	}
	m, err := FromTensors(meta[metaName], cfg, tensors)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", name, err)
	}
	return m, meta, nil
}

// FromTensors builds a model from named tensors (Hugging Face Llama names),
// checking that every tensor the config needs is present with its shape, that
// nothing else is there, and that every weight is finite (checkpoint.CheckFinite).
// A tied config ignores an lm_head that equals nothing: it is an error, since
// silently dropping weights is never right.
func FromTensors(name string, cfg Config, tensors []checkpoint.Tensor) (*Model, error) {
	m, err := New(name, cfg)
	if err != nil {
		return nil, err
	}
	views := m.Params.Views(cfg)
	shapes := make(map[string][]int)
	for _, ti := range cfg.Tensors() {
		shapes[ti.Name] = ti.Shape
	}
	seen := make(map[string]bool)
	for _, t := range tensors {
		dst, ok := views[t.Name]
		if !ok {
			return nil, fmt.Errorf("unexpected tensor %q for this config", t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		if fmt.Sprint(t.Shape) != fmt.Sprint(shapes[t.Name]) || len(t.Data) != len(dst) {
			return nil, fmt.Errorf("tensor %q has shape %v, the config needs %v", t.Name, t.Shape, shapes[t.Name])
		}
		copy(dst, t.Data)
	}
	for _, ti := range cfg.Tensors() {
		if !seen[ti.Name] {
			return nil, fmt.Errorf("tensor %q (shape %v) is missing", ti.Name, ti.Shape)
		}
	}
	if err := checkpoint.CheckFinite(tensors); err != nil {
		return nil, err
	}
	return m, nil
}
