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
