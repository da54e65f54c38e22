package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenSpecs: a sweep's -train-tokens list splits on commas, except inside a chars: or ids: value (the last).
func TestTokenSpecs(t *testing.T) {
	assert.Equal(t, []string{""}, tokenSpecs(""))
	assert.Equal(t, []string{"auto"}, tokenSpecs("auto"))
	assert.Equal(t, []string{"none", "auto", "all-in-data"}, tokenSpecs("none, auto,all-in-data"))
	assert.Equal(t, []string{"none", "ids:50,51"}, tokenSpecs("none,ids:50,51"))
	assert.Equal(t, []string{"chars:,;"}, tokenSpecs("chars:,;"))
}

// TestFinetuneTrainTokens: finetune -train-tokens says which rows train, counts them in the JSON result, writes them
// into the adapter (trainable_token_indices), and evaluate and merge read them back; a sweep runs each rank once per
// value of its list and full fine-tuning once, without rows.
func TestFinetuneTrainTokens(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	plain, _, err := finetuneJSON(t, args...)
	require.NoError(t, err)
	out := filepath.Join(dir, "with-rows")
	res, stderr, err := finetuneJSON(t, append(args[:len(args):len(args)], "-train-tokens", "chars:0123456789", "-out", out)...)
	require.NoError(t, err)
	assert.Contains(t, stderr, "train-tokens chars:0123456789: the rows of 10 tokens train: '0' '1'")
	assert.Contains(t, stderr, "r=2 on q,v + 10 token rows")
	assert.Equal(t, 10, res.TokenRows)
	assert.Equal(t, plain.TrainableParams+10*16, res.TrainableParams, "the rows counted (width 16)")
	cfg, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(cfg, &fields))
	assert.JSONEq(t, "[50,51,52,53,54,55,56,57,58,59]", string(fields["trainable_token_indices"]))

	base := args[1]
	data := args[3]
	evalOut, _, err := capture(t, func() error {
		return runEvaluate([]string{"-base", base, "-adapter", out, "-data", data, "-json"})
	})
	require.NoError(t, err)
	var ev struct {
		ValLoss float32 `json:"val_loss"`
	}
	require.NoError(t, json.Unmarshal([]byte(evalOut), &ev))
	assert.Equal(t, res.ValLoss, ev.ValLoss, "evaluate with the adapter and its rows gives the run's validation loss")
	merged := filepath.Join(dir, "merged.bin")
	_, _, err = capture(t, func() error {
		return runMerge([]string{"-base", base, "-adapter", out, "-llama2c", merged})
	})
	require.NoError(t, err)
	assert.FileExists(t, merged)

	_, _, err = capture(t, func() error { return runEvaluate([]string{"-base", base, "-data", data, "-train-tokens", "auto"}) })
	assert.ErrorContains(t, err, "evaluate trains nothing")

	sweepArgs := []string{"-base", base, "-data", data, "-ranks", "2", "-steps", "4", "-batch", "4", "-warmup", "1",
		"-eval-every", "0", "-train-tokens", "auto,none,ids:50,51", "-json"}
	sout, _, err := capture(t, func() error { return runSweep(sweepArgs) })
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(sout), "\n")
	require.Len(t, lines, 4, "r=2 with auto's rows, without rows, with two rows, then full")
	var rows []int
	for _, l := range lines {
		var r struct {
			Method    string `json:"method"`
			TokenRows int    `json:"token_rows"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		rows = append(rows, r.TokenRows)
	}
	assert.Equal(t, []int{0, 2, 0}, rows[1:], "(auto first: the unseen-characters check before the sweep takes no rows)")
}
