package data

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadJSONL(t *testing.T) {
	in := "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\r\n" +
		"\n   \n" +
		`{"completion": "é🙂", "prompt": "Q: smile?\nA: "}` + "\n" +
		`{"prompt":" a ","completion":"b\n"}` // no final newline
	ex, err := ReadJSONL(strings.NewReader(in), "mine.jsonl")
	require.NoError(t, err)
	assert.Equal(t, []Example{
		{Prompt: "2+2=", Completion: "4", Source: "mine.jsonl:1"},
		{Prompt: "Q: smile?\nA: ", Completion: "é🙂", Source: "mine.jsonl:4"},
		{Prompt: " a ", Completion: "b\n", Source: "mine.jsonl:5"},
	}, ex)

	// A byte order mark at the start of the file is not part of the first line; escapes decode as JSON says.
	ex, err = ReadJSONL(strings.NewReader("\xef\xbb\xbf"+`{"prompt": "\ud83d\ude42 \\ud800", "completion": "\u00e9\"\\"}`), "bom.jsonl")
	require.NoError(t, err)
	assert.Equal(t, []Example{{Prompt: "🙂 \\ud800", Completion: "é\"\\", Source: "bom.jsonl:1"}}, ex)
}

func TestReadJSONLErrors(t *testing.T) {
	good := `{"prompt": "a", "completion": "b"}` + "\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty file", "", "f.jsonl: no examples"},
		{"only blank lines", "\n  \n\r\n", "f.jsonl: no examples"},
		{"not json", good + "hello\n", "f.jsonl:2: not a JSON object"},
		{"truncated object", good + good + `{"prompt": "a"` + "\n", "f.jsonl:3: not a JSON object"},
		{"array", `["a", "b"]`, "f.jsonl:1: not a JSON object"},
		{"number prompt", `{"prompt": 1, "completion": "b"}`, "f.jsonl:1: not a JSON object"},
		{"unknown field", `{"prompt": "a", "completions": "b"}`, `f.jsonl:1: not a JSON object with "prompt" and "completion": unknown field "completions"`},
		{"key in another case", good + `{"Prompt": "a", "completion": "b"}`, `f.jsonl:2: key "Prompt": keys are case-sensitive, write "prompt"`},
		{"duplicate key", `{"prompt": "a", "completion": "b", "prompt": "c"}`, `f.jsonl:1: "prompt" appears twice on the line`},
		{"invalid UTF-8", good + "{\"prompt\": \"caf\xe9\", \"completion\": \"b\"}", `f.jsonl:2: invalid UTF-8 at byte 16 of the line (0xe9)`},
		{"invalid UTF-8 outside strings", "\xff" + good, `f.jsonl:1: invalid UTF-8 at byte 1`},
		{"lone low surrogate", `{"prompt": "a\udc00", "completion": "b"}`, `f.jsonl:1: "prompt": unpaired surrogate escape \udc00`},
		{"high surrogate without its pair", `{"prompt": "a", "completion": "\ud83d!"}`, `f.jsonl:1: "completion": unpaired surrogate escape \ud83d`},
		{"BOM on a later line", good + "\xef\xbb\xbf" + good, "f.jsonl:2: not a JSON object"},
		{"missing prompt", good + `{"completion": "b"}`, `f.jsonl:2: missing "prompt"`},
		{"missing completion", `{"prompt": "a"}`, `f.jsonl:1: missing "completion"`},
		{"null completion", `{"prompt": "a", "completion": null}`, `f.jsonl:1: missing "completion"`},
		{"empty prompt", `{"prompt": "", "completion": "b"}`, `f.jsonl:1: empty "prompt"`},
		{"empty completion", good + "\n" + `{"prompt": "a", "completion": ""}`, `f.jsonl:3: empty "completion"`},
		{"two objects on a line", good + good[:len(good)-1] + good, "f.jsonl:2: more than one JSON value"},
		{"trailing garbage", `{"prompt": "a", "completion": "b"} x`, "f.jsonl:1: more than one JSON value"},
		{"line too long", `{"prompt": "` + strings.Repeat("a", maxJSONLLine) + `", "completion": "b"}`, "f.jsonl:1: line longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadJSONL(strings.NewReader(tc.in), "f.jsonl")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func FuzzReadJSONL(f *testing.F) {
	f.Add(`{"prompt": "a", "completion": "b"}` + "\n")
	f.Add("{\"prompt\": \"Q\\n\", \"completion\": \"\\u00e9\"}\r\n\n{\"prompt\":\"x\",\"completion\":\"y\"}")
	f.Add(`{"prompt": "a"}`)
	f.Add("\xff{\"prompt\": \"\xc3\", \"completion\": \"b\"}")
	f.Add(`{"prompt": "a", "completion": "b"} {}`)
	f.Fuzz(func(t *testing.T, in string) {
		ex, err := ReadJSONL(strings.NewReader(in), "fuzz.jsonl")
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "fuzz.jsonl:"), "error names the file: %v", err)
			return
		}
		require.NotEmpty(t, ex)
		for i, e := range ex {
			require.NotEmpty(t, e.Prompt, "example %d", i)
			require.NotEmpty(t, e.Completion, "example %d", i)
		}
		// What was read writes back and reads again to the same examples.
		var buf bytes.Buffer
		require.NoError(t, WriteJSONL(&buf, ex))
		again, err := ReadJSONL(&buf, "again.jsonl")
		require.NoError(t, err)
		require.Len(t, again, len(ex))
		for i := range ex {
			require.Equal(t, ex[i].Prompt, again[i].Prompt, "example %d", i)
			require.Equal(t, ex[i].Completion, again[i].Completion, "example %d", i)
			require.True(t, utf8.ValidString(ex[i].Prompt+ex[i].Completion), "example %d is valid UTF-8", i)
			require.True(t, strings.HasPrefix(ex[i].Source, "fuzz.jsonl:"), "example %d names its line", i)
		}
	})
}

func numbered(n int, dupEvery int) []Example {
	ex := make([]Example, n)
	for i := range ex {
		p := i
		if dupEvery > 0 && i%dupEvery == 1 {
			p = i - 1 // same prompt as the previous example
		}
		ex[i] = Example{Prompt: fmt.Sprintf("p%d", p), Completion: fmt.Sprintf("c%d", i)}
	}
	return ex
}

func TestSplitExamples(t *testing.T) {
	for _, tc := range []struct {
		n, dupEvery      int
		train, val, test int // in distinct prompts
	}{
		{n: 3, train: 1, val: 1, test: 1},
		{n: 10, train: 8, val: 1, test: 1},
		{n: 15, train: 11, val: 2, test: 2},
		{n: 100, train: 80, val: 10, test: 10},
		{n: 1001, train: 801, val: 100, test: 100},
		{n: 200, dupEvery: 2, train: 80, val: 10, test: 10}, // 100 prompts, each twice
	} {
		name := fmt.Sprintf("n=%d dup=%d", tc.n, tc.dupEvery)
		ex := numbered(tc.n, tc.dupEvery)
		tr, va, te := SplitExamples(ex, 42)
		assert.Equal(t, tc.n, len(tr)+len(va)+len(te), "%s: every example in one split", name)
		assert.Len(t, prompts(tr), tc.train, "%s: train prompts", name)
		assert.Len(t, prompts(va), tc.val, "%s: val prompts", name)
		assert.Len(t, prompts(te), tc.test, "%s: test prompts", name)
		ptr := prompts(tr)
		for p := range prompts(te) {
			assert.False(t, ptr[p] || prompts(va)[p], "%s: test prompt %q also elsewhere", name, p)
		}
		for p := range prompts(va) {
			assert.False(t, ptr[p], "%s: val prompt %q in train", name, p)
		}
		tr2, va2, te2 := SplitExamples(ex, 42)
		assert.Equal(t, [][]Example{tr, va, te}, [][]Example{tr2, va2, te2}, "%s: deterministic", name)
		_, err := NewTaskFromExamples("mine", tr, va, te)
		assert.NoError(t, err, name)
	}
	_, va1, _ := SplitExamples(numbered(100, 0), 1)
	_, va2, _ := SplitExamples(numbered(100, 0), 2)
	assert.NotEqual(t, va1, va2, "seeded")

	// Fewer than 3 distinct prompts: all train, and the task reports it.
	tr, va, te := SplitExamples(numbered(4, 2), 1)
	assert.Len(t, tr, 4)
	assert.Empty(t, va)
	assert.Empty(t, te)
	_, err := NewTaskFromExamples("mine", tr, va, te)
	assert.ErrorContains(t, err, "task mine: val split is empty")
}

func TestNewTaskFromExamplesErrors(t *testing.T) {
	one := []Example{{Prompt: "a", Completion: "b"}}
	_, err := NewTaskFromExamples("", one, one, one)
	assert.ErrorContains(t, err, "task: name must not be empty")
	_, err = NewTaskFromExamples("x", one, one, nil)
	assert.ErrorContains(t, err, "task x: test split is empty")
	_, err = NewTaskFromExamples("x", one, []Example{{Prompt: "q"}}, one)
	assert.ErrorContains(t, err, "task x: val example 0 has an empty completion")
	task, err := NewTaskFromExamples("x", one, one, one)
	require.NoError(t, err)
	assert.Equal(t, "x", task.Name)
}

// TestJSONLErrorsNameTheLine: an example refused after the split (too long for the context, here) is named by its
// file and line, not by its index in the split.
func TestJSONLErrorsNameTheLine(t *testing.T) {
	var in strings.Builder
	for i := range 30 {
		completion := fmt.Sprint(i)
		if i == 16 {
			completion = strings.Repeat("x", 200)
		}
		fmt.Fprintf(&in, "{\"prompt\": \"p%d\", \"completion\": %q}\n\n", i, completion)
	}
	ex, err := ReadJSONL(strings.NewReader(in.String()), "mine.jsonl")
	require.NoError(t, err)
	train, val, test := SplitExamples(ex, 1)
	var errs []string
	for _, split := range [][]Example{train, val, test} {
		if _, err := EncodeExamples(NewByteTokenizer(), split, 64, "custom"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0], "custom example mine.jsonl:33 is 205 tokens", "line 33 holds example 16 (blank lines between)")
}
