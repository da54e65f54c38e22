package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"golora/core/train"
)

// The sweep chart renders a real PNG from sweep -json lines.
func TestPlotSweep(t *testing.T) {
	lines := `{"task":"facts","method":"lora","rank":1,"targets":["q","v"],"trainable_params":1344,"accuracy":0}
{"task":"facts","method":"lora","rank":4,"targets":["q","v"],"trainable_params":5376,"accuracy":0.05}
{"task":"facts","method":"lora","rank":16,"targets":["q","v"],"trainable_params":21504,"accuracy":0.19}
{"task":"facts","method":"full","rank":0,"trainable_params":431136,"accuracy":0.98}`
	var results []train.Result
	for _, l := range strings.Split(lines, "\n") {
		var r train.Result
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		results = append(results, r)
	}
	path := filepath.Join(t.TempDir(), "sweep.png")
	if dir := os.Getenv("GOLORA_PLOT_DIR"); dir != "" { // to look at it
		path = filepath.Join(dir, "sweep.png")
	}
	require.NoError(t, plotSweep(path, "facts", results))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 1000)
	require.Error(t, plotSweep(path, "facts", results[3:]), "no LoRA runs to plot")
}

// A sweep of one rank, or of one rate, draws: its log axis holds a single value (gonum widened it to 0 and panicked).
func TestPlotSingleValue(t *testing.T) {
	dir := t.TempDir()
	one := []train.Result{
		{Task: "dates.jsonl", Method: train.MethodLoRA, MethodSettings: train.MethodSettings{Rank: 1, Targets: []string{"q", "v"}},
			TrainableParams: 1344, Accuracy: 0.5, ValLoss: 0.3, LR: 2e-2},
		{Task: "dates.jsonl", Method: train.MethodFull, TrainableParams: 431136, Accuracy: 1, ValLoss: 0.01, LR: 1e-3},
	}
	require.NoError(t, plotSweep(filepath.Join(dir, "rank.png"), "dates.jsonl", one))
	require.NoError(t, plotSweep(filepath.Join(dir, "lora-only.png"), "dates.jsonl", one[:1]))
	require.NoError(t, plotLRSweep(filepath.Join(dir, "lr.png"), "dates.jsonl", one[:1]))
	for _, name := range []string{"rank.png", "lora-only.png", "lr.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		_, err = png.Decode(f)
		f.Close()
		require.NoError(t, err, name)
	}
}
