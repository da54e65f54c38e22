// Tests for the PEFT adapter layout: a config PEFT wrote, golora's output, the
// validation errors, the tensor keys, and a fuzzer.

package checkpoint

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// peftWritten is an adapter_config.json as PEFT (0.10-era) saves it for a Llama
// model, including fields golora does not model (auto_mapping, megatron_core
// values) and one it does not know at all (a future field).
const peftWritten = `{
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "meta-llama/Llama-2-7b-hf",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 32,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 16,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
    "v_proj",
    "q_proj"
  ],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": false,
  "some_future_field": [1, 2, 3]
}`

func TestReadAdapterConfigPEFT(t *testing.T) {
	c, err := ReadAdapterConfig(strings.NewReader(peftWritten), "adapter_config.json")
	require.NoError(t, err)
	assert.Equal(t, "LORA", c.PEFTType)
	assert.Equal(t, "CAUSAL_LM", c.TaskType)
	assert.Equal(t, 16, c.R)
	assert.Equal(t, 32.0, c.LoraAlpha)
	assert.Equal(t, 0.05, c.LoraDropout)
	assert.Equal(t, []string{"v_proj", "q_proj"}, c.TargetModules)
	assert.Equal(t, InitKaiming, c.InitLoraWeights)
	assert.Equal(t, "none", c.Bias)
	assert.False(t, c.UseRSLoRA)
	assert.True(t, c.InferenceMode)
	assert.Nil(t, c.ModulesToSave)
	assert.Equal(t, "meta-llama/Llama-2-7b-hf", c.BaseModelNameOrPath)
}

func TestWriteAdapterConfig(t *testing.T) {
	c := NewAdapterConfig("stories260K", 4, 8, 0.1, []string{"q_proj", "v_proj"}, true, InitGaussian)
	var buf bytes.Buffer
	require.NoError(t, WriteAdapterConfig(&buf, c))
	want := `{
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "stories260K",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": "gaussian",
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 8,
  "lora_dropout": 0.1,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 4,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
    "q_proj",
    "v_proj"
  ],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": true
}
`
	assert.Equal(t, want, buf.String(), "WriteAdapterConfig output (PEFT's sort_keys, indent 2)")

	got, err := ReadAdapterConfig(bytes.NewReader(buf.Bytes()), "adapter_config.json")
	require.NoError(t, err)
	var again bytes.Buffer
	require.NoError(t, WriteAdapterConfig(&again, got))
	assert.Equal(t, buf.String(), again.String(), "write(read(write(c))) == write(c)")

	// Kaiming (PEFT's true) is written as a JSON boolean.
	c.InitLoraWeights = InitKaiming
	buf.Reset()
	require.NoError(t, WriteAdapterConfig(&buf, c))
	assert.Contains(t, buf.String(), `"init_lora_weights": true,`)
}

func TestAdapterConfigRejects(t *testing.T) {
	edit := func(from, to string) string {
		require.Contains(t, peftWritten, from)
		return strings.Replace(peftWritten, from, to, 1)
	}
	cases := []struct {
		name, json, wantErr string
	}{
		{"not JSON", "{", "invalid JSON"},
		{"wrong peft type", edit(`"peft_type": "LORA"`, `"peft_type": "IA3"`), `peft_type "IA3" is not LORA`},
		{"zero rank", edit(`"r": 16`, `"r": 0`), "r = 0, need r >= 1"},
		{"fractional rank", edit(`"r": 16`, `"r": 1.5`), "invalid JSON"},
		{"zero alpha", edit(`"lora_alpha": 32`, `"lora_alpha": 0`), "lora_alpha = 0"},
		{"negative alpha", edit(`"lora_alpha": 32`, `"lora_alpha": -1`), "lora_alpha = -1"},
		{"dropout one", edit(`"lora_dropout": 0.05`, `"lora_dropout": 1`), "lora_dropout = 1"},
		{"no targets", edit(`[
    "v_proj",
    "q_proj"
  ]`, `[]`), "target_modules is empty"},
		{"null targets", edit(`[
    "v_proj",
    "q_proj"
  ]`, `null`), "target_modules is empty"},
		{"regex targets", edit(`[
    "v_proj",
    "q_proj"
  ]`, `".*proj"`), "regular expression string is not supported"},
		{"empty target", edit(`"v_proj",`, `"",`), "empty name"},
		{"bias", edit(`"bias": "none"`, `"bias": "some"`), `bias "some" is not one of`},
		{"init string true", edit(`"init_lora_weights": true`, `"init_lora_weights": "true"`), "write the boolean"},
		{"init number", edit(`"init_lora_weights": true`, `"init_lora_weights": 3`), "boolean or a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadAdapterConfig(strings.NewReader(tc.json), "adapter_config.json")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "checkpoint adapter_config.json: "), "error names the file: %v", err)
		})
	}

	var buf bytes.Buffer
	bad := NewAdapterConfig("x", 0, 8, 0, []string{"q_proj"}, false, InitKaiming)
	require.Error(t, WriteAdapterConfig(&buf, bad))
	assert.Zero(t, buf.Len(), "nothing written for an invalid config")
}

func TestPEFTKeys(t *testing.T) {
	for layer := range 2 {
		for _, tm := range TargetModules {
			module, err := ModulePath(layer, tm.Name)
			require.NoError(t, err)
			for _, which := range []string{"A", "B"} {
				key := PEFTKey(module, which)
				gotModule, gotWhich, err := ParsePEFTKey(key)
				require.NoError(t, err, key)
				assert.Equal(t, module, gotModule, "ParsePEFTKey module of %s", key)
				assert.Equal(t, which, gotWhich, "ParsePEFTKey which of %s", key)
			}
		}
	}
	m, err := ModulePath(0, "q_proj")
	require.NoError(t, err)
	assert.Equal(t, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", PEFTKey(m, "A"))
	m, err = ModulePath(4, "down_proj")
	require.NoError(t, err)
	assert.Equal(t, "base_model.model.model.layers.4.mlp.down_proj.lora_B.weight", PEFTKey(m, "B"))

	_, err = ModulePath(0, "lm_head")
	assert.ErrorContains(t, err, `unknown target module "lm_head"`)
	_, err = ModulePath(-1, "q_proj")
	assert.Error(t, err)
	assert.PanicsWithValue(t, `checkpoint: PEFTKey which = "C", want "A" or "B"`, func() { PEFTKey("m", "C") })

	for _, bad := range []string{
		"model.layers.0.self_attn.q_proj.lora_A.weight",                          // no prefix
		"base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", // in-memory key with adapter name
		"base_model.model.model.layers.0.self_attn.q_proj.weight",                // base weight
		"base_model.model..lora_A.weight",                                        // empty module
		"base_model.model.lora_B.weight",
	} {
		_, _, err := ParsePEFTKey(bad)
		assert.Error(t, err, "ParsePEFTKey(%q)", bad)
	}
}

func FuzzReadAdapterConfig(f *testing.F) {
	f.Add([]byte(peftWritten))
	var buf bytes.Buffer
	_ = WriteAdapterConfig(&buf, NewAdapterConfig("b", 2, 4, 0, []string{"q_proj"}, false, InitGaussian))
	f.Add(buf.Bytes())
	f.Add([]byte(`{"peft_type":"LORA","r":1,"lora_alpha":1,"target_modules":["x"],"bias":"none","init_lora_weights":"pissa"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadAdapterConfig(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "checkpoint fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteAdapterConfig(&out, c); err != nil {
			t.Fatalf("cannot rewrite accepted config: %v", err)
		}
		c2, err := ReadAdapterConfig(bytes.NewReader(out.Bytes()), "fuzz.json")
		if err != nil {
			t.Fatalf("rewritten config does not read back: %v\n%s", err, out.Bytes())
		}
		var out2 bytes.Buffer
		if err := WriteAdapterConfig(&out2, c2); err != nil || !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("write(read(x)) not stable: %v\n%s\n%s", err, out.Bytes(), out2.Bytes())
		}
		if !reflect.DeepEqual(c.TargetModules, c2.TargetModules) || c.R != c2.R || c.LoraAlpha != c2.LoraAlpha {
			t.Fatalf("round trip changed the config")
		}
	})
}
