package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"golora/core/train"
)

// TestPlotMethods draws a methods sweep's figure from made-up results (one series per method, full as a point and a
// line, a skipped run left out) into a PNG; cmd/golora's sweep test draws one from real runs.
func TestPlotMethods(t *testing.T) {
	run := func(method string, size, params int, acc float32, rel float64) sweepRun {
		r := sweepRun{Result: train.Result{Method: method, TrainableParams: params, Accuracy: acc}, StepVsFull: rel}
		r.Size, r.SizeName = size, sizeName(method)
		return r
	}
	runs := []sweepRun{run("lora", 1, 1344, 0.6, 0.7), run("lora", 4, 5376, 0.9, 0.72), run("full", 0, 431136, 1, 1),
		run("top", 1, 100000, 0.5, 0.4), run("ia3", 0, 1400, 0.2, 0.75), {Skipped: "too long", Result: train.Result{Method: "lora"}}}
	path := filepath.Join(t.TempDir(), "m.png")
	require.NoError(t, plotMethods(path, "e2e", runs))
	if dir := os.Getenv("GOLORA_KEEP_PNG"); dir != "" {
		b, _ := os.ReadFile(path)
		_ = os.WriteFile(filepath.Join(dir, "methods-test.png"), b, 0o644)
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(20_000))
	require.Error(t, plotMethods(path, "e2e", runs[5:]), "nothing to plot")
}
