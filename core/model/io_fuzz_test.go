package model

import (
	"bytes"
	"testing"

	"golora/core/checkpoint"
)

// FuzzLoad: a base model file is outside input, its Config included (JSON in the safetensors metadata). Whatever the
// header and the metadata say, Load returns a model or an error: it never panics, and it never allocates for a config
// the file's tensors cannot fill (a few bytes claiming 1,024 layers of width 65,536 once ran out of memory).
func FuzzLoad(f *testing.F) {
	m, err := New("tiny", Config{Dim: 8, HiddenDim: 16, NLayers: 1, NHeads: 2, NKVHeads: 1, VocabSize: 12, SeqLen: 8,
		Tied: true, NormEps: 1e-5, RopeBase: 10000})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	for _, cfg := range []string{
		`{"hidden_size": 65536, "intermediate_size": 65536, "num_hidden_layers": 1024, "num_attention_heads": 2,
			"num_key_value_heads": 1, "vocab_size": 1048576, "max_position_embeddings": 65536, "rms_norm_eps": 1e-5,
			"rope_theta": 10000}`,
		`{"hidden_size": -8}`, `{"hidden_size": 8.5}`, `[]`, `null`, `{"rope_theta": 1e400}`,
	} {
		var b bytes.Buffer
		if err := checkpoint.WriteSafetensors(&b, m.Tensors()[:1], map[string]string{metaConfig: cfg, metaName: "x"}); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		got, _, err := Load(bytes.NewReader(file), "fuzz.safetensors")
		if err != nil {
			return
		}
		if err := got.Config.Validate(); err != nil {
			t.Fatalf("Load accepted an invalid config: %v", err)
		}
		if got.NumParams() != got.Config.NumParams() {
			t.Fatalf("a model of %d parameters for a config of %d", got.NumParams(), got.Config.NumParams())
		}
	})
}
