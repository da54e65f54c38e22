package checkpoint

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTrainableTokensConfig: golora's TRAINABLE_TOKENS config writes PEFT's fields and reads back; target_modules
// is read in PEFT's forms (null, a name, a list) and what golora cannot apply is refused.
func TestTrainableTokensConfig(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteTrainableTokensConfig(&buf, NewTrainableTokensConfig("base.safetensors", []int{50, 51}, false)))
	assert.JSONEq(t, `{"auto_mapping": null, "base_model_name_or_path": "base.safetensors", "inference_mode": true,
		"init_weights": true, "peft_type": "TRAINABLE_TOKENS", "revision": null, "target_modules": ["embed_tokens"],
		"task_type": "CAUSAL_LM", "token_indices": [50, 51]}`, buf.String())
	c, err := ReadTrainableTokensConfig(bytes.NewReader(buf.Bytes()), "adapter_config.json")
	require.NoError(t, err)
	assert.Equal(t, []int{50, 51}, c.TokenIndices)
	for _, tc := range []struct {
		targets string
		head    bool
		err     string
	}{
		{`null`, false, ""},
		{`"embed_tokens"`, false, ""},
		{`["model.embed_tokens", "lm_head"]`, true, ""},
		{`["lm_head"]`, false, "without embed_tokens"},
		{`".*embed.*"`, false, "regular expression"},
		{`["wte"]`, false, "neither embed_tokens nor lm_head"},
		{`7`, false, "must be null"},
	} {
		c := TrainableTokensConfig{PEFTType: PEFTTypeTrainableTokens, TokenIndices: []int{1}, TargetModules: []byte(tc.targets)}
		head, err := c.TrainableTokensTargets()
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.targets)
			continue
		}
		require.NoError(t, err, tc.targets)
		assert.Equal(t, tc.head, head, tc.targets)
	}
	_, err = ReadTrainableTokensConfig(bytes.NewReader([]byte(`{"peft_type": "TRAINABLE_TOKENS", "token_indices": []}`)), "a.json")
	assert.ErrorContains(t, err, "token_indices is empty")
	_, err = ReadTrainableTokensConfig(bytes.NewReader([]byte(`{"peft_type": "LORA", "token_indices": [1]}`)), "a.json")
	assert.ErrorContains(t, err, "is not TRAINABLE_TOKENS")
}

// FuzzReadTrainableTokensConfig: any bytes give a config or an error, never a panic, and an accepted config writes
// and reads back the same.
func FuzzReadTrainableTokensConfig(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteTrainableTokensConfig(&buf, NewTrainableTokensConfig("b", []int{3, 4}, true))
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadTrainableTokensConfig(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteTrainableTokensConfig(&out, c); err != nil {
			t.Fatalf("an accepted config does not write: %v", err)
		}
		if _, err := ReadTrainableTokensConfig(bytes.NewReader(out.Bytes()), "fuzz.json"); err != nil {
			t.Fatalf("a written config does not read: %v", err)
		}
	})
}
