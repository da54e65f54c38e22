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

// `golora sweep -lrs` runs LoRA (at the rank of -ranks) and full fine-tuning at each rate and ends its JSON lines
// with the best rates and their ratio; several ranks or -full-lr beside it are refused.
func TestSweepLRsCLI(t *testing.T) {
	dir := t.TempDir()
	basePath, _, _ := tinyRun(t, dir)
	dataPath := filepath.Join(dir, "data.jsonl")
	var lines []byte
	for i := range 40 {
		lines = fmt.Appendf(lines, "{\"prompt\": \"%d+1=\", \"completion\": \"%d\"}\n", i, i+1)
	}
	require.NoError(t, os.WriteFile(dataPath, lines, 0o644))
	args := []string{"-base", basePath, "-data", dataPath, "-ranks", "2", "-alpha", "4", "-steps", "4", "-batch", "4",
		"-warmup", "1", "-eval-every", "0", "-eval-limit", "4", "-lrs", "1e-3,3e-2"}

	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	runErr := runSweep(append(args, "-json", "-png", filepath.Join(dir, "lr.png")))
	os.Stdout = stdout
	require.NoError(t, w.Close())
	require.NoError(t, runErr)
	sc := bufio.NewScanner(r)
	var results []train.Result
	var summary train.LRSummary
	for sc.Scan() {
		if len(results) == 4 {
			require.NoError(t, json.Unmarshal(sc.Bytes(), &summary))
			break
		}
		var res train.Result
		require.NoError(t, json.Unmarshal(sc.Bytes(), &res))
		results = append(results, res)
	}
	require.Len(t, results, 4, "two rates for each method")
	assert.Equal(t, 2, results[0].Rank, "the rank of -ranks")
	assert.Equal(t, []float32{1e-3, 3e-2, 1e-3, 3e-2}, []float32{results[0].LR, results[1].LR, results[2].LR, results[3].LR})
	assert.Equal(t, train.MethodFull, results[2].Method)
	bestL, _ := train.BestLR(results, train.MethodLoRA)
	bestF, _ := train.BestLR(results, train.MethodFull)
	assert.Equal(t, bestL.LR, summary.BestLoRA)
	assert.Equal(t, bestF.LR, summary.BestFull)
	assert.InDelta(t, float64(bestL.LR)/float64(bestF.LR), summary.Ratio, 1e-9)
	_, err = os.Stat(filepath.Join(dir, "lr.png"))
	assert.NoError(t, err, "the loss-vs-rate chart")

	err = runSweep(append(args, "-ranks", "1,2"))
	assert.ErrorContains(t, err, "-ranks (give one rank with -lrs) does not apply")
	err = runSweep(append(args, "-full-lr", "1e-3"))
	assert.ErrorContains(t, err, "-full-lr does not apply")
	err = runSweep(append(args[:len(args)-1], "1e-3,x"))
	assert.ErrorContains(t, err, `-lrs: "x" is not a positive number`)
}
