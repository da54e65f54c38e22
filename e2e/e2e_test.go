//go:build !js

// e2e_test.go drives the browser app in headless Chromium against `golora serve`: a short LoRA run, a rank sweep,
// a reload, a methods sweep, with screenshots saved under e2e/screenshots/.

// Package e2e holds golora's end-to-end test of the browser app in a real browser.
package e2e

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/data"
	"golora/core/model"
	"golora/core/train"
)

// chromiumPath is Debian's chromium; GOLORA_CHROMIUM overrides it.
const chromiumPath = "/usr/bin/chromium"

// shotDir is where the screenshots go (git-ignored), relative to this package's directory.
const shotDir = "screenshots"

// repoRoot is the module root: the directory above this package that holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "go.mod"))
	require.NoError(t, err, "the e2e package must sit one level below go.mod")
	return dir
}

// unavailable skips the test for reason (printed), or fails it when GOLORA_E2E_REQUIRE=1: `make test` and CI set
// it, so that they never pass on a browser test that did not run.
func unavailable(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("GOLORA_E2E_REQUIRE") == "1" {
		t.Fatalf("%s (GOLORA_E2E_REQUIRE=1: the browser test must run)", reason)
	}
	t.Skipf("skipping the browser test: %s (GOLORA_E2E_REQUIRE=1 turns this into a failure)", reason)
}

// chromium returns the browser to drive: Debian's, or GOLORA_CHROMIUM.
func chromium(t *testing.T) string {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("GOLORA_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		unavailable(t, fmt.Sprintf("no Chromium at %s: install it with `apt-get update && apt-get install -y chromium` "+
			"(`make test` does), or set GOLORA_CHROMIUM to a Chromium binary", path))
	}
	return path
}

// appRoot lays out what `golora serve` serves in a temporary directory: web/ as it is in the checkout, the shipped
// base, and a fresh build of both wasm engines (SIMD and scalar) with the toolchain's wasm_exec.js, so that the test
// never runs against a stale or missing web/dist (a fresh clone has none). Go's build cache makes a rebuild cheap.
func appRoot(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "web"), &skipDist{os.DirFS(filepath.Join(root, "web"))}))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "models"), 0o755))
	base, err := os.ReadFile(filepath.Join(root, "models/base.safetensors"))
	require.NoError(t, err, "the shipped base model")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "models/base.safetensors"), base, 0o644))
	dist := filepath.Join(dir, "web/dist")
	require.NoError(t, os.MkdirAll(dist, 0o755))
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	require.NoError(t, err, "go env GOROOT")
	wasmExec, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib/wasm/wasm_exec.js"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dist, "wasm_exec.js"), wasmExec, 0o644))
	start := time.Now()
	for _, b := range []struct{ out, experiment string }{{"golora.wasm", "simd"}, {"golora-scalar.wasm", ""}} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dist, b.out), "./wasm")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "GOEXPERIMENT="+b.experiment)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "build %s:\n%s", b.out, out)
	}
	t.Logf("built both wasm engines in %.1f s", time.Since(start).Seconds())
	return dir
}

// skipDist is web/ without dist/, the build output appRoot makes afresh.
type skipDist struct{ fs.FS }

func (s *skipDist) Open(name string) (fs.File, error) {
	if name == "dist" || strings.HasPrefix(name, "dist/") {
		return nil, fs.ErrNotExist
	}
	return s.FS.Open(name)
}

func (s *skipDist) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(s.FS, name)
	if name == "." {
		entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return e.Name() == "dist" })
	}
	return entries, err
}

// startServer builds cmd/golora from root, runs `golora serve -root app` on a free port and returns the URL it prints.
func startServer(t *testing.T, root, app string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "golora")
	build := exec.Command("go", "build", "-o", bin, "./cmd/golora")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/golora:\n%s", out)

	cmd := exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-root", app)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "http://"); i >= 0 {
				lines <- sc.Text()[i:]
			}
		}
		close(lines)
	}()
	select {
	case u, ok := <-lines:
		require.True(t, ok, "golora serve exited without printing its URL")
		return strings.TrimSpace(u)
	case <-time.After(30 * time.Second):
		t.Fatal("golora serve printed no URL within 30 s")
		return ""
	}
}

// newBrowser starts headless Chromium with a fresh profile.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not carry a timeout (see chromedp.Run).
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1000)), "start chromium")
	return ctx
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, "evaluate %s", expr)
	return v
}

// waitFor polls a JavaScript expression until it is truthy, and fails with what the page shows if it never is.
func waitFor(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		shot(t, ctx, "failure-"+strings.ReplaceAll(what, " ", "-"))
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
			`document.getElementById("status").textContent + " | " + document.getElementById("error-text").textContent + " | " + document.getElementById("progress-text").textContent`))
		t.Fatalf("waiting for %s (%s): %v; page shows: %s", what, expr, err, status)
	}
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is a PNG
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(shotDir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: e2e/%s", p)
}

// envInt reads a positive integer from the environment, or returns def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

const (
	// settled: the engine has judged the form's settings valid and the page has drawn Start enabled.
	settled     = `!app.state.validating && Object.keys(app.state.fieldErrors).length === 0 && !document.getElementById("start").disabled`
	pageReady   = `document.getElementById("status").dataset.kind !== "busy"`
	runRows     = `document.querySelectorAll("#runs tbody tr[data-id]").length`
	runFinished = `app.state.run && ["done", "stopped", "error"].includes(app.state.run.status)`
)

func TestBrowserApp(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test needs a few minutes; run it without -short")
	}
	root := repoRoot(t)
	ctx := newBrowser(t, chromium(t))
	url := startServer(t, root, appRoot(t, root))
	// A short run: small enough for the test to stay well under its budget, long enough for the loss to fall.
	steps := envInt("GOLORA_E2E_STEPS", 40)
	batch := envInt("GOLORA_E2E_BATCH", 8)
	evalLimit := envInt("GOLORA_E2E_EVAL_LIMIT", 16) // test prompts decoded per evaluation
	evalEvery := max(steps/2, 1)
	sweepFull := "false" // full fine-tuning in the sweep only on request: it is the slowest run
	if os.Getenv("GOLORA_E2E_SWEEP_FULL") == "1" {
		sweepFull = "true"
	}

	// 1. Load the page and wait for the engine.
	start := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	// A main-thread timer that counts its ticks and remembers its longest gap: if the page froze, it would stop.
	eval[bool](t, ctx, `window.__ticks = 0; window.__maxGap = 0; window.__last = performance.now();
		setInterval(() => { const now = performance.now(); window.__maxGap = Math.max(window.__maxGap, now - window.__last);
		window.__last = now; window.__ticks++; }, 20); true`)
	waitFor(t, ctx, "page ready", pageReady, 60*time.Second)
	require.Equal(t, "ok", eval[string](t, ctx, `document.getElementById("status").dataset.kind`),
		"the engine loads: %s", eval[string](t, ctx, `document.getElementById("error-text").textContent`))
	t.Logf("ready after %.2f s: %s", time.Since(start).Seconds(), eval[string](t, ctx, `document.getElementById("status").textContent`))
	assert.NotEmpty(t, eval[string](t, ctx, `document.getElementById("model-params").textContent.replace("–", "")`), "model panel shows parameters")
	waitFor(t, ctx, "task examples", `document.querySelectorAll("#examples li").length > 0`, 30*time.Second)

	// 2. An invalid value is refused next to its field, and Start is disabled.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#rank", "0"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("rank").dispatchEvent(new Event("input")); undefined`)))
	waitFor(t, ctx, "rank error", `document.querySelector('.err[data-for="rank"]').textContent.length > 0`, 10*time.Second)
	assert.True(t, eval[bool](t, ctx, `document.getElementById("start").disabled`), "Start is disabled while rank is invalid")
	t.Logf("rank=0 refused: %s", eval[string](t, ctx, `document.querySelector('.err[data-for="rank"]').textContent`))
	shot(t, ctx, "0-invalid")

	// A batch of one row is accepted (a step's default two parts shrink to one), and an error inside the folded
	// "More settings" unfolds them: 10 steps are fewer than the default 20 warmup steps.
	setField := func(id, v string) {
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#"+id, v), chromedp.Evaluate[chromedp.Void](
			`document.getElementById("`+id+`").dispatchEvent(new Event("input")); undefined`)))
	}
	setField("rank", "4")
	setField("batch", "1")
	waitFor(t, ctx, "batch 1 accepted", `Object.keys(app.state.fieldErrors).length === 0 && !document.getElementById("start").disabled`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `location.hash`), "batch=1", "the settings are kept in the URL")
	assert.False(t, eval[bool](t, ctx, `document.querySelector("details.advanced").open`), "More settings start folded")
	setField("steps", "10")
	waitFor(t, ctx, "warmup error", `document.querySelector('.err[data-for="warmup"]').textContent.length > 0`, 10*time.Second)
	assert.True(t, eval[bool](t, ctx, `document.querySelector("details.advanced").open`), "an error unfolds More settings")
	t.Logf("steps=10 with warmup 20 refused: %s", eval[string](t, ctx, `document.querySelector('.err[data-for="warmup"]').textContent`))

	// 3. A short LoRA run from the URL hash, started by autostart=1.
	hash := fmt.Sprintf("#task=e2e&method=lora&rank=4&targets=q,v&steps=%d&batch=%d&warmup=%d&evalEvery=%d&evalLimit=%d&autostart=1",
		steps, batch, min(steps/4, 20), evalEvery, evalLimit)
	// Every text the progress line shows during the run, to check the "Evaluating" states and the time left.
	eval[bool](t, ctx, `window.__progress = []; const pt = document.getElementById("progress-text");
		new MutationObserver(() => window.__progress.push(pt.textContent)).observe(pt, {childList: true, characterData: true, subtree: true}); true`)
	runStart := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "`+hash+`"; undefined`)))
	waitFor(t, ctx, "run started", `app.state.run && app.state.run.losses.length > 0`, 60*time.Second)
	assert.NotContains(t, eval[string](t, ctx, `location.hash`), "autostart", "autostart is consumed so a reload does not train again")
	ticks0 := eval[int](t, ctx, `window.__maxGap = 0; window.__ticks`)
	step0 := eval[int](t, ctx, `app.state.run.step`)
	waitFor(t, ctx, "more steps", fmt.Sprintf(`app.state.run.step >= Math.min(%d, app.state.run.steps) || %s`, step0+3, runFinished), 120*time.Second)
	ticks1 := eval[int](t, ctx, `window.__ticks`)
	step1 := eval[int](t, ctx, `app.state.run.step`)
	t.Logf("main thread while the worker trained steps %d..%d: %d timer ticks (every 20 ms), longest gap %.0f ms",
		step0, step1, ticks1-ticks0, eval[float64](t, ctx, `window.__maxGap`))
	assert.Greater(t, ticks1, ticks0, "the main-thread timer kept firing while the worker trained steps %d..%d", step0, step1)
	shot(t, ctx, "1-training")
	// Pause holds the run at its step; Resume continues it. (A run that ends before the click has nothing to pause.)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#pause")))
	waitFor(t, ctx, "paused", `app.state.run.status === "paused" || `+runFinished, 60*time.Second)
	if eval[string](t, ctx, `app.state.run.status`) == "paused" {
		held := eval[int](t, ctx, `app.state.run.step`)
		time.Sleep(time.Second)
		assert.Equal(t, held, eval[int](t, ctx, `app.state.run.step`), "no steps while paused")
		assert.Equal(t, "Resume", eval[string](t, ctx, `document.getElementById("pause").textContent`), "the button offers Resume")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click("#pause")))
		waitFor(t, ctx, "resumed", `app.state.run.step > `+strconv.Itoa(held)+` || `+runFinished, 120*time.Second)
	} else {
		t.Logf("the run finished before the pause click")
	}
	waitFor(t, ctx, "run finished", runFinished+` && /^(Finished|Stopped|Failed)/.test(document.getElementById("progress-text").textContent)`, 5*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "run status: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	if eval[int](t, ctx, `navigator.hardwareConcurrency`) >= 2 {
		assert.Equal(t, 2, eval[int](t, ctx, `app.state.run.workers`), "two Web Workers train the run")
	}
	t.Logf("run of %d steps: %.1f s (with screenshots); %s", steps, time.Since(runStart).Seconds(),
		eval[string](t, ctx, `document.getElementById("progress-text").textContent`))
	losses := eval[[]float64](t, ctx, `Array.from(app.state.run.losses)`)
	require.Len(t, losses, steps, "one loss per step reaches the chart")
	k := max(len(losses)/5, 1)
	first, last := mean(losses[:k]), mean(losses[len(losses)-k:])
	assert.Less(t, last, first, "the training loss falls: mean of the first %d steps %.4f, of the last %d %.4f", k, first, k, last)
	t.Logf("train loss %.4f -> %.4f; accuracy %s; tokens/s %s; trainable %s", first, last,
		eval[string](t, ctx, `document.getElementById("accuracy").textContent`),
		eval[string](t, ctx, `document.getElementById("tps").textContent`),
		eval[string](t, ctx, `document.getElementById("trainable").textContent`))
	waitFor(t, ctx, "the finished run in #runs", runRows+` === 1`, 10*time.Second) // drawn on the next animation frame
	assert.Greater(t, eval[int](t, ctx, `document.querySelectorAll("#samples tbody tr:not(.empty)").length`), 0, "before/after samples shown")
	progress := eval[[]string](t, ctx, `window.__progress`)
	for _, want := range []string{
		fmt.Sprintf("Evaluating the base model on %d test prompts", evalLimit), // while the base is scored, before step 1
		fmt.Sprintf("Evaluating at step %d", evalEvery),
		"Evaluating the final model",
		"left, evaluations included", // the time left, once one evaluation and one step are timed
	} {
		assert.True(t, slices.ContainsFunc(progress, func(p string) bool { return strings.Contains(p, want) }),
			"the progress line showed %q; it showed %d texts, the first %q", want, len(progress), progress[0])
	}
	// The time left counts the steps at the run's speed and the evaluations left at their mean time so far (the one
	// under way by what remains of it): 20 steps of 1 s and 2 evaluations (steps 30 and 40) of 3 s on average, then
	// the final one a second into its expected 3.
	eta, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`import("/panels/run.js").then((m) => {
		const r = {step: 20, steps: 40, ms: 20000, evalSeconds: [2, 4], evaluating: null, config: {evalEvery: 10}};
		const fin = {...r, step: 40, evaluating: {step: 40, since: 1000}};
		return [m.etaSeconds(r, 0), m.etaSeconds(fin, 2000)]; })`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, []float64{26, 2}, eta, "the time left, evaluations included")

	// The samples table shows what the engine decoded: its "before" column the base's, its "after" the final model's.
	cells := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll("#samples tbody tr")).map((tr) => Array.from(tr.children).map((td) => td.textContent))`)
	sent := eval[[][]string](t, ctx, `app.state.run.after.map((s, i) => [s.prompt, s.want, app.state.run.before[i].got || "(empty)", s.got || "(empty)"])`)
	require.NotEmpty(t, sent)
	assert.Equal(t, sent, cells, "the samples table holds the prompts, targets, and the base's and the model's outputs")

	// Downloads: the adapter as a zip of PEFT's two files, opened here and read against the base; the metrics as JSON.
	dl := t.TempDir()
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl})
	require.NoError(t, err, "allow downloads")
	zipPath := download(t, ctx, dl, `document.querySelector("#runs tbody tr[data-id] td.dl button")`, "-adapter.zip")
	checkAdapterZip(t, root, zipPath, 4, []string{"q", "v"})
	metricsPath := download(t, ctx, dl, `document.querySelectorAll("#runs tbody tr[data-id] td.dl button")[1]`, "-metrics.json")
	var metrics struct {
		Config    struct{ Rank, Steps int }
		TrainLoss []float64
		Evals     []struct{ Step int }
	}
	raw, err := os.ReadFile(metricsPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &metrics), "the metrics download is JSON")
	assert.Equal(t, 4, metrics.Config.Rank)
	assert.Equal(t, losses, metrics.TrainLoss, "the metrics hold the run's losses")
	assert.Len(t, metrics.Evals, 3, "the base's evaluation, step %d's and the final one", evalEvery)

	// Merging the adapter reports the largest logit difference between merged and unmerged, which float32 rounding
	// keeps small (a broken merge moves logits by far more).
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#merge")))
	waitFor(t, ctx, "merge", `/within|moved|failed/.test(document.getElementById("merge-out").textContent)`, 60*time.Second)
	mergeOut := eval[string](t, ctx, `document.getElementById("merge-out").textContent`)
	diff := eval[float64](t, ctx, `app.state.run.mergeDiff`)
	assert.Less(t, diff, 1e-4, "merged vs unmerged logits: %s", mergeOut)
	m := regexp.MustCompile(`within ([0-9.]+e[-+]?[0-9]+)`).FindStringSubmatch(mergeOut)
	if assert.NotNil(t, m, "the merge reports its difference: %q", mergeOut) {
		shown, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		assert.InDelta(t, diff, shown, diff*0.01, "the page shows the difference the engine measured")
	}
	assert.True(t, eval[bool](t, ctx, `document.getElementById("merge").disabled`), "a merged adapter cannot be merged again")
	t.Logf("%s", mergeOut)
	shot(t, ctx, "2-run-done")

	// 4. A sweep is checked whole before its first run: rank 100 (more than this base allows) is refused under the
	// ranks, no run starts, and the form's own (valid) Rank and Start are left alone.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#sweep-ranks", "2, 100"), chromedp.Click("#sweep-start")))
	waitFor(t, ctx, "sweep refused", `document.querySelector('.err[data-for="sweep-ranks"]').textContent.length > 0`, 10*time.Second)
	refused := eval[string](t, ctx, `document.querySelector('.err[data-for="sweep-ranks"]').textContent`)
	assert.Contains(t, refused, "sweep run 2 (lora r=100): rank: must be between 1 and", "the sweep's bad run and setting are named")
	assert.Nil(t, eval[any](t, ctx, `app.state.sweep`), "nothing of the refused sweep ran")
	assert.Equal(t, 1, eval[int](t, ctx, runRows), "no run was added")
	assert.Empty(t, eval[string](t, ctx, `document.querySelector('.err[data-for="rank"]').textContent`), "the form's Rank is not marked")
	assert.False(t, eval[bool](t, ctx, `document.getElementById("start").disabled`), "Start stays enabled")
	t.Logf("ranks 2, 100 refused before any run: %s", refused)

	// A two-rank sweep with the same short settings; its second run is titled as such, during and after it.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue("#sweep-ranks", "1, 2"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sweep-full").checked = `+sweepFull+`; undefined`),
		chromedp.Click("#sweep-start"),
	))
	waitFor(t, ctx, "the sweep's second run", `app.state.run && app.state.run.sweepIndex === 2 && app.state.run.step > 0`, 5*time.Minute)
	waitFor(t, ctx, "the second run's title", `document.getElementById("run-title").textContent.includes("sweep run 2 of ")`, 5*time.Second)
	assert.Empty(t, eval[string](t, ctx, `document.querySelector('.err[data-for="sweep-ranks"]').textContent`), "the refusal is gone")
	waitFor(t, ctx, "sweep finished", `app.state.sweep && app.state.sweep.status !== "running"`, 8*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.sweep.status`), "sweep status")
	wantRows := 3
	if sweepFull == "true" {
		wantRows = 4
	}
	waitFor(t, ctx, "the sweep's runs in #runs", fmt.Sprintf("%s === %d", runRows, wantRows), 10*time.Second)
	assert.Equal(t, []int{1, 2}, eval[[]int](t, ctx, `app.sweep.sweepRuns().filter((r) => r.rank).map((r) => r.rank).sort()`), "the sweep chart has ranks 1 and 2")
	// Hovering a point of the rank chart shows its values.
	xy := eval[[]float64](t, ctx, `(() => { const c = document.getElementById("rank-chart"); c.scrollIntoView({block: "center"});
		return c.chart.pos(2, 0.5); })()`) // the tooltip follows the nearest rank: hover mid-height above rank 2
	require.NoError(t, chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, xy[0], xy[1])))
	waitFor(t, ctx, "hover tooltip", `document.getElementById("rank-chart").dataset.tip.startsWith("rank 2")`, 5*time.Second)
	t.Logf("hover on rank 2: %s", eval[string](t, ctx, `document.getElementById("rank-chart").dataset.tip`))
	if sweepFull != "true" {
		waitFor(t, ctx, "the last run's title", `document.getElementById("run-title").textContent.endsWith("sweep run 2 of 2")`, 5*time.Second)
	}
	shot(t, ctx, "3-sweep")

	// 5. Reload: the results table is still there, and nothing trains by itself.
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after reload", pageReady, 60*time.Second)
	waitFor(t, ctx, "runs restored", fmt.Sprintf("%s === %d", runRows, wantRows), 10*time.Second)
	assert.Nil(t, eval[any](t, ctx, `app.state.run`), "reloading does not start a run")
	shot(t, ctx, "4-reloaded")

	// 5b. A reload in the middle of a run loses nothing: the page offers to resume it from its last snapshot, and
	// the resumed run ends with the same losses as the run of step 3 (same settings) that was never interrupted.
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "`+hash+`"; undefined`)))
	inflight := `(async () => { const r = await app.store.loadInflight(); return r ? r.step : 0; })()`
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](inflight+`.then((s) => s > 0)`, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(2*time.Minute)))
	require.NoError(t, err, "the run in progress is saved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#pause"))) // hold it, so that the reload lands mid-run
	waitFor(t, ctx, "paused before the reload", `app.state.run.status === "paused"`, time.Minute)
	saved, err := chromedp.Run(ctx, chromedp.Evaluate[int](inflight, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	// A second tab of the page sees the saved run but offers no resume: the first tab still holds it.
	second, closeSecond := chromedp.NewContext(ctx)
	require.NoError(t, chromedp.Do(second, chromedp.Navigate(url)))
	waitFor(t, second, "second tab ready", pageReady, 60*time.Second)
	time.Sleep(500 * time.Millisecond) // loadInflight has run by now
	assert.True(t, eval[bool](t, second, `document.getElementById("resume").hidden`), "no resume offer beside the tab that trains")
	closeSecond()
	before := eval[[]float64](t, ctx, `Array.from(app.state.run.losses)`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after the interrupting reload", pageReady, 60*time.Second)
	waitFor(t, ctx, "resume offered", `!document.getElementById("resume").hidden`, 10*time.Second)
	t.Logf("after the reload (snapshot at step %d of %d): %s", saved, steps, eval[string](t, ctx, `document.getElementById("resume-text").textContent`))
	shot(t, ctx, "5-resume-offered")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#resume-run")))
	waitFor(t, ctx, "resumed run finished", runFinished, 5*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "resumed run: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	resumed := eval[[]float64](t, ctx, `Array.from(app.state.run.losses)`)
	assert.Equal(t, before[:saved], resumed[:saved], "the curve up to the snapshot comes back")
	assert.Equal(t, losses, resumed, "the resumed run's losses equal the uninterrupted run's")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("resume").hidden`), "no offer once the run is done")
	if eval[int](t, ctx, `navigator.hardwareConcurrency`) >= 2 {
		assert.Equal(t, 2, eval[int](t, ctx, `app.state.run.workers`), "the helper worker resumes the run too")
	}
	waitFor(t, ctx, "the resumed run in #runs", fmt.Sprintf("%s === %d", runRows, wantRows+1), 10*time.Second)
	t.Logf("resumed from step %d: %d losses, the same as the uninterrupted run's", saved, len(resumed))

	// A sweep interrupted by a reload resumes its current run, then goes on with the ranks left.
	rows := wantRows + 1
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#sweep-ranks", "1, 2"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sweep-full").checked = false; undefined`),
		chromedp.Click("#sweep-start")))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](inflight+`.then((s) => s > 0)`, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(2*time.Minute)))
	require.NoError(t, err, "the sweep's first run is saved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#pause")))
	waitFor(t, ctx, "sweep paused before the reload", `app.state.run.status === "paused"`, time.Minute)
	require.Equal(t, 1, eval[int](t, ctx, `app.state.run.config.rank`), "the reload lands in the sweep's first run")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after interrupting the sweep", pageReady, 60*time.Second)
	waitFor(t, ctx, "sweep resume offered", `!document.getElementById("resume").hidden`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("resume-text").textContent`), "part of a sweep")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#resume-run")))
	waitFor(t, ctx, "resumed sweep finished", `app.state.sweep && app.state.sweep.status !== "running"`, 5*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.sweep.status`), "resumed sweep")
	waitFor(t, ctx, "the resumed sweep's runs in #runs", fmt.Sprintf("%s === %d", runRows, rows+2), 10*time.Second)
	assert.Equal(t, []int{1, 2}, eval[[]int](t, ctx, `app.sweep.sweepRuns().filter((r) => r.rank).map((r) => r.rank).sort()`),
		"the resumed sweep has ranks 1 and 2")

	// 5c. A helper worker that fails to apply a step is dropped, and the lead finishes the run alone with the same
	// losses. The failure is injected in the lead worker (through the debugger): one "put" to the helper is never
	// sent, so the helper is a step behind; the lead finds out at the next step (put 3) or, when the failed step is
	// the last before an evaluation (put evalEvery), before the evaluation it would share. A fresh page each time.
	if eval[int](t, ctx, `navigator.hardwareConcurrency`) >= 2 {
		for _, failAt := range []int{3, evalEvery} {
			require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
			waitFor(t, ctx, "page ready for the helper failure", pageReady, 60*time.Second)
			lead := leadWorker(t, ctx)
			_, err = chromedp.Run(lead, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const realAsk = ask; let puts = 0;
				self.ask = (type, payload, transfer) => type === "put" && ++puts === %d ?
					Promise.reject(new Error("injected failure")) : realAsk(type, payload, transfer);
				return true; })()`, failAt)))
			require.NoError(t, err, "inject the failure")
			require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "`+hash+`"; undefined`)))
			waitFor(t, ctx, "run with a failing helper finished", runFinished+` && app.state.run.losses.length > 0`, 5*time.Minute)
			require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "helper failing at put %d: %s", failAt,
				eval[string](t, ctx, `app.state.run.errorText || ""`))
			assert.Equal(t, losses, eval[[]float64](t, ctx, `Array.from(app.state.run.losses)`),
				"helper failing at put %d: the lead alone finishes with the same losses", failAt)
			dropped, err := chromedp.Run(lead, chromedp.Evaluate[bool](`helper === null`))
			require.NoError(t, err)
			assert.True(t, dropped, "helper failing at put %d: the lead dropped it", failAt)
		}
	}

	// 6. The scalar build, which browsers without WebAssembly SIMD get: forced with ?engine=scalar, it trains, and
	// equals this (scalar, native) test binary bit for bit: the losses, the base's and the model's generations in the
	// samples table, and a generation from the fine-tuned model. On the cipher at its default difficulty, which the
	// results table names by the real number of letters.
	const scalarSteps, scalarBatch = 3, 2
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url+fmt.Sprintf(
		"?engine=scalar#task=cipher&method=lora&rank=4&targets=q,v&steps=%d&batch=%d&warmup=1&evalEvery=0&evalLimit=2&autostart=1",
		scalarSteps, scalarBatch))))
	waitFor(t, ctx, "scalar engine ready", pageReady, 60*time.Second)
	require.False(t, eval[bool](t, ctx, `app.state.engine.simd`), "?engine=scalar loads golora-scalar.wasm")
	waitFor(t, ctx, "scalar run finished", runFinished, 2*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "scalar run: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	inTab := eval[[]float64](t, ctx, `Array.from(app.state.run.losses)`)
	workers := eval[int](t, ctx, `app.state.run.workers`)
	if eval[int](t, ctx, `navigator.hardwareConcurrency`) >= 2 {
		assert.Equal(t, 2, workers, "two Web Workers train the run, each computing one part of every step")
	}
	cfg := train.DefaultConfig()
	cfg.Task, cfg.Method, cfg.Rank, cfg.Targets = "cipher", train.MethodLoRA, 4, []string{"q", "v"}
	cfg.Steps, cfg.Batch, cfg.Warmup, cfg.EvalEvery, cfg.EvalLimit = scalarSteps, scalarBatch, 1, 0, 2
	prompt := eval[string](t, ctx, `app.state.run.after[0].prompt`)
	native := nativeRun(t, root, cfg, prompt)
	require.Len(t, inTab, len(native.losses))
	for i := range native.losses {
		assert.Equal(t, math.Float32bits(native.losses[i]), math.Float32bits(float32(inTab[i])),
			"step %d: scalar wasm in the tab %v, native %v", i+1, inTab[i], native.losses[i])
	}
	waitFor(t, ctx, "the scalar run in #runs", runRows+` > 0`, 10*time.Second)
	cells = eval[[][]string](t, ctx, `Array.from(document.querySelectorAll("#samples tbody tr")).map((tr) => Array.from(tr.children).map((td) => td.textContent))`)
	require.Len(t, cells, len(native.after))
	for i := range native.after {
		assert.Equal(t, []string{native.after[i].Prompt, native.after[i].Want, orEmpty(native.before[i].Got), orEmpty(native.after[i].Got)},
			cells[i], "sample %d: the table shows what native Go decodes, before and after training", i)
	}
	assert.Equal(t, "Cipher (6 letters)", eval[string](t, ctx, `document.querySelector("#runs tbody tr[data-id]").children[1].textContent`),
		"the results table names the task's real difficulty, not the form's 0 (the task's default)")
	// Generate continues a prompt (here a test prompt, its final new line included) with the model the worker holds:
	// the run's.
	quoted, err := json.Marshal(prompt)
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("gen-prompt").value = `+
		string(quoted)+`; document.getElementById("gen-btn").click(); undefined`)))
	waitFor(t, ctx, "generation", `app.state.gen.done && !app.state.gen.busy &&
		document.getElementById("gen-out").textContent.startsWith(app.state.gen.prompt)`, time.Minute)
	assert.Equal(t, native.generated, eval[string](t, ctx, `app.state.gen.text`), "the tab's generation is native Go's")
	assert.Equal(t, prompt+native.generated, eval[string](t, ctx, `document.getElementById("gen-out").textContent`),
		"the generation is shown after its prompt")
	t.Logf("scalar build in the tab on %d workers: losses %v, samples and generation %q: the same as native", workers,
		inTab, native.generated)

	// 7. Messages that no longer apply go away: a refused autostart's banner, when the task changes.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url+"#rank=0&steps=6&batch=4&warmup=1&evalEvery=0&evalLimit=2&autostart=1")))
	waitFor(t, ctx, "page ready (autostart refused)", pageReady, 60*time.Second)
	waitFor(t, ctx, "autostart refused", `!document.getElementById("error").hidden`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("error-text").textContent`), "autostart refused: rank")
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#task", "facts"), chromedp.Evaluate[chromedp.Void](
		`document.getElementById("task").dispatchEvent(new Event("change")); undefined`)))
	waitFor(t, ctx, "banner cleared", `document.getElementById("error").hidden`, 5*time.Second)
	setField("rank", "4")

	// Your own JSON Lines file: an empty one and one with invalid UTF-8 are refused next to the file, naming it
	// (and the line); a good one is read, previewed, and trains (stopped after a few steps: a stopped run is no result).
	files := t.TempDir()
	var good strings.Builder
	for i := range 40 {
		fmt.Fprintf(&good, "{\"prompt\": \"%d+1=\", \"completion\": \"%d\"}\n", i, i+1)
	}
	for name, body := range map[string]string{"empty.jsonl": "", "good.jsonl": good.String(),
		"bad.jsonl": "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"\xff\", \"completion\": \"b\"}\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(files, name), []byte(body), 0o644))
	}
	upload := func(name string) {
		require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("task").value = "custom";
			document.getElementById("task").dispatchEvent(new Event("change")); undefined`),
			chromedp.SetUploadFiles("#file", []string{filepath.Join(files, name)})))
		waitFor(t, ctx, "file "+name+" read", `app.state.custom && app.state.custom.name === "`+name+`" && !app.state.validating`, 10*time.Second)
	}
	customErr := `document.querySelector('.err[data-for="custom"]').textContent`
	upload("empty.jsonl")
	waitFor(t, ctx, "empty file refused", customErr+`.length > 0`, 10*time.Second)
	msg := eval[string](t, ctx, customErr)
	assert.True(t, strings.HasPrefix(msg, "empty.jsonl: no examples"), "the empty file is named once: %q", msg)
	assert.NotContains(t, eval[string](t, ctx, `document.body.textContent`), "custom: custom:")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("start").disabled`))
	upload("bad.jsonl")
	waitFor(t, ctx, "invalid UTF-8 refused", customErr+`.includes("bad.jsonl:2")`, 10*time.Second)
	t.Logf("bad.jsonl refused: %s", eval[string](t, ctx, customErr))
	upload("good.jsonl")
	waitFor(t, ctx, "good file accepted", customErr+` === "" && !document.getElementById("start").disabled`, 10*time.Second)
	assert.Equal(t, "good.jsonl · 40 lines", eval[string](t, ctx, `document.getElementById("file-label").textContent`))
	waitFor(t, ctx, "the file's examples", `document.querySelectorAll("#examples li").length === 3 &&
		/^[0-9]+\+1= → [0-9]+$/.test(document.querySelector("#examples li").textContent)`, 10*time.Second)
	// The sample generation moves to the file: its first example as the prompt, generated, no error left from the
	// facts task or from the refused files.
	waitFor(t, ctx, "sample generation on the file", `/^[0-9]+\+1=$/.test(document.getElementById("gen-prompt").value) &&
		!document.getElementById("gen-out").classList.contains("bad") &&
		document.getElementById("gen-out").textContent.startsWith(document.getElementById("gen-prompt").value)`, 20*time.Second)
	rows = eval[int](t, ctx, runRows)
	setField("steps", "200")
	waitFor(t, ctx, "200 steps accepted", settled, 10*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#start")))
	waitFor(t, ctx, "custom run training", `app.state.run && app.state.run.step >= 2`, 2*time.Minute)
	assert.Equal(t, map[string]any{"name": "custom", "file": "good.jsonl", "train": 32.0, "val": 4.0, "test": 4.0},
		eval[map[string]any](t, ctx, `app.state.run.task`), "the engine split the file 80/10/10")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#stop")))
	waitFor(t, ctx, "custom run stopped", `app.state.run.status === "stopped" &&
		document.getElementById("progress-text").textContent.startsWith("Stopped")`, time.Minute)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, rows, eval[int](t, ctx, runRows), "a stopped run is not a result")

	// Full fine-tuning from the form: the LoRA settings are disabled, and the result has no adapter to download.
	setMethod := func(name string) {
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#method", name), chromedp.Evaluate[chromedp.Void](
			`document.getElementById("method").dispatchEvent(new Event("change")); undefined`)))
	}
	setMethod("full")
	setField("steps", "3")
	waitFor(t, ctx, "full settings valid", settled, 10*time.Second)
	assert.True(t, eval[bool](t, ctx, `document.getElementById("rank").disabled`), "LoRA's rank is off for full fine-tuning")
	assert.Equal(t, "0.001", eval[string](t, ctx, `document.getElementById("lr").value`),
		"the learning rate moved from LoRA's default to full fine-tuning's")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#start")))
	waitFor(t, ctx, "full run finished", runFinished+` && app.state.run.config.method === "full"`, 3*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "full run: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	waitFor(t, ctx, "the full run in #runs", fmt.Sprintf("%s === %d", runRows, rows+1), 10*time.Second)
	assert.Equal(t, "full", eval[string](t, ctx, `document.querySelector("#runs tbody tr[data-id]").children[3].textContent`))
	assert.Equal(t, []string{"model", "metrics"}, eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#runs tbody tr[data-id]")[0].querySelectorAll("td.dl button")).map((b) => b.textContent)`),
		"full fine-tuning has no adapter: its result is the model")
	// Its download is the whole fine-tuned model, which loads as a base of the same shape.
	modelPath := download(t, ctx, dl, `document.querySelector("#runs tbody tr[data-id] td.dl button")`, "-full-"+
		strings.Split(eval[string](t, ctx, `app.state.runs[0].id`), "-")[1]+"-model.safetensors")
	mf, err := os.Open(modelPath)
	require.NoError(t, err)
	ft, _, err := model.Load(mf, "fine-tuned")
	mf.Close()
	require.NoError(t, err, "the full run's download loads as a model")
	assert.Equal(t, loadBase(t, root).Config, ft.Config, "of the base's shape")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("merge").disabled`), "nothing to merge")

	// 7b. The method choice: a method shows its own size knob and its one line (LoRA's settings go), a bad size is
	// refused next to its field, and the URL keeps both. A method named in the URL without a rate gets its own.
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "#method=ia3"; undefined`)))
	waitFor(t, ctx, "(IA)³ from the URL at its own rate", `app.state.config.method === "ia3" &&
		Math.abs(app.state.config.lr / app.state.lrs.ia3 - 1) < 1e-6 && document.getElementById("method").value === "ia3"`, 10*time.Second)
	setMethod("top")
	waitFor(t, ctx, "top's size knob", `!document.getElementById("layers").closest(".field").hidden &&
		document.getElementById("rank").closest(".field").hidden`, 5*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("method-line").textContent`), "last k blocks")
	setField("layers", "9")
	waitFor(t, ctx, "layers refused", `document.querySelector('.err[data-for="layers"]').textContent.length > 0`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.querySelector('.err[data-for="layers"]').textContent`), "must be between 1 and 4")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("start").disabled`), "Start is off while k is invalid")
	assert.Contains(t, eval[string](t, ctx, `location.hash`), "method=top")
	assert.Contains(t, eval[string](t, ctx, `location.hash`), "layers=9")
	setField("layers", "1")

	// 7c. A methods sweep, the LoRA paper's Figure 2 live: (IA)³, top and full fine-tuning at their smallest sizes on
	// short e2e runs, resumed after a reload. One point per run in the figure (accuracy against trainable parameters, step time relative to
	// full fine-tuning's), each method and size in the results table, and the non-LoRA downloads in their own formats.
	rows = eval[int](t, ctx, runRows)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](
		`location.hash = "#task=e2e&steps=12&batch=4&warmup=1&evalEvery=6&evalLimit=8"; undefined`)))
	waitFor(t, ctx, "the sweep's settings", `app.state.config.task === "e2e" && app.state.config.steps === 12 &&
		!app.state.validating && !document.getElementById("methods-start").disabled`, 10*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		for (const r of document.querySelectorAll(".mpick")) r.querySelector("input[type=checkbox]").checked =
			["ia3", "top", "full"].includes(r.dataset.method);
		document.getElementById("methods-quick").checked = true; })(); undefined`)))
	sweepStart := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#methods-start")))
	waitFor(t, ctx, "methods sweep started", `app.state.sweep && app.state.sweep.kind === "methods"`, 10*time.Second)
	require.Equal(t, []string{"full", "top", "ia3"}, eval[[]string](t, ctx, `app.state.sweep.queue.map((c) => c.method)`),
		"the methods in the table's order")
	// A reload in its first run: the sweep resumes that run from its snapshot (step 6), then goes on with the others.
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](inflight+`.then((s) => s > 0)`, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(2*time.Minute)))
	require.NoError(t, err, "the methods sweep's first run is saved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#pause")))
	waitFor(t, ctx, "methods sweep paused before the reload", `app.state.run.status === "paused"`, time.Minute)
	require.Equal(t, "full", eval[string](t, ctx, `app.state.run.config.method`), "the reload lands in the sweep's first run")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after interrupting the methods sweep", pageReady, 60*time.Second)
	waitFor(t, ctx, "methods sweep resume offered", `!document.getElementById("resume").hidden`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("resume-text").textContent`), "full fine-tuning, part of a sweep")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#resume-run")))
	waitFor(t, ctx, "methods sweep finished", `app.state.sweep && app.state.sweep.status !== "running"`, 8*time.Minute)
	assert.Equal(t, "methods", eval[string](t, ctx, `app.state.sweep.kind`), "the resumed sweep is still a methods sweep")
	require.Equal(t, "done", eval[string](t, ctx, `app.state.sweep.status`), "methods sweep: %s",
		eval[string](t, ctx, `document.getElementById("error-text").textContent`))
	waitFor(t, ctx, "the methods sweep's runs in #runs", fmt.Sprintf("%s === %d", runRows, rows+3), 10*time.Second)
	table := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll("#runs tbody tr[data-id]")).slice(0, 3).map((tr) =>
		[3, 4, 6].map((i) => tr.children[i].textContent))`)
	type sweepRec struct {
		ID, Method     string
		Params         int
		Accuracy, Step float64
	}
	recs := eval[[]sweepRec](t, ctx, `app.methods && app.state.runs.slice(0, 3).map((r) => ({ID: r.id, Method: r.method,
		Params: r.trainableParams, Accuracy: r.accuracy, Step: r.stepMs}))`)
	require.Len(t, recs, 3)
	byMethod := map[string]sweepRec{}
	for i, r := range recs {
		byMethod[r.Method] = r
		assert.Equal(t, strconv.Itoa(r.Params), strings.ReplaceAll(table[i][2], ",", ""), "%s: trainable", r.Method)
	}
	assert.Equal(t, []string{"(IA)³", "–"}, table[0][:2], "the newest row: (IA)³, which has no size knob")
	assert.Equal(t, []string{"top", "k=1"}, table[1][:2], "top and its k")
	assert.Equal(t, []string{"full", "–"}, table[2][:2], "full fine-tuning")
	// The figure: one point per run, where the run's numbers put it, and full fine-tuning's accuracy as a line.
	points := func(id string) [][]float64 {
		return eval[[][]float64](t, ctx, `(() => { const u = document.getElementById("`+id+`").chart.u; const out = [];
			u.series.forEach((s, i) => { if (i > 0 && s.show) u.data[i].forEach((y, j) => { if (y != null) out.push([u.data[0][j], y]); }); });
			return out.sort((a, b) => a[0] - b[0]); })()`)
	}
	acc := points("methods-acc-chart")
	times := points("methods-time-chart")
	require.Len(t, acc, 3, "one accuracy point per run")
	require.Len(t, times, 3, "one step-time point per run")
	full := byMethod["full"]
	for i, m := range []string{"ia3", "top", "full"} { // by trainable parameters: 1,408 < 101,664 < 431,136
		r := byMethod[m]
		assert.Equal(t, []float64{float64(r.Params), r.Accuracy}, acc[i], "%s: its point", m)
		assert.True(t, acc[i][1] >= 0 && acc[i][1] <= 1, "%s: accuracy %v in [0, 1]", m, acc[i][1])
		assert.InDelta(t, r.Step/full.Step, times[i][1], 1e-9, "%s: step time relative to full fine-tuning's", m)
		assert.True(t, times[i][1] > 0 && times[i][1] < 100, "%s: relative step time %v", m, times[i][1])
	}
	assert.Equal(t, 1.0, times[2][1], "full fine-tuning's own step is 1")
	assert.Equal(t, full.Accuracy, eval[float64](t, ctx, `document.getElementById("methods-acc-chart").chart.refs[0].y`),
		"full fine-tuning's accuracy as a line across the figure")
	t.Logf("methods sweep of 3 runs, reload included, in %.1f s: %v (trainable, accuracy); step time vs full: %v",
		time.Since(sweepStart).Seconds(), acc, times)
	// Hovering a point shows its run's settings.
	xy = eval[[]float64](t, ctx, fmt.Sprintf(`(() => { const c = document.getElementById("methods-acc-chart");
		c.scrollIntoView({block: "center"}); return c.chart.pos(%d, 0.5); })()`, byMethod["top"].Params)) // the nearest x's runs
	require.NoError(t, chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, xy[0], xy[1])))
	waitFor(t, ctx, "methods hover", `document.getElementById("methods-acc-chart").dataset.tip.startsWith("Top k blocks k=1")`, 5*time.Second)
	t.Logf("hover on top: %s", eval[string](t, ctx, `document.getElementById("methods-acc-chart").dataset.tip`))
	shot(t, ctx, "7-methods")
	// (IA)³'s download is PEFT's IA3 pair; top's is the changed tensors with golora_adapter.json. Both read back.
	// A file's name ends with its method, size and run: golora-e2e-ia3-<run>-adapter.zip, golora-e2e-top-k1-<run>-...
	runPart := func(m string) string { return strings.Split(byMethod[m].ID, "-")[1] }
	ia3Zip := download(t, ctx, dl, `document.querySelector('#runs tbody tr[data-id="`+byMethod["ia3"].ID+`"] td.dl button')`,
		"-ia3-"+runPart("ia3")+"-adapter.zip")
	assert.Contains(t, filepath.Base(ia3Zip), "-ia3-", "the file names the method")
	zipFiles := readZip(t, ia3Zip)
	require.ElementsMatch(t, []string{"adapter_model.safetensors", "adapter_config.json"}, slices.Collect(maps.Keys(zipFiles)))
	ia3Cfg, err := checkpoint.ReadIA3Config(bytes.NewReader(zipFiles["adapter_config.json"]), "adapter_config.json")
	require.NoError(t, err, "PEFT's IA3 config")
	assert.Equal(t, []string{"k_proj", "v_proj", "down_proj"}, ia3Cfg.TargetModules)
	assert.Equal(t, []string{"down_proj"}, ia3Cfg.FeedforwardModules)
	tensors, _, err := checkpoint.ReadSafetensors(bytes.NewReader(zipFiles["adapter_model.safetensors"]), "adapter_model.safetensors")
	require.NoError(t, err)
	base := loadBase(t, root)
	wantShapes := map[string][]int{}
	for l := range base.Config.NLayers {
		_, kOut := base.Config.Shape(model.TargetK)
		_, vOut := base.Config.Shape(model.TargetV)
		dIn, _ := base.Config.Shape(model.TargetDown)
		wantShapes[checkpoint.PEFTIA3Key(model.TargetK.Module(l))] = []int{kOut, 1}
		wantShapes[checkpoint.PEFTIA3Key(model.TargetV.Module(l))] = []int{vOut, 1}
		wantShapes[checkpoint.PEFTIA3Key(model.TargetDown.Module(l))] = []int{1, dIn}
	}
	gotShapes := map[string][]int{}
	moved := false
	for _, tn := range tensors {
		gotShapes[tn.Name] = tn.Shape
		for _, v := range tn.Data {
			moved = moved || v != 1
		}
	}
	assert.Equal(t, wantShapes, gotShapes, "(IA)³'s vectors: k and v scale outputs, down_proj its input")
	assert.True(t, moved, "the trained scales moved from 1")
	_, err = train.ReadAdapter(base, bytes.NewReader(zipFiles["adapter_config.json"]), "adapter_config.json",
		bytes.NewReader(zipFiles["adapter_model.safetensors"]), "adapter_model.safetensors")
	assert.NoError(t, err, "the (IA)³ download reads back onto the base")
	topZip := download(t, ctx, dl, `document.querySelector('#runs tbody tr[data-id="`+byMethod["top"].ID+`"] td.dl button')`,
		"-top-k1-"+runPart("top")+"-adapter.zip")
	assert.Contains(t, filepath.Base(topZip), "-top-k1-", "the file names the method and its size")
	zipFiles = readZip(t, topZip)
	require.ElementsMatch(t, []string{"adapter_model.safetensors", "golora_adapter.json"}, slices.Collect(maps.Keys(zipFiles)))
	var gcfg checkpoint.GoloraAdapter
	require.NoError(t, json.Unmarshal(zipFiles["golora_adapter.json"], &gcfg))
	assert.Equal(t, "top", gcfg.Method)
	assert.Equal(t, 1, gcfg.Layers)
	assert.NotEmpty(t, gcfg.Replaces, "top's file replaces the last block's tensors")
	_, err = train.ReadAdapter(base, bytes.NewReader(zipFiles["golora_adapter.json"]), "golora_adapter.json",
		bytes.NewReader(zipFiles["adapter_model.safetensors"]), "adapter_model.safetensors")
	assert.NoError(t, err, "top's download reads back onto the base")
	t.Logf("downloads: %s (%d tensors of (IA)³), %s (top, replaces %d tensors)", filepath.Base(ia3Zip), len(tensors),
		filepath.Base(topZip), len(gcfg.Replaces))

	// 8. The page at a phone's width (390 px) and on a desktop (1400 px): nothing runs off the screen sideways (the
	// results table scrolls inside its panel, the generations fold into cards), the header stacks.
	for _, w := range []int64{390, 1400} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)))
		time.Sleep(300 * time.Millisecond) // a frame for the charts to follow their figures
		over := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body *")).filter((e) =>
			e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest(".table-wrap")).map((e) => e.tagName + "#" + e.id + "." + e.className)`)
		assert.Empty(t, over, "at %d px, these elements run past the right edge", w)
		assert.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), int(w), "at %d px the page scrolls sideways", w)
		if w == 390 {
			assert.True(t, eval[bool](t, ctx, `(() => { const t = document.querySelector("#runs-panel .table-wrap"); return t.scrollWidth > t.clientWidth; })()`),
				"the results table scrolls inside its panel")
			assert.Greater(t, eval[float64](t, ctx, `document.querySelector(".brand p").getBoundingClientRect().width / innerWidth`), 0.7,
				"the header stacks: its tagline spans the screen instead of wrapping into a narrow column")
		}
		shot(t, ctx, fmt.Sprintf("6-width-%d", w))
	}

	// A methods sweep skips a prefix that leaves the task's examples no room (l_p = 16 on e2e, whose longest example
	// takes 122 of the 128 positions), and token rows alone on a task whose every token the base knows (auto chooses
	// none), saying why, as the CLI's sweep does, and goes on; the form refuses the prefix next to l_p.
	rows = eval[int](t, ctx, runRows)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		for (const r of document.querySelectorAll(".mpick")) r.querySelector("input[type=checkbox]").checked = ["prefix-embed", "tokens"].includes(r.dataset.method);
		document.querySelector('.mpick[data-method="prefix-embed"] input.sizes').value = "16"; })(); undefined`),
		chromedp.Click("#methods-start")))
	waitFor(t, ctx, "the too long prefix and the rows with nothing to train skipped", `app.state.sweep && app.state.sweep.kind === "methods" &&
		app.state.sweep.status === "done" && /Skipped prefix-embed l_p=16: .*prefix/.test(document.getElementById("methods-progress").textContent) &&
		/Skipped token rows[^:]*: .*chose no token/.test(document.getElementById("methods-progress").textContent)`, time.Minute)
	t.Logf("methods sweep: %s", eval[string](t, ctx, `document.getElementById("methods-progress").textContent`))
	assert.Regexp(t, `^Skipped: .*chose no token`, eval[string](t, ctx, `document.getElementById("progress-text").textContent`),
		"the run's line says it was skipped, not failed")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("error").hidden`), "a skipped size is no error")
	assert.Equal(t, rows, eval[int](t, ctx, runRows), "and no result")
	setMethod("prefix-embed")
	setField("prefixLen", "16")
	waitFor(t, ctx, "l_p refused", `document.querySelector('.err[data-for="prefixLen"]').textContent.startsWith("at most 6, got 16")`, 10*time.Second)

	// An interrupted run can be discarded instead of resumed: the offer goes, also after a reload.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`app.store.saveInflight({runId: "run-x-1", config: app.state.config,
		step: 2, steps: 6, snapshot: new Uint8Array(8), losses: new Float32Array(2), evals: []}).then(() => true)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready with an interrupted run", pageReady, 60*time.Second)
	waitFor(t, ctx, "resume offered", `!document.getElementById("resume").hidden`, 10*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#discard-run")))
	waitFor(t, ctx, "offer gone", `document.getElementById("resume").hidden`, 5*time.Second)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`app.store.loadInflight().then((r) => !r)`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the discarded run leaves the store")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after discarding", pageReady, 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	assert.True(t, eval[bool](t, ctx, `document.getElementById("resume").hidden`), "a discarded run is not offered again")

	// Clear empties the results, also after a reload.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#clear-runs")))
	waitFor(t, ctx, "results cleared", runRows+` === 0`, 10*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after clearing", pageReady, 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, 0, eval[int](t, ctx, runRows), "cleared results stay cleared")
}

func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// download clicks the element that expr finds and returns the file that lands in dir with a name ending in suffix.
func download(t *testing.T, ctx context.Context, dir, expr, suffix string) string {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](expr+`.click(); undefined`)))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), suffix) {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no file *%s downloaded into %s", suffix, dir)
	return ""
}

// readZip opens a downloaded zip and returns its files by name (reading each checks its CRC).
func readZip(t *testing.T, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err, "the download is a zip")
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err, "%s: read (its CRC is checked)", f.Name)
		rc.Close()
		files[f.Name] = b
	}
	return files
}

// checkAdapterZip opens a downloaded adapter zip: exactly PEFT's two files, a config that parses with the run's rank
// and targets, A and B tensors of the shapes the base and the rank give for every adapted module, and the pair reads
// back onto the base (train.ReadAdapter checks every name and shape too).
func checkAdapterZip(t *testing.T, root, path string, rank int, targets []string) {
	t.Helper()
	files := readZip(t, path)
	require.ElementsMatch(t, []string{"adapter_model.safetensors", "adapter_config.json"}, slices.Collect(maps.Keys(files)))
	cfg, err := checkpoint.ReadAdapterConfig(bytes.NewReader(files["adapter_config.json"]), "adapter_config.json")
	require.NoError(t, err, "the config parses")
	assert.Equal(t, rank, cfg.R)
	var projs []string
	for _, tg := range targets {
		projs = append(projs, tg+"_proj")
	}
	assert.Equal(t, projs, cfg.TargetModules)
	tensors, _, err := checkpoint.ReadSafetensors(bytes.NewReader(files["adapter_model.safetensors"]), "adapter_model.safetensors")
	require.NoError(t, err)
	base := loadBase(t, root)
	ts, err := model.ParseTargets(targets)
	require.NoError(t, err)
	want := map[string][]int{}
	for l := range base.Config.NLayers {
		for _, tg := range ts {
			in, out := base.Config.Shape(tg)
			want[checkpoint.PEFTKey(tg.Module(l), "A")] = []int{rank, in}
			want[checkpoint.PEFTKey(tg.Module(l), "B")] = []int{out, rank}
		}
	}
	got := map[string][]int{}
	for _, tn := range tensors {
		got[tn.Name] = tn.Shape
	}
	assert.Equal(t, want, got, "the adapter's tensors and their shapes")
	_, err = train.ReadAdapter(base, bytes.NewReader(files["adapter_config.json"]), "adapter_config.json",
		bytes.NewReader(files["adapter_model.safetensors"]), "adapter_model.safetensors")
	assert.NoError(t, err, "the downloaded pair reads back onto the base")
	t.Logf("adapter zip: %d tensors of the run's shapes, r=%d on %v", len(tensors), cfg.R, cfg.TargetModules)
}

func loadBase(t *testing.T, root string) *model.Model {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "models/base.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	base, _, err := model.Load(f, "base")
	require.NoError(t, err)
	return base
}

// leadWorker attaches to the page's lead Web Worker (the one the page starts, running worker.js) for evaluating in it.
func leadWorker(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	infos, err := chromedp.Targets(ctx)
	require.NoError(t, err)
	for _, in := range infos {
		if in.Type == "worker" && in.Attached && strings.HasSuffix(in.URL, "/worker.js") {
			wctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(in.TargetID))
			t.Cleanup(cancel)
			return wctx
		}
	}
	t.Fatalf("no lead worker among the browser's targets")
	return nil
}

// native is what native Go computes for a run: its losses, the test samples before and after training, and a
// generation from the trained model.
type native struct {
	losses        []float32
	before, after []train.Sample
	generated     string
}

// nativeRun trains cfg natively as the page does (evaluating before and after), and generates from prompt.
func nativeRun(t *testing.T, root string, cfg train.Config, prompt string) native {
	t.Helper()
	s, err := train.New(loadBase(t, root), data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	var out native
	ev, err := s.Evaluate()
	require.NoError(t, err)
	out.before = ev.Samples
	for range cfg.Steps {
		m, err := s.Step(1)
		require.NoError(t, err)
		out.losses = append(out.losses, m.Loss)
	}
	ev, err = s.Evaluate()
	require.NoError(t, err)
	out.after = ev.Samples
	out.generated, err = s.Generate(prompt, 48, 0, 1)
	require.NoError(t, err)
	return out
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestBrowserDefaultRun is the measurement, opt-in (GOLORA_E2E_DEFAULT=1, `make e2e-default`): the page's
// default run (e2e, LoRA r=4 on q,v, every setting at its default) started from the address bar, timed from the click
// to its final evaluation on the whole test split, which must reach 90% exact match.
func TestBrowserDefaultRun(t *testing.T) {
	if os.Getenv("GOLORA_E2E_DEFAULT") != "1" {
		t.Skip("set GOLORA_E2E_DEFAULT=1 (or run `make e2e-default`) to time the default run in a tab")
	}
	root := repoRoot(t)
	ctx := newBrowser(t, chromium(t))
	url := startServer(t, root, appRoot(t, root))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	waitFor(t, ctx, "page ready", pageReady, 60*time.Second)
	t.Logf("engine: %s", eval[string](t, ctx, `document.getElementById("status").textContent`))
	start := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "#autostart=1"; undefined`)))
	waitFor(t, ctx, "run started", `app.state.run && app.state.run.losses.length > 0`, 60*time.Second)
	waitFor(t, ctx, "default run finished", runFinished+` && app.state.runs.length > 0`, 20*time.Minute)
	took := time.Since(start)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "run status: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	shot(t, ctx, "default-run")
	type result struct {
		Steps, Batch, Correct, Total    int
		Accuracy, TokensPerSec, Seconds float64
		Evals                           []struct {
			Step     int
			Accuracy float64
		}
	}
	r := eval[result](t, ctx, `(() => { const r = app.state.runs[0]; return {Steps: r.config.steps, Batch: r.config.batch,
		Correct: r.correct, Total: r.total, Accuracy: r.accuracy, TokensPerSec: r.tokensPerSec, Seconds: r.seconds,
		Evals: r.evals.map((e) => ({Step: e.step, Accuracy: e.accuracy}))}; })()`)
	t.Logf("default run: %d steps of %d, %.1f s from the click to the final evaluation (%.1f s training), %.0f tokens/s in the tab",
		r.Steps, r.Batch, took.Seconds(), r.Seconds, r.TokensPerSec)
	t.Logf("exact match %d/%d = %.1f%%; during the run: %v", r.Correct, r.Total, 100*r.Accuracy, r.Evals)
	trainMs := eval[float64](t, ctx, `app.state.run.ms`)
	t.Logf("of which %.1f s in training steps, %.1f s in the %d evaluations and start-up; trained by %d workers",
		trainMs/1000, took.Seconds()-trainMs/1000, len(r.Evals), eval[int](t, ctx, `app.state.run.workers`))
	assert.GreaterOrEqual(t, r.Accuracy, 0.9, "the default run reaches 90%% exact match on e2e")
}

// TestBrowserMethodsSweep is the measurement of the methods sweep in a tab, opt-in (GOLORA_E2E_METHODS=1,
// `make e2e-methods`): the page's methods sweep at the smallest size of every method it ticks by default (all but the
// frozen base and intrinsic), every other setting at its default (e2e, 400 steps of 16, evaluated every 100 steps on
// all 200 test prompts), timed from the click to the last run's final evaluation. It logs each run's method, size,
// trainable parameters, accuracy and step time relative to full fine-tuning's, and the load average around it.
func TestBrowserMethodsSweep(t *testing.T) {
	if os.Getenv("GOLORA_E2E_METHODS") != "1" {
		t.Skip("set GOLORA_E2E_METHODS=1 (or run `make e2e-methods`) to time the methods sweep in a tab")
	}
	root := repoRoot(t)
	ctx := newBrowser(t, chromium(t))
	url := startServer(t, root, appRoot(t, root))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	waitFor(t, ctx, "page ready", pageReady, 60*time.Second)
	t.Logf("engine: %s; load average before: %s", eval[string](t, ctx, `document.getElementById("status").textContent`), loadAvg())
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](
		`document.getElementById("methods-quick").checked = true; undefined`)))
	waitFor(t, ctx, "the sweep can start", `!document.getElementById("methods-start").disabled`, 30*time.Second)
	start := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#methods-start")))
	waitFor(t, ctx, "methods sweep started", `app.state.sweep && app.state.sweep.kind === "methods"`, 30*time.Second)
	t.Logf("runs: %v", eval[[]string](t, ctx, `app.state.sweep.queue.map((c) => c.method)`))
	waitFor(t, ctx, "methods sweep finished", `app.state.sweep.status !== "running"`, 4*time.Hour)
	took := time.Since(start)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.sweep.status`), "methods sweep: %s",
		eval[string](t, ctx, `document.getElementById("error-text").textContent`))
	shot(t, ctx, "methods-sweep")
	type run struct {
		Method, Size                    string
		Params, Correct, Total          int
		Accuracy, StepMs, Seconds, Rate float64
	}
	runs := eval[[]run](t, ctx, `app.methods && app.methods.sweepTable()`)
	require.NotEmpty(t, runs)
	t.Logf("methods sweep on e2e in the tab: %d runs in %s from the click to the last evaluation; load average after: %s",
		len(runs), took.Round(time.Second), loadAvg())
	t.Logf("| method | size | trainable | test exact match | step time vs full | step ms | run time |")
	for _, r := range runs {
		t.Logf("| %s | %s | %d | %.1f%% (%d/%d) | %.2fx | %.0f | %.0f s |", r.Method, r.Size, r.Params, 100*r.Accuracy,
			r.Correct, r.Total, r.Rate, r.StepMs, r.Seconds)
	}
}

// loadAvg is the machine's load average (1, 5, 15 minutes), for the timings' caveat.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// stories260K returns the paths of llama2.c's stories260K checkpoint and its tokenizer in ../shared/models (never
// committed), or skips the test saying so; `make test` (GOLORA_E2E_REQUIRE=1) turns the skip into a failure.
func stories260K(t *testing.T, root string) (model, tokenizer string) {
	t.Helper()
	dir := filepath.Join(root, "..", "shared", "models", "stories260K")
	model, tokenizer = filepath.Join(dir, "stories260K.bin"), filepath.Join(dir, "tok512.bin")
	for _, p := range []string{model, tokenizer} {
		if _, err := os.Stat(p); err != nil {
			unavailable(t, fmt.Sprintf("%s is missing (llama2.c's stories260K, which the project never commits): %v", p, err))
		}
	}
	return model, tokenizer
}

// TestBrowserBase chooses the base in the page: llama2.c's stories260K with its tokenizer through the file control,
// trains on it and downloads its adapter (named after it), refuses a damaged and a too-large file next to the control
// while keeping the base, resumes a run on it after a reload (the page loads its files back from IndexedDB) with the
// uninterrupted run's losses, and asks for the files of a base it no longer keeps. Then base-v1 (golora's
// safetensors, whose corpus held no digit) with a file of dates: the page reports the digits as never seen before
// anything trains, one click turns on token rows (auto), the examples panel lists the rows that will train, a run
// counts and exports them, and a sweep compares a rank without and with them.
func TestBrowserBase(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test needs a few minutes; run it without -short")
	}
	root := repoRoot(t)
	storiesBin, tokBin := stories260K(t, root)
	ctx := newBrowser(t, chromium(t))
	url := startServer(t, root, appRoot(t, root))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	waitFor(t, ctx, "page ready", pageReady, 60*time.Second)
	shipped := eval[string](t, ctx, `app.state.model.fingerprint`)
	assert.Equal(t, "base.safetensors", eval[string](t, ctx, `app.state.model.file`))
	setField := func(id, v string) {
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#"+id, v), chromedp.Evaluate[chromedp.Void](
			`document.getElementById("`+id+`").dispatchEvent(new Event("input")); undefined`)))
	}
	files := t.TempDir()
	baseMsg := `document.getElementById("base-msg").textContent`
	choose := func(what string, paths ...string) {
		tries := eval[int](t, ctx, `app.state.baseTries`)
		require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles("#base-file", paths)))
		waitFor(t, ctx, what, fmt.Sprintf(`app.state.baseTries > %d && !app.state.baseBusy &&
			document.getElementById("base-msg").textContent === app.state.baseMsg`, tries), 60*time.Second) // drawn
	}

	// 1. stories260K through the file control: the checkpoint and its tokenizer, chosen together.
	choose("stories260K loaded", storiesBin, tokBin)
	require.False(t, eval[bool](t, ctx, `app.state.baseBad`), "stories260K refused: %s", eval[string](t, ctx, baseMsg))
	stories := eval[string](t, ctx, `app.state.model.fingerprint`)
	assert.NotEqual(t, shipped, stories)
	assert.Equal(t, "tok512.bin (BPE, llama2.c)", eval[string](t, ctx, `document.getElementById("model-tokenizer").textContent`))
	assert.Equal(t, "512", eval[string](t, ctx, `app.state.model.vocab + ""`))
	waitFor(t, ctx, "stories260K kept in this browser", `app.state.kept.some((b) => b.fingerprint === app.state.model.fingerprint) &&
		document.getElementById("base-select").selectedOptions[0].textContent.includes("stories260K.bin + tok512.bin")`, 10*time.Second)

	// A damaged checkpoint and one over the page's limit are refused next to the control; stories260K stays.
	raw, err := os.ReadFile(storiesBin)
	require.NoError(t, err)
	damaged := filepath.Join(files, "damaged.bin")
	require.NoError(t, os.WriteFile(damaged, raw[:len(raw)-4096], 0o644))
	choose("damaged file refused", damaged, tokBin)
	assert.Contains(t, eval[string](t, ctx, baseMsg), "damaged.bin: size: expected 1056540 bytes")
	assert.Equal(t, stories, eval[string](t, ctx, `app.state.model.fingerprint`), "the base stays after a refusal")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("base-msg").classList.contains("bad")`))
	t.Logf("damaged.bin refused: %s", eval[string](t, ctx, baseMsg))
	big := filepath.Join(files, "big.bin")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(train.MaxPageBaseBytes+1)) // sparse: no disk written, and never read
	require.NoError(t, f.Close())
	choose("too large a file refused", big, tokBin)
	assert.Contains(t, eval[string](t, ctx, baseMsg), "big.bin is 128.0 MiB: the page takes bases up to 128 MiB")
	assert.Equal(t, stories, eval[string](t, ctx, `app.state.model.fingerprint`), "the base stays after a refusal")
	shot(t, ctx, "base-1-refused")

	// 2. A short LoRA run on stories260K: the table and the downloads name the base. 48 steps, so that part 3's pause,
	// clicked once the first snapshot (step 6) is saved, lands mid-run: at 12 the run could finish first on an idle
	// machine (stories260K's steps take milliseconds).
	waitFor(t, ctx, "e2e examples on stories260K", `document.querySelectorAll("#examples li").length > 0`, 30*time.Second)
	const steps = 48
	for id, v := range map[string]string{"steps": strconv.Itoa(steps), "batch": "4", "warmup": "2", "evalEvery": "6", "evalLimit": "2"} {
		setField(id, v)
	}
	waitFor(t, ctx, "settings valid on stories260K", settled, 20*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#start")))
	waitFor(t, ctx, "run on stories260K finished", runFinished, 3*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "run on stories260K: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	losses := eval[[]float64](t, ctx, `Array.from(app.state.run.losses)`)
	require.Len(t, losses, steps)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("run-title").textContent`), "on stories260K.bin + tok512.bin")
	waitFor(t, ctx, "the run in #runs", runRows+` === 1`, 10*time.Second)
	assert.Equal(t, "stories260K", eval[string](t, ctx, `document.querySelector("#runs tbody tr[data-id] td.base").textContent`))
	assert.Contains(t, eval[string](t, ctx, `document.querySelector("#runs tbody tr[data-id] td.base").title`), "stories260K.bin + tok512.bin")
	dl := t.TempDir()
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl})
	require.NoError(t, err, "allow downloads")
	zipPath := download(t, ctx, dl, `document.querySelector("#runs tbody tr[data-id] td.dl button")`, "-adapter.zip")
	assert.Contains(t, filepath.Base(zipPath), "golora-stories260K-e2e-lora-r4-qv", "the download's name says the base")
	cfgJSON := zipFile(t, zipPath, "adapter_config.json")
	var ac struct {
		Base string `json:"base_model_name_or_path"`
	}
	require.NoError(t, json.Unmarshal(cfgJSON, &ac))
	assert.Equal(t, "stories260K.bin", ac.Base, "the adapter names the base it was trained on")
	metricsPath := download(t, ctx, dl, `document.querySelectorAll("#runs tbody tr[data-id] td.dl button")[1]`, "-metrics.json")
	var metrics struct {
		Base struct{ File, TokenizerFile, Fingerprint string }
	}
	rawMetrics, err := os.ReadFile(metricsPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(rawMetrics, &metrics))
	assert.Equal(t, "stories260K.bin", metrics.Base.File)
	assert.Equal(t, "tok512.bin", metrics.Base.TokenizerFile)
	assert.Equal(t, stories, metrics.Base.Fingerprint)

	// 3. The same run, interrupted by a reload: the page comes back on the shipped base, and resuming loads
	// stories260K's files from IndexedDB; the run ends with the uninterrupted run's losses.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#start")))
	inflight := `(async () => { const r = await app.store.loadInflight(); return r ? r.step : 0; })()`
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](inflight+`.then((s) => s > 0)`, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(2*time.Minute)))
	require.NoError(t, err, "the run in progress is saved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#pause")))
	waitFor(t, ctx, "paused before the reload", `app.state.run.status === "paused" || `+runFinished, time.Minute)
	require.Equal(t, "paused", eval[string](t, ctx, `app.state.run.status`), "the run is held mid-way")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after the reload", pageReady, 60*time.Second)
	assert.Equal(t, shipped, eval[string](t, ctx, `app.state.model.fingerprint`), "the page starts on the shipped base")
	waitFor(t, ctx, "resume offered", `!document.getElementById("resume").hidden`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("resume-text").textContent`), "on stories260K.bin + tok512.bin")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#resume-run")))
	waitFor(t, ctx, "resumed run finished", runFinished, 3*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "resumed: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	assert.Equal(t, stories, eval[string](t, ctx, `app.state.model.fingerprint`), "the resumed run got its base back")
	assert.Equal(t, losses, eval[[]float64](t, ctx, `Array.from(app.state.run.losses)`), "the resumed run's losses equal the uninterrupted run's")

	// A run whose base this browser no longer keeps: the page asks for its files instead of resuming on another base.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`app.store.saveInflight({runId: "run-x-1", config: app.state.config,
		step: 2, steps: 6, snapshot: new Uint8Array(8), losses: new Float32Array(2), evals: [],
		base: {file: "gone.bin", tokenizerFile: "tok512.bin", fingerprint: "00000000deadbeef"}}).then(() => true)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready with a run on a base not kept", pageReady, 60*time.Second)
	waitFor(t, ctx, "resume offered", `!document.getElementById("resume").hidden`, 10*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#resume-run")))
	waitFor(t, ctx, "the page asks for the files", `document.getElementById("resume-text").textContent.includes("no longer keeps")`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("resume-text").textContent`), "gone.bin + tok512.bin")
	assert.Nil(t, eval[any](t, ctx, `app.state.run`), "nothing resumed on another base")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#discard-run")))

	// 4. base-v1, golora's safetensors whose corpus held no digit, and a file of dates: before anything trains, the
	// page lists the digits as never seen, next to the file, and one click turns on token rows (auto).
	choose("base-v1 loaded", filepath.Join(root, "models/base-v1.safetensors"))
	require.False(t, eval[bool](t, ctx, `app.state.baseBad`), "base-v1 refused: %s", eval[string](t, ctx, baseMsg))
	dates, err := os.ReadFile(filepath.Join(root, "testdata/tokens/dates.jsonl"))
	require.NoError(t, err)
	lines := bytes.SplitAfter(dates, []byte("\n"))
	datesPath := filepath.Join(files, "dates.jsonl")
	require.NoError(t, os.WriteFile(datesPath, bytes.Join(lines[:60], nil), 0o644))
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("task").value = "custom";
		document.getElementById("task").dispatchEvent(new Event("change")); undefined`), chromedp.SetUploadFiles("#file", []string{datesPath})))
	waitFor(t, ctx, "the unseen report", `!!(app.state.unseen && !app.state.unseen.busy && document.querySelector("#unseen button[data-tokens]"))`, time.Minute)
	report := eval[string](t, ctx, `document.getElementById("unseen").textContent`)
	assert.Regexp(t, `never seen \d+ of the characters in your data`, report)
	for d := '0'; d <= '9'; d++ {
		assert.Contains(t, report, "'"+string(d)+"'", "base-v1 never saw the digits")
	}
	t.Logf("unseen report: %s", report)
	shot(t, ctx, "base-2-unseen")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#unseen button[data-tokens]")))
	waitFor(t, ctx, "token rows on", `app.state.config.trainTokens === "auto" && document.getElementById("train-tokens-mode").value === "auto"`, 5*time.Second)
	assert.Contains(t, eval[string](t, ctx, `location.hash`), "trainTokens=auto", "the setting is kept in the URL")
	waitFor(t, ctx, "the rows that will train", `/Token rows that train \(auto\): .*'0' '1' '2'/.test(document.getElementById("token-rows").textContent)`, time.Minute)
	t.Logf("examples panel: %s", eval[string](t, ctx, `document.getElementById("token-rows").textContent`))
	// Their own learning rate, checked by the engine like any setting.
	setField("tokensLr", "2")
	waitFor(t, ctx, "tokensLr refused", `document.querySelector('.err[data-for="tokensLr"]').textContent.length > 0`, 10*time.Second)
	setField("tokensLr", "0")
	for id, v := range map[string]string{"steps": "2", "batch": "4", "warmup": "0", "evalEvery": "0", "evalLimit": "2"} {
		setField(id, v)
	}
	waitFor(t, ctx, "settings valid on base-v1", settled, 20*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#start")))
	waitFor(t, ctx, "run with token rows finished", runFinished, 3*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.run.status`), "run with rows: %s", eval[string](t, ctx, `app.state.run.errorText || ""`))
	rowIDs := eval[int](t, ctx, `app.state.run.info.tokenIds.length`)
	assert.GreaterOrEqual(t, rowIDs, 10, "the digits' rows at least")
	assert.Equal(t, strconv.Itoa(5376+96*rowIDs), strings.ReplaceAll(eval[string](t, ctx, `document.getElementById("trainable").textContent`), ",", ""),
		"trainable parameters count the rows")
	waitFor(t, ctx, "the run with rows in #runs", `document.querySelector("#runs tbody tr[data-id]") &&
		document.querySelector("#runs tbody tr[data-id]").children[3].textContent === "LoRA + `+strconv.Itoa(rowIDs)+` rows"`, 10*time.Second)
	assert.Equal(t, "base-v1", eval[string](t, ctx, `document.querySelector("#runs tbody tr[data-id] td.base").textContent`))
	zipPath = download(t, ctx, dl, `document.querySelector("#runs tbody tr[data-id] td.dl button")`, "-rows"+strconv.Itoa(rowIDs)+"-"+
		eval[string](t, ctx, `app.state.runs[0].id.split("-")[1]`)+"-adapter.zip")
	var withRows struct {
		Indices []int `json:"trainable_token_indices"`
	}
	require.NoError(t, json.Unmarshal(zipFile(t, zipPath, "adapter_config.json"), &withRows))
	assert.Len(t, withRows.Indices, rowIDs, "the PEFT download carries the rows")

	// A sweep of one rank without and with the rows: two runs, drawn as two series.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#sweep-ranks", "2"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sweep-full").checked = false;
			document.getElementById("sweep-tokens").checked = true; undefined`),
		chromedp.Click("#sweep-start")))
	waitFor(t, ctx, "sweep with and without rows finished", `app.state.sweep && app.state.sweep.status !== "running"`, 5*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.sweep.status`))
	assert.Equal(t, []int{0, rowIDs}, eval[[]int](t, ctx, `app.sweep.sweepRuns().map((r) => (r.info.tokenIds || []).length).sort((a, b) => a - b)`),
		"rank 2 once without rows and once with them")
	waitFor(t, ctx, "two series on the rank chart", `document.getElementById("rank-chart").chart.u.data[1][0] != null &&
		document.getElementById("rank-chart").chart.u.data[2][0] != null`, 5*time.Second)
	shot(t, ctx, "base-3-rows-sweep")
	for _, w := range []int64{390, 1400} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)))
		time.Sleep(300 * time.Millisecond)
		over := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body *")).filter((e) =>
			e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest(".table-wrap")).map((e) => e.tagName + "#" + e.id + "." + e.className)`)
		assert.Empty(t, over, "at %d px, these elements run past the right edge", w)
		shot(t, ctx, fmt.Sprintf("base-4-width-%d", w))
	}
}

// zipFile returns the bytes of the file called name in the zip at path.
func zipFile(t *testing.T, path, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			require.NoError(t, err)
			defer rc.Close()
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			return b
		}
	}
	t.Fatalf("%s holds no %s", path, name)
	return nil
}
