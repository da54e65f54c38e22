// Tests of the other methods' formats: (IA)³'s config and keys, golora's own adapter config, and fuzzers.

package checkpoint

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigKind(t *testing.T) {
	pt, gm, err := ConfigKind([]byte(peftWritten), "a.json")
	require.NoError(t, err)
	assert.Equal(t, "LORA", pt)
	assert.Empty(t, gm)
	pt, gm, err = ConfigKind([]byte(`{"format": "golora-adapter", "method": "top"}`), "g.json")
	require.NoError(t, err)
	assert.Empty(t, pt)
	assert.Equal(t, "top", gm)
	_, _, err = ConfigKind([]byte(`{"r": 4}`), "x.json")
	assert.ErrorContains(t, err, "x.json: neither")
	_, _, err = ConfigKind([]byte(`{`), "x.json")
	assert.ErrorContains(t, err, "invalid JSON")
}

func TestIA3Config(t *testing.T) {
	c := NewIA3Config("base", []string{"k_proj", "v_proj", "down_proj"}, []string{"down_proj"})
	var buf bytes.Buffer
	require.NoError(t, WriteIA3Config(&buf, c))
	got, err := ReadIA3Config(bytes.NewReader(buf.Bytes()), "adapter_config.json")
	require.NoError(t, err)
	assert.Equal(t, c, got)
	for _, tc := range []struct{ json, want string }{
		{`{"peft_type": "LORA", "target_modules": ["k_proj"]}`, `peft_type "LORA" is not IA3`},
		{`{"peft_type": "IA3", "target_modules": []}`, "target_modules is empty"},
		{`{"peft_type": "IA3", "target_modules": ["k_proj"], "feedforward_modules": ["down_proj"]}`, "not in target_modules"},
		{`{"peft_type": "IA3", "target_modules": ".*proj"}`, "regular expression"},
		{`{"peft_type": "IA3", "target_modules": ["k_proj"], "fan_in_fan_out": true}`, "fan_in_fan_out"},
		{`{"peft_type": "IA3", "target_modules": ["k_proj"], "modules_to_save": ["lm_head"]}`, "modules_to_save"},
	} {
		_, err := ReadIA3Config(strings.NewReader(tc.json), "adapter_config.json")
		assert.ErrorContains(t, err, tc.want, tc.json)
	}
	assert.Equal(t, "base_model.model.model.layers.0.self_attn.k_proj.ia3_l", PEFTIA3Key("model.layers.0.self_attn.k_proj"))
	assert.Equal(t, "base_model.model.model.layers.0.self_attn.k_proj.lora_magnitude_vector",
		PEFTMagnitudeKey("model.layers.0.self_attn.k_proj"))
	m, s, err := ParsePEFTModuleKey(PEFTMagnitudeKey("model.layers.3.mlp.up_proj"), SuffixLoRAA, SuffixMagnitude)
	require.NoError(t, err)
	assert.Equal(t, "model.layers.3.mlp.up_proj", m)
	assert.Equal(t, SuffixMagnitude, s)
	_, _, err = ParsePEFTModuleKey(PEFTIA3Key("model.layers.3.mlp.up_proj"), SuffixLoRAA)
	assert.ErrorContains(t, err, `does not end with ".lora_A.weight"`)
}

func TestGoloraAdapterConfig(t *testing.T) {
	g := GoloraAdapter{Format: GoloraFormat, Version: GoloraVersion, Method: "top", BaseFingerprint: "0123456789abcdef",
		Layers: 1, Replaces: []string{"model.norm.weight"}}
	var buf bytes.Buffer
	require.NoError(t, WriteGoloraAdapter(&buf, g))
	got, err := ReadGoloraAdapter(bytes.NewReader(buf.Bytes()), "golora_adapter.json")
	require.NoError(t, err)
	g.Adds = []string{}
	assert.Equal(t, g, got)
	for _, tc := range []struct {
		edit func(g *GoloraAdapter)
		want string
	}{
		{func(g *GoloraAdapter) { g.Version = 7 }, "version 7"},
		{func(g *GoloraAdapter) { g.BaseFingerprint = "XYZ" }, "base_fingerprint"},
		{func(g *GoloraAdapter) { g.Replaces = []string{"a", "a"} }, "listed twice"},
		{func(g *GoloraAdapter) { g.Format = "peft" }, "format"},
		{func(g *GoloraAdapter) { g.Method = "" }, "method is empty"},
	} {
		bad := g
		tc.edit(&bad)
		var b bytes.Buffer
		require.NoError(t, writeJSON(&b, bad))
		_, err := ReadGoloraAdapter(bytes.NewReader(b.Bytes()), "golora_adapter.json")
		assert.ErrorContains(t, err, tc.want)
	}
	_, err = ReadGoloraAdapter(strings.NewReader(`{"format": "golora-adapter", "version": 1, "method": "top", "x": 1}`), "g.json")
	assert.ErrorContains(t, err, "unknown field")
}

// FuzzReadIA3Config and FuzzReadGoloraAdapter: any bytes give a config or an error, never a panic, and an accepted
// config writes and reads back the same.
func FuzzReadIA3Config(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteIA3Config(&buf, NewIA3Config("b", []string{"k_proj", "down_proj"}, []string{"down_proj"}))
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadIA3Config(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteIA3Config(&out, c); err != nil {
			t.Fatalf("an accepted config does not write: %v", err)
		}
		if _, err := ReadIA3Config(bytes.NewReader(out.Bytes()), "fuzz.json"); err != nil {
			t.Fatalf("a written config does not read: %v", err)
		}
	})
}

func FuzzReadGoloraAdapter(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteGoloraAdapter(&buf, GoloraAdapter{Format: GoloraFormat, Version: GoloraVersion, Method: "bitfit",
		BaseFingerprint: "00000000000000ff", Targets: []string{"q"}, Adds: []string{"x.bias"}})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ReadGoloraAdapter(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteGoloraAdapter(&out, g); err != nil {
			t.Fatalf("an accepted config does not write: %v", err)
		}
		if _, err := ReadGoloraAdapter(bytes.NewReader(out.Bytes()), "fuzz.json"); err != nil {
			t.Fatalf("a written config does not read: %v", err)
		}
	})
}
