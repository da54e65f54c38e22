// Tests of PEFT adapter export and import: a trained adapter survives
// ExportAdapter -> ReadAdapter bit for bit, malformed adapters are refused
// with errors that say what is wrong (and leave the base untouched), and an
// imported adapter can be trained further.

package train_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
	"golora/core/rng"
	"golora/core/train"
)

// tinyBase is a random byte-level model, small enough to train in milliseconds.
func tinyBase(t testing.TB) *model.Model {
	t.Helper()
	cfg := model.Config{Dim: 16, HiddenDim: 40, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: data.ByteVocabSize,
		SeqLen: 24, Tied: true, NormEps: 1e-5, RopeBase: 10000}
	m, err := model.New("tiny", cfg)
	require.NoError(t, err)
	m.Init(rng.New(1))
	return m
}

// sums is a custom task of short examples that fit tinyBase's context.
func sums() []data.Example {
	var ex []data.Example
	for i := range 40 {
		ex = append(ex, data.Example{Prompt: fmt.Sprintf("%d+1=", i), Completion: fmt.Sprint(i + 1)})
	}
	return ex
}

func tinyConfig(targets ...string) train.Config {
	c := train.DefaultConfig()
	c.Task, c.Custom = "custom", sums()
	c.Rank, c.Alpha, c.Targets = 2, 4, targets
	c.Steps, c.Batch, c.Warmup, c.EvalEvery = 6, 4, 1, 0
	c.LR = 5e-2
	return c
}

// trained returns a session after a few LoRA steps, and its exported files.
func trained(t *testing.T, base *model.Model, targets ...string) (s *train.Session, weights, config []byte) {
	t.Helper()
	s, err := train.New(base, data.NewByteTokenizer(), tinyConfig(targets...))
	require.NoError(t, err)
	_, err = s.Step(6)
	require.NoError(t, err)
	weights, config, err = s.ExportAdapter("tiny.safetensors")
	require.NoError(t, err)
	return s, weights, config
}

func readAdapter(base *model.Model, weights, config []byte) (*model.Model, error) {
	return train.ReadAdapter(base, bytes.NewReader(config), "adapter_config.json", bytes.NewReader(weights), "adapter_model.safetensors")
}

// logits runs m on a fixed batch and returns a copy of the logits.
func logits(m *model.Model) []float32 {
	const b, tt = 2, 12
	inputs := make([]int, b*tt)
	r := rng.New(9)
	for i := range inputs {
		inputs[i] = r.Intn(m.Config.VocabSize)
	}
	acts := m.NewActs(b, tt)
	m.Forward(acts, inputs, nil, nil, b, tt)
	return append([]float32(nil), acts.Logits[:b*tt*m.Config.VocabSize]...)
}

// greedy generates up to 16 tokens after a prompt.
func greedy(t *testing.T, m *model.Model) []int {
	t.Helper()
	prompt := data.EncodePrompt(data.NewByteTokenizer(), "12+1=")
	out, err := m.Generate(m.NewDecoder(1), prompt, 16, nil, model.Sampler{})
	require.NoError(t, err)
	return out
}

func requireSameBits(t *testing.T, what string, want, got []float32) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: length", what)
	for i := range want {
		require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s: index %d (%g vs %g)", what, i, want[i], got[i])
	}
}

func TestAdapterRoundTrip(t *testing.T) {
	for _, targets := range [][]string{{"q", "v"}, {"q", "k", "v", "o", "gate", "up", "down"}} {
		t.Run(fmt.Sprint(targets), func(t *testing.T) {
			base := tinyBase(t)
			s, weights, config := trained(t, base, targets...)
			m, err := readAdapter(base, weights, config)
			require.NoError(t, err)

			requireSameBits(t, "adapter parameters", peft.LoRAOf(s.Model()).Params(), peft.LoRAOf(m).Params())
			assert.Equal(t, peft.LoRAOf(s.Model()).Targets, peft.LoRAOf(m).Targets, "targets after import")
			assert.Equal(t, peft.LoRAOf(s.Model()).LoRAConfig, peft.LoRAOf(m).LoRAConfig, "rank, alpha, init, dropout after import")
			want := logits(s.Model())
			assert.NotEqual(t, logits(base), want, "the trained adapter changes the logits (else the test proves nothing)")
			requireSameBits(t, "logits of the imported adapter", want, logits(m))
			assert.Equal(t, greedy(t, s.Model()), greedy(t, m), "greedy generation with the imported adapter")

			// Exporting the imported adapter gives the same bytes back.
			s2, err := train.New(m, data.NewByteTokenizer(), tinyConfig(targets...))
			require.NoError(t, err)
			w2, c2, err := s2.ExportAdapter("tiny.safetensors")
			require.NoError(t, err)
			assert.True(t, bytes.Equal(weights, w2), "adapter_model.safetensors re-exported byte for byte")
			assert.Equal(t, string(config), string(c2), "adapter_config.json re-exported")
		})
	}
}

// TestAdapterConfigFields checks the adapter_config.json fields PEFT reads.
func TestAdapterConfigFields(t *testing.T) {
	_, _, config := trained(t, tinyBase(t), "q", "v")
	var got map[string]any
	require.NoError(t, json.Unmarshal(config, &got))
	for key, want := range map[string]any{"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2.0, "lora_alpha": 4.0,
		"bias": "none", "fan_in_fan_out": false, "use_rslora": false, "use_dora": false, "init_lora_weights": true,
		"base_model_name_or_path": "tiny.safetensors", "target_modules": []any{"q_proj", "v_proj"}} {
		assert.Equal(t, want, got[key], "adapter_config.json field %q", key)
	}
}

// editWeights rewrites adapter_model.safetensors through edit.
func editWeights(t *testing.T, weights []byte, edit func([]checkpoint.Tensor) []checkpoint.Tensor) []byte {
	t.Helper()
	ts, meta, err := checkpoint.ReadSafetensors(bytes.NewReader(weights), "adapter_model.safetensors")
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, checkpoint.WriteSafetensors(&buf, edit(ts), meta))
	return buf.Bytes()
}

// editConfig rewrites adapter_config.json fields.
func editConfig(t testing.TB, config []byte, fields map[string]any) []byte {
	t.Helper()
	var c map[string]any
	require.NoError(t, json.Unmarshal(config, &c))
	for k, v := range fields {
		c[k] = v
	}
	out, err := json.Marshal(c)
	require.NoError(t, err)
	return out
}

func TestReadAdapterRejects(t *testing.T) {
	base := tinyBase(t)
	_, weights, config := trained(t, base, "q", "v")
	qA := checkpoint.PEFTKey("model.layers.0.self_attn.q_proj", "A")
	vB := checkpoint.PEFTKey("model.layers.1.self_attn.v_proj", "B")
	rename := func(from, to string) func([]checkpoint.Tensor) []checkpoint.Tensor {
		return func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			for i := range ts {
				if ts[i].Name == from {
					ts[i].Name = to
				}
			}
			return ts
		}
	}
	cases := []struct {
		name            string
		weights, config []byte
		wantErr         []string // substrings the error must hold
	}{
		{"unknown module (layer out of range)",
			editWeights(t, weights, rename(qA, checkpoint.PEFTKey("model.layers.7.self_attn.q_proj", "A"))), config,
			[]string{"adapter_model.safetensors", "model.layers.7.self_attn.q_proj", "not a q_proj/v_proj module of this 2-layer base"}},
		{"module of an untargeted projection",
			editWeights(t, weights, rename(qA, checkpoint.PEFTKey("model.layers.0.self_attn.k_proj", "A"))), config,
			[]string{"model.layers.0.self_attn.k_proj", "not a q_proj/v_proj module"}},
		{"key outside PEFT's layout",
			editWeights(t, weights, rename(qA, "model.layers.0.self_attn.q_proj.weight")), config,
			[]string{"adapter_model.safetensors", "does not start with"}},
		{"wrong shape",
			editWeights(t, weights, func(ts []checkpoint.Tensor) []checkpoint.Tensor {
				for i := range ts {
					if ts[i].Name == qA {
						ts[i] = checkpoint.Tensor{Name: qA, Shape: []int{2, 8}, Data: ts[i].Data[:16]}
					}
				}
				return ts
			}), config,
			[]string{qA, "shape [2 8], expected [2 16]"}},
		{"missing B",
			editWeights(t, weights, func(ts []checkpoint.Tensor) []checkpoint.Tensor {
				var out []checkpoint.Tensor
				for _, x := range ts {
					if x.Name != vB {
						out = append(out, x)
					}
				}
				return out
			}), config,
			[]string{vB, "missing"}},
		{"NaN in B",
			editWeights(t, weights, func(ts []checkpoint.Tensor) []checkpoint.Tensor {
				for i := range ts {
					if ts[i].Name == vB {
						ts[i].Data[3] = float32(math.NaN())
					}
				}
				return ts
			}), config,
			[]string{"adapter_model.safetensors", vB, "holds NaN at index 3"}},
		{"Inf in A",
			editWeights(t, weights, func(ts []checkpoint.Tensor) []checkpoint.Tensor {
				for i := range ts {
					if ts[i].Name == qA {
						ts[i].Data[0] = float32(math.Inf(1))
					}
				}
				return ts
			}), config,
			[]string{qA, "holds +Inf at index 0"}},
		{"rank mismatch", weights, editConfig(t, config, map[string]any{"r": 4}),
			[]string{"shape [2 16], expected [4 16]", "r = 4 from adapter_config.json"}},
		{"wrong peft_type", weights, editConfig(t, config, map[string]any{"peft_type": "LOHA"}),
			[]string{"adapter_config.json", `peft_type "LOHA"`, "golora applies"}},
		{"LoRA tensors under a prefix config", weights, editConfig(t, config, map[string]any{"peft_type": "PREFIX_TUNING",
			"num_virtual_tokens": 2, "token_dim": 8, "num_layers": 2, "num_attention_heads": 2}),
			[]string{"adapter_model.safetensors", "holds \"prompt_embeddings\" only"}},
		{"use_dora without magnitudes", weights, editConfig(t, config, map[string]any{"use_dora": true}),
			[]string{"adapter_config.json", "use_dora", "lora_magnitude_vector", "missing"}},
		{"pissa, not converted", weights, editConfig(t, config, map[string]any{"init_lora_weights": "pissa"}),
			[]string{"adapter_config.json", "pissa", "residual", "path_initial_model_for_weight_conversion"}},
		{"modules_to_save", weights, editConfig(t, config, map[string]any{"modules_to_save": []string{"lm_head"}}),
			[]string{"modules_to_save"}},
		{"rank_pattern", weights, editConfig(t, config, map[string]any{"rank_pattern": map[string]any{"q_proj": 4}}),
			[]string{"rank_pattern"}},
		{"unknown target module", weights, editConfig(t, config, map[string]any{"target_modules": []string{"q_proj", "c_attn"}}),
			[]string{"target_modules", `"c_attn"`}},
		{"corrupted safetensors (truncated)", weights[:len(weights)-5], config,
			[]string{"adapter_model.safetensors"}},
		{"corrupted safetensors (header size)", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}, weights[8:]...), config,
			[]string{"adapter_model.safetensors", "header"}},
		{"corrupted config", weights, config[:len(config)/2],
			[]string{"adapter_config.json", "invalid JSON"}},
	}
	before := append([]float32(nil), base.Params.Data...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := readAdapter(base, tc.weights, tc.config)
			require.Error(t, err, "ReadAdapter with %s", tc.name)
			t.Logf("%s: %v", tc.name, err)
			for _, want := range tc.wantErr {
				assert.ErrorContains(t, err, want, "ReadAdapter error for %s", tc.name)
			}
			assert.Nil(t, m, "no model on error")
			assert.Empty(t, base.Methods(), "the base gets no adapters on error")
			requireSameBits(t, "base weights after a refused adapter", before, base.Params.Data)
		})
	}
}

func TestExportAdapterRefuses(t *testing.T) {
	base := tinyBase(t)
	s, _, _ := trained(t, base, "q", "v")
	_, err := s.Merge()
	require.NoError(t, err)
	_, _, err = s.ExportAdapter("tiny")
	assert.ErrorContains(t, err, "merged", "ExportAdapter of a merged session")

	cfg := tinyConfig("q", "v")
	cfg.Method = train.MethodFull
	full, err := train.New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, _, err = full.ExportAdapter("tiny")
	assert.ErrorContains(t, err, "whole model", "ExportAdapter of full fine-tuning")
}

// TestContinueImportedAdapter: train.New on a base carrying an imported
// adapter starts from that adapter (its rank and targets, whatever the config
// says), trains it further, and leaves the imported model untouched.
func TestContinueImportedAdapter(t *testing.T) {
	base := tinyBase(t)
	s, weights, config := trained(t, base, "q", "v")
	imported, err := readAdapter(base, weights, config)
	require.NoError(t, err)
	start := append([]float32(nil), peft.LoRAOf(imported).Params()...)

	cfg := tinyConfig("down") // ignored: the imported adapter decides rank and targets
	cfg.Rank = 1
	cont, err := train.New(imported, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	assert.Equal(t, 2, cont.Info().Rank, "rank of the continued adapter")
	assert.Equal(t, []string{"q", "v"}, cont.Info().Targets, "targets of the continued adapter")
	requireSameBits(t, "logits before continuing", logits(s.Model()), logits(cont.Model()))

	m, err := cont.Step(6)
	require.NoError(t, err)
	assert.False(t, math.IsNaN(float64(m.Loss)), "loss of the continued run")
	assert.NotEqual(t, start, peft.LoRAOf(cont.Model()).Params(), "continued training changes the adapter")
	requireSameBits(t, "imported adapter after the continued run", start, peft.LoRAOf(imported).Params())

	cfg.Method = train.MethodFull
	_, err = train.New(imported, data.NewByteTokenizer(), cfg)
	assert.ErrorContains(t, err, "full fine-tuning needs a plain base", "full fine-tuning over an adapter")
}

// FuzzReadAdapter: whatever the two files hold, ReadAdapter returns a model or
// an error, never panics, and never touches the base. Its seeds are whole
// adapter files (kilobytes), and the fuzzer minimizes every new interesting
// input for up to a minute, which looks like a stall (0 execs/s): fuzz it with
// -fuzzminimizetime=3s.
func FuzzReadAdapter(f *testing.F) {
	base := tinyBase(f)
	s, err := train.New(base, data.NewByteTokenizer(), tinyConfig("q", "v", "down"))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Step(2); err != nil {
		f.Fatal(err)
	}
	weights, config, err := s.ExportAdapter("tiny")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(weights, config)
	f.Add(weights[:len(weights)/2], config)
	f.Add(weights, editConfig(f, config, map[string]any{"r": 3}))
	f.Add(weights, editConfig(f, config, map[string]any{"target_modules": []string{"q_proj"}}))
	for _, method := range []string{train.MethodIA3, train.MethodBitFit, train.MethodDoRA, train.MethodTokens} { // the other formats
		c := tinyConfig("q", "v")
		c.Method = method
		s, err := train.New(base, data.NewByteTokenizer(), c)
		if err != nil {
			f.Fatal(err)
		}
		w, cf, err := s.ExportAdapter("tiny")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w, cf)
	}
	before := append([]float32(nil), base.Params.Data...)
	f.Fuzz(func(t *testing.T, w, c []byte) {
		m, err := readAdapter(base, w, c)
		if err == nil && m == nil {
			t.Fatalf("ReadAdapter returned no error and no model")
		}
		if len(base.Methods()) != 0 {
			t.Fatalf("ReadAdapter attached adapters to the base")
		}
		for i, v := range before {
			if math.Float32bits(v) != math.Float32bits(base.Params.Data[i]) {
				t.Fatalf("ReadAdapter changed base weight %d", i)
			}
		}
	})
}
