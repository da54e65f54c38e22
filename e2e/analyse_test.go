//go:build !js

// analyse_test.go drives the page's Analyse panel and its learning-rate sweep in headless Chromium: two short LoRA
// runs and a full one, the φ heatmaps between the two LoRA runs (their values against native Go's analysis of the
// same adapters), the one-run view's spectrum, all again after a reload (the adapters and the model kept in
// IndexedDB), and a short learning-rate sweep's curve.

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/analysis"
	"golora/core/train"
)

// heatmap is one φ heatmap as the page draws it: its kind, shape and values (data attributes).
type heatmap struct {
	Kind   string
	Rows   int
	Cols   int
	Values [][]float64
}

const heatmapsJS = `Array.from(document.querySelectorAll("#analyse-heatmaps figure.heatmap")).map((f) => ({
	Kind: f.dataset.kind, Rows: +f.dataset.rows, Cols: +f.dataset.cols, Values: JSON.parse(f.dataset.values)}))`

func TestBrowserAnalyse(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test needs a few minutes; run it without -short")
	}
	root := repoRoot(t)
	ctx := newBrowser(t, chromium(t))
	// The page's uncaught exceptions: the panels draw in render(), which must never throw.
	var mu sync.Mutex
	var thrown []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			thrown = append(thrown, msg)
			mu.Unlock()
		}
	}))
	exceptions := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(thrown)
	}
	t.Cleanup(func() {
		for _, e := range exceptions() {
			t.Logf("page exception: %s", e)
		}
	})
	url := startServer(t, root, appRoot(t, root))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	waitFor(t, ctx, "page ready", pageReady, 60*time.Second)
	require.Equal(t, "ok", eval[string](t, ctx, `document.getElementById("status").dataset.kind`),
		"the engine loads: %s", eval[string](t, ctx, `document.getElementById("error-text").textContent`))
	assert.Empty(t, eval[[]string](t, ctx, `Array.from(document.querySelectorAll(".panel .panel")).map((p) => p.id)`),
		"no panel inside another (a missing </section> nests the ones after it)")

	// Two short LoRA runs at ranks 2 and 4 (the paper's Figure 3 compares two ranks), and a short full fine-tuning.
	start := time.Now()
	for i, hash := range []string{
		"#task=e2e&method=lora&rank=2&targets=q,v&steps=6&batch=4&warmup=1&evalEvery=0&evalLimit=2&autostart=1",
		"#task=e2e&method=lora&rank=4&targets=q,v&steps=6&batch=4&warmup=1&evalEvery=0&evalLimit=2&autostart=1",
		"#task=e2e&method=full&lr=0.001&steps=3&batch=4&warmup=1&evalEvery=0&evalLimit=2&autostart=1",
	} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "`+hash+`"; undefined`)))
		waitFor(t, ctx, fmt.Sprintf("run %d kept", i+1), fmt.Sprintf("app.state.runs.length === %d", i+1), 3*time.Minute)
	}
	t.Logf("three short runs: %.1f s", time.Since(start).Seconds())
	kept := eval[[]int](t, ctx, `app.state.runs.map((r) => (r.adapter || r.fineTuned || []).length)`)
	t.Logf("kept for the analyses, newest first: full %d bytes, LoRA r=4 %d, LoRA r=2 %d", kept[0], kept[1], kept[2])
	require.Greater(t, kept[0], 1_000_000, "the full run keeps its fine-tuned model")
	require.Greater(t, kept[1], kept[2], "the LoRA runs keep their adapters, r=4's the larger")

	// Pick the LoRA r=4 run and compare it with r=2: the four φ heatmaps of one module (i ≤ 4, j ≤ 2).
	choose := func(id, value string) {
		require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.getElementById(%q);
			s.value = %s; s.dispatchEvent(new Event("change")); })()`, id, value))))
	}
	choose("analyse-a", `app.state.runs[1].id`)
	choose("analyse-b", `app.state.runs[2].id`)
	waitFor(t, ctx, "φ heatmaps", `document.querySelectorAll("#analyse-heatmaps figure.heatmap").length === 4`, time.Minute)
	require.Empty(t, exceptions(), "the page threw no exception")
	status := eval[string](t, ctx, `document.getElementById("analyse-status").textContent`)
	t.Logf("analysis of r=4 against r=2: %s", status)
	module := eval[string](t, ctx, `document.getElementById("analyse-module").value`)
	maps := eval[[]heatmap](t, ctx, heatmapsJS)
	require.Len(t, maps, 4)
	assert.True(t, eval[bool](t, ctx, `Array.from(document.querySelectorAll("#analyse-heatmaps canvas")).every((c) =>
		c.getBoundingClientRect().width > 0 && c.getBoundingClientRect().height > 0)`), "the heatmaps are drawn where they can be seen")

	// The same analysis natively, on the adapters the page kept: the φ grids agree to the 4 decimals the page writes.
	base := loadBase(t, root)
	adapter := func(i int) train.RunWeights {
		var w struct {
			Adapter []byte
			Config  string
		}
		text := eval[string](t, ctx, fmt.Sprintf(`JSON.stringify({Adapter: btoa(String.fromCharCode(...app.state.runs[%d].adapter)),
			Config: app.state.runs[%d].adapterConfig})`, i, i))
		require.NoError(t, json.Unmarshal([]byte(text), &w))
		return train.RunWeights{Name: fmt.Sprint(i), AdapterWeights: w.Adapter, AdapterConfig: []byte(w.Config)}
	}
	b := adapter(2)
	rep, err := train.Analyse(base, adapter(1), &b, analysis.DefaultOptions())
	require.NoError(t, err)
	var want *analysis.Comparison
	for _, m := range rep.Modules {
		if m.Name == module {
			want = m.Compare
		}
	}
	require.NotNil(t, want, "module %s compared natively", module)
	for _, hm := range maps {
		grid := map[string][][]float64{"phi_a": want.A, "random_a": want.RandomA, "phi_delta_w": want.DeltaW,
			"random_delta_w": want.RandomDeltaW}[hm.Kind]
		require.NotNil(t, grid, "heatmap kind %q", hm.Kind)
		assert.Equal(t, 4, hm.Rows, "%s: i ≤ r = 4", hm.Kind)
		assert.Equal(t, 2, hm.Cols, "%s: j ≤ r = 2", hm.Kind)
		require.Len(t, hm.Values, 4)
		for i, row := range hm.Values {
			require.Len(t, row, 2)
			for j, v := range row {
				assert.True(t, v >= 0 && v <= 1, "%s φ(%d, %d) = %v is in [0, 1]", hm.Kind, i+1, j+1, v)
				assert.InDelta(t, grid[i][j], v, 6e-5, "%s φ(%d, %d): the page's against native Go's", hm.Kind, i+1, j+1)
			}
		}
	}
	// φ(i, j) with min(i, j) = 2 directions of a 2-dimensional span inside 96 dimensions: the adapters' spans overlap
	// far more than random ones (the paper's finding; here they share their first training steps' gradients).
	t.Logf("φ on A, %s: %v; random control: %v", module, maps[0].Values, maps[1].Values)
	var phi11, random11 float64 // summed, then divided, as the page does
	for _, m := range rep.Modules {
		phi11 += m.Compare.A[0][0]
		random11 += m.Compare.RandomA[0][0]
	}
	phi11, random11 = phi11/float64(len(rep.Modules)), random11/float64(len(rep.Modules))
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("analyse-phi-summary").textContent`),
		fmt.Sprintf("%.2f on A (random %.2f)", phi11, random11), "φ(1, 1) over the modules, as native Go computes it")
	shot(t, ctx, "7-analyse-two-runs")

	// One run alone: its spectrum (r non-zero singular values, as native Go finds them) and a figure per layer and
	// matrix; the table's cells are the report's amplification factors.
	choose("analyse-b", `""`)
	waitFor(t, ctx, "one-run view", `document.getElementById("analyse-phi").hidden &&
		!document.getElementById("analyse-one").hidden && !!JSON.parse(document.getElementById("spectrum-chart").dataset.values || "{}").lora`, time.Minute)
	var spec struct{ Lora, Full []float64 }
	require.NoError(t, json.Unmarshal([]byte(eval[string](t, ctx, `document.getElementById("spectrum-chart").dataset.values`)), &spec))
	module = eval[string](t, ctx, `document.getElementById("analyse-module").value`)
	var native []float64
	for _, m := range rep.Modules {
		if m.Name == module {
			native = m.LoRA.Spectrum.Values
		}
	}
	require.Len(t, spec.Lora, 4, "a rank-4 update has 4 non-zero singular values")
	for k, v := range spec.Lora {
		assert.InDelta(t, native[k], v, 1e-9*native[0], "σ_%d of %s", k+1, module)
	}
	cells := eval[[]float64](t, ctx, `Array.from(document.querySelectorAll("#amp-table td .v")).map((s) => +s.dataset.value)`)
	assert.Len(t, cells, len(rep.Modules), "one amplification factor per layer and matrix")
	for _, v := range cells {
		assert.Greater(t, v, 0.0, "amplification factors are positive")
	}
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("amp-caption").textContent`), "21.5",
		"the table carries the paper's finding")

	// A LoRA run beside the full one: both spectra, and the full run's ΔW over every linear layer.
	choose("analyse-b", `app.state.runs[0].id`)
	waitFor(t, ctx, "LoRA and full spectra", `(() => { const v = JSON.parse(document.getElementById("spectrum-chart").dataset.values || "{}");
		return v.lora && v.lora.length === 4 && v.full && v.full.length > 4; })()`, time.Minute)
	t.Logf("LoRA r=4 beside full fine-tuning: %s", eval[string](t, ctx, `document.getElementById("analyse-status").textContent`))

	// After a reload the kept runs are analysed again, from IndexedDB.
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitFor(t, ctx, "page ready after the reload", pageReady, 60*time.Second)
	waitFor(t, ctx, "runs restored", `app.state.runs.length === 3`, 10*time.Second)
	choose("analyse-a", `app.state.runs[1].id`)
	choose("analyse-b", `app.state.runs[2].id`)
	waitFor(t, ctx, "φ heatmaps after the reload", `document.querySelectorAll("#analyse-heatmaps figure.heatmap").length === 4`, time.Minute)
	again := eval[[]heatmap](t, ctx, heatmapsJS)
	assert.Equal(t, maps[0].Values, again[0].Values, "the same φ after a reload")

	for _, w := range []int64{1400, 390} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)))
		time.Sleep(400 * time.Millisecond)
		over := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#analyse-panel *, #lrdim-panel *")).filter((e) =>
			e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest(".table-wrap")).map((e) => e.tagName + "#" + e.id + "." + e.className)`)
		assert.Empty(t, over, "at %d px, these elements run past the right edge", w)
		require.NoError(t, chromedp.Do(ctx, chromedp.ScrollIntoView("#analyse-panel")))
		shot(t, ctx, fmt.Sprintf("7-analyse-width-%d", w))
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1000)))

	// A learning-rate sweep from the page: LoRA at two rates (full fine-tuning left out to stay short); its curve is
	// drawn with each rate's accuracy, and the best rate is marked. The higher rate diverges: a NaN loss is injected in
	// the lead worker (through the debugger) at its first step, since clipping keeps a real divergence minutes away.
	// That rate is kept as "diverged", without an error banner, and the sweep goes on.
	setField := func(id, v string) {
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#"+id, v), chromedp.Evaluate[chromedp.Void](
			`document.getElementById("`+id+`").dispatchEvent(new Event("input")); undefined`)))
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "#task=e2e&method=lora&rank=2&targets=q,v&steps=3&batch=4&warmup=1&evalEvery=0&evalLimit=2"; undefined`)))
	waitFor(t, ctx, "settings from the hash", `app.state.config.steps === 3 && !document.getElementById("lrdim-start").disabled`, 10*time.Second)
	_, err = chromedp.Run(leadWorker(t, ctx), chromedp.Evaluate[bool](`(() => { const realCall = call; let lr = 0;
		self.call = (method, args, bulk) => {
			if (method === "start") lr = args.config.lr;
			if ((method === "applyShards" || method === "step") && lr === 0.1) {
				const e = new Error("train: step 1: loss is NaN; stopped (injected)");
				e.stopped = true;
				throw e;
			}
			return realCall(method, args, bulk);
		};
		return true; })()`))
	require.NoError(t, err, "inject the divergence")
	setField("lrdim-values", "1e-1, 1e-2") // sorted by the page: 1e-2 runs first
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("lrdim-full").checked = false; undefined`),
		chromedp.Click("#lrdim-start")))
	waitFor(t, ctx, "learning-rate sweep finished", `app.state.sweep && app.state.sweep.kind === "lrs" && app.state.sweep.status !== "running"`, 3*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.sweep.status`))
	waitFor(t, ctx, "learning-rate curve", `(() => { const v = JSON.parse(document.getElementById("lr-acc-chart").dataset.values || "{}");
		return v.lrs && v.lrs.length === 2; })()`, 10*time.Second)
	var curve struct {
		LRs  []float64
		Lora []*float64
	}
	require.NoError(t, json.Unmarshal([]byte(eval[string](t, ctx, `document.getElementById("lr-acc-chart").dataset.values`)), &curve))
	assert.InDeltaSlice(t, []float64{1e-2, 1e-1}, curve.LRs, 1e-9)
	require.Len(t, curve.Lora, 2)
	require.NotNil(t, curve.Lora[0], "accuracy at lr 1e-2")
	assert.True(t, *curve.Lora[0] >= 0 && *curve.Lora[0] <= 1 && !math.IsNaN(*curve.Lora[0]))
	assert.Nil(t, curve.Lora[1], "the diverged rate has no accuracy on the curve")
	waitFor(t, ctx, "best rate", `document.getElementById("lrdim-summary").textContent.includes("LoRA's best rate: 1e-2")`, 10*time.Second)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("lrdim-summary").textContent`), "diverged: LoRA at 1e-1")
	assert.Equal(t, "diverged", eval[string](t, ctx, `document.querySelector("#runs tbody tr[data-id] td.bad").textContent`),
		"the diverged rate is a result in the table")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("error").hidden`), "no error banner for a diverged rate")
	t.Logf("learning-rate sweep: %s", eval[string](t, ctx, `document.getElementById("lrdim-summary").textContent`))
	require.NoError(t, chromedp.Do(ctx, chromedp.ScrollIntoView("#lrdim-panel")))
	shot(t, ctx, "7-lr-sweep")

	// An intrinsic-dimension sweep at two d (full fine-tuning and the LoRA run left out to stay short): its curve, with
	// the newest LoRA run on the task as the reference (its accuracy and trainable count).
	sweepStart := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`input[name="lrdim-kind"][value="dims"]`)))
	waitFor(t, ctx, "dimensions field", `document.getElementById("lrdim-values-label").textContent === "Dimensions d"`, 5*time.Second)
	setField("lrdim-values", "10, 1000")
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("lrdim-full").checked = false;
		document.getElementById("lrdim-lora").checked = false; undefined`), chromedp.Click("#lrdim-start")))
	waitFor(t, ctx, "intrinsic sweep finished", `app.state.sweep && app.state.sweep.kind === "dims" && app.state.sweep.status !== "running"`, 5*time.Minute)
	require.Equal(t, "done", eval[string](t, ctx, `app.state.sweep.status`))
	waitFor(t, ctx, "intrinsic curve", `(() => { const v = JSON.parse(document.getElementById("dim-chart").dataset.values || "{}");
		return v.d && v.d.length === 2; })()`, 10*time.Second)
	var dims struct {
		D        []int
		Accuracy []float64
	}
	require.NoError(t, json.Unmarshal([]byte(eval[string](t, ctx, `document.getElementById("dim-chart").dataset.values`)), &dims))
	assert.Equal(t, []int{10, 1000}, dims.D)
	assert.Len(t, dims.Accuracy, 2)
	assert.Contains(t, eval[string](t, ctx, `document.querySelector("#dim-chart .legend").textContent`), "LoRA's 2,688 trainable",
		"the newest LoRA run on the task is the reference: r=2 on q,v")
	t.Logf("intrinsic-dimension sweep at d = 10, 1000 (2 steps each): %.1f s", time.Since(sweepStart).Seconds())
	shot(t, ctx, "7-dim-sweep")
	assert.Empty(t, exceptions(), "the page threw no exception")
}

// TestBrowserAnalyseCost measures what the Analyse panel costs in the tab, opt-in (GOLORA_E2E_ANALYSE_COST=1, `make
// e2e-analyse-cost`): the engine's analyse call in the lead worker (gonum's SVDs compiled to wasm, the JSON both
// ways), on runs of a few steps (an SVD's cost does not depend on how far a run trained), each case timed five times
// alternating with the same call natively (train.Engine's analyse on the same kept files, its JSON reply included),
// the fastest of each.
func TestBrowserAnalyseCost(t *testing.T) {
	if os.Getenv("GOLORA_E2E_ANALYSE_COST") != "1" {
		t.Skip("set GOLORA_E2E_ANALYSE_COST=1 (or run `make e2e-analyse-cost`) to time the analyses in a tab")
	}
	root := repoRoot(t)
	ctx := newBrowser(t, chromium(t))
	url := startServer(t, root, appRoot(t, root))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	waitFor(t, ctx, "page ready", pageReady, 60*time.Second)
	runs := []string{
		"method=lora&rank=4&targets=q,v&seed=1", // the default run's adapter
		"method=lora&rank=8&targets=q,v&seed=1",
		"method=lora&rank=48&targets=q,v&seed=1", // the largest rank q,v allow (v is 48 x 96)
		"method=lora&rank=64&targets=q,o&seed=1", // r=64 needs matrices of 96 or more on both sides
		"method=lora&rank=64&targets=q,o&seed=2",
		"method=full&lr=0.001",
	}
	for i, r := range runs {
		hash := "#task=e2e&" + r + "&steps=2&batch=4&warmup=1&evalEvery=0&evalLimit=1&autostart=1"
		require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "`+hash+`"; undefined`)))
		waitFor(t, ctx, fmt.Sprintf("run %d kept", i+1), fmt.Sprintf("app.state.runs.length === %d", i+1), 3*time.Minute)
	}
	// Runs by index in the order trained (the table is newest first).
	kept := func(i int) train.RunWeights {
		var w struct {
			Adapter, FineTuned []byte
			Config             string
		}
		j := len(runs) - 1 - i
		text := eval[string](t, ctx, fmt.Sprintf(`(() => { const r = app.state.runs[%d];
			const b64 = (a) => { let s = ""; for (let k = 0; k < a.length; k += 8192) s += String.fromCharCode(...a.subarray(k, k + 8192)); return btoa(s); };
			return JSON.stringify({Adapter: r.adapter ? b64(r.adapter) : "", FineTuned: r.fineTuned ? b64(r.fineTuned) : "",
				Config: r.adapterConfig || ""}); })()`, j))
		require.NoError(t, json.Unmarshal([]byte(text), &w))
		return train.RunWeights{Name: runs[i], AdapterWeights: w.Adapter, AdapterConfig: []byte(w.Config), Model: w.FineTuned}
	}
	baseFile, err := os.ReadFile(filepath.Join(root, "models/base.safetensors"))
	require.NoError(t, err)
	engine := train.NewEngine()
	reply, _ := engine.Call("load", []byte(`{"name": "base"}`), train.Bulk{Bytes: map[string][]byte{"model": baseFile}})
	require.NotContains(t, string(reply), `"error"`)
	for _, c := range []struct {
		name string
		a, b int // b < 0: one run
	}{
		{"the default run alone (LoRA r=4 on q,v: 8 modules)", 0, -1},
		{"LoRA r=8 against r=48 on q,v (φ 8 x 48, 8 modules)", 1, 2},
		{"LoRA r=64 alone on q,o (8 modules)", 3, -1},
		{"LoRA r=64 against r=64 on q,o, two seeds (φ 64 x 64, 8 modules)", 3, 4},
		{"full fine-tuning alone (28 modules)", 5, -1},
		{"LoRA r=4 on q,v beside full fine-tuning (8 modules, both updates)", 0, 5},
	} {
		b := -1
		if c.b >= 0 {
			b = len(runs) - 1 - c.b
		}
		js := fmt.Sprintf(`import("/client.js").then((client) => new Promise((resolve) => {
			const r = (i) => { const x = app.state.runs[i]; return {name: String(i), adapter: x.adapter, adapterConfig: x.adapterConfig,
				fineTuned: x.method === "lora" ? null : x.fineTuned}; };
			const id = "cost-" + Math.random();
			client.on("analysed", (p) => { if (p.id === id) resolve(p.error ? -1 : p.ms); });
			client.send("analyse", {id, a: r(%d), b: %d >= 0 ? r(%d) : null});
		}))`, len(runs)-1-c.a, b, b)
		bulk := map[string][]byte{}
		slot := func(name string, w train.RunWeights) {
			if len(w.Model) > 0 {
				bulk[name+".model"] = w.Model
				return
			}
			bulk[name+".adapter"], bulk[name+".adapterConfig"] = w.AdapterWeights, w.AdapterConfig
		}
		slot("a", kept(c.a))
		args := `{"a": {"name": "a"}}`
		if c.b >= 0 {
			slot("b", kept(c.b))
			args = `{"a": {"name": "a"}, "b": {"name": "b"}}`
		}
		tab, native := math.Inf(1), math.Inf(1)
		for range 5 {
			ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js, chromedp.EvalAwaitPromise))
			require.NoError(t, err)
			require.GreaterOrEqual(t, ms, 0.0, "%s: the analysis failed in the tab", c.name)
			tab = min(tab, ms)
			t0 := time.Now()
			reply, _ := engine.Call("analyse", []byte(args), train.Bulk{Bytes: bulk})
			native = min(native, float64(time.Since(t0).Microseconds())/1000)
			require.NotContains(t, string(reply[:min(len(reply), 100)]), `"error"`, "%s natively", c.name)
		}
		t.Logf("%s: %.0f ms in the tab, %.0f ms natively (the same engine call): %.1fx", c.name, tab, native, tab/native)
	}
	// The panel on r=8 against r=48 (the paper's Figure 3 at the largest rank q,v allow), at both widths.
	for _, sel := range [][2]string{{"analyse-a", "1"}, {"analyse-b", "2"}} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.getElementById(%q);
			s.value = app.state.runs[%d].id; s.dispatchEvent(new Event("change")); })()`, sel[0], len(runs)-1-int(sel[1][0]-'0')))))
	}
	waitFor(t, ctx, "φ heatmaps", `document.querySelectorAll("#analyse-heatmaps figure.heatmap").length === 4`, time.Minute)
	for _, w := range []int64{1400, 390} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)))
		time.Sleep(400 * time.Millisecond)
		shot(t, ctx, fmt.Sprintf("7-analyse-r8-r48-%d", w))
	}
}
