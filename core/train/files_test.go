// Tests of every method's files: what a run of each method writes reads back onto the base as the same model (bit
// for bit; a PiSSA run, converted to a plain LoRA on the base, within float tolerance), in PEFT's names and shapes
// where PEFT has the method, and what golora cannot apply is refused with the reason.

package train_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
	"golora/core/train"
)

// methodFiles trains a few steps of cfg and returns the session and its files.
func methodFiles(t *testing.T, base *model.Model, cfg train.Config) (*train.Session, train.AdapterFiles) {
	t.Helper()
	s, err := train.New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.Step(cfg.Steps)
	require.NoError(t, err)
	f, err := s.ExportFiles("tiny.safetensors")
	require.NoError(t, err)
	return s, f
}

func readFiles(base *model.Model, f train.AdapterFiles) (*model.Model, error) {
	return train.ReadAdapter(base, bytes.NewReader(f.Config), f.ConfigName, bytes.NewReader(f.Weights), train.AdapterWeightsName)
}

func methodConfig(method string) train.Config {
	c := tinyConfig("q", "v")
	c.Method, c.LR, c.Layers = method, train.DefaultLR(method), 1
	return c
}

// TestEveryMethodFilesRoundTrip: each method's files, read onto the base, give the trained model's logits and
// greedy generations; a run continues from them (their method and size), and evaluates them frozen.
func TestEveryMethodFilesRoundTrip(t *testing.T) {
	pissa := methodConfig(train.MethodLoRA)
	pissa.Init = string(peft.InitPiSSA)
	projection := methodConfig(train.MethodPrefixLayer)
	projection.PrefixProjection = true
	for _, tc := range []struct {
		name       string
		cfg        train.Config
		configName string
		carries    string // the method attached to the model read back ("" for a plain base)
		tol        float32
	}{
		{"lora", methodConfig(train.MethodLoRA), train.PEFTConfigName, "lora", 0},
		{"dora", methodConfig(train.MethodDoRA), train.PEFTConfigName, "dora", 0},
		{"ia3", methodConfig(train.MethodIA3), train.PEFTConfigName, "ia3", 0},
		{"top", methodConfig(train.MethodTop), train.GoloraConfigName, "", 0},
		{"bitfit", methodConfig(train.MethodBitFit), train.GoloraConfigName, "bitfit", 0},
		{"lora-pissa", pissa, train.PEFTConfigName, "lora", 1e-4},
		{"adapter-h", methodConfig(train.MethodAdapterH), train.GoloraConfigName, "adapter-h", 0},
		{"adapter-l", methodConfig(train.MethodAdapterL), train.GoloraConfigName, "adapter-l", 0},
		{"prefix-embed", methodConfig(train.MethodPrefixEmbed), train.PEFTConfigName, "prefix-embed", 0},
		{"prefix-layer", methodConfig(train.MethodPrefixLayer), train.PEFTConfigName, "prefix-layer", 0},
		{"prefix-layer-projection", projection, train.PEFTConfigName, "prefix-layer", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := tinyBase(t)
			before := append([]float32(nil), base.Params.Data...)
			s, f := methodFiles(t, base, tc.cfg)
			assert.Equal(t, tc.configName, f.ConfigName)
			m, err := readFiles(base, f)
			require.NoError(t, err)
			requireSameBits(t, "the base after reading", before, base.Params.Data)
			if tc.carries == "" {
				assert.Empty(t, m.Methods())
			} else {
				require.Len(t, m.Methods(), 1)
				assert.Equal(t, tc.carries, m.Methods()[0].Name())
			}
			want := logits(s.Model())
			assert.NotEqual(t, logits(base), want, "the run changed the model")
			if tc.tol == 0 {
				requireSameBits(t, "logits from the files", want, logits(m))
				assert.Equal(t, greedy(t, s.Model()), greedy(t, m), "greedy generation from the files")
			} else {
				got := logits(m)
				for i := range want {
					require.InDelta(t, want[i], got[i], float64(tc.tol), "logit %d", i)
				}
			}

			ev := tc.cfg
			ev.Method = train.MethodFrozen
			frozen, err := train.New(m, data.NewByteTokenizer(), ev)
			require.NoError(t, err, "evaluating the files")
			_, err = frozen.Evaluate()
			require.NoError(t, err)
			if tc.carries != "" { // a run continues the adapter it carries
				cont := tc.cfg
				cont.Method = tc.carries
				cont.Init, cont.PrefixProjection = "", false
				c, err := train.New(m, data.NewByteTokenizer(), cont)
				require.NoError(t, err)
				want := s.Info().TrainableParams
				switch tc.name {
				case "lora-pissa": // a plain LoRA of rank 2r
					want *= 2
				case "prefix-layer-projection": // the prefix itself, without the MLP
					want = peft.PrefixLayerParams(base.Config, cont.PrefixLen, false, 0)
				}
				assert.Equal(t, want, c.Info().TrainableParams, "the continued run trains the adapter read")
				_, err = c.Step(2)
				require.NoError(t, err)
				other := cont
				other.Method = train.MethodFull
				_, err = train.New(m, data.NewByteTokenizer(), other)
				assert.ErrorContains(t, err, "merge the adapter first")
			}
		})
	}
}

// TestPEFTNamesOfMethods pins the PEFT keys, shapes and config fields of DoRA and (IA)³ (PEFT's source:
// utils/save_and_load.py, tuners/ia3/layer.py and config.py), and the PiSSA export's conversion fields.
func TestPEFTNamesOfMethods(t *testing.T) {
	base := tinyBase(t)
	keys := func(f train.AdapterFiles) map[string][]int {
		ts, _, err := checkpoint.ReadSafetensors(bytes.NewReader(f.Weights), "w")
		require.NoError(t, err)
		out := map[string][]int{}
		for _, x := range ts {
			out[x.Name] = x.Shape
		}
		return out
	}
	fields := func(f train.AdapterFiles) map[string]any {
		var got map[string]any
		require.NoError(t, json.Unmarshal(f.Config, &got))
		return got
	}
	p := "base_model.model.model.layers.1."
	_, dora := methodFiles(t, base, methodConfig(train.MethodDoRA))
	k := keys(dora)
	assert.Equal(t, []int{16}, k[p+"self_attn.q_proj.lora_magnitude_vector"], "DoRA magnitude of q (out)")
	assert.Equal(t, []int{8}, k[p+"self_attn.v_proj.lora_magnitude_vector"], "DoRA magnitude of v (out)")
	assert.Equal(t, []int{2, 16}, k[p+"self_attn.q_proj.lora_A.weight"])
	assert.Len(t, k, 2*2*3)
	assert.Equal(t, true, fields(dora)["use_dora"])
	assert.Equal(t, "LORA", fields(dora)["peft_type"])

	_, ia3 := methodFiles(t, base, methodConfig(train.MethodIA3))
	k = keys(ia3)
	assert.Equal(t, map[string][]int{
		"base_model.model.model.layers.0.self_attn.k_proj.ia3_l": {8, 1}, "base_model.model.model.layers.0.self_attn.v_proj.ia3_l": {8, 1},
		"base_model.model.model.layers.0.mlp.down_proj.ia3_l": {1, 40}, p + "self_attn.k_proj.ia3_l": {8, 1},
		p + "self_attn.v_proj.ia3_l": {8, 1}, p + "mlp.down_proj.ia3_l": {1, 40}}, k)
	want := `{
  "auto_mapping": null,
  "base_model_name_or_path": "tiny.safetensors",
  "fan_in_fan_out": false,
  "feedforward_modules": [
    "down_proj"
  ],
  "inference_mode": true,
  "init_ia3_weights": true,
  "modules_to_save": null,
  "peft_type": "IA3",
  "revision": null,
  "target_modules": [
    "k_proj",
    "v_proj",
    "down_proj"
  ],
  "task_type": "CAUSAL_LM"
}
`
	assert.Equal(t, want, string(ia3.Config), "IA3 adapter_config.json as PEFT writes it (sorted keys, indent 2)")

	_, prompt := methodFiles(t, base, methodConfig(train.MethodPrefixEmbed))
	assert.Equal(t, map[string][]int{"prompt_embeddings": {4, 16}}, keys(prompt), "PROMPT_TUNING: (l_p, C)")
	wantPrompt := `{
  "auto_mapping": null,
  "base_model_name_or_path": "tiny.safetensors",
  "inference_mode": true,
  "num_attention_heads": 4,
  "num_layers": 2,
  "num_transformer_submodules": 1,
  "num_virtual_tokens": 4,
  "peft_type": "PROMPT_TUNING",
  "prompt_tuning_init": "RANDOM",
  "prompt_tuning_init_text": null,
  "revision": null,
  "task_type": "CAUSAL_LM",
  "token_dim": 16,
  "tokenizer_kwargs": null,
  "tokenizer_name_or_path": null
}
`
	assert.Equal(t, wantPrompt, string(prompt.Config), "PROMPT_TUNING adapter_config.json as PEFT writes it")
	_, prefix := methodFiles(t, base, methodConfig(train.MethodPrefixLayer))
	assert.Equal(t, map[string][]int{"prompt_embeddings": {4, 2 * 2 * 8}}, keys(prefix), "PREFIX_TUNING: (l_p, L·2·KVD)")
	wantPrefix := `{
  "auto_mapping": null,
  "base_model_name_or_path": "tiny.safetensors",
  "encoder_hidden_size": 8,
  "inference_mode": true,
  "num_attention_heads": 2,
  "num_layers": 2,
  "num_transformer_submodules": 1,
  "num_virtual_tokens": 4,
  "peft_type": "PREFIX_TUNING",
  "prefix_projection": false,
  "revision": null,
  "task_type": "CAUSAL_LM",
  "token_dim": 8
}
`
	assert.Equal(t, wantPrefix, string(prefix.Config), "PREFIX_TUNING: token_dim and heads are the key/value ones (GQA)")

	pissa := methodConfig(train.MethodLoRA)
	pissa.Init, pissa.Alpha = string(peft.InitPiSSA), 6
	_, pf := methodFiles(t, base, pissa)
	got := fields(pf)
	assert.Equal(t, 4.0, got["r"], "PiSSA at r=2 exports as a plain LoRA of rank 4")
	assert.Equal(t, 12.0, got["lora_alpha"], "alpha doubled keeps the scaling")
	assert.Equal(t, true, got["init_lora_weights"], "a plain LoRA on the base")
	assert.Equal(t, []int{4, 16}, keys(pf)[p+"self_attn.q_proj.lora_A.weight"])
}

// TestGoloraAdapterFiles: the config of our own format says what the file replaces and adds, and reading refuses a
// base it was not trained on, a tensor not listed, and a listed one missing.
func TestGoloraAdapterFiles(t *testing.T) {
	base := tinyBase(t)
	_, top := methodFiles(t, base, methodConfig(train.MethodTop))
	var g checkpoint.GoloraAdapter
	require.NoError(t, json.Unmarshal(top.Config, &g))
	assert.Equal(t, "top", g.Method)
	assert.Equal(t, 1, g.Layers)
	assert.Equal(t, train.BaseFingerprint(base), g.BaseFingerprint)
	assert.Contains(t, g.Replaces, "model.layers.1.self_attn.q_proj.weight")
	assert.Contains(t, g.Replaces, "model.norm.weight")
	assert.NotContains(t, g.Replaces, "model.layers.0.self_attn.q_proj.weight")
	assert.NotContains(t, g.Replaces, "model.embed_tokens.weight", "a tied classifier is the embedding: top leaves it")
	assert.Empty(t, g.Adds)

	_, bf := methodFiles(t, base, methodConfig(train.MethodBitFit))
	require.NoError(t, json.Unmarshal(bf.Config, &g))
	assert.Contains(t, g.Adds, "model.layers.0.mlp.down_proj.bias", "bitfit's biases by Hugging Face's names")
	assert.Contains(t, g.Replaces, "model.layers.0.input_layernorm.weight")
	assert.Len(t, g.Adds, 2*7)
	assert.Len(t, g.Replaces, 2*2+1)

	other := tinyBase(t)
	other.Params.Data[5] += 1e-3
	_, err := readFiles(other, top)
	assert.ErrorContains(t, err, "fingerprint")

	drop := func(f train.AdapterFiles, name string) train.AdapterFiles {
		ts, meta, err := checkpoint.ReadSafetensors(bytes.NewReader(f.Weights), "w")
		require.NoError(t, err)
		var keep []checkpoint.Tensor
		for _, x := range ts {
			if x.Name != name {
				keep = append(keep, x)
			}
		}
		var buf bytes.Buffer
		require.NoError(t, checkpoint.WriteSafetensors(&buf, keep, meta))
		f.Weights = buf.Bytes()
		return f
	}
	_, err = readFiles(base, drop(bf, "model.layers.1.self_attn.o_proj.bias"))
	assert.ErrorContains(t, err, `"model.layers.1.self_attn.o_proj.bias" is missing`)

	edit := func(f train.AdapterFiles, fieldsEdit map[string]any) train.AdapterFiles {
		var raw map[string]any
		require.NoError(t, json.Unmarshal(f.Config, &raw))
		for k, v := range fieldsEdit {
			raw[k] = v
		}
		b, err := json.Marshal(raw)
		require.NoError(t, err)
		f.Config = b
		return f
	}
	for _, tc := range []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{"layers": 2}, "replaces lacks"},
		{map[string]any{"method": "adapter-x"}, `method "adapter-x"`},
		{map[string]any{"version": 2}, "version 2"},
		{map[string]any{"future": 1}, "unknown field"},
		{map[string]any{"replaces": []string{}}, "changes nothing"},
	} {
		_, err := readFiles(base, edit(top, tc.fields))
		assert.ErrorContains(t, err, tc.want, "%v", tc.fields)
	}
	_, err = readFiles(base, edit(bf, map[string]any{"adds": []string{"model.layers.0.mlp.down_proj.bias"}}))
	assert.ErrorContains(t, err, "adds lacks")

	_, ah := methodFiles(t, base, methodConfig(train.MethodAdapterH))
	require.NoError(t, json.Unmarshal(ah.Config, &g))
	assert.Equal(t, 8, g.Bottleneck)
	assert.Contains(t, g.Replaces, "model.layers.1.post_attention_layernorm.weight", "Houlsby's norms train")
	assert.Len(t, g.Adds, 2*2*4, "down and up with biases, after attention and after the MLP, in each block")
	_, err = readFiles(base, edit(ah, map[string]any{"bottleneck": 4}))
	assert.ErrorContains(t, err, "has shape")
}

// TestRefusesWhatCannotApply: (IA)³ on other modules, a DoRA magnitude of zero, a peft_type golora lacks.
func TestRefusesWhatCannotApply(t *testing.T) {
	base := tinyBase(t)
	_, ia3 := methodFiles(t, base, methodConfig(train.MethodIA3))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(ia3.Config, &raw))
	raw["target_modules"], raw["feedforward_modules"] = []string{"q_proj", "down_proj"}, []string{"down_proj"}
	c, err := json.Marshal(raw)
	require.NoError(t, err)
	_, err = readFiles(base, train.AdapterFiles{Weights: ia3.Weights, Config: c, ConfigName: train.PEFTConfigName})
	assert.ErrorContains(t, err, "golora's (IA)³ scales k_proj, v_proj and down_proj")

	raw["peft_type"] = "LOHA"
	c, err = json.Marshal(raw)
	require.NoError(t, err)
	_, err = readFiles(base, train.AdapterFiles{Weights: ia3.Weights, Config: c, ConfigName: train.PEFTConfigName})
	assert.ErrorContains(t, err, `peft_type "LOHA"`)

	_, dora := methodFiles(t, base, methodConfig(train.MethodDoRA))
	ts, meta, err := checkpoint.ReadSafetensors(bytes.NewReader(dora.Weights), "w")
	require.NoError(t, err)
	for i := range ts {
		if ts[i].Name == "base_model.model.model.layers.0.self_attn.v_proj.lora_magnitude_vector" {
			ts[i].Data[2] = 0
		}
	}
	var buf bytes.Buffer
	require.NoError(t, checkpoint.WriteSafetensors(&buf, ts, meta))
	_, err = readFiles(base, train.AdapterFiles{Weights: buf.Bytes(), Config: dora.Config, ConfigName: train.PEFTConfigName})
	assert.ErrorContains(t, err, "is 0 at row 2")

	_, prefix := methodFiles(t, base, methodConfig(train.MethodPrefixLayer))
	for _, tc := range []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{"token_dim": 16}, "token_dim = 16, this base's is 8 (the keys' width"},
		{map[string]any{"num_layers": 3}, "num_layers = 3"},
		{map[string]any{"num_attention_heads": 4}, "num_attention_heads = 4, this base's is 2"},
		{map[string]any{"num_virtual_tokens": 5}, "has shape [4 32], expected [5 32]"},
		{map[string]any{"num_virtual_tokens": 24}, "leaves no room"},
		{map[string]any{"num_transformer_submodules": 2}, "num_transformer_submodules = 2"},
	} {
		var raw map[string]any
		require.NoError(t, json.Unmarshal(prefix.Config, &raw))
		for k, v := range tc.fields {
			raw[k] = v
		}
		c, err := json.Marshal(raw)
		require.NoError(t, err)
		_, err = readFiles(base, train.AdapterFiles{Weights: prefix.Weights, Config: c, ConfigName: train.PEFTConfigName})
		assert.ErrorContains(t, err, tc.want, "%v", tc.fields)
	}
}
