package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/train"
)

// finetuneJSON runs `golora finetune args... -json` and decodes its result.
func finetuneJSON(t *testing.T, args ...string) (train.Result, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	runErr := runFinetune(append(args, "-json"))
	os.Stdout = stdout
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	var res train.Result
	if runErr == nil {
		require.NoError(t, json.Unmarshal(out, &res), "finetune -json printed %q", out)
	}
	return res, runErr
}

// TestFinetuneResume: a run continued from a -resume file (its state after 4 of 8 steps) ends exactly where the
// uninterrupted run ends; the file is removed once the run completes; a file from other settings is refused and kept.
func TestFinetuneResume(t *testing.T) {
	dir := t.TempDir()
	basePath, _, _ := tinyRun(t, dir)
	dataPath := filepath.Join(dir, "data.jsonl")
	var lines []byte
	for i := range 40 {
		lines = fmt.Appendf(lines, "{\"prompt\": \"%d+1=\", \"completion\": \"%d\"}\n", i, i+1)
	}
	require.NoError(t, os.WriteFile(dataPath, lines, 0o644))
	args := []string{"-base", basePath, "-data", dataPath, "-rank", "2", "-alpha", "4", "-steps", "8", "-batch", "4",
		"-warmup", "1", "-eval-every", "4", "-lr", "0.05"}

	whole, err := finetuneJSON(t, args...)
	require.NoError(t, err)

	// The state after 4 steps, as an interrupted `finetune -resume` would have left it.
	var tf trainFlags
	fset := flag.NewFlagSet("finetune", flag.ContinueOnError)
	bf := baseFlags{}
	bf.register(fset)
	tf.register(fset)
	require.NoError(t, fset.Parse(args))
	cfg, err := tf.config()
	require.NoError(t, err)
	base, tok, err := bf.load()
	require.NoError(t, err)
	s, err := train.New(base, tok, cfg)
	require.NoError(t, err)
	_, err = s.Step(4)
	require.NoError(t, err)
	state := filepath.Join(dir, "run.state")
	require.NoError(t, saveSnapshot(s, state))

	_, err = finetuneJSON(t, append(args[:len(args):len(args)], "-rank", "4", "-resume", state)...)
	assert.ErrorContains(t, err, "other settings", "a state file of another run is refused")
	assert.FileExists(t, state, "and kept")

	resumed, err := finetuneJSON(t, append(args[:len(args):len(args)], "-resume", state)...)
	require.NoError(t, err)
	assert.Equal(t, whole.ValLoss, resumed.ValLoss, "the resumed run's final validation loss")
	assert.Equal(t, whole.Accuracy, resumed.Accuracy)
	assert.Equal(t, whole.Steps, resumed.Steps)
	assert.NoFileExists(t, state, "the state file is removed once the run completes")
}
