// The page's choice of base: the shipped one, or a file the user picks (golora's safetensors, or a llama2.c
// checkpoint with its tokenizer.bin), read by the engine method "load" with the same readers as the CLI's -base and
// -checkpoint/-tokenizer. A file that is too large, of a shape golora cannot run, or damaged is refused with a
// message that names it, and the engine keeps the base it had.
package train

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golora/core/checkpoint"
	"golora/core/data"
	"golora/core/model"
)

// MaxPageBaseBytes is the largest base file the page takes: 128 MiB, about 32 million float32 parameters. Each of
// the page's two Web Workers is a WebAssembly instance of at most 4 GiB (its heap never shrinks) that holds the file
// while reading it, the base, a run's copy of the base and, for full fine-tuning, three more of its size (gradients
// and AdamW's two moments), besides the activations: about 6 times the file at the peak, 0.8 GiB per worker and
// 1.5 GiB for the tab at this limit, which a tab on a machine with a few GiB to spare holds. Larger bases are for
// the command line (golora finetune -checkpoint ...), whose memory is the machine's.
const MaxPageBaseBytes = 128 << 20

// safetensors files begin with the little-endian length of their JSON header, which begins with '{'.
func isSafetensors(b []byte) bool {
	return len(b) >= 9 && b[8] == '{' && binary.LittleEndian.Uint64(b) < uint64(len(b))
}

// CheckPageBaseSize refuses a base file of size bytes that is empty or larger than MaxPageBaseBytes, saying why.
func CheckPageBaseSize(name string, size int64) error {
	switch {
	case size == 0:
		return fmt.Errorf("%s is empty", name)
	case size > MaxPageBaseBytes:
		return fmt.Errorf("%s is %.1f MiB: the page takes bases up to %d MiB (about %d million parameters), "+
			"what its two workers can hold; use the command line for larger ones (golora finetune -checkpoint ... or -base ...)",
			name, float64(size)/(1<<20), MaxPageBaseBytes>>20, MaxPageBaseBytes/4/1_000_000)
	}
	return nil
}

// ReadPageBase reads a base model file as the page gets it: file's bytes (name is its name) and, for a llama2.c
// checkpoint or a golora safetensors fine-tuned from one, the bytes of its tokenizer.bin (tokName). It returns the
// model, its tokenizer and the file's format ("safetensors" or "llama2c"). Every refusal names the file and says why.
func ReadPageBase(name string, file []byte, tokName string, tokFile []byte) (*model.Model, data.Tokenizer, string, error) {
	if err := CheckPageBaseSize(name, int64(len(file))); err != nil {
		return nil, nil, "", err
	}
	if isSafetensors(file) {
		m, meta, err := model.Load(bytes.NewReader(file), name)
		if err != nil {
			return nil, nil, "", err
		}
		switch tk := meta["golora.tokenizer"]; {
		case tk == "" || tk == "byte":
			if tokFile != nil {
				return nil, nil, "", fmt.Errorf("%s reads bytes (golora's byte tokenizer): it takes no tokenizer file, so leave %s out", name, tokName)
			}
			return m, data.NewByteTokenizer(), "safetensors", nil
		case strings.HasPrefix(tk, "bpe:"):
			if tokFile == nil {
				return nil, nil, "", fmt.Errorf("%s was fine-tuned from a llama2.c model with tokenizer %s: add that tokenizer.bin",
					name, strings.TrimPrefix(tk, "bpe:"))
			}
			tok, err := data.ReadBPE(bytes.NewReader(tokFile), tokName, m.Config.VocabSize)
			if err != nil {
				return nil, nil, "", err
			}
			return m, tok, "safetensors", nil
		default:
			return nil, nil, "", fmt.Errorf("%s: tokenizer %q is neither golora's byte tokenizer nor a llama2.c one", name, tk)
		}
	}
	lc, tensors, err := checkpoint.ReadLlama2C(bytes.NewReader(file), name, int64(len(file)))
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w (the page reads golora's .safetensors and llama2.c's legacy .bin checkpoints)", err)
	}
	m, err := model.FromLlama2C(name, lc, tensors)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", name, err)
	}
	if tokFile == nil {
		return nil, nil, "", fmt.Errorf("%s is a llama2.c checkpoint: add its tokenizer.bin (%d tokens)", name, lc.VocabSize)
	}
	tok, err := data.ReadBPE(bytes.NewReader(tokFile), tokName, lc.VocabSize)
	if err != nil {
		return nil, nil, "", err
	}
	return m, tok, "llama2c", nil
}

// load {name, tokenizerName?} with the bulk bytes "model" (the base's file) and, for a llama2.c checkpoint, "tokenizer"
// (its tokenizer.bin) -> {model}: the engine's base from now on (ReadPageBase), its session dropped. A refused file
// leaves the base and the session as they were.
func (e *Engine) load(args []byte, in Bulk) (any, Bulk, error) {
	var a struct {
		Name          string `json:"name"`
		TokenizerName string `json:"tokenizerName"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	buf, ok := in.Bytes["model"]
	if !ok {
		return nil, Bulk{}, errors.New("load: the model file goes in the bulk bytes \"model\"")
	}
	if a.Name == "" {
		a.Name = "the model file"
	}
	tokFile, hasTok := in.Bytes["tokenizer"]
	if hasTok && a.TokenizerName == "" {
		a.TokenizerName = "the tokenizer file"
	}
	if !hasTok {
		tokFile = nil
	}
	m, tok, format, err := ReadPageBase(a.Name, buf, a.TokenizerName, tokFile)
	if err != nil {
		return nil, Bulk{}, err
	}
	e.base, e.tok, e.session, e.sweeper = m, tok, nil, nil
	e.baseFile = a.Name
	c := m.Config
	pm := PageModel{Name: m.Name, File: a.Name, Format: format, Tokenizer: tok.Name(), Bytes: len(buf),
		Fingerprint: BaseFingerprint(m), Params: m.NumParams(), Dim: c.Dim, HiddenDim: c.HiddenDim, Layers: c.NLayers,
		Heads: c.NHeads, KVHeads: c.NKVHeads, Vocab: c.VocabSize, SeqLen: c.SeqLen, Tied: c.Tied}
	if hasTok {
		pm.TokenizerFile, pm.TokenizerBytes = a.TokenizerName, len(tokFile)
	}
	return map[string]any{"model": pm, "maxBaseBytes": MaxPageBaseBytes}, Bulk{}, nil
}

// checkBase {name, bytes} -> {ok: true}, or why the page will not take a base file of that size (CheckPageBaseSize):
// the page asks before reading a file the user chose.
func (e *Engine) checkBase(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		Name  string `json:"name"`
		Bytes int64  `json:"bytes"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	if err := CheckPageBaseSize(a.Name, a.Bytes); err != nil {
		return nil, Bulk{}, err
	}
	return map[string]any{"ok": true}, Bulk{}, nil
}

// PageRunBudget is the memory one run may take in each of the page's two workers, as RunBytes estimates it: 1 GiB.
// A worker is a WebAssembly instance that addresses at most 4 GiB and whose memory never shrinks: over the runs a
// page makes one after another Go's heap in it grew to 1.5 times what the largest session held (measured natively on
// one core, the wasm workers' setting: a 32-million-parameter base at batch 16 held 1.6 GiB for LoRA, then 2.2 GiB
// for full fine-tuning, in a heap of 3.3 GiB), and the tab holds two of them.
const PageRunBudget = 1 << 30

// evalDecoderRows is how many test prompts an evaluation decodes side by side (decodeRows).
const evalDecoderRows = decodeRows

// RunBytes estimates the memory a session of cfg on base takes, in bytes, when its longest example is maxT tokens:
// the run's copy of the base, for a method that trains base weights their gradients and AdamW's two moments (and
// intrinsic's copy of the base weights), the activations of a batch (model.ActsBytes; for a large vocabulary the
// classifier's three (B·T, V) buffers are most of it) and an evaluation's decoder (model.DecoderBytes). Adapters'
// own state is small beside these and left out.
func RunBytes(base *model.Model, cfg Config, maxT int) int64 {
	P := int64(base.NumParams())
	n := 4 * P // the run's copy
	switch cfg.Method {
	case MethodFull, MethodTop, MethodIntrinsic:
		n += 4 * 4 * P // gradients, AdamW's m and v, and the trainable vector (intrinsic: θ0 and the pass's weights)
	}
	return n + base.ActsBytes(cfg.Batch, maxT) + base.DecoderBytes(evalDecoderRows)
}

// checkRunMemory refuses a run of c (validated) that RunBytes puts over PageRunBudget, by the field that sizes it
// (batch), with the batch that would fit.
func (e *Engine) checkRunMemory(c Config) error {
	if c.Method == MethodFrozen {
		return nil
	}
	maxT, err := e.longest(c)
	if err != nil {
		return nil // the task's own error is New's to report
	}
	need := RunBytes(e.base, c, maxT)
	if need <= PageRunBudget {
		return nil
	}
	fits := 0
	for b := c.Batch - 1; b >= 1 && fits == 0; b-- {
		one := c
		one.Batch = b
		if RunBytes(e.base, one, maxT) <= PageRunBudget {
			fits = b
		}
	}
	what := fmt.Sprintf("a batch of %d sequences of up to %d tokens over this base's vocabulary of %d", c.Batch, maxT, e.base.Config.VocabSize)
	fix := "use the command line (golora finetune) for this base"
	if fits > 0 {
		fix = fmt.Sprintf("use a batch of at most %d, or the command line (golora finetune)", fits)
	}
	return &FieldError{Field: "batch", Reason: fmt.Sprintf("this run needs about %.1f GiB in each of the page's workers "+
		"(%s), more than the %.0f GiB one can hold: %s", float64(need)/(1<<30), what, float64(PageRunBudget)/(1<<30), fix)}
}

// longest is the longest training or validation example of c's task in tokens (cached by the task's settings and the
// base), which sizes a run's activations.
func (e *Engine) longest(c Config) (int, error) {
	key := fmt.Sprintf("%s|%d|%d|%d|%d|%s|%p", c.Task, c.TaskSeed, c.Difficulty, c.Facts, len(c.Custom), e.baseFile, e.base)
	if c.Task == "custom" && len(c.Custom) > 0 {
		key += "|" + c.Custom[0].Prompt + c.Custom[len(c.Custom)-1].Completion
	}
	if t, ok := e.longestCache[key]; ok {
		return t, nil
	}
	task, err := buildTask(c)
	if err != nil {
		return 0, err
	}
	n := 1
	for _, set := range [][]data.Example{task.Train, task.Val} {
		seqs, err := data.EncodeExamples(e.tok, set, e.base.Config.SeqLen, "data")
		if err != nil {
			return 0, err
		}
		n = max(n, maxLen(seqs))
	}
	if e.longestCache == nil {
		e.longestCache = map[string]int{}
	}
	e.longestCache[key] = n
	return n, nil
}
