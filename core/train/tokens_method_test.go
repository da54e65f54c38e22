package train_test

import (
	"bytes"
	"encoding/json"
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

// tokensConfig is a run of method tokens on the digits' rows.
func tokensConfig() train.Config {
	c := tinyConfig()
	c.Method, c.TrainTokens = train.MethodTokens, "chars:0123456789"
	return c
}

// TestTokensMethod: a run of the token rows alone (method tokens, PEFT's TRAINABLE_TOKENS) starts at the base bit for
// bit, trains the rows and nothing else, counts them, merges them, and writes them as PEFT does (peft_type
// TRAINABLE_TOKENS, token_indices, target_modules, the rows under <module>.trainable_tokens_delta), read back to the
// same logits and re-exported byte for byte; read back, only method tokens (or frozen) takes them on.
func TestTokensMethod(t *testing.T) {
	base := tinyBase(t)
	before := append([]float32(nil), base.Params.Data...)
	C := base.Config.Dim
	s, err := train.New(base, data.NewByteTokenizer(), tokensConfig())
	require.NoError(t, err)
	info := s.Info()
	assert.Equal(t, 10*C, info.TrainableParams, "the ten rows, nothing else")
	assert.Equal(t, int64(16*10*C), info.TrainableBytes)
	assert.Equal(t, 10, info.TokenRows)
	assert.Equal(t, train.MethodSettings{}, info.MethodSettings)
	requireSameBits(t, "logits at the start", logits(base), logits(s.Model()))
	tk := peft.TokensOf(s.Model())
	require.NotNil(t, tk)
	start := append([]float32(nil), tk.Params()...)
	_, err = s.Step(6)
	require.NoError(t, err)
	assert.NotEqual(t, start, tk.Params(), "the rows train")
	requireSameBits(t, "the run's base weights", before, s.Model().Params.Data)
	requireSameBits(t, "the base given", before, base.Params.Data)

	weights, config, err := s.ExportAdapter("tiny.safetensors")
	require.NoError(t, err)
	var cf map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(config, &cf))
	assert.JSONEq(t, `"TRAINABLE_TOKENS"`, string(cf["peft_type"]))
	assert.JSONEq(t, jsonIDs(tk.IDs), string(cf["token_indices"]))
	assert.JSONEq(t, `["embed_tokens"]`, string(cf["target_modules"]), "a tied classifier shares the rows: PEFT ties it")
	assert.JSONEq(t, `true`, string(cf["init_weights"]))
	assert.JSONEq(t, `"tiny.safetensors"`, string(cf["base_model_name_or_path"]))
	ts, _, err := checkpoint.ReadSafetensors(bytes.NewReader(weights), "w")
	require.NoError(t, err)
	require.Len(t, ts, 1)
	assert.Equal(t, "base_model.model.model.embed_tokens.trainable_tokens_delta", ts[0].Name)
	assert.Equal(t, []int{10, C}, ts[0].Shape)
	requireSameBits(t, "the rows in the file", tk.Params(), ts[0].Data)

	m, err := readAdapter(base, weights, config)
	require.NoError(t, err)
	want := logits(s.Model())
	assert.NotEqual(t, logits(base), want)
	requireSameBits(t, "logits of the imported rows", want, logits(m))
	cont := tinyConfig()
	cont.Method = train.MethodTokens
	s2, err := train.New(m, data.NewByteTokenizer(), cont)
	require.NoError(t, err)
	assert.Equal(t, info.TrainableParams, s2.Info().TrainableParams, "the imported rows train on")
	w2, c2, err := s2.ExportAdapter("tiny.safetensors")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(weights, w2), "adapter_model.safetensors re-exported byte for byte")
	assert.Equal(t, string(config), string(c2), "adapter_config.json re-exported")
	frozen := tinyConfig()
	frozen.Method = train.MethodFrozen
	f, err := train.New(m, data.NewByteTokenizer(), frozen)
	require.NoError(t, err)
	requireSameBits(t, "a frozen run evaluates the imported rows", want, logits(f.Model()))
	_, err = train.New(m, data.NewByteTokenizer(), tinyConfig("q", "v"))
	assert.ErrorContains(t, err, "method tokens", "LoRA on a base that carries rows alone")

	worst, err := s.Merge()
	require.NoError(t, err)
	assert.Less(t, worst, float32(1e-4), "merged against unmerged")
	for k, id := range tk.IDs {
		requireSameBits(t, "merged embedding row", tk.Params()[k*C:(k+1)*C], s.Model().Params.Embed[id*C:(id+1)*C])
	}

	bad := tokensConfig()
	bad.TrainTokens = "none"
	fes := train.FieldErrors(bad.Validate(base))
	require.Len(t, fes, 1)
	assert.Equal(t, "train_tokens", fes[0].Field)
	bad.TrainTokens = ""
	s3, err := train.New(base, data.NewByteTokenizer(), bad)
	require.NoError(t, err, "an empty train_tokens means auto")
	assert.Equal(t, train.TokensAuto, s3.Info().TrainTokens)
}

// TestTokensMethodUntied: with an untied classifier the classifier's rows of the same tokens train too, written as
// PEFT's TRAINABLE_TOKENS on two target modules (embed_tokens and lm_head, a tensor each), read back to the same
// logits.
func TestTokensMethodUntied(t *testing.T) {
	cfg := tinyBase(t).Config
	cfg.Tied = false
	base, err := model.New("tiny-untied", cfg)
	require.NoError(t, err)
	base.Init(rng.New(2))
	s, err := train.New(base, data.NewByteTokenizer(), tokensConfig())
	require.NoError(t, err)
	assert.Equal(t, 2*10*cfg.Dim, s.Info().TrainableParams)
	_, err = s.Step(6)
	require.NoError(t, err)
	weights, config, err := s.ExportAdapter("tiny-untied.safetensors")
	require.NoError(t, err)
	var cf map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(config, &cf))
	assert.JSONEq(t, `["embed_tokens", "lm_head"]`, string(cf["target_modules"]))
	ts, _, err := checkpoint.ReadSafetensors(bytes.NewReader(weights), "w")
	require.NoError(t, err)
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	assert.ElementsMatch(t, []string{"base_model.model.model.embed_tokens.trainable_tokens_delta",
		"base_model.model.lm_head.trainable_tokens_delta"}, names)
	m, err := readAdapter(base, weights, config)
	require.NoError(t, err)
	requireSameBits(t, "logits of the imported rows", logits(s.Model()), logits(m))
	_, err = readAdapter(base, weights, editConfig(t, config, map[string]any{"target_modules": []string{"embed_tokens"}}))
	assert.ErrorContains(t, err, "does not list lm_head")
}

// TestReadTrainableTokensRejects: a TRAINABLE_TOKENS file that does not fit the base, or whose config and tensors
// disagree, is refused, saying what.
func TestReadTrainableTokensRejects(t *testing.T) {
	base := tinyBase(t)
	cfg := tokensConfig()
	cfg.TrainTokens = "ids:48,49,50"
	s, err := train.New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	weights, config, err := s.ExportAdapter("tiny.safetensors")
	require.NoError(t, err)
	headKey := "base_model.model.lm_head.trainable_tokens_delta"
	withTensor := func(name string, shape []int, change bool) func([]checkpoint.Tensor) []checkpoint.Tensor {
		return func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			d := append([]float32(nil), ts[0].Data...)
			if change {
				d[0]++
			}
			return append(ts, checkpoint.Tensor{Name: name, Shape: shape, Data: d})
		}
	}
	requireRefusals(t, base, weights, config, []refusal{
		{"id outside the vocabulary", map[string]any{"token_indices": []int{48, 49, 258}}, nil, "outside the vocabulary"},
		{"id twice", map[string]any{"token_indices": []int{48, 49, 48}}, nil, "given twice"},
		{"no ids", map[string]any{"token_indices": []int{}}, nil, "token_indices is empty"},
		{"fewer ids than rows", map[string]any{"token_indices": []int{48, 49}}, nil, "has shape [3 16], expected [2 16]"},
		{"a pattern", map[string]any{"target_modules": ".*embed.*"}, nil, "neither embed_tokens nor lm_head"},
		{"lm_head alone", map[string]any{"target_modules": []string{"lm_head"}}, nil, "without embed_tokens"},
		{"another module's rows", nil, withTensor("base_model.model.model.wte.trainable_tokens_delta", []int{3, 16}, false), "holds"},
		{"tied rows that differ", nil, withTensor(headKey, []int{3, 16}, true), "ties its classifier"},
		{"missing rows", nil, func([]checkpoint.Tensor) []checkpoint.Tensor {
			return []checkpoint.Tensor{{Name: headKey, Shape: []int{3, 16}, Data: make([]float32, 48)}}
		}, "is missing"},
		{"NaN row", nil, func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			ts[0].Data[5] = float32(math.NaN())
			return ts
		}, "NaN"},
	})
	// PEFT's tied copy of the rows under lm_head, equal to the embedding's, is read as the same rows.
	m, err := readAdapter(base, editWeights(t, weights, withTensor(headKey, []int{3, 16}, false)), config)
	require.NoError(t, err)
	requireSameBits(t, "logits with the tied copy", logits(s.Model()), logits(m))
}

// TestNothingToTrain: a tokens run whose auto chose no token is told apart from any other error (a methods sweep skips
// it), and only for method tokens.
func TestNothingToTrain(t *testing.T) {
	err := error(&train.FieldError{Field: "train_tokens", Reason: "auto chose no token: the base tells every token apart"})
	c := tokensConfig()
	why, ok := train.NothingToTrain(c, err)
	assert.True(t, ok)
	assert.Contains(t, why, "auto chose no token")
	_, ok = train.NothingToTrain(c, &train.FieldError{Field: "train_tokens", Reason: "ids: token id 9999 is outside"})
	assert.False(t, ok, "another train_tokens error")
	c.Method = train.MethodLoRA
	_, ok = train.NothingToTrain(c, err)
	assert.False(t, ok, "LoRA without rows still trains")
	_, ok = train.NothingToTrain(tokensConfig(), nil)
	assert.False(t, ok)
}
