//go:build !js

// e2e_test.go drives the browser app in headless Chromium against `golora serve`: a short LoRA run, a rank sweep,
// a reload, with screenshots saved under e2e/screenshots/.

// Package e2e holds golora's end-to-end test of the browser app in a real browser.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// startServer builds cmd/golora, runs `golora serve` on a free port and returns the URL it prints.
func startServer(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "golora")
	build := exec.Command("go", "build", "-o", bin, "./cmd/golora")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/golora:\n%s", out)

	cmd := exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-root", root)
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
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("GOLORA_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("chromium not found at %s: install it with `apt-get update && apt-get install -y chromium` "+
			"(or set GOLORA_CHROMIUM to a Chromium binary)", path)
	}
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
	pageReady   = `document.getElementById("status").dataset.kind !== "busy"`
	runRows     = `document.querySelectorAll("#runs tbody tr[data-id]").length`
	runFinished = `app.state.run && ["done", "stopped", "error"].includes(app.state.run.status)`
)

func TestBrowserApp(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test needs a few minutes; run it without -short")
	}
	root := repoRoot(t)
	for _, f := range []string{"web/dist/golora.wasm", "web/dist/golora-scalar.wasm", "web/dist/wasm_exec.js", "models/base.safetensors"} {
		_, err := os.Stat(filepath.Join(root, f))
		require.NoError(t, err, "%s is missing: run `make wasm` (make test-e2e does it first) and keep the shipped base model", f)
	}
	ctx := newBrowser(t)
	url := startServer(t, root)
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
	assert.False(t, eval[bool](t, ctx, `document.querySelector("details.advanced").open`), "More settings start folded")
	setField("steps", "10")
	waitFor(t, ctx, "warmup error", `document.querySelector('.err[data-for="warmup"]').textContent.length > 0`, 10*time.Second)
	assert.True(t, eval[bool](t, ctx, `document.querySelector("details.advanced").open`), "an error unfolds More settings")
	t.Logf("steps=10 with warmup 20 refused: %s", eval[string](t, ctx, `document.querySelector('.err[data-for="warmup"]').textContent`))

	// 3. A short LoRA run from the URL hash, started by autostart=1.
	hash := fmt.Sprintf("#task=e2e&method=lora&rank=4&targets=q,v&steps=%d&batch=%d&warmup=%d&evalEvery=%d&evalLimit=%d&autostart=1",
		steps, batch, min(steps/4, 20), evalEvery, evalLimit)
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
	// The adapter download is a zip holding PEFT's two files.
	zipHead, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => { const { adapterZip } = await import("/downloads.js");
		const u = adapterZip(app.state.runs[0]); return String.fromCharCode(u[0], u[1]) + " " + u.length; })()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err, "zip the adapter")
	assert.True(t, strings.HasPrefix(zipHead, "PK "), "adapter zip starts with PK: %q", zipHead)
	// Merging the adapter reports the largest logit difference between merged and unmerged.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#merge")))
	waitFor(t, ctx, "merge", `/Merged|failed/.test(document.getElementById("merge-out").textContent)`, 60*time.Second)
	mergeOut := eval[string](t, ctx, `document.getElementById("merge-out").textContent`)
	assert.Contains(t, mergeOut, "Merged", "merge succeeds")
	t.Logf("%s", mergeOut)
	shot(t, ctx, "2-run-done")

	// 4. A two-rank sweep with the same short settings.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue("#sweep-ranks", "1, 2"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sweep-full").checked = `+sweepFull+`; undefined`),
		chromedp.Click("#sweep-start"),
	))
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

	// 6. The scalar build, which browsers without WebAssembly SIMD get: forced with ?engine=scalar, it trains,
	// and its losses equal this (scalar, native) test binary's bit for bit.
	const scalarSteps, scalarBatch = 3, 2
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url+fmt.Sprintf(
		"?engine=scalar#task=e2e&method=lora&rank=4&targets=q,v&steps=%d&batch=%d&warmup=1&evalEvery=0&evalLimit=2&autostart=1",
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
	native := nativeLosses(t, root, scalarSteps, scalarBatch)
	require.Len(t, inTab, len(native))
	for i := range native {
		assert.Equal(t, math.Float32bits(native[i]), math.Float32bits(float32(inTab[i])),
			"step %d: scalar wasm in the tab %v, native %v", i+1, inTab[i], native[i])
	}
	t.Logf("scalar build in the tab on %d workers: losses %v, the same bits as native", workers, inTab)
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

// nativeLosses runs the default LoRA configuration of the page (e2e, r=4 on q,v) natively for a few steps.
func nativeLosses(t *testing.T, root string, steps, batch int) []float32 {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "models/base.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	base, _, err := model.Load(f, "base")
	require.NoError(t, err)
	cfg := train.DefaultConfig()
	cfg.Task, cfg.Method, cfg.Rank, cfg.Targets = "e2e", train.MethodLoRA, 4, []string{"q", "v"}
	cfg.Steps, cfg.Batch, cfg.Warmup, cfg.EvalEvery, cfg.EvalLimit = steps, batch, 1, 0, 2
	s, err := train.New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	var out []float32
	for range steps {
		m, err := s.Step(1)
		require.NoError(t, err)
		out = append(out, m.Loss)
	}
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
	ctx := newBrowser(t)
	url := startServer(t, root)
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
