package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/train"
)

// TestFinetuneEveryMethod: `finetune -method M -out DIR` for every method that writes an adapter; `evaluate -adapter
// DIR` scores exactly what the run's final evaluation scored, `generate -adapter DIR` runs, `merge` folds what merges
// and says why the rest cannot, and `finetune -adapter DIR` continues the adapter's own method.
func TestFinetuneEveryMethod(t *testing.T) {
	dir := t.TempDir()
	base := tinyData(t, dir)
	args := append([]string(nil), base...)
	for i := 0; i < len(args); i += 2 { // the method's own rate
		if args[i] == "-lr" {
			args = append(args[:i:i], args[i+2:]...)
		}
	}
	for _, tc := range []struct {
		method string
		extra  []string
		config string
		merges bool
	}{
		{"lora", nil, train.PEFTConfigName, true},
		{"lora", []string{"-init", "pissa", "-lr-ratio-b", "4"}, train.PEFTConfigName, true},
		{"dora", nil, train.PEFTConfigName, true},
		{"ia3", nil, train.PEFTConfigName, true},
		{"top", []string{"-layers", "1"}, train.GoloraConfigName, true},
		{"bitfit", nil, train.GoloraConfigName, false},
		{"adapter-h", []string{"-bottleneck", "4"}, train.GoloraConfigName, false},
		{"adapter-l", []string{"-bottleneck", "2"}, train.GoloraConfigName, false},
		{"prefix-embed", []string{"-prefix-len", "2"}, train.PEFTConfigName, false},
		{"prefix-layer", []string{"-prefix-len", "3"}, train.PEFTConfigName, false},
		{"prefix-layer", []string{"-prefix-len", "2", "-prefix-projection"}, train.PEFTConfigName, false},
	} {
		name := tc.method + strings.Join(tc.extra, "")
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name)
			runArgs := append(append(append([]string(nil), args...), "-method", tc.method, "-out", out), tc.extra...)
			res, stderr, err := finetuneJSON(t, runArgs...)
			require.NoError(t, err, stderr)
			assert.Equal(t, tc.method, res.Method)
			assert.FileExists(t, filepath.Join(out, train.AdapterWeightsName))
			assert.FileExists(t, filepath.Join(out, tc.config))
			if tc.method != "lora" && tc.method != "dora" {
				assert.Contains(t, stderr, "note: -rank", "a flag the method does not read is noted")
			}

			stdout, stderr, err := capture(t, func() error {
				return runEvaluate([]string{"-base", args[1], "-adapter", out, "-data", args[3], "-json"})
			})
			require.NoError(t, err, stderr)
			var ev train.Eval
			require.NoError(t, json.Unmarshal([]byte(stdout), &ev))
			if len(tc.extra) > 1 && tc.extra[1] == "pissa" { // a plain rank-2r LoRA on the base: the same model up to rounding
				assert.InDelta(t, res.ValLoss, ev.ValLoss, 1e-4)
			} else {
				assert.Equal(t, res.ValLoss, ev.ValLoss, "evaluate -adapter scores the trained model")
				assert.Equal(t, res.Accuracy, ev.Accuracy)
			}

			_, stderr, err = capture(t, func() error {
				return runGenerate([]string{"-base", args[1], "-adapter", out, "-prompt", "3+1=", "-steps", "12"})
			})
			require.NoError(t, err, stderr)

			merged := filepath.Join(dir, name+"-merged.safetensors")
			_, stderr, err = capture(t, func() error {
				return runMerge([]string{"-base", args[1], "-adapter", out, "-out", merged})
			})
			if tc.merges {
				require.NoError(t, err, stderr)
				stdout, stderr, err := capture(t, func() error {
					return runEvaluate([]string{"-base", merged, "-data", args[3], "-json"})
				})
				require.NoError(t, err, stderr)
				var mev train.Eval
				require.NoError(t, json.Unmarshal([]byte(stdout), &mev))
				assert.InDelta(t, ev.ValLoss, mev.ValLoss, 1e-3, "the merged model")
			} else {
				assert.ErrorContains(t, err, tc.method+" cannot be merged")
			}

			if tc.method != "top" { // top's files make a plain base: a further run takes -method
				cont, stderr, err := finetuneJSON(t, append(append([]string(nil), args...), "-adapter", out, "-steps", "2", "-warmup", "0")...)
				require.NoError(t, err, stderr)
				assert.Equal(t, tc.method, cont.Method, "-adapter continues the adapter's method")
			}
		})
	}
}

// TestFinetuneMethodRefusals: a PiSSA rank that has no plain-LoRA form is refused before training when -out is
// given; an adapter folder holding a whole model or nothing says so.
func TestFinetuneMethodRefusals(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	_, _, err := finetuneJSON(t, append(args, "-init", "pissa", "-rank", "5", "-out", filepath.Join(dir, "p"))...)
	assert.ErrorContains(t, err, "plain LoRA of rank 10")
	assert.NoDirExists(t, filepath.Join(dir, "p"))

	full := filepath.Join(dir, "full")
	require.NoError(t, os.MkdirAll(full, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(full, "model.safetensors"), []byte("x"), 0o644))
	_, _, err = capture(t, func() error { return runEvaluate([]string{"-base", args[1], "-adapter", full, "-data", args[3]}) })
	assert.ErrorContains(t, err, "use it with -base "+filepath.Join(full, "model.safetensors"))
	_, _, err = capture(t, func() error { return runEvaluate([]string{"-base", args[1], "-adapter", dir, "-data", args[3]}) })
	assert.ErrorContains(t, err, "no adapter_config.json or golora_adapter.json")
	_, _, err = finetuneJSON(t, append(args, "-method", "top", "-layers", "9")...)
	assert.ErrorContains(t, err, "layers: must be between 1 and 2")
}
