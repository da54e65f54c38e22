// Every method through the same checks: finite differences, the base at
// init, the trainable count, merging, decoding, and its PyTorch fixture.
package peft

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/model"
	"golora/core/rng"
	"golora/internal/ref"
)

// methodCase attaches one method to a model, at its initial values.
type methodCase struct {
	name    string
	attach  func(t *testing.T, m *model.Model) Method
	count   func(c model.Config) int // the trainable count's formula
	atBase  bool                     // the method starts at the base, bit for bit
	merges  bool
	fixture string // testdata/methods/<fixture>.json; "" when none
	// ref puts the method's float64 version on r, reading its parameters
	// from p64 (a copy of Params() that the gradient check perturbs); acts
	// is the pass whose caches (dropout masks) it may need.
	ref func(r *ref.Model, meth Method, p64 []float64, acts *model.Acts)
}

func methodCases() []methodCase {
	must := func(t *testing.T, meth Method, err error) Method {
		t.Helper()
		require.NoError(t, err)
		return meth
	}
	loraCount := func(c model.Config, extra bool) int {
		n := 0
		for _, tg := range qvDown {
			in, out := c.Shape(tg)
			n += 2 * (in + out)
			if extra {
				n += out
			}
		}
		return c.NLayers * n
	}
	return []methodCase{
		{name: "lora", atBase: true, merges: true,
			attach: func(t *testing.T, m *model.Model) Method {
				l, err := AddLoRA(m, LoRAConfig{Rank: 2, Alpha: 4, Targets: qvDown}, rng.New(3))
				return must(t, l, err)
			},
			count: func(c model.Config) int { return loraCount(c, false) },
			ref: func(r *ref.Model, meth Method, p64 []float64, acts *model.Acts) {
				loraRef(r, meth.(*LoRA), acts, p64)
			}},
		{name: "dora", atBase: true, merges: true, fixture: "dora",
			attach: func(t *testing.T, m *model.Model) Method {
				d, err := AddDoRA(m, LoRAConfig{Rank: 2, Alpha: 4, Targets: qvDown}, rng.New(3))
				return must(t, d, err)
			},
			count: func(c model.Config) int { return loraCount(c, true) },
			ref:   doraRef},
		{name: "top", atBase: true, fixture: "top",
			attach: func(t *testing.T, m *model.Model) Method {
				tp, err := AddTop(m, TopConfig{Layers: 1})
				return must(t, tp, err)
			},
			count: func(c model.Config) int { return TopParams(c, 1) },
			ref:   func(*ref.Model, Method, []float64, *model.Acts) {}},
		{name: "bitfit", atBase: true, fixture: "bitfit",
			attach: func(t *testing.T, m *model.Model) Method {
				bf, err := AddBitFit(m, BitFitConfig{Targets: model.AllTargets()})
				return must(t, bf, err)
			},
			count: func(c model.Config) int { return BitFitParams(c, model.AllTargets()) },
			ref:   bitfitRef},
		{name: "ia3", atBase: true, merges: true, fixture: "ia3",
			attach: func(t *testing.T, m *model.Model) Method {
				ia, err := AddIA3(m)
				return must(t, ia, err)
			},
			count: IA3Params,
			ref:   ia3Ref},
		{name: "tokens", atBase: true, merges: true, fixture: "tokens",
			attach: func(t *testing.T, m *model.Model) Method {
				tk, err := AddTokens(m, TokensConfig{IDs: tokenIDs, Output: true})
				return must(t, tk, err)
			},
			count: func(c model.Config) int { return TokensParams(c, len(tokenIDs), true) },
			ref:   tokensRef},
	}
}

// perturb moves a method's own parameters away from their initial values
// (by 0.2·N(0, 1) each), so that every path of its backward is exercised.
func perturb(meth Method, seed uint64) {
	r := rng.New(seed)
	for i := range meth.Params() {
		meth.Params()[i] += 0.2 * r.Normal()
	}
}

// TestMethodsGradient: central differences of the float64 reference (with
// the method's own float64 version at its places) against every gradient
// the run computes: the method's tensors and the base tensors it trains.
func TestMethodsGradient(t *testing.T) {
	for _, mc := range methodCases() {
		for _, untied := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/untied=%v", mc.name, untied), func(t *testing.T) {
				cfg := tinyConfig()
				cfg.Tied = !untied
				m := randomModel(t, cfg, 1)
				meth := mc.attach(t, m)
				perturb(meth, 5)
				bt := randomBatch(cfg, 2, 6, 2)
				acts := m.NewActs(2, 6)
				tr := m.Trainable()
				grad := make([]float32, tr.Len)
				base, methGrads := tr.BindGrads(cfg, grad)
				acts.MethodGrads = methGrads
				loss32 := bt.forward(m, acts)
				m.Backward(acts, base)
				r := newRef(m)
				p64 := to64(meth.Params())
				mc.ref(r, meth, p64, acts)
				loss := refLoss(t, r, bt, loss32)
				for _, ts := range meth.Tensors() {
					ref.GradCheck(t, ts.Name, view64(ts, p64), ts.View(methGrads), loss, 24)
				}
				if base != nil {
					views := namedViews(cfg, base)
					for _, ti := range cfg.Tensors() {
						if views[ti.Name] != nil {
							ref.GradCheck(t, ti.Name, r.W[ti.Name], views[ti.Name], loss, 24)
						}
					}
				}
			})
		}
	}
}

// doraRef: y = (x·Vᵀ)·m/||V|| per output row, V = W + s·B·A, all recomputed from p64 at each call.
func doraRef(r *ref.Model, meth Method, p64 []float64, _ *model.Acts) {
	d := meth.(*DoRA)
	for i, a := range d.Adapters {
		A, B := p64[a.Off:a.Off+len(a.A)], p64[a.Off+len(a.A):a.Off+len(a.A)+len(a.B)]
		mag := p64[d.magOff[i] : d.magOff[i]+a.Out]
		R, s := a.Rank, float64(a.Scaling)
		r.Linear[a.Layer][a.Target] = func(y, x, w []float64, n, in, out int) {
			v := make([]float64, out*in)
			c := make([]float64, out)
			for o := range out {
				var ss float64
				for j := range in {
					var ba float64
					for k := range R {
						ba += B[o*R+k] * A[k*in+j]
					}
					v[o*in+j] = w[o*in+j] + s*ba
					ss += v[o*in+j] * v[o*in+j]
				}
				c[o] = mag[o] / math.Sqrt(ss)
			}
			ref.Plain(y, x, v, n, in, out)
			for i := range n {
				for o := range out {
					y[i*out+o] *= c[o]
				}
			}
		}
	}
}

// bitfitRef: y = x·Wᵀ + b.
func bitfitRef(r *ref.Model, meth Method, p64 []float64, _ *model.Acts) {
	for _, b := range meth.(*BitFit).Biases {
		bias := p64[b.off : b.off+len(b.B)]
		r.Linear[b.Layer][b.Target] = func(y, x, w []float64, n, in, out int) {
			ref.Plain(y, x, w, n, in, out)
			for i := range n {
				for o := range out {
					y[i*out+o] += bias[o]
				}
			}
		}
	}
}

// ia3Ref: y = (x·Wᵀ)·l for keys and values, y = (x·l)·Wᵀ for down_proj.
func ia3Ref(r *ref.Model, meth Method, p64 []float64, _ *model.Acts) {
	for _, s := range meth.(*IA3).Scales {
		l, input := p64[s.off:s.off+len(s.L)], s.Input
		r.Linear[s.Layer][s.Target] = func(y, x, w []float64, n, in, out int) {
			if input {
				xs := make([]float64, n*in)
				for i := range xs {
					xs[i] = x[i] * l[i%in]
				}
				ref.Plain(y, xs, w, n, in, out)
				return
			}
			ref.Plain(y, x, w, n, in, out)
			for i := range y[:n*out] {
				y[i] *= l[i%out]
			}
		}
	}
}

// TestMethodsStartAtBase: attached at their initial values, the methods that
// start at the base give its logits bit for bit, and the training pass (the
// fused weights) and the pass beside the weights both do.
func TestMethodsStartAtBase(t *testing.T) {
	cfg := tinyConfig()
	base := randomModel(t, cfg, 1)
	bt := randomBatch(cfg, 2, 7, 2)
	acts := base.NewActs(2, 7)
	bt.forward(base, acts)
	want := append([]float32(nil), acts.Logits[:2*7*cfg.VocabSize]...)
	for _, mc := range methodCases() {
		if !mc.atBase {
			continue
		}
		m := base.Clone()
		mc.attach(t, m)
		for _, beside := range []bool{false, true} {
			a := m.NewActs(2, 7)
			a.SideAdapters = beside
			bt.forward(m, a)
			requireSameBits(t, mc.name+" logits at init", want, a.Logits[:len(want)])
		}
	}
}

// TestMethodsTrainableCount: the run's trainable vector has the method's formula's length.
func TestMethodsTrainableCount(t *testing.T) {
	for _, mc := range methodCases() {
		for _, untied := range []bool{false, true} {
			cfg := tinyConfig()
			cfg.Tied = !untied
			m := randomModel(t, cfg, 1)
			mc.attach(t, m)
			assert.Equal(t, mc.count(cfg), m.Trainable().Len, "%s (untied %v)", mc.name, untied)
		}
	}
}

// TestMethodsFrozenBase: a step changes only what the method trains; the
// frozen base weights get no gradient view and stay as they were.
func TestMethodsFrozenBase(t *testing.T) {
	for _, mc := range methodCases() {
		cfg := tinyConfig()
		m := randomModel(t, cfg, 1)
		meth := mc.attach(t, m)
		tr := m.Trainable()
		grad := make([]float32, tr.Len)
		base, _ := tr.BindGrads(cfg, grad)
		trained := map[string]bool{}
		for _, ti := range cfg.Tensors() {
			trained[ti.Name] = meth.TrainsBase(ti.Name)
		}
		if base == nil {
			for _, on := range trained {
				assert.False(t, on, "%s trains a base tensor but has no base gradients", mc.name)
			}
			continue
		}
		views := namedViews(cfg, base)
		for name, on := range trained {
			assert.Equal(t, on, views[name] != nil, "%s: %s has a gradient view iff it trains", mc.name, name)
		}
	}
}

// namedViews maps tensor names to p's views (nil where frozen), without rebinding them.
func namedViews(c model.Config, p *model.Params) map[string][]float32 {
	views := [][]float32{p.Embed}
	for _, L := range p.Layers {
		views = append(views, L.AttnNorm, L.Wq, L.Wk, L.Wv, L.Wo, L.MLPNorm, L.Wgate, L.Wup, L.Wdown)
	}
	views = append(views, p.Norm)
	if !c.Tied {
		views = append(views, p.LMHead)
	}
	out := map[string][]float32{}
	for i, ti := range c.Tensors() {
		out[ti.Name] = views[i]
	}
	return out
}

// TestMethodsMerge: a method that merges gives, merged, the logits it gives
// beside the base weights (to float rounding), and unmerging restores the base weights.
func TestMethodsMerge(t *testing.T) {
	for _, mc := range methodCases() {
		if !mc.merges {
			continue
		}
		cfg := tinyConfig()
		m := randomModel(t, cfg, 1)
		meth := mc.attach(t, m)
		perturb(meth, 6)
		before := append([]float32(nil), m.Params.Data...)
		bt := randomBatch(cfg, 2, 7, 2)
		acts := m.NewActs(2, 7)
		n := 2 * 7 * cfg.VocabSize
		acts.SideAdapters = true
		bt.forward(m, acts)
		acts.SideAdapters = false
		unmerged := append([]float32(nil), acts.Logits[:n]...)
		require.NoError(t, m.Merge(), mc.name)
		bt.forward(m, acts)
		worst := 0.0
		for i, v := range unmerged {
			worst = math.Max(worst, math.Abs(float64(v-acts.Logits[i])))
		}
		t.Logf("%s: max |logit merged - unmerged| = %.3g", mc.name, worst)
		assert.Less(t, worst, 1e-4, mc.name)
		require.NoError(t, m.Unmerge(), mc.name)
		for i, v := range before {
			require.InDelta(t, v, m.Params.Data[i], 1e-5, "%s: weight %d after merge and unmerge", mc.name, i)
		}
	}
}

// TestMethodsDecoder: the KV-cache decoder gives the training forward's logits with every method.
func TestMethodsDecoder(t *testing.T) {
	for _, mc := range methodCases() {
		cfg := tinyConfig()
		m := randomModel(t, cfg, 1)
		perturb(mc.attach(t, m), 7)
		bt := randomBatch(cfg, 1, 8, 5)
		acts := m.NewActs(1, 8)
		m.Forward(acts, bt.inputs, nil, nil, 1, 8)
		d := m.NewDecoder(1)
		V := cfg.VocabSize
		for pos, tok := range bt.inputs {
			logits, err := d.Next(tok)
			require.NoError(t, err)
			for j := range V {
				require.InDelta(t, acts.Logits[pos*V+j], logits[j], 1e-5, "%s: pos %d logit %d", mc.name, pos, j)
			}
		}
	}
}

// TestMethodsPyTorchFixtures: testdata/gen/gen_methods.py's cases: the
// method's tensors from the file, then logits, loss and every trained
// tensor's gradient against PyTorch's.
func TestMethodsPyTorchFixtures(t *testing.T) {
	for _, mc := range methodCases() {
		if mc.fixture == "" {
			continue
		}
		t.Run(mc.name, func(t *testing.T) {
			fx, m := loadFixture(t, "methods", mc.fixture)
			meth := mc.attach(t, m)
			byName := map[string]Tensor{}
			for _, ts := range meth.Tensors() {
				byName[ts.Name] = ts
			}
			tensors := fx.methodTensors(t)
			require.Len(t, tensors, len(byName), "the fixture's tensors are the method's")
			for name, data := range tensors {
				ts, ok := byName[name]
				require.True(t, ok, "the method has no tensor %s", name)
				copy(ts.View(meth.Params()), f32(data.Data))
			}
			acts := m.NewActs(fx.B, fx.T)
			tr := m.Trainable()
			grad := make([]float32, tr.Len)
			base, methGrads := tr.BindGrads(m.Config, grad)
			acts.MethodGrads = methGrads
			loss := m.Forward(acts, fx.Inputs, fx.Targets, fx.Mask, fx.B, fx.T)
			assert.InDelta(t, fx.Loss, float64(loss), 1e-5, "loss")
			worst := assertScaled(t, "logits", fx.Logits, acts.Logits[:len(fx.Logits)], 1e-5)
			m.Backward(acts, base)
			seen := 0
			for name, ts := range byName {
				worst = math.Max(worst, assertScaled(t, name+" grad", fx.Grads[name], ts.View(methGrads), 1e-4))
				seen++
			}
			if base != nil {
				views := namedViews(m.Config, base)
				for _, ti := range m.Config.Tensors() {
					if views[ti.Name] == nil {
						continue
					}
					worst = math.Max(worst, assertScaled(t, ti.Name+" grad", fx.Grads[ti.Name], views[ti.Name], 1e-4))
					seen++
				}
			}
			assert.Equal(t, len(fx.Grads), seen, "every gradient in the fixture was compared")
			t.Logf("%s: loss %.7f (torch %.7f), worst scaled difference %.2g", mc.name, loss, fx.Loss, worst)
		})
	}
}
