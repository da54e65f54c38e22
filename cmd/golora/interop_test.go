// Tests of the interop paths end to end through the CLI's own functions: the
// stories260K golden output, tasks rendered through its BPE tokenizer, and
// merging an adapter as `golora merge` does.

package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/data"
	"golora/core/model"
	"golora/core/rng"
	"golora/core/train"
	"golora/internal/shared"
)

// loadStories loads stories260K and tok512 through the CLI's -checkpoint/-tokenizer path.
func loadStories(t *testing.T) (*model.Model, *data.BPE) {
	t.Helper()
	bf := baseFlags{checkpoint: shared.Stories260K(t, "stories260K.bin"), tokenizer: shared.Stories260K(t, "tok512.bin")}
	m, tok, err := bf.load()
	require.NoError(t, err)
	bpe, ok := tok.(*data.BPE)
	require.True(t, ok, "tokenizer of a llama2.c checkpoint should be *data.BPE, got %T", tok)
	return m, bpe
}

// TestStories260KGolden: greedy decoding for 200 steps from an empty prompt
// prints llama2.c's own reference output (test_all.py) byte for byte.
func TestStories260KGolden(t *testing.T) {
	want, err := os.ReadFile(shared.Stories260K(t, "golden_greedy_200.txt"))
	require.NoError(t, err)
	m, tok := loadStories(t)
	got, err := generate(m, tok, "", 200, model.Sampler{})
	require.NoError(t, err)
	assert.Equal(t, string(want), got, "generate(stories260K, \"\", 200, greedy) vs golden_greedy_200.txt")
}

// TestStories260KTasks: every example of the generated tasks fits stories260K's
// context through tok512 (EncodeExamples refuses one that does not), and
// decoding a completion's encoding gives the completion back, which exact
// match relies on (Encode adds a dummy-prefix space that Decode drops).
func TestStories260KTasks(t *testing.T) {
	m, tok := loadStories(t)
	for _, name := range data.TaskNames() {
		cfg, err := data.DefaultTaskConfig(name)
		require.NoError(t, err)
		task, err := data.NewTask(cfg)
		require.NoError(t, err)
		longest := 0
		for split, ex := range map[string][]data.Example{"train": task.Train, "val": task.Val, "test": task.Test} {
			seqs, err := data.EncodeExamples(tok, ex, m.Config.SeqLen, name+" "+split)
			require.NoError(t, err)
			for i, e := range ex {
				longest = max(longest, len(seqs[i].Tokens))
				assert.Equal(t, e.Completion, tok.Decode(tok.Encode(e.Completion)), "%s %s example %d: Decode(Encode(completion))", name, split, i)
				assert.Equal(t, e.Prompt, tok.Decode(tok.Encode(e.Prompt)), "%s %s example %d: Decode(Encode(prompt))", name, split, i)
				assert.Equal(t, data.BPEBOS, seqs[i].Tokens[len(seqs[i].Tokens)-1], "%s %s example %d: the target ends with BOS", name, split, i)
			}
		}
		t.Logf("%s: longest sequence %d tokens of stories260K's %d", name, longest, m.Config.SeqLen)
	}
}

// tinyRun saves a random tiny byte-level base into dir, trains a LoRA adapter
// on it for a few steps and writes the adapter as finetune -out does.
func tinyRun(t *testing.T, dir string) (basePath, adapterDir string, s *train.Session) {
	t.Helper()
	cfg := model.Config{Dim: 16, HiddenDim: 40, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: data.ByteVocabSize,
		SeqLen: 24, Tied: true, NormEps: 1e-5, RopeBase: 10000}
	base, err := model.New("tiny", cfg)
	require.NoError(t, err)
	base.Init(rng.New(1))
	basePath = filepath.Join(dir, "base.safetensors")
	require.NoError(t, writeFile(basePath, func(f *os.File) error { return base.Save(f, nil) }))

	var ex []data.Example
	for i := range 40 {
		ex = append(ex, data.Example{Prompt: fmt.Sprintf("%d+1=", i), Completion: fmt.Sprint(i + 1)})
	}
	tc := train.DefaultConfig()
	tc.Task, tc.Custom = "custom", ex
	tc.Rank, tc.Alpha, tc.Targets = 2, 4, []string{"q", "v", "down"}
	tc.Steps, tc.Batch, tc.Warmup, tc.EvalEvery, tc.LR = 6, 4, 1, 0, 5e-2
	s, err = train.New(base, data.NewByteTokenizer(), tc)
	require.NoError(t, err)
	_, err = s.Step(tc.Steps)
	require.NoError(t, err)
	adapterDir = filepath.Join(dir, "adapter")
	_, err = writeRun(s, "base.safetensors", adapterDir)
	require.NoError(t, err)
	return basePath, adapterDir, s
}

// forwardLogits runs m on a fixed batch and returns a copy of the logits.
func forwardLogits(m *model.Model) []float32 {
	const b, tt = 2, 16
	inputs := make([]int, b*tt)
	r := rng.New(3)
	for i := range inputs {
		inputs[i] = r.Intn(m.Config.VocabSize)
	}
	acts := m.NewActs(b, tt)
	m.Forward(acts, inputs, nil, nil, b, tt)
	return append([]float32(nil), acts.Logits[:b*tt*m.Config.VocabSize]...)
}

// TestMergeCLI: `golora merge -base B -adapter DIR -out F -llama2c F2` writes a
// merged model whose logits equal the unmerged adapter's within 1e-4, and the
// llama2.c copy is the same model bit for bit.
func TestMergeCLI(t *testing.T) {
	dir := t.TempDir()
	basePath, adapterDir, s := tinyRun(t, dir)
	out, l2c := filepath.Join(dir, "merged.safetensors"), filepath.Join(dir, "merged.bin")
	require.NoError(t, runMerge([]string{"-base", basePath, "-adapter", adapterDir, "-out", out, "-llama2c", l2c}))

	// The unmerged reference, loaded as generate/evaluate load it.
	bf := baseFlags{base: basePath, adapter: adapterDir}
	unmerged, _, err := bf.load()
	require.NoError(t, err)
	want := forwardLogits(unmerged)
	requireEqualBits(t, "logits of the loaded adapter vs the training session", forwardLogits(s.Model()), want)

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	merged, _, err := model.Load(f, out)
	require.NoError(t, err)
	assert.Empty(t, merged.Methods(), "a merged model carries no adapters")
	got := forwardLogits(merged)
	maxDiff := 0.0
	for i := range want {
		d := math.Abs(float64(want[i] - got[i]))
		maxDiff = math.Max(maxDiff, d)
		assert.InDelta(t, want[i], got[i], 1e-4, "merged vs unmerged logit %d", i)
	}
	t.Logf("max |logit merged - unmerged| = %.3g over %d logits", maxDiff, len(want))
	assert.NotEqual(t, forwardLogits(s.Model().Clone()), got, "merging changed the base (else the test proves nothing)")

	for _, p := range []string{out, l2c} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "%s is readable by all, like an adapter", p)
	}

	raw, err := os.ReadFile(l2c)
	require.NoError(t, err)
	lc, tensors, err := checkpoint.ReadLlama2C(bytes.NewReader(raw), l2c, int64(len(raw)))
	require.NoError(t, err)
	fromC, err := model.FromLlama2C("merged.bin", lc, tensors)
	require.NoError(t, err)
	requireEqualBits(t, "llama2.c copy vs safetensors copy of the merged weights", merged.Params.Data, fromC.Params.Data)

	// Refusals: no adapter, no output.
	assert.ErrorContains(t, runMerge([]string{"-base", basePath, "-out", out}), "-adapter is required")
	assert.ErrorContains(t, runMerge([]string{"-base", basePath, "-adapter", adapterDir}), "-out (or -llama2c) is required")
}

// TestGenerateWithAdapterCLI: generate through -base/-adapter prints what the
// training session's own model generates.
func TestGenerateWithAdapterCLI(t *testing.T) {
	dir := t.TempDir()
	basePath, adapterDir, s := tinyRun(t, dir)
	bf := baseFlags{base: basePath, adapter: adapterDir}
	m, tok, err := bf.load()
	require.NoError(t, err)
	got, err := generate(m, tok, "7+1=", 20, model.Sampler{})
	require.NoError(t, err)
	want, err := generate(s.Model(), data.NewByteTokenizer(), "7+1=", 20, model.Sampler{})
	require.NoError(t, err)
	assert.Equal(t, want, got, "generate with the adapter loaded from disk vs in memory")
	plain, err := generate(s.Model().Clone(), data.NewByteTokenizer(), "7+1=", 20, model.Sampler{})
	require.NoError(t, err)
	t.Logf("with adapter %q, base alone %q", got, plain)
	assert.NotEqual(t, plain, got, "the adapter changes the generation (else the test proves nothing)")

	// A corrupted adapter is refused with the file's name.
	wPath := filepath.Join(adapterDir, "adapter_model.safetensors")
	w, err := os.ReadFile(wPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(wPath, w[:len(w)/2], 0o644))
	_, _, err = bf.load()
	assert.ErrorContains(t, err, wPath, "loading a truncated adapter")
}

func requireEqualBits(t *testing.T, what string, want, got []float32) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: length", what)
	for i := range want {
		require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s: index %d (%g vs %g)", what, i, want[i], got[i])
	}
}
