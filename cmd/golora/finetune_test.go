package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/model"
	"golora/core/train"
)

// capture runs f with os.Stdout and os.Stderr going to pipes and returns what it printed on each.
func capture(t *testing.T, f func() error) (stdout, stderr string, err error) {
	t.Helper()
	outR, outW, perr := os.Pipe()
	require.NoError(t, perr)
	errR, errW, perr := os.Pipe()
	require.NoError(t, perr)
	var outBuf, errBuf bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { io.Copy(&outBuf, outR); done <- struct{}{} }()
	go func() { io.Copy(&errBuf, errR); done <- struct{}{} }()
	saveOut, saveErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outW, errW
	err = f()
	os.Stdout, os.Stderr = saveOut, saveErr
	require.NoError(t, outW.Close())
	require.NoError(t, errW.Close())
	<-done
	<-done
	return outBuf.String(), errBuf.String(), err
}

// finetuneJSON runs `golora finetune args... -json` and decodes its result; stderr is what it printed there.
func finetuneJSON(t *testing.T, args ...string) (res train.Result, stderr string, err error) {
	t.Helper()
	out, stderr, err := capture(t, func() error { return runFinetune(append(args, "-json")) })
	if err == nil {
		require.NoError(t, json.Unmarshal([]byte(out), &res), "finetune -json printed %q", out)
	}
	return res, stderr, err
}

// tinyData writes a tiny base and a JSON Lines task beside it, and returns finetune's arguments for a short run.
func tinyData(t *testing.T, dir string) []string {
	t.Helper()
	basePath, _, _ := tinyRun(t, dir)
	dataPath := filepath.Join(dir, "data.jsonl")
	var lines []byte
	for i := range 40 {
		lines = fmt.Appendf(lines, "{\"prompt\": \"%d+1=\", \"completion\": \"%d\"}\n", i, i+1)
	}
	require.NoError(t, os.WriteFile(dataPath, lines, 0o644))
	return []string{"-base", basePath, "-data", dataPath, "-rank", "2", "-alpha", "4", "-steps", "8", "-batch", "4",
		"-warmup", "1", "-eval-every", "4", "-lr", "0.05"}
}

// stateAfter returns the state file of the run of args after steps steps, as an interrupted `finetune -resume`
// would have left it.
func stateAfter(t *testing.T, dir string, steps int, args ...string) string {
	t.Helper()
	var tf trainFlags
	fset := flag.NewFlagSet("finetune", flag.ContinueOnError)
	bf := baseFlags{}
	bf.register(fset)
	tf.register(fset, flagsFinetune)
	require.NoError(t, fset.Parse(args))
	cfg, err := tf.config()
	require.NoError(t, err)
	base, tok, err := bf.load()
	require.NoError(t, err)
	s, err := train.New(base, tok, cfg)
	require.NoError(t, err)
	_, err = s.Step(steps)
	require.NoError(t, err)
	state := filepath.Join(dir, fmt.Sprintf("run-%d.state", steps))
	require.NoError(t, saveSnapshot(s, state))
	return state
}

// TestFinetuneResume: a run continued from a -resume file (its state after 4 of 8 steps) ends exactly where the
// uninterrupted run ends; the file is removed once the run completes; a file from other settings is refused and kept.
func TestFinetuneResume(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	whole, _, err := finetuneJSON(t, args...)
	require.NoError(t, err)
	state := stateAfter(t, dir, 4, args...)

	_, _, err = finetuneJSON(t, append(args[:len(args):len(args)], "-rank", "4", "-resume", state)...)
	assert.ErrorContains(t, err, "other settings", "a state file of another run is refused")
	assert.FileExists(t, state, "and kept")

	resumed, stderr, err := finetuneJSON(t, append(args[:len(args):len(args)], "-resume", state)...)
	require.NoError(t, err)
	assert.Contains(t, stderr, "resuming at step 4 of 8")
	assert.Equal(t, whole.ValLoss, resumed.ValLoss, "the resumed run's final validation loss")
	assert.Equal(t, whole.Accuracy, resumed.Accuracy)
	assert.Equal(t, whole.Steps, resumed.Steps)
	assert.NoFileExists(t, state, "the state file is removed once the run completes")
}

// TestFinetuneFullOut: `finetune -method full -out DIR -resume F` writes the fine-tuned model as DIR/model.safetensors
// (Hugging Face names, the config in the metadata), which evaluates as the run's own final evaluation did, and only
// then removes the resume state. Before, the run trained to its end, removed the state and failed on -out.
func TestFinetuneFullOut(t *testing.T) {
	dir := t.TempDir()
	args := append(tinyData(t, dir), "-method", "full", "-lr", "0.005")
	state := stateAfter(t, dir, 4, args...)
	out := filepath.Join(dir, "full")
	res, stderr, err := finetuneJSON(t, append(args, "-out", out, "-resume", state)...)
	require.NoError(t, err)
	assert.NoFileExists(t, state, "the state goes once the model is written")
	path := filepath.Join(out, "model.safetensors")
	assert.Contains(t, stderr, "wrote "+path)

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	m, meta, err := model.Load(f, path)
	require.NoError(t, err)
	assert.Equal(t, "byte", meta["golora.tokenizer"])
	assert.Contains(t, meta["golora.finetune"], `"Method":"full"`)
	assert.Contains(t, meta, "golora.config", "the config is in the metadata")
	st, err := f.Stat()
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	stdout, stderr, err := capture(t, func() error {
		return runEvaluate([]string{"-base", path, "-data", args[3], "-json"})
	})
	require.NoError(t, err, stderr)
	var ev train.Eval
	require.NoError(t, json.Unmarshal([]byte(stdout), &ev))
	assert.Equal(t, res.ValLoss, ev.ValLoss, "the written model is the trained one")
	assert.Equal(t, m.Config.Dim, 16)
}

// TestFinetuneChecksOutputsFirst: an output that cannot be written is refused before any training, and nothing is
// created (no state file, no log).
func TestFinetuneChecksOutputsFirst(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	state, logPath := filepath.Join(dir, "run.state"), filepath.Join(dir, "run.jsonl")
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{"-out", file}, "-out " + file + ": is a file"},
		{[]string{"-out", filepath.Join(file, "sub")}, "is a file, not a folder"},
		{[]string{"-out", filepath.Join(dir, "ok"), "-resume", filepath.Join(file, "x.state")}, "-resume"},
		{[]string{"-out", filepath.Join(dir, "ok"), "-resume", state, "-log", dir}, "-log " + dir + ": is a folder"},
		{[]string{"-method", "frozen", "-out", filepath.Join(dir, "ok")}, "a frozen run trains nothing"},
	} {
		_, stderr, err := finetuneJSON(t, append(args[:len(args):len(args)], tc.extra...)...)
		assert.ErrorContains(t, err, tc.want, "%v", tc.extra)
		assert.NotContains(t, stderr, "step", "%v: refused before training", tc.extra)
		assert.NoFileExists(t, state)
		assert.NoFileExists(t, logPath)
		assert.NoDirExists(t, filepath.Join(dir, "ok"))
	}
}

// TestFinishKeepsState: when writing the outputs fails after training, the finished run stays in the resume file,
// and the same command with a good -out writes them without training again.
func TestFinishKeepsState(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	whole, _, err := finetuneJSON(t, args...)
	require.NoError(t, err)
	state := stateAfter(t, dir, 8, args...)
	require.NoError(t, os.Remove(state))

	// A finished session whose -out cannot be written (its parent is a file).
	var tf trainFlags
	fset := flag.NewFlagSet("finetune", flag.ContinueOnError)
	bf := baseFlags{}
	bf.register(fset)
	tf.register(fset, flagsFinetune)
	require.NoError(t, fset.Parse(args))
	cfg, err := tf.config()
	require.NoError(t, err)
	base, tok, err := bf.load()
	require.NoError(t, err)
	s, err := train.New(base, tok, cfg)
	require.NoError(t, err)
	_, err = s.Step(8)
	require.NoError(t, err)
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	_, err = finish(s, bf.name(), filepath.Join(file, "out"), state)
	assert.ErrorContains(t, err, "the finished run is kept in "+state)
	require.FileExists(t, state)

	out := filepath.Join(dir, "out")
	res, stderr, err := finetuneJSON(t, append(args[:len(args):len(args)], "-resume", state, "-out", out)...)
	require.NoError(t, err)
	assert.Contains(t, stderr, "resuming at step 8 of 8")
	assert.Equal(t, whole.ValLoss, res.ValLoss)
	assert.Positive(t, res.Seconds, "a run resumed at its end reports the training time it took")
	assert.FileExists(t, filepath.Join(out, "adapter_model.safetensors"))
	assert.NoFileExists(t, state)
}

// TestFinetuneMessages: the progress line has an ETA, a run without -out says the adapter is not kept and how to
// keep it, the closing line gives the total time and what was written where, and -log holds one JSON line per step,
// one per evaluation and the result.
func TestFinetuneMessages(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	_, stderr, err := finetuneJSON(t, args...)
	require.NoError(t, err)
	assert.Contains(t, stderr, "ETA ")
	assert.Contains(t, stderr, "no -out: the trained adapter will not be kept (add -out DIR to write it)")
	assert.Regexp(t, `finetune: done in [0-9.]+s \(training [0-9.]+s, 2 evaluations [0-9.]+s\); accuracy [0-9.]+%, val loss [0-9.]+; wrote nothing \(no -out\)`, stderr)

	out, logPath := filepath.Join(dir, "out"), filepath.Join(dir, "run.jsonl")
	_, stderr, err = finetuneJSON(t, append(args, "-out", out, "-log", logPath)...)
	require.NoError(t, err)
	assert.NotContains(t, stderr, "will not be kept")
	assert.Contains(t, stderr, "wrote "+filepath.Join(out, "adapter_model.safetensors"))
	assert.Contains(t, stderr, "and adapter_config.json; the log to "+logPath)
	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer f.Close()
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	for step := 1; sc.Scan(); {
		var l logLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "line %q", sc.Text())
		count[l.Type]++
		if l.Type == "step" {
			assert.Equal(t, step, l.Step.Step, "one line per step")
			step++
		}
	}
	assert.Equal(t, map[string]int{"step": 8, "eval": 2, "result": 1}, count)
}

// TestFinetuneWarmupLongerThanRun: the CLI refuses a warmup longer than the run, as the page does (Validate),
// instead of capping it quietly.
func TestFinetuneWarmupLongerThanRun(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	noWarmup := []string{}
	for i := 0; i < len(args); i += 2 {
		if args[i] != "-warmup" {
			noWarmup = append(noWarmup, args[i], args[i+1])
		}
	}
	_, _, err := finetuneJSON(t, noWarmup...) // the default warmup, 20, of an 8-step run
	assert.ErrorContains(t, err, "warmup: must be between 0 and steps (8)")
}

// TestCommandFlags: every command's -h starts with a one-line description and an example and prints float defaults
// as written; each command takes only the flags it uses, and says why when given another's.
func TestCommandFlags(t *testing.T) {
	longFloat := regexp.MustCompile(`\d\.\d{8,}`)
	for _, c := range commands() {
		_, stderr, err := capture(t, func() error { return c.run([]string{"-h"}) })
		assert.ErrorIs(t, err, flag.ErrHelp, c.name)
		first, _, _ := strings.Cut(stderr, "\n")
		assert.Equal(t, "golora "+c.name+": "+c.summary, first, "%s -h starts with its description", c.name)
		assert.Contains(t, stderr, "\nExample:\n  golora "+c.name+" ", "%s -h gives an example", c.name)
		assert.False(t, longFloat.MatchString(stderr), "%s -h prints a float default unrounded: %s", c.name, longFloat.FindString(stderr))
		if c.name == "sweep" {
			assert.Contains(t, stderr, "(default 0.001)", "sweep -full-lr")
		}
		if c.name == "evaluate" {
			for _, f := range []string{"-steps", "-lr", "-warmup", "-rank", "-method", "-out"} {
				assert.NotContains(t, stderr, "\n  "+f+" ", "evaluate -h lists %s", f)
			}
		}
	}
	for _, tc := range []struct {
		run  func([]string) error
		args []string
		want string
	}{
		{runEvaluate, []string{"-steps", "5"}, "-steps: evaluate trains nothing"},
		{runSweep, []string{"-rank", "4"}, "-rank: a sweep trains one LoRA run per rank of -ranks"},
		{runSweep, []string{"-method", "full"}, "-method: a sweep runs LoRA at each of -ranks, then full fine-tuning"},
		{runSweep, []string{"-full-lr", "0"}, "-full-lr: must be a positive number"},
		{runFinetune, []string{"extra"}, "unexpected arguments"},
		{runGenerate, []string{"-temperature", "NaN"}, "-temperature: must be between 0 (greedy) and 10, got NaN"},
		{runGenerate, []string{"-temperature", "-1"}, "-temperature: must be between 0"},
		{runGenerate, []string{"-temperature", "1e30"}, "-temperature: must be between 0"},
		{runGenerate, []string{"-topp", "NaN"}, "-topp: must be between 0 and 1"},
		{runGenerate, []string{"-topp", "-3"}, "-topp: must be between 0 and 1"},
		{runGenerate, []string{"-topp", "5"}, "-topp: must be between 0 and 1"},
	} {
		_, _, err := capture(t, func() error { return tc.run(tc.args) })
		assert.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}

// TestSweepConfigs: the sweep's LoRA runs keep LoRA's learning rate (or -lr) and alpha 16 at every rank (or -alpha;
// -alpha 0: alpha = 4r) whatever the full run's rate; before, -method full gave every LoRA run full fine-tuning's rate.
func TestSweepConfigs(t *testing.T) {
	parse := func(args ...string) []train.Config {
		fs := newFlagSet("sweep")
		var tf trainFlags
		sf := sweepFlags{ranks: "1,8", full: true, fullLR: 1e-3}
		tf.register(fs, flagsSweep)
		require.NoError(t, parseFlags(fs, args, sweepHints))
		runs, err := sf.configs(&tf)
		require.NoError(t, err)
		return runs
	}
	runs := parse()
	require.Len(t, runs, 3)
	for i, r := range []int{1, 8} {
		assert.Equal(t, train.MethodLoRA, runs[i].Method)
		assert.Equal(t, r, runs[i].Rank)
		assert.Equal(t, train.DefaultLR(train.MethodLoRA), runs[i].LR, "r=%d: LoRA's learning rate", r)
		assert.Equal(t, float32(16), runs[i].Alpha, "r=%d: alpha fixed across ranks, as in the LoRA paper", r)
	}
	assert.Equal(t, train.MethodFull, runs[2].Method)
	assert.Equal(t, float32(1e-3), runs[2].LR)
	runs = parse("-lr", "0.01", "-alpha", "8")
	assert.Equal(t, float32(0.01), runs[1].LR)
	assert.Equal(t, float32(8), runs[1].Alpha, "-alpha is every rank's alpha")
	runs = parse("-alpha", "0")
	assert.Equal(t, float32(4), runs[0].Alpha, "-alpha 0: alpha = 4r")
	assert.Equal(t, float32(32), runs[1].Alpha, "-alpha 0: alpha = 4r")
}

// TestEvaluateSaysWhichAdapter: evaluate and finetune name the model and the adapter they used.
func TestEvaluateSaysWhichAdapter(t *testing.T) {
	dir := t.TempDir()
	args := tinyData(t, dir)
	adapterDir := filepath.Join(dir, "adapter")
	want := "with adapter " + adapterDir + " (r=2, alpha 4 on q,v,down)"
	stdout, stderr, err := capture(t, func() error {
		return runEvaluate([]string{"-base", args[1], "-adapter", adapterDir, "-data", args[3]})
	})
	require.NoError(t, err)
	assert.Contains(t, stderr, want)
	assert.Contains(t, stdout, want)
	stdout, _, err = capture(t, func() error {
		return runEvaluate([]string{"-base", args[1], "-adapter", adapterDir, "-data", args[3], "-json"})
	})
	require.NoError(t, err)
	assert.Contains(t, stdout, `"adapter":"`+adapterDir+`"`)
	_, stderr, err = finetuneJSON(t, append(args, "-adapter", adapterDir, "-steps", "2")...)
	require.NoError(t, err)
	assert.Contains(t, stderr, "finetune: model "+args[1]+" "+want)
}
