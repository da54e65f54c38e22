package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/train"
)

// `golora sweep -method intrinsic` runs intrinsic at each of -dims (LoRA at -ranks when given) and full
// fine-tuning, and ends its JSON lines with d90 and LoRA's sizes; it refuses -lrs and -dims without it.
func TestSweepIntrinsicCLI(t *testing.T) {
	dir := t.TempDir()
	basePath, _, _ := tinyRun(t, dir)
	dataPath := filepath.Join(dir, "data.jsonl")
	var lines []byte
	for i := range 40 {
		lines = fmt.Appendf(lines, "{\"prompt\": \"%d+1=\", \"completion\": \"%d\"}\n", i, i+1)
	}
	require.NoError(t, os.WriteFile(dataPath, lines, 0o644))
	args := []string{"-base", basePath, "-data", dataPath, "-steps", "3", "-batch", "4", "-warmup", "1",
		"-eval-every", "0", "-eval-limit", "4", "-method", "intrinsic", "-dim-lr-scale=false", "-dims", "5,50", "-lr", "0.05"}

	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	runErr := runSweep(append(args, "-ranks", "1", "-json", "-png", filepath.Join(dir, "d.png")))
	os.Stdout = stdout
	require.NoError(t, w.Close())
	require.NoError(t, runErr)
	sc := bufio.NewScanner(r)
	var results []train.Result
	var summary intrinsicSummary
	var out []byte
	for sc.Scan() {
		out = append(append(out, sc.Bytes()...), '\n')
		if len(results) == 4 {
			require.NoError(t, json.Unmarshal(sc.Bytes(), &summary))
			break
		}
		var res train.Result
		require.NoError(t, json.Unmarshal(sc.Bytes(), &res))
		results = append(results, res)
	}
	require.Len(t, results, 4, "LoRA r=1, intrinsic d=5 and d=50, full")
	assert.Equal(t, []string{"lora", "intrinsic", "intrinsic", "full"},
		[]string{results[0].Method, results[1].Method, results[2].Method, results[3].Method})
	assert.Equal(t, train.DefaultLR(train.MethodLoRA), results[0].LR, "LoRA keeps its rate")
	assert.Equal(t, float32(0.05), results[1].LR, "-lr is intrinsic's")
	assert.Equal(t, []int{5, 50}, []int{results[1].TrainableParams, results[2].TrainableParams})
	assert.True(t, summary.Found)
	assert.Equal(t, results[3].Accuracy, summary.FullAccuracy)
	require.NotEmpty(t, summary.LoRA)
	assert.Equal(t, "q,v", summary.LoRA[0].Targets)
	assert.Equal(t, results[0].TrainableParams, summary.LoRA[0].Trainable, "LoRA r=1's size, computed and trained")
	_, err = os.Stat(filepath.Join(dir, "d.png"))
	assert.NoError(t, err, "the accuracy-vs-size chart")

	// -from redraws the chart from those lines without training.
	saved := filepath.Join(dir, "sweep.jsonl")
	require.NoError(t, os.WriteFile(saved, out, 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "d.png")))
	_, _, err = capture(t, func() error {
		return runSweep([]string{"-base", basePath, "-method", "intrinsic", "-from", saved, "-png", filepath.Join(dir, "d.png")})
	})
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "d.png"))
	assert.NoError(t, err, "the chart redrawn")
	err = runSweep([]string{"-base", basePath, "-from", filepath.Join(dir, "missing.jsonl")})
	assert.ErrorContains(t, err, "-from")

	err = runSweep(append(args, "-lrs", "1e-3"))
	assert.ErrorContains(t, err, "leave out -method intrinsic")
	err = runSweep([]string{"-base", basePath, "-dims", "5"})
	assert.ErrorContains(t, err, "-dims: the dimensions of an intrinsic sweep")
	err = runSweep(append(args[:len(args)-4], "-dims", "5,x"))
	assert.ErrorContains(t, err, `-dims: "x" is not a number`)
	err = runSweep(append(args[:len(args)-4], "-dims", "0"))
	assert.ErrorContains(t, err, "intrinsic_dim")
}

// TestFinetuneIntrinsicOut: `finetune -method intrinsic -out DIR` writes θ0 + P z as DIR/model.safetensors, which
// evaluates exactly as the run's own final evaluation did (the run computes with those very bits).
func TestFinetuneIntrinsicOut(t *testing.T) {
	dir := t.TempDir()
	args := append(tinyData(t, dir), "-method", "intrinsic", "-intrinsic-dim", "20", "-lr", "0.05")
	out := filepath.Join(dir, "intrinsic")
	res, stderr, err := finetuneJSON(t, append(args, "-out", out)...)
	require.NoError(t, err)
	path := filepath.Join(out, "model.safetensors")
	assert.Contains(t, stderr, "wrote "+path)
	assert.Equal(t, 20, res.TrainableParams)
	stdout, stderr, err := capture(t, func() error {
		return runEvaluate([]string{"-base", path, "-data", args[3], "-json"})
	})
	require.NoError(t, err, stderr)
	var ev train.Eval
	require.NoError(t, json.Unmarshal([]byte(stdout), &ev))
	assert.Equal(t, res.ValLoss, ev.ValLoss, "the written model is the one the run computed with")
	assert.Equal(t, res.Accuracy, ev.Accuracy)
}
