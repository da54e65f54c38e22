package train_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
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

// collapsed returns tinyBase with the rows of the digits made one vector (as a base that never saw them leaves
// them, up to 1e-4 of noise), so that auto has something to find.
func collapsed(t *testing.T) *model.Model {
	m := tinyBase(t)
	C := m.Config.Dim
	tok := data.NewByteTokenizer()
	shared := m.Params.Embed[tok.Encode("%")[0]*C:][:C]
	for d := '0'; d <= '9'; d++ {
		id := tok.Encode(string(d))[0]
		for j := range C {
			m.Params.Embed[id*C+j] = shared[j] * (1 + 1e-5*float32(d-'0'))
		}
	}
	return m
}

func tokenIDs(s string) []int {
	ids := data.NewByteTokenizer().Encode(s)
	out := make([]int, 0, len(ids))
	seen := map[int]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// TestChooseTokens: every spec resolves to its ids: none, the data's tokens (all-in-data), the near-duplicate digit
// rows among them (auto: the sums' digits, not '+' or '='), characters and ids; bad ids are refused.
func TestChooseTokens(t *testing.T) {
	m := collapsed(t)
	tok := data.NewByteTokenizer()
	ex := sums()
	sorted := func(s string) []int {
		ids := tokenIDs(s)
		for i := range ids {
			for j := i + 1; j < len(ids); j++ {
				if ids[j] < ids[i] {
					ids[i], ids[j] = ids[j], ids[i]
				}
			}
		}
		return ids
	}
	for _, tc := range []struct {
		spec string
		want []int
	}{
		{"", nil},
		{"none", nil},
		{"all-in-data", sorted("0123456789+=")},
		{"chars:9a9", sorted("9a")},
		{"ids:50, 3,49", []int{3, 49, 50}},
	} {
		ch, err := train.ChooseTokens(tc.spec, m, tok, ex)
		require.NoError(t, err, tc.spec)
		assert.Equal(t, tc.want, ch.IDs, tc.spec)
	}
	ch, err := train.ChooseTokens("auto", m, tok, ex)
	require.NoError(t, err)
	for _, st := range ch.Stats {
		if st.Text >= "'0'" && st.Text <= "'9'" && len(st.Text) == 3 {
			assert.Contains(t, st.Reason, "duplicate", "digit %s (cos %.6f)", st.Text, st.Cos)
			assert.Contains(t, ch.IDs, st.ID, "digit %s chosen", st.Text)
		}
	}
	for _, s := range []string{"+", "="} {
		for _, st := range ch.Stats {
			if st.ID == tokenIDs(s)[0] && !assert.NotContains(t, st.Reason, "duplicate", s) {
				t.Logf("%+v", st)
			}
		}
	}
	for _, bad := range []struct{ spec, want string }{
		{"ids:3,3", "given twice"},
		{"ids:258", "outside the vocabulary"},
		{"ids:", "at least one"},
		{"ids:x", "not a token id"},
		{"chars:", "at least one character"},
		{"most", "want none, auto"},
	} {
		_, err := train.ChooseTokens(bad.spec, m, tok, ex)
		assert.ErrorContains(t, err, bad.want, bad.spec)
	}
}

// TestTokenRowsRun: a LoRA run with token rows counts them (trainable parameters and memory), trains them beside
// the adapters (the base stays as it was), refuses them with full fine-tuning, merges them (merged = unmerged), and
// exports them as PEFT does: trainable_token_indices and the rows' tensor, read back to the same logits, byte for
// byte when exported again.
func TestTokenRowsRun(t *testing.T) {
	base := tinyBase(t)
	before := append([]float32(nil), base.Params.Data...)
	cfg := tinyConfig("q", "v")
	cfg.TrainTokens = "chars:0123456789"
	s, err := train.New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	plain, err := train.New(base, data.NewByteTokenizer(), tinyConfig("q", "v"))
	require.NoError(t, err)
	info, pinfo := s.Info(), plain.Info()
	C := base.Config.Dim
	assert.Equal(t, 10, info.TokenRows)
	assert.Equal(t, pinfo.TrainableParams+10*C, info.TrainableParams, "the rows are counted")
	assert.Equal(t, pinfo.TrainableBytes+int64(10*C*16), info.TrainableBytes, "their weights, gradients and AdamW moments")
	tk := peft.TokensOf(s.Model())
	require.NotNil(t, tk)
	start := append([]float32(nil), tk.Params()...)
	requireSameBits(t, "logits at the start", logits(plain.Model()), logits(s.Model()))
	_, err = s.Step(6)
	require.NoError(t, err)
	assert.NotEqual(t, start, tk.Params(), "the rows train")
	requireSameBits(t, "the base after the run", before, base.Params.Data)

	weights, config, err := s.ExportAdapter("tiny.safetensors")
	require.NoError(t, err)
	var cf map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(config, &cf))
	assert.Equal(t, []int{50, 51, 52, 53, 54, 55, 56, 57, 58, 59}, tk.IDs, "the digits' tokens (bytes 48-57 after BOS and EOS)")
	assert.JSONEq(t, jsonIDs(tk.IDs), string(cf["trainable_token_indices"]), "PEFT's list form")
	ts, _, err := checkpoint.ReadSafetensors(bytes.NewReader(weights), "w")
	require.NoError(t, err)
	var rows *checkpoint.Tensor
	for i := range ts {
		if ts[i].Name == "base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta" {
			rows = &ts[i]
		}
	}
	require.NotNil(t, rows, "the rows' tensor, under PEFT's key")
	assert.Equal(t, []int{10, C}, rows.Shape)
	requireSameBits(t, "the rows in the file", tk.Params(), rows.Data)

	m, err := readAdapter(base, weights, config)
	require.NoError(t, err)
	want := logits(s.Model())
	assert.NotEqual(t, logits(base), want)
	requireSameBits(t, "logits of the imported adapter and rows", want, logits(m))
	s2, err := train.New(m, data.NewByteTokenizer(), tinyConfig("q", "v"))
	require.NoError(t, err)
	assert.Equal(t, info.TrainableParams, s2.Info().TrainableParams, "the imported rows train on")
	w2, c2, err := s2.ExportAdapter("tiny.safetensors")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(weights, w2), "adapter_model.safetensors re-exported byte for byte")
	assert.Equal(t, string(config), string(c2), "adapter_config.json re-exported")

	worst, err := s.Merge()
	require.NoError(t, err)
	assert.Less(t, worst, float32(1e-4), "merged against unmerged")
	for k, id := range tk.IDs {
		requireSameBits(t, "merged embedding row", tk.Params()[k*C:(k+1)*C], s.Model().Params.Embed[id*C:(id+1)*C])
	}
	// merge -llama2c: the merged model written in llama2.c's format and read back computes the same logits.
	lc, tensors, ok := s.Model().Llama2C()
	require.True(t, ok)
	var l2c bytes.Buffer
	require.NoError(t, checkpoint.WriteLlama2C(&l2c, lc, tensors))
	lc2, tensors2, err := checkpoint.ReadLlama2C(bytes.NewReader(l2c.Bytes()), "merged.bin", int64(l2c.Len()))
	require.NoError(t, err)
	back, err := model.FromLlama2C("merged.bin", lc2, tensors2)
	require.NoError(t, err)
	requireSameBits(t, "llama2.c export of the merged model", logits(s.Model()), logits(back))

	cfg.Method = train.MethodFull
	_, err = train.New(base, data.NewByteTokenizer(), cfg)
	assert.ErrorContains(t, err, "train_tokens")
	cfg.Method, cfg.TrainTokens = train.MethodLoRA, "ids:1,1"
	_, err = train.New(base, data.NewByteTokenizer(), cfg)
	assert.ErrorContains(t, err, "given twice")
}

func jsonIDs(ids []int) string {
	j, _ := json.Marshal(ids)
	return string(j)
}

// TestReadTokenRowsRejects: a file whose rows do not fit the base, or whose config and tensors disagree, is refused
// with the field named.
func TestReadTokenRowsRejects(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig("q", "v")
	cfg.TrainTokens = "ids:48,49,50"
	s, err := train.New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	weights, config, err := s.ExportAdapter("tiny.safetensors")
	require.NoError(t, err)
	key := "base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta"
	requireRefusals(t, base, weights, config, []refusal{
		{"id outside the vocabulary", map[string]any{"trainable_token_indices": []int{48, 49, 258}}, nil, "outside the vocabulary"},
		{"id twice", map[string]any{"trainable_token_indices": []int{48, 49, 48}}, nil, "given twice"},
		{"fewer ids than rows", map[string]any{"trainable_token_indices": []int{48, 49}}, nil, "has shape [3 16], expected [2 16]"},
		{"lm_head rows on a tied base", map[string]any{"trainable_token_indices": map[string][]int{"embed_tokens": {48, 49, 50}, "lm_head": {48, 49, 50}}}, nil, "ties its classifier"},
		{"unknown module", map[string]any{"trainable_token_indices": map[string][]int{"wte": {1}}}, nil, "neither embed_tokens nor lm_head"},
		{"rows without ids", map[string]any{"trainable_token_indices": nil}, nil, "has no trainable_token_indices"},
		{"missing rows", nil, func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			var out []checkpoint.Tensor
			for _, t := range ts {
				if t.Name != key {
					out = append(out, t)
				}
			}
			return out
		}, "is missing"},
		{"NaN row", nil, func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			for i := range ts {
				if ts[i].Name == key {
					ts[i].Data[5] = float32(math.NaN())
				}
			}
			return ts
		}, "NaN"},
	})
}

// TestTokensLR: with TokensLR the rows step at their own rate and the adapters at the run's: after one step the
// rows moved by a quarter of what they move at the run's rate (AdamW's first step is lr times the gradient's sign),
// and the adapters exactly as without it.
func TestTokensLR(t *testing.T) {
	base := tinyBase(t)
	step := func(tokensLR float32) (lora, rows []float32) {
		cfg := tinyConfig("q", "v")
		cfg.TrainTokens, cfg.TokensLR, cfg.Clip = "chars:0123456789", tokensLR, 0
		s, err := train.New(base, data.NewByteTokenizer(), cfg)
		require.NoError(t, err)
		before := append([]float32(nil), peft.TokensOf(s.Model()).Params()...)
		_, err = s.Step(1)
		require.NoError(t, err)
		rows = peft.TokensOf(s.Model()).Params()
		for i := range rows {
			rows[i] -= before[i]
		}
		return peft.LoRAOf(s.Model()).Params(), rows
	}
	lr := tinyConfig().LR
	lora1, rows1 := step(0)
	lora2, rows2 := step(lr / 4)
	requireSameBits(t, "the adapters", lora1, lora2)
	moved := 0
	for i, d := range rows1 {
		if d != 0 {
			moved++
		}
		assert.InDelta(t, d/4, rows2[i], 1e-6, "row value %d", i)
	}
	assert.Greater(t, moved, 0, "the rows moved")
	cfg := tinyConfig("q", "v")
	cfg.TokensLR = -1
	_, err := train.New(base, data.NewByteTokenizer(), cfg)
	assert.ErrorContains(t, err, "tokens_lr")
}

// TestTokenRowsUntied: with an untied classifier the classifier's rows of the same tokens train too, and the files
// carry both as PEFT's dict form: {"embed_tokens": ids, "lm_head": ids} and a tensor for each module; read back, the
// same logits bit for bit; the rows merge into both matrices.
func TestTokenRowsUntied(t *testing.T) {
	cfg := tinyBase(t).Config
	cfg.Tied = false
	base, err := model.New("tiny-untied", cfg)
	require.NoError(t, err)
	base.Init(rng.New(2))
	tc := tinyConfig("q", "v")
	tc.TrainTokens = "chars:0123456789"
	s, err := train.New(base, data.NewByteTokenizer(), tc)
	require.NoError(t, err)
	assert.Equal(t, 2*10*cfg.Dim, len(peft.TokensOf(s.Model()).Params()), "the embedding's rows and the classifier's")
	_, err = s.Step(6)
	require.NoError(t, err)
	weights, config, err := s.ExportAdapter("tiny-untied.safetensors")
	require.NoError(t, err)
	var cf map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(config, &cf))
	ids := jsonIDs(peft.TokensOf(s.Model()).IDs)
	assert.JSONEq(t, `{"embed_tokens": `+ids+`, "lm_head": `+ids+`}`, string(cf["trainable_token_indices"]))
	m, err := readAdapter(base, weights, config)
	require.NoError(t, err)
	requireSameBits(t, "logits of the imported adapter and rows", logits(s.Model()), logits(m))
	head := peft.TokensOf(s.Model()).Params()[10*cfg.Dim:]
	_, err = s.Merge()
	require.NoError(t, err)
	for k, id := range peft.TokensOf(s.Model()).IDs {
		requireSameBits(t, "merged classifier row", head[k*cfg.Dim:(k+1)*cfg.Dim], s.Model().Params.LMHead[id*cfg.Dim:(id+1)*cfg.Dim])
	}

	ts, _, err := checkpoint.ReadSafetensors(bytes.NewReader(weights), "w")
	require.NoError(t, err)
	var names []string
	for _, t := range ts {
		if strings.HasSuffix(t.Name, checkpoint.PEFTTokensParam) {
			names = append(names, t.Name)
		}
	}
	assert.ElementsMatch(t, []string{"base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta",
		"base_model.model.lm_head.token_adapter.trainable_tokens_delta"}, names)
	_, err = readAdapter(base, weights, editConfig(t, config, map[string]any{"trainable_token_indices": map[string][]int{
		"embed_tokens": {50, 51, 52, 53, 54, 55, 56, 57, 58, 59}, "lm_head": {50, 51, 52, 53, 54, 55, 56, 57, 58, 60}}}))
	assert.ErrorContains(t, err, "must train the same tokens")
}

// refusal is a damaged token-rows adapter: its config's fields replaced, or its tensors edited, and the error wanted.
type refusal struct {
	name    string
	fields  map[string]any
	edit    func([]checkpoint.Tensor) []checkpoint.Tensor
	wantErr string
}

// requireRefusals reads each damaged copy of the adapter (weights, config) onto base and requires the error it names.
func requireRefusals(t *testing.T, base *model.Model, weights, config []byte, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, c := weights, config
			if tc.fields != nil {
				c = editConfig(t, config, tc.fields)
			}
			if tc.edit != nil {
				w = editWeights(t, weights, tc.edit)
			}
			_, err := readAdapter(base, w, c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
