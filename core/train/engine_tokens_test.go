package train

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// datesEngine is an engine holding base-v1 (whose corpus held no digit) and the first lines of the dates task.
func datesEngine(t *testing.T) (*Engine, []byte) {
	t.Helper()
	model, err := os.ReadFile("../../models/base-v1.safetensors")
	require.NoError(t, err)
	e := NewEngine()
	engineCall(t, e, "load", map[string]any{"name": "base-v1.safetensors"}, Bulk{Bytes: map[string][]byte{"model": model}})
	file, err := os.ReadFile("../../testdata/tokens/dates.jsonl")
	require.NoError(t, err)
	lines := bytes.SplitAfter(file, []byte("\n"))
	return e, bytes.Join(lines[:30], nil)
}

// customArgs are the arguments of a call on the task "custom" with the user's file, as the page's worker sends them.
func customArgs(t *testing.T, edit func(c map[string]any)) (map[string]any, Bulk) {
	t.Helper()
	c := map[string]any{"task": "custom", "steps": 4, "warmup": 0}
	if edit != nil {
		edit(c)
	}
	return map[string]any{"config": c, "fileName": "dates.jsonl"}, Bulk{}
}

// TestEngineUnseenAndTokens: on a user's file the engine reports the characters the base has (almost) never seen with
// what to do, the first remedy being train_tokens auto (the page's one click), and which token rows a run's
// train_tokens trains; a run's info names its rows, and a sweep compares without and with them.
func TestEngineUnseenAndTokens(t *testing.T) {
	e, file := datesEngine(t)
	args, in := customArgs(t, nil)
	in.Bytes = map[string][]byte{"file": file}
	v, _ := engineCall(t, e, "unseen", args, in)
	var rep struct {
		Unseen UnseenReport `json:"unseen"`
		Tokens []PageToken  `json:"tokens"`
	}
	j, _ := json.Marshal(v)
	require.NoError(t, json.Unmarshal(j, &rep))
	var chars []string
	for _, c := range rep.Unseen.Chars {
		chars = append(chars, c.Char)
	}
	for d := '0'; d <= '9'; d++ {
		assert.Contains(t, chars, "'"+string(d)+"'", "base-v1 never saw digits")
	}
	assert.Equal(t, TokensAuto, rep.Unseen.TrainTokens, "the first remedy, one click away")
	assert.NotEmpty(t, rep.Unseen.Advice)
	assert.Empty(t, rep.Tokens, "a byte base: the characters are the tokens")

	args, _ = customArgs(t, func(c map[string]any) { c["trainTokens"] = "auto" })
	v, _ = engineCall(t, e, "chooseTokens", args, in)
	assert.Equal(t, "auto", v["spec"])
	reasons := map[string]string{}
	for _, tk := range v["tokens"].([]any) {
		reasons[tk.(map[string]any)["text"].(string)] = tk.(map[string]any)["reason"].(string)
	}
	for d := '0'; d <= '9'; d++ {
		assert.Contains(t, reasons["'"+string(d)+"'"], "duplicate", "digit %c: its row is the other unseen bytes' row", d)
	}
	assert.EqualValues(t, len(reasons)*96, v["params"])
	args, _ = customArgs(t, func(c map[string]any) { c["trainTokens"], c["method"] = "auto", "full" })
	v, _ = engineCall(t, e, "chooseTokens", args, in)
	assert.Equal(t, "none", v["spec"], "full fine-tuning trains every row already")
	assert.Empty(t, v["tokens"])

	args, _ = customArgs(t, func(c map[string]any) { c["trainTokens"], c["tokensLr"] = "chars:0123456789", 0.01 })
	v, _ = engineCall(t, e, "start", args, in)
	info := v["info"].(map[string]any)
	assert.Equal(t, "chars:0123456789", info["trainTokens"])
	assert.Len(t, info["tokenIds"], 10)
	assert.Equal(t, "'9'", info["tokens"].([]any)[9])
	assert.EqualValues(t, 5376+960, info["trainableParams"], "LoRA r=4 on q,v and the ten rows")

	args, _ = customArgs(t, func(c map[string]any) { c["tokensLr"] = 2 })
	_, field, _ := engineError(t, e, "validate", string(must(json.Marshal(args))), in)
	assert.Equal(t, "tokensLr", field, "the page's key of -tokens-lr")

	args, _ = customArgs(t, func(c map[string]any) { c["trainTokens"] = "auto" })
	args["ranks"], args["full"], args["trainTokens"] = []int{1, 2}, true, []string{"none", "auto"}
	v, _ = engineCall(t, e, "validateSweep", args, in)
	var runs []struct {
		Method      string `json:"method"`
		Rank        int    `json:"rank"`
		TrainTokens string `json:"trainTokens"`
	}
	j, _ = json.Marshal(v["configs"])
	require.NoError(t, json.Unmarshal(j, &runs))
	require.Len(t, runs, 5)
	assert.Equal(t, []string{"none", "auto", "none", "auto", ""}, []string{runs[0].TrainTokens, runs[1].TrainTokens,
		runs[2].TrainTokens, runs[3].TrainTokens, runs[4].TrainTokens})
	assert.Equal(t, "full", runs[4].Method)
}

// TestEngineUnseenBPE: on a base whose tokenizer is not golora's bytes the character check is skipped, saying why, and
// the tokens auto would train are listed instead (stories260K on dates: the newline and digits it rarely produced).
func TestEngineUnseenBPE(t *testing.T) {
	model, tokenizer := stories260K(t)
	e := NewEngine()
	engineCall(t, e, "load", map[string]any{"name": "stories260K.bin", "tokenizerName": "tok512.bin"},
		Bulk{Bytes: map[string][]byte{"model": model, "tokenizer": tokenizer}})
	_, file := datesEngine(t)
	args, in := customArgs(t, nil)
	in.Bytes = map[string][]byte{"file": file}
	v, _ := engineCall(t, e, "unseen", args, in)
	assert.Contains(t, v["unseen"].(map[string]any)["skipped"], "byte-level tokens")
	var texts []string
	for _, tk := range v["tokens"].([]any) {
		texts = append(texts, tk.(map[string]any)["text"].(string))
	}
	assert.Contains(t, texts, "'7'", "a digit stories260K (almost) never produces")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
