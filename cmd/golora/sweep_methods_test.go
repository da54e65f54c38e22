package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/train"
)

// `golora sweep -methods` runs each method at its ladder (or -size), one JSON object per run with the method's own
// fields, step time relative to the sweep's full fine-tuning and the decoding cost; -png draws the figure.
func TestSweepMethodsCLI(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)[:4] // -base, -data
	args = append(args, "-steps", "3", "-batch", "4", "-warmup", "1", "-eval-every", "0", "-eval-limit", "4")
	png := filepath.Join(dir, "methods.png")
	stdout, stderr, err := capture(t, func() error {
		return runSweep(append(args, "-methods", "lora,full,top,ia3,prefix-layer", "-size", "lora=1,2", "-size", "prefix-layer=2",
			"-json", "-png", png))
	})
	require.NoError(t, err, stderr)
	var runs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var r map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		runs = append(runs, r)
	}
	require.Len(t, runs, 2+1+2+1+1, "lora at 1 and 2, full, top at its ladder 1,2, ia3, prefix-layer at 2")
	want := []struct {
		method string
		size   float64
	}{{"lora", 1}, {"lora", 2}, {"full", 0}, {"top", 1}, {"top", 2}, {"ia3", 0}, {"prefix-layer", 2}}
	for i, r := range runs {
		assert.Equal(t, want[i].method, r["method"], "run %d", i)
		assert.Equal(t, want[i].size, r["size"], "run %d", i)
		for _, k := range []string{"trainable_params", "state_bytes", "accuracy", "val_loss", "tokens_per_s", "step_ms",
			"step_vs_full", "step_timed_ms", "decode_ms_per_token", "decode_vs_base"} {
			assert.Contains(t, r, k, "run %d (%s)", i, r["method"])
		}
		assert.Equal(t, float64(train.DefaultLR(want[i].method)), float64(float32(r["lr"].(float64))), "its own rate")
	}
	assert.Equal(t, 1.0, runs[2]["step_vs_full"], "full against itself")
	assert.Equal(t, "rank", runs[0]["size_name"])
	assert.Equal(t, 1.0, runs[0]["rank"])
	assert.Equal(t, []any{"q", "v"}, runs[0]["targets"])
	assert.Equal(t, 16.0, runs[0]["alpha"], "alpha fixed across ranks")
	assert.Equal(t, 16.0, runs[1]["alpha"], "alpha fixed across ranks")
	assert.Equal(t, 2.0, runs[4]["layers"])
	assert.Equal(t, []any{"k", "v", "down"}, runs[5]["targets"])
	st, err := os.Stat(png)
	require.NoError(t, err)
	assert.Greater(t, st.Size(), int64(10_000), "the figure")

	// -from draws the runs of sweeps run in parts into one figure, and prints their table.
	part := filepath.Join(dir, "part.jsonl")
	require.NoError(t, os.WriteFile(part, []byte(stdout), 0o644))
	png2 := filepath.Join(dir, "again.png")
	table, _, err := capture(t, func() error { return runSweep([]string{"-from", part + "," + part, "-png", png2}) })
	require.NoError(t, err)
	assert.Equal(t, 7+1, strings.Count(table, "\n"), "a header and each run once (a run given twice keeps its first)")
	assert.FileExists(t, png2)

	// -time-only times the same runs without training; -from takes those timings over the runs' own.
	times, stderr, err := capture(t, func() error {
		return runSweep(append(args, "-methods", "lora,full,top,ia3,prefix-layer", "-size", "lora=1,2", "-size", "prefix-layer=2",
			"-time-only", "-json"))
	})
	require.NoError(t, err, stderr)
	timesPath := filepath.Join(dir, "times.jsonl")
	require.NoError(t, os.WriteFile(timesPath, []byte(times), 0o644))
	var timed []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(times), "\n") {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		timed = append(timed, r)
		assert.Zero(t, r["steps"], "-time-only trains nothing")
		assert.Contains(t, r, "step_vs_full")
		assert.Contains(t, r, "decode_vs_base")
	}
	require.Len(t, timed, 7)
	merged, _, err := capture(t, func() error { return runSweep([]string{"-from", part + "," + timesPath, "-json"}) })
	require.NoError(t, err)
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(merged), "\n") {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		got = append(got, r)
	}
	require.Len(t, got, 7)
	for i := range got {
		assert.Equal(t, timed[i]["step_vs_full"], got[i]["step_vs_full"], "run %d: the timing pass's ratio", i)
		assert.Equal(t, runs[i]["accuracy"], got[i]["accuracy"], "run %d: the trained run's accuracy", i)
	}
	_, _, err = capture(t, func() error { return runSweep(append(args, "-time-only")) })
	assert.ErrorContains(t, err, "give -methods")
	_, _, err = capture(t, func() error { return runSweep([]string{"-from", filepath.Join(dir, "none.jsonl")}) })
	assert.ErrorContains(t, err, "-from")

	stdout, _, err = capture(t, func() error { return runSweep(append(args, "-methods", "top,bitfit")) })
	require.NoError(t, err)
	assert.Contains(t, stdout, "top layers=1")
	assert.Contains(t, stdout, "vs full")

	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{"-methods", "lora,lorax"}, `unknown method "lorax"`},
		{[]string{"-methods", "lora", "-size", "top=1"}, "top is not among the sweep's methods"},
		{[]string{"-methods", "ia3", "-size", "ia3=2"}, "ia3 has no size knob"},
		{[]string{"-methods", "lora", "-lr", "0.1"}, "-lr (each method runs at its own default rate"},
		{[]string{"-methods", "lora", "-full-lr", "0.1"}, "-full-lr"},
		{[]string{"-size", "lora=2"}, "give -methods too"},
		{[]string{"-methods", "lora", "-size", "lora=0"}, `"0" is not a positive whole number`},
		{[]string{"-methods", "lora", "-size", "lora=1", "-size", "lora=2"}, "lora given twice"},
		{[]string{"-methods", "lora", "-lrs", "1e-3", "-size", "lora=1,2"}, "one size"},
	} {
		_, _, err := capture(t, func() error { return runSweep(append(args, tc.extra...)) })
		assert.ErrorContains(t, err, tc.want, "%v", tc.extra)
	}
}
