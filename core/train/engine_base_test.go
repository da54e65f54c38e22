package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/model"
	"golora/internal/shared"
)

// stories260K returns the llama2.c checkpoint's and its tokenizer's bytes (the test skips without them).
func stories260K(t *testing.T) (model, tokenizer []byte) {
	t.Helper()
	model, err := os.ReadFile(shared.Stories260K(t, "stories260K.bin"))
	require.NoError(t, err)
	tokenizer, err = os.ReadFile(shared.Stories260K(t, "tok512.bin"))
	require.NoError(t, err)
	return model, tokenizer
}

// TestEngineLoadsLlama2C: the page's "load" takes a llama2.c checkpoint with its tokenizer.bin: the reply names the
// file, its format and tokenizer and the base's fingerprint, a LoRA run trains on it, and its adapter files name it.
func TestEngineLoadsLlama2C(t *testing.T) {
	model, tokenizer := stories260K(t)
	e := loadedEngine(t)
	v, _ := engineCall(t, e, "load", map[string]any{"name": "stories260K.bin", "tokenizerName": "tok512.bin"},
		Bulk{Bytes: map[string][]byte{"model": model, "tokenizer": tokenizer}})
	m := v["model"].(map[string]any)
	assert.Equal(t, "stories260K.bin", m["file"])
	assert.Equal(t, "llama2c", m["format"])
	assert.Equal(t, "bpe:tok512.bin", m["tokenizer"])
	assert.Equal(t, "tok512.bin", m["tokenizerFile"])
	assert.EqualValues(t, 512, m["vocab"])
	assert.EqualValues(t, len(model), m["bytes"])
	assert.Equal(t, BaseFingerprint(e.base), m["fingerprint"])
	assert.EqualValues(t, MaxPageBaseBytes, v["maxBaseBytes"])

	cfg := tinyConfig(MethodLoRA)
	cfg.Task, cfg.Steps, cfg.EvalLimit = "e2e", 3, 4
	text, err := EncodePageConfig(cfg)
	require.NoError(t, err)
	engineCall(t, e, "start", map[string]any{"config": json.RawMessage(text)}, Bulk{})
	_, out := engineCall(t, e, "step", map[string]any{"n": 3}, Bulk{})
	assert.Len(t, out.Floats["losses"], 3)
	v, _ = engineCall(t, e, "exportAdapter", map[string]any{}, Bulk{})
	var ac map[string]any
	require.NoError(t, json.Unmarshal([]byte(v["config"].(string)), &ac))
	assert.Equal(t, "stories260K.bin", ac["base_model_name_or_path"], "the adapter names the base it was trained on")
}

// TestEngineRefusesBases: a base file that is too large, empty, of a shape golora cannot run, damaged, not a base
// at all, or missing its tokenizer is refused with a message naming it and saying why, and the engine keeps the
// base (and the run) it had.
func TestEngineRefusesBases(t *testing.T) {
	model, tokenizer := stories260K(t)
	e := loadedEngine(t)
	cfg := tinyConfig(MethodLoRA)
	cfg.Steps = 2
	text, err := EncodePageConfig(cfg)
	require.NoError(t, err)
	engineCall(t, e, "start", map[string]any{"config": json.RawMessage(text)}, Bulk{})
	base, session := e.base, e.session

	header := func(dim, heads int) []byte {
		b := make([]byte, 28+64)
		for i, v := range []int32{int32(dim), 64, 2, int32(heads), int32(heads), 512, 64} {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
		return b
	}
	var plain bytes.Buffer
	require.NoError(t, tinyBase(t).Save(&plain, nil))
	noConfig := bytes.Replace(plain.Bytes(), []byte("golora.config"), []byte("golora.confix"), 1)
	for _, tc := range []struct {
		name      string
		model     []byte
		tokenizer []byte
		want      string
	}{
		{"damaged", model[:len(model)-1000], tokenizer, "stories260K.bin: size: expected 1056540 bytes"},
		{"unsupported shape", header(30, 4), tokenizer, "stories260K.bin: header: "},
		{"not a base", []byte("{\"prompt\": \"a\"}\n"), tokenizer, "stories260K.bin: truncated"},
		{"a safetensors file of no golora base", noConfig, nil, "not a golora base model"},
		{"no tokenizer", model, nil, "is a llama2.c checkpoint: add its tokenizer.bin (512 tokens)"},
		{"a damaged tokenizer", model, tokenizer[:100], "tokenizer tok512.bin: truncated"},
		{"a tokenizer for a byte base", plain.Bytes(), tokenizer, "takes no tokenizer file"},
		{"empty", []byte{}, nil, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Bulk{Bytes: map[string][]byte{"model": tc.model}}
			if tc.tokenizer != nil {
				in.Bytes["tokenizer"] = tc.tokenizer
			}
			msg, _, _ := engineError(t, e, "load", `{"name": "stories260K.bin", "tokenizerName": "tok512.bin"}`, in)
			assert.Contains(t, msg, tc.want)
			assert.Same(t, base, e.base, "the base stays")
			assert.Same(t, session, e.session, "the run stays")
		})
	}
	assert.ErrorContains(t, CheckPageBaseSize("big.bin", MaxPageBaseBytes+1), "big.bin is 128.0 MiB: the page takes bases up to 128 MiB")
	assert.NoError(t, CheckPageBaseSize("ok.bin", MaxPageBaseBytes))
	msg, _, _ := engineError(t, e, "checkBase", `{"name": "big.bin", "bytes": 200000000}`, Bulk{})
	assert.Contains(t, msg, "big.bin is 190.7 MiB: the page takes bases up to 128 MiB", "the page asks before reading a file")
	engineCall(t, e, "checkBase", map[string]any{"name": "ok.bin", "bytes": 1000}, Bulk{})
	_, out := engineCall(t, e, "step", map[string]any{"n": 1}, Bulk{})
	assert.Len(t, out.Floats["losses"], 1, "the run goes on")
}

// bigVocab is a llama2.c checkpoint and tokenizer.bin of a tiny model with a vocabulary of v tokens: <unk>, <s>,
// </s>, the 256 byte tokens, " ", then pieces no text merges into.
func bigVocab(t *testing.T, v int) (model, tokenizer []byte) {
	t.Helper()
	lc := checkpoint.Llama2CConfig{Dim: 16, HiddenDim: 32, NLayers: 1, NHeads: 2, NKVHeads: 2, VocabSize: v, SeqLen: 256,
		SharedClassifier: true}
	var tensors []checkpoint.Tensor
	for _, ti := range (modelConfigOf(lc)).Tensors() {
		n := 1
		for _, d := range ti.Shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = 0.01 * float32(i%7)
		}
		tensors = append(tensors, checkpoint.Tensor{Name: ti.Name, Shape: ti.Shape, Data: data})
	}
	var mb, tb bytes.Buffer
	require.NoError(t, checkpoint.WriteLlama2C(&mb, lc, tensors))
	put := func(v any) { require.NoError(t, binary.Write(&tb, binary.LittleEndian, v)) }
	piece := func(s string) { put(float32(0)); put(int32(len(s))); tb.WriteString(s) }
	put(int32(16))
	piece("<unk>")
	piece("\n<s>\n")
	piece("\n</s>\n")
	for b := range 256 {
		piece(fmt.Sprintf("<0x%02X>", b))
	}
	piece(" ")
	for i := 260; i < v; i++ {
		piece(fmt.Sprintf("~%d~", i))
	}
	return mb.Bytes(), tb.Bytes()
}

func modelConfigOf(lc checkpoint.Llama2CConfig) model.Config {
	return model.Config{Dim: lc.Dim, HiddenDim: lc.HiddenDim, NLayers: lc.NLayers, NHeads: lc.NHeads, NKVHeads: lc.NKVHeads,
		VocabSize: lc.VocabSize, SeqLen: lc.SeqLen, Tied: lc.SharedClassifier, NormEps: 1e-5, RopeBase: 10000}
}

// TestEngineRunMemory: a run the page's workers cannot hold (RunBytes over PageRunBudget: here the logits of a batch
// of 16 e2e examples over a vocabulary of 60,000 tokens) is refused by validate, validateSweep and start before anything
// is allocated, naming the batch and the largest that fits; that batch is accepted.
func TestEngineRunMemory(t *testing.T) {
	model, tokenizer := bigVocab(t, 60000)
	e := NewEngine()
	engineCall(t, e, "load", map[string]any{"name": "big.bin", "tokenizerName": "tok.bin"},
		Bulk{Bytes: map[string][]byte{"model": model, "tokenizer": tokenizer}})
	cfg := tinyConfig(MethodLoRA)
	cfg.Task, cfg.Batch, cfg.Targets = "e2e", 16, []string{"q", "v"}
	text, err := EncodePageConfig(cfg)
	require.NoError(t, err)
	args := `{"config": ` + string(text) + `}`
	for _, method := range []string{"validate", "start"} {
		msg, field, _ := engineError(t, e, method, args, Bulk{})
		assert.Equal(t, "batch", field, method)
		assert.Regexp(t, `this run needs about 1\.\d GiB in each of the page's workers \(a batch of 16 sequences of up to \d+ `+
			`tokens over this base's vocabulary of 60000\), more than the 1 GiB one can hold: use a batch of at most \d+`, msg)
	}
	assert.Nil(t, e.session, "nothing started")
	msg, _, _ := engineError(t, e, "validateSweep", `{"config": `+string(text)+`, "ranks": [1]}`, Bulk{})
	assert.Contains(t, msg, "sweep run 1 (lora r=1): batch: this run needs about")
	fits := regexp.MustCompile(`at most (\d+)`).FindStringSubmatch(msg)[1]
	ok := strings.Replace(string(text), `"batch":16`, `"batch":`+fits, 1)
	require.NotEqual(t, string(text), ok)
	engineCall(t, e, "validate", map[string]any{"config": json.RawMessage(ok)}, Bulk{})
	maxT, err := e.longest(cfg)
	require.NoError(t, err)
	n, _ := strconv.Atoi(fits)
	cfg.Batch = n
	assert.LessOrEqual(t, RunBytes(e.base, cfg, maxT), int64(PageRunBudget))
	cfg.Batch++
	assert.Greater(t, RunBytes(e.base, cfg, maxT), int64(PageRunBudget))
}
