package train

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePageConfig(t *testing.T) {
	c, err := ParsePageConfig([]byte(`{}`), nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultConfig(), c, "absent keys keep the defaults")

	c, err = ParsePageConfig([]byte(`{"task": "cipher", "difficulty": 8, "method": "lora", "rank": 2, "alpha": 8.5,
		"rslora": true, "targets": ["q", "k", "down"], "init": "gaussian", "dropout": 0.1, "lr": 0.003, "steps": 60,
		"batch": 8, "warmup": 5, "weightDecay": 0.01, "clip": 0.5, "seed": 7, "shards": 1, "evalEvery": 30,
		"evalLimit": 16, "facts": 0}`), nil)
	require.NoError(t, err)
	want := DefaultConfig()
	want.Task, want.Difficulty, want.Rank, want.Alpha, want.RSLoRA = "cipher", 8, 2, 8.5, true
	want.Targets, want.Init, want.Dropout, want.LR, want.Steps = []string{"q", "k", "down"}, "gaussian", 0.1, 0.003, 60
	want.Batch, want.Warmup, want.WeightDecay, want.Clip, want.Seed = 8, 5, 0.01, 0.5, 7
	want.Shards, want.EvalEvery, want.EvalLimit = 1, 30, 16
	assert.Equal(t, want, c)

	text, err := EncodePageConfig(c)
	require.NoError(t, err)
	back, err := ParsePageConfig(text, nil)
	require.NoError(t, err)
	assert.Equal(t, c, back, "EncodePageConfig then ParsePageConfig gives the same config: %s", text)
	assert.Contains(t, string(text), `"lr":0.003`, "float32 values are written as the page typed them")
}

func TestParsePageConfigRefuses(t *testing.T) {
	for _, tc := range []struct {
		text, field, msg string
	}{
		{`{"rank": "4"}`, "rank", `rank: want a whole number, got "4"`},
		{`{"rank": 2.5}`, "rank", "rank: want a whole number, got 2.5"},
		{`{"lr": null}`, "lr", "lr: want a number, got null"}, // JSON.stringify writes NaN as null
		{`{"alpha": 1e39}`, "alpha", "alpha: want a number, got 1e39"},
		{`{"seed": -1}`, "seed", "seed: want a whole number from 0, got -1"},
		{`{"targets": "q,v"}`, "targets", `targets: want a list of strings, got "q,v"`},
		{`{"rslora": 1}`, "rslora", "rslora: want true or false, got 1"},
		{`{"Rank": 4}`, "", `config: unknown setting "Rank"`}, // keys match exactly, not case-insensitively
		{`{"rank": 4, "custom": "x"}`, "", `config: unknown setting "custom"`},
		{`[1]`, "", "config: json: cannot unmarshal array"},
		{`null`, "", "config: want a JSON object, got null"},
		{`{"rank": 4`, "", "config: unexpected end of JSON input"},
	} {
		_, err := ParsePageConfig([]byte(tc.text), nil)
		require.Error(t, err, tc.text)
		assert.Contains(t, err.Error(), tc.msg, tc.text)
		fes := FieldErrors(err)
		if tc.field == "" {
			assert.Empty(t, fes, "%s: not about one field", tc.text)
		} else if assert.Len(t, fes, 1, tc.text) {
			assert.Equal(t, tc.field, fes[0].Field, tc.text)
		}
	}
	_, err := ParsePageConfig([]byte(`{"rank": "x", "lr": "y", "nope": 1}`), nil)
	assert.Len(t, FieldErrors(err), 2, "every bad key is reported at once: %v", err)
}

func TestParsePageConfigCustomFile(t *testing.T) {
	text := []byte(`{"task": "custom"}`)
	_, err := ParsePageConfig(text, nil)
	require.Error(t, err)
	fes := FieldErrors(err)
	require.Len(t, fes, 1)
	assert.Equal(t, "custom", fes[0].Field)
	assert.Contains(t, fes[0].Reason, "choose a JSON Lines file")

	// An empty file is one clear message about that file, not "choose a file" again.
	_, err = ParsePageConfig(text, &PageFile{Name: "mine.jsonl"})
	fes = FieldErrors(err)
	require.Len(t, fes, 1, "%v", err)
	assert.Equal(t, "custom", fes[0].Field)
	assert.True(t, strings.HasPrefix(fes[0].Reason, "mine.jsonl: no examples"), fes[0].Reason)
	assert.Equal(t, 1, strings.Count(err.Error(), "custom:"), "the field is named once: %v", err)

	c, err := ParsePageConfig(text, &PageFile{Name: "mine.jsonl",
		Data: []byte("{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"c\", \"completion\": \"d\"}\n")})
	require.NoError(t, err)
	assert.Len(t, c.Custom, 2)

	c, err = ParsePageConfig([]byte(`{"task": "e2e"}`), nil)
	require.NoError(t, err, "no file is needed for a generated task")
	assert.Nil(t, c.Custom)
}

// TestPageFieldNamesEveryValidateField: every field that Validate can complain about has a key in the page's
// settings, so the page can show the message next to it.
func TestPageFieldNamesEveryValidateField(t *testing.T) {
	base := tinyBase(t)
	c := DefaultConfig()
	c.Task, c.Difficulty, c.Facts, c.Rank, c.Alpha, c.Dropout, c.Init = "", -1, -1, 0, -1, 2, "x"
	c.Targets, c.LR, c.Steps, c.Warmup, c.Batch, c.Shards = []string{"nope"}, -1, 0, -1, 0, 0
	c.WeightDecay, c.Clip, c.EvalEvery, c.EvalLimit = -1, -1, -1, -1
	fes := FieldErrors(c.Validate(base))
	require.NotEmpty(t, fes)
	c.Method = "nope"
	fes = append(fes, FieldErrors(c.Validate(base))...)
	keys := pageKeys(&c)
	for _, fe := range fes {
		_, ok := keys[PageField(fe.Field)]
		assert.True(t, ok, "Validate's field %q (page name %q) is a key of the page's settings", fe.Field, PageField(fe.Field))
	}
	assert.Equal(t, "weightDecay", PageField("weight_decay"))
	assert.Equal(t, "evalEvery", PageField("eval_every"))
	assert.Equal(t, "rank", PageField("rank"))
}

// FuzzParsePageConfig: whatever the page (or anything posing as it) sends, ParsePageConfig returns a config or an
// error without panicking; a config it accepts survives EncodePageConfig and parses again to the same config, and
// Validate judges it without panicking.
func FuzzParsePageConfig(f *testing.F) {
	base := tinyBase(f)
	def, err := EncodePageConfig(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def, []byte(nil), false)
	f.Add([]byte(`{"task": "custom", "rank": 64, "targets": ["q", "q"], "lr": 1e30}`),
		[]byte(`{"prompt": "a", "completion": "b"}`), true)
	f.Add([]byte(`{"task": "custom"}`), []byte(""), true)
	f.Add([]byte(`{"seed": 18446744073709551615, "alpha": 3.4e38, "steps": -5, "targets": []}`), []byte(nil), false)
	f.Add([]byte(`{"rank": "4", "Rank": 4, "rank": 5}`), []byte(nil), false)
	f.Fuzz(func(t *testing.T, text, file []byte, hasFile bool) {
		var pf *PageFile
		if hasFile {
			pf = &PageFile{Name: "fuzz.jsonl", Data: file}
		}
		c, err := ParsePageConfig(text, pf)
		if err != nil {
			return
		}
		_ = c.Validate(base)
		again, err := EncodePageConfig(c)
		if err != nil {
			t.Fatalf("EncodePageConfig of an accepted config: %v", err)
		}
		back, err := ParsePageConfig(again, pf)
		if err != nil {
			t.Fatalf("the encoded config %s is refused: %v", again, err)
		}
		assert.Equal(t, c, back, "round trip of %s", again)
	})
}
