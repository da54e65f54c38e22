// This file tests AdamW, the schedule and clipping against PyTorch fixtures (testdata/optim) and nanoGPT's get_lr.

package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureDir is testdata/optim seen from the package directory, which is the
// working directory of `go test` natively and under wasm.
const fixtureDir = "../../testdata/optim"

// relTol is the tolerance, relative to the expected value, of comparisons with
// PyTorch. Both sides compute in float32 (2^-24 ≈ 6e-8 relative rounding), but
// torch rounds its scalar constants (1-β1, lr/(1-β1^t), β as float32) a little
// differently from ours, which computes bias corrections in float64 and rounds
// once; after five steps that amounts to a few ulps. 1e-6 (about 16 ulps) is
// far below any real mistake (a wrong bias correction or decay is off by >1e-4).
const relTol = 1e-6

// loadFixture decodes testdata/optim/<name>.json into v.
func loadFixture(t *testing.T, name string, v any) {
	t.Helper()
	buf, err := os.ReadFile(filepath.Join(fixtureDir, name+".json"))
	require.NoError(t, err, "reading fixture %s (regenerate with /usr/bin/python3 testdata/gen/gen_optim.py)", name)
	require.NoError(t, json.Unmarshal(buf, v), "decoding fixture %s", name)
}

// f32 converts a fixture vector (float32 values written exactly as float64) to float32.
func f32(xs []float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

// adamwFixture is one testdata/optim/adamw_*.json file, written by gen_optim.py.
type adamwFixture struct {
	Case        string      `json:"case"`
	Beta1       float64     `json:"beta1"`
	Beta2       float64     `json:"beta2"`
	Eps         float64     `json:"eps"`
	WeightDecay float64     `json:"weight_decay"`
	LRs         []float64   `json:"lrs"`
	Params      []float64   `json:"params"`
	Grads       [][]float64 `json:"grads"`
	After       [][]float64 `json:"after"`
}

func TestAdamWMatchesTorch(t *testing.T) {
	for _, name := range []string{"adamw_wd", "adamw_nowd"} {
		t.Run(name, func(t *testing.T) {
			var fx adamwFixture
			loadFixture(t, name, &fx)
			require.Len(t, fx.Grads, len(fx.LRs), "one gradient per step")
			require.Len(t, fx.After, len(fx.LRs), "one result per step")
			opt := NewAdamW(len(fx.Params), float32(fx.WeightDecay))
			// The fixture states torch's settings; ours must be the same defaults.
			require.Equal(t, float32(fx.Beta1), opt.Beta1, "Beta1")
			require.Equal(t, float32(fx.Beta2), opt.Beta2, "Beta2")
			require.Equal(t, float32(fx.Eps), opt.Eps, "Eps")
			params := f32(fx.Params)
			worst := 0.0
			for step, lr := range fx.LRs {
				grads := f32(fx.Grads[step])
				opt.Step(params, grads, float32(lr))
				require.Equal(t, step+1, opt.Steps(), "Steps after step %d", step)
				for i, want := range fx.After[step] {
					// The floor covers parameters near 0: there the error is
					// relative to the update (at most lr), not to the value.
					tol := relTol * max(math.Abs(want), lr)
					got := float64(params[i])
					worst = max(worst, math.Abs(got-want)/max(math.Abs(want), lr))
					if !assert.InDelta(t, want, got, tol, "AdamW.Step %s: step %d, param %d", fx.Case, step, i) {
						return
					}
				}
			}
			t.Logf("%s: worst relative error %.3g", name, worst)
		})
	}
}

// clipFixture is one testdata/optim/clip_*.json file, written by gen_optim.py.
type clipFixture struct {
	Case    string      `json:"case"`
	MaxNorm float64     `json:"max_norm"`
	Grads   [][]float64 `json:"grads"`
	Clipped [][]float64 `json:"clipped"`
	Norm    float64     `json:"norm"`
}

func TestClipGlobalNormMatchesTorch(t *testing.T) {
	for _, name := range []string{"clip_multi", "clip_under", "clip_large"} {
		t.Run(name, func(t *testing.T) {
			var fx clipFixture
			loadFixture(t, name, &fx)
			grads := make([][]float32, len(fx.Grads))
			for k, g := range fx.Grads {
				grads[k] = f32(g)
			}
			// torch sums in float32, we in float64: the norms agree to float32 precision.
			assert.InDelta(t, fx.Norm, GlobalNorm(grads...), relTol*fx.Norm, "GlobalNorm %s", fx.Case)
			norm := ClipGlobalNorm(float32(fx.MaxNorm), grads...)
			assert.InDelta(t, fx.Norm, norm, relTol*fx.Norm, "ClipGlobalNorm %s: returned norm", fx.Case)
			for k := range grads {
				for i, want := range fx.Clipped[k] {
					if !assert.InDelta(t, want, float64(grads[k][i]), relTol*math.Abs(want)+1e-12,
						"ClipGlobalNorm %s: tensor %d, element %d", fx.Case, k, i) {
						return
					}
				}
			}
			after := GlobalNorm(grads...)
			assert.LessOrEqual(t, after, fx.MaxNorm*(1+relTol), "ClipGlobalNorm %s: norm after clipping", fx.Case)
		})
	}
}

func TestClipGlobalNormDisabled(t *testing.T) {
	for _, maxNorm := range []float32{0, -1} {
		g1, g2 := []float32{3, -4}, []float32{12}
		norm := ClipGlobalNorm(maxNorm, g1, g2)
		assert.InDelta(t, 13.0, norm, 1e-12, "ClipGlobalNorm(maxNorm=%g): returned norm", maxNorm)
		assert.Equal(t, []float32{3, -4}, g1, "ClipGlobalNorm(maxNorm=%g): first tensor changed", maxNorm)
		assert.Equal(t, []float32{12}, g2, "ClipGlobalNorm(maxNorm=%g): second tensor changed", maxNorm)
	}
	// The same gradients with clipping on are scaled to norm 1 (a check that the case above could fail).
	g1, g2 := []float32{3, -4}, []float32{12}
	ClipGlobalNorm(1, g1, g2)
	assert.InDelta(t, 1.0, GlobalNorm(g1, g2), 1e-6, "ClipGlobalNorm(1): norm after clipping")
}

// panicMessage runs f and returns what it panicked with, as a string ("" if it did not panic).
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

func TestAdamWPanicsOnSizeMismatch(t *testing.T) {
	cases := []struct {
		name          string
		params, grads int
	}{
		{"short params", 3, 4},
		{"short grads", 4, 3},
		{"both long", 5, 5},
	}
	for _, c := range cases {
		opt := NewAdamW(4, 0)
		msg := panicMessage(func() { opt.Step(make([]float32, c.params), make([]float32, c.grads), 1e-3) })
		assert.True(t, strings.HasPrefix(msg, "optim:"), "AdamW.Step %s: panic %q, want an \"optim:\" prefix", c.name, msg)
		assert.Equal(t, 0, opt.Steps(), "AdamW.Step %s: a refused step must not count", c.name)
	}
	opt := NewAdamW(4, 0)
	assert.Empty(t, panicMessage(func() { opt.Step(make([]float32, 4), make([]float32, 4), 1e-3) }),
		"AdamW.Step with matching sizes")
}

func TestAdamWStateBytes(t *testing.T) {
	for _, n := range []int{0, 1, 50, 1 << 20} {
		opt := NewAdamW(n, 0.1)
		assert.Equal(t, n, opt.Len(), "Len for n=%d", n)
		// Two float32 moments per parameter.
		assert.Equal(t, int64(8*n), opt.StateBytes(), "StateBytes for n=%d", n)
	}
}

// getLR is nanoGPT's get_lr (train.py) written out in float64 with the
// standard library, with our names: warmup linear (it+1)/(warmup+1), then
// cosine from max to min, then min after total ("lr_decay_iters").
func getLR(it int, maxLR, minLR float64, warmup, total int) float64 {
	if it < warmup {
		return maxLR * float64(it+1) / float64(warmup+1)
	}
	if it > total {
		return minLR
	}
	ratio := float64(it-warmup) / float64(total-warmup)
	coeff := 0.5 * (1 + math.Cos(math.Pi*ratio))
	return minLR + coeff*(maxLR-minLR)
}

func TestScheduleMatchesNanoGPT(t *testing.T) {
	scheds := []Schedule{
		{Max: 6e-4, Min: 6e-5, Warmup: 10, Total: 100},
		{Max: 1e-2, Min: 0, Warmup: 0, Total: 20},
		{Max: 3e-3, Min: 1e-4, Warmup: 1, Total: 2},
		{Max: 1, Min: 0.5, Warmup: 7, Total: 8},
	}
	for _, s := range scheds {
		for step := range s.Total + 5 {
			want := getLR(step, float64(s.Max), float64(s.Min), s.Warmup, s.Total)
			assert.InDelta(t, want, float64(s.At(step)), relTol*want+1e-12, "Schedule%+v.At(%d)", s, step)
		}
	}
}

func TestScheduleEdges(t *testing.T) {
	s := Schedule{Max: 1e-3, Min: 1e-4, Warmup: 4, Total: 14}
	cases := []struct {
		name  string
		sched Schedule
		step  int
		want  float64
	}{
		// Step 0 is not 0: warmup is (step+1)/(warmup+1), so training starts moving at once.
		{"step 0", s, 0, 1e-3 / 5},
		{"last warmup step", s, 3, 1e-3 * 4 / 5},
		// Warmup ends one step early of Max and reaches it exactly at step == Warmup.
		{"step == warmup", s, 4, 1e-3},
		{"half way", s, 9, 5.5e-4},
		{"step == total", s, 14, 1e-4},
		{"step > total", s, 1000, 1e-4},
		{"warmup 0, step 0", Schedule{Max: 2e-3, Min: 0, Warmup: 0, Total: 10}, 0, 2e-3},
		{"warmup 0, half way", Schedule{Max: 2e-3, Min: 0, Warmup: 0, Total: 10}, 5, 1e-3},
		{"constant (Min == Max)", Schedule{Max: 5e-4, Min: 5e-4, Warmup: 0, Total: 10}, 3, 5e-4},
		// Total <= Warmup: warmup still runs below Total, Min from Total on (no division by zero).
		{"total == warmup, before", Schedule{Max: 1, Min: 0.25, Warmup: 3, Total: 3}, 2, 0.75},
		{"total == warmup, at", Schedule{Max: 1, Min: 0.25, Warmup: 3, Total: 3}, 3, 0.25},
	}
	for _, c := range cases {
		got := float64(c.sched.At(c.step))
		assert.InDelta(t, c.want, got, relTol*c.want, "Schedule.At %s: %+v step %d", c.name, c.sched, c.step)
		assert.False(t, math.IsNaN(got), "Schedule.At %s: NaN", c.name)
	}
}

func TestSkipDecay(t *testing.T) {
	o := NewAdamW(4, 0.5)
	o.SkipDecay([2]int{1, 3})
	params := []float32{1, 1, 1, 1}
	o.Step(params, make([]float32, 4), 0.1) // zero gradients: only decay moves a weight
	assert.Equal(t, []float32{0.95, 1, 1, 0.95}, params)
	assert.Panics(t, func() { o.SkipDecay([2]int{3, 5}) })
}

// TestScaleLR: the scaled span takes exactly the steps of an optimizer run at
// lr x scale (update and decoupled decay), the rest those of one at lr, and
// with equal gradients and no decay the scaled span's step is scale x the
// other's (LoRA+: lora_B's step is ratio x lora_A's).
func TestScaleLR(t *testing.T) {
	const n, ratio, lr = 6, float32(16), float32(3e-3)
	for _, wd := range []float32{0, 0.1} {
		o := NewAdamW(2*n, wd)
		o.ScaleLR(ratio, [2]int{n, 2 * n})
		plain, fast := NewAdamW(n, wd), NewAdamW(n, wd)
		params := make([]float32, 2*n)
		for i := range params {
			params[i] = float32(i%n+1) / 10
		}
		a, b := append([]float32(nil), params[:n]...), append([]float32(nil), params[n:]...)
		for step := range 5 {
			g := make([]float32, 2*n)
			for i := range n {
				g[i] = float32((i+step)%3) - 0.7
				g[n+i] = g[i] // the same gradient on both halves
			}
			before := append([]float32(nil), params...)
			o.Step(params, g, lr)
			plain.Step(a, g[:n], lr)
			fast.Step(b, g[n:], lr*ratio)
			require.Equal(t, a, params[:n], "wd %g step %d: the unscaled span is a plain AdamW at lr", wd, step)
			require.Equal(t, b, params[n:], "wd %g step %d: the scaled span is a plain AdamW at lr x %g", wd, step, ratio)
			if wd == 0 {
				for i := range n {
					// Steps read off float32 weights near 1 carry their rounding (2^-24 each), which ratio multiplies
					// in A's: 4e-6 is that bound; a ratio 1/16 off misses by 1e-3 and more.
					dA, dB := params[i]-before[i], params[n+i]-before[n+i]
					assert.InDelta(t, float64(ratio*dA), float64(dB), 4e-6,
						"step %d index %d: B's step is %g x A's", step, i, ratio)
				}
			}
		}
	}
	assert.Panics(t, func() { NewAdamW(2, 0).ScaleLR(2, [2]int{1, 3}) })
	assert.Panics(t, func() { NewAdamW(2, 0).ScaleLR(0, [2]int{0, 1}) })
}
