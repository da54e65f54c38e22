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
		{name: "adapter-h", atBase: true, fixture: "adapter-h",
			attach: func(t *testing.T, m *model.Model) Method {
				a, err := AddAdapterH(m, AdapterHConfig{Width: 3}, rng.New(3))
				return must(t, a, err)
			},
			count: func(c model.Config) int { return AdapterHParams(c, 3, false) },
			ref:   bottleneckRef},
		{name: "adapter-h/frozen-norms", atBase: true,
			attach: func(t *testing.T, m *model.Model) Method {
				a, err := AddAdapterH(m, AdapterHConfig{Width: 2, FrozenNorms: true}, rng.New(3))
				return must(t, a, err)
			},
			count: func(c model.Config) int { return AdapterHParams(c, 2, true) },
			ref:   bottleneckRef},
		{name: "adapter-l", atBase: true, fixture: "adapter-l",
			attach: func(t *testing.T, m *model.Model) Method {
				a, err := AddAdapterL(m, AdapterLConfig{Width: 3}, rng.New(3))
				return must(t, a, err)
			},
			count: func(c model.Config) int { return AdapterLParams(c, 3) },
			ref:   bottleneckRef},
		{name: "prefix-embed", fixture: "prefix-embed",
			attach: func(t *testing.T, m *model.Model) Method {
				p, err := AddPrefixEmbed(m, PrefixEmbedConfig{Len: 3}, rng.New(3))
				return must(t, p, err)
			},
			count: func(c model.Config) int { return PrefixEmbedParams(c, 3) },
			ref: func(r *ref.Model, _ Method, p64 []float64, _ *model.Acts) {
				r.Input = func() []float64 { return p64 }
			}},
		{name: "prefix-layer", fixture: "prefix-layer",
			attach: func(t *testing.T, m *model.Model) Method {
				p, err := AddPrefixLayer(m, PrefixLayerConfig{Len: 3}, rng.New(3))
				return must(t, p, err)
			},
			count: func(c model.Config) int { return PrefixLayerParams(c, 3, false, 0) },
			ref:   prefixLayerRef},
		{name: "prefix-layer/projection", fixture: "prefix-layer-projection",
			attach: func(t *testing.T, m *model.Model) Method {
				p, err := AddPrefixLayer(m, PrefixLayerConfig{Len: 3, Projection: true, Hidden: 5}, rng.New(3))
				return must(t, p, err)
			},
			count: func(c model.Config) int { return PrefixLayerParams(c, 3, true, 5) },
			ref:   prefixLayerRef},
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
				T := min(6, m.Context()) // the prefixes take positions of the context
				bt := randomBatch(cfg, 2, T, 2)
				acts := m.NewActs(2, T)
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

// bottleneckRef: h ← h + up(act(down(z)) ), z = h or RMSNorm(h)·g, at each adapter's sublayer output.
func bottleneckRef(r *ref.Model, meth Method, p64 []float64, _ *model.Acts) {
	var bs []Bottleneck
	switch a := meth.(type) {
	case *AdapterH:
		bs = a.Adapters
	case *AdapterL:
		bs = a.Adapters
	}
	for _, b := range bs {
		C, R := b.Dim, b.Width
		o := b.Off
		cut := func(n int) []float64 { s := p64[o : o+n]; o += n; return s }
		down, bd, up, bu := cut(R*C), cut(R), cut(C*R), cut(C)
		var gain []float64
		if b.Norm {
			gain = cut(C)
		}
		act, eps := b.Act, float64(b.Eps)
		r.Sublayer[b.Layer][b.Sublayer] = func(h []float64, n int) {
			z, u, y := make([]float64, C), make([]float64, R), make([]float64, C)
			for i := range n {
				hi := h[i*C : (i+1)*C]
				copy(z, hi)
				if gain != nil {
					var ss float64
					for _, v := range hi {
						ss += v * v
					}
					rs := 1 / math.Sqrt(ss/float64(C)+eps)
					for j := range z {
						z[j] = hi[j] * rs * gain[j]
					}
				}
				ref.Plain(u, z, down, 1, C, R)
				for k := range u {
					u[k] += bd[k]
					if act == ActReLU {
						u[k] = math.Max(u[k], 0)
					} else {
						u[k] /= 1 + math.Exp(-u[k])
					}
				}
				ref.Plain(y, u, up, 1, R, C)
				for j := range hi {
					hi[j] += y[j] + bu[j]
				}
			}
		}
	}
}

// prefixLayerRef: layer l's keys and values are P[t, 2l·KVD:] and P[t, (2l+1)·KVD:], with
// P the parameters or, with the projection, tanh(E·W1ᵀ + b1)·W2ᵀ + b2 recomputed from them.
func prefixLayerRef(r *ref.Model, meth Method, p64 []float64, _ *model.Acts) {
	p := meth.(*PrefixLayer)
	K, W, lp := p.kvd, p.width(), p.Len
	prefix := func() []float64 {
		if !p.Projection {
			return p64
		}
		H := p.Hidden
		o := 0
		cut := func(n int) []float64 { s := p64[o : o+n]; o += n; return s }
		E, W1, b1, W2, b2 := cut(lp*K), cut(H*K), cut(H), cut(W*H), cut(W)
		a, out := make([]float64, lp*H), make([]float64, lp*W)
		ref.Plain(a, E, W1, lp, K, H)
		for i := range a {
			a[i] = math.Tanh(a[i] + b1[i%H])
		}
		ref.Plain(out, a, W2, lp, H, W)
		for i := range out {
			out[i] += b2[i%W]
		}
		return out
	}
	r.KV = func(l int) (k, v []float64) {
		P := prefix()
		k, v = make([]float64, lp*K), make([]float64, lp*K)
		for t := range lp {
			copy(k[t*K:(t+1)*K], P[t*W+2*l*K:t*W+(2*l+1)*K])
			copy(v[t*K:(t+1)*K], P[t*W+(2*l+1)*K:t*W+(2*l+2)*K])
		}
		return k, v
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
		T := min(8, m.Context()) // the prefixes take positions of the context
		bt := randomBatch(cfg, 1, T, 5)
		acts := m.NewActs(1, T)
		m.Forward(acts, bt.inputs, nil, nil, 1, T)
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

// TestPrefixesStartAfterTheirTokens: the prefixes do not start at the base,
// but at the base reading their initial tokens before the input: prompt
// tuning's rows are those tokens' embeddings, prefix tuning's keys and values
// the ones the base computes for them, and the tokens' positions follow the
// prefix. The logits are the base's on [tokens; input], bit for bit.
func TestPrefixesStartAfterTheirTokens(t *testing.T) {
	cfg := tinyConfig()
	base := randomModel(t, cfg, 1)
	const P, T = 3, 5
	for _, tc := range []struct {
		name   string
		attach func(m *model.Model) ([]int, error)
	}{
		{"prefix-embed", func(m *model.Model) ([]int, error) {
			p, err := AddPrefixEmbed(m, PrefixEmbedConfig{Len: P}, rng.New(4))
			return p.Tokens, err
		}},
		{"prefix-layer", func(m *model.Model) ([]int, error) {
			p, err := AddPrefixLayer(m, PrefixLayerConfig{Len: P}, rng.New(4))
			return p.Tokens, err
		}},
		{"prefix-layer with given tokens", func(m *model.Model) ([]int, error) {
			p, err := AddPrefixLayer(m, PrefixLayerConfig{Len: P, Init: []int{7, 2}}, nil)
			assert.Equal(t, []int{7, 2, 7}, p.Tokens, "the init tokens repeated to the prefix's length")
			return p.Tokens, err
		}},
	} {
		m := base.Clone()
		toks, err := tc.attach(m)
		require.NoError(t, err, tc.name)
		require.Len(t, toks, P)
		assert.Equal(t, cfg.SeqLen-P, m.Context(), "%s: the prefix counts against the context", tc.name)
		bt := randomBatch(cfg, 2, T, 2)
		acts := m.NewActs(2, T)
		bt.forward(m, acts)
		long := make([]int, 0, 2*(P+T))
		for s := range 2 {
			long = append(append(long, toks...), bt.inputs[s*T:(s+1)*T]...)
		}
		ba := base.NewActs(2, P+T)
		base.Forward(ba, long, nil, nil, 2, P+T)
		V := cfg.VocabSize
		for s := range 2 {
			want := ba.Logits[(s*(P+T)+P)*V : (s+1)*(P+T)*V]
			requireSameBits(t, fmt.Sprintf("%s, sequence %d: the base after the prefix's tokens", tc.name, s), want, acts.Logits[s*T*V:(s+1)*T*V])
		}
	}
}

// TestMethodsRefuseMerge: a method that cannot be folded into a Llama
// checkpoint's weights refuses Merge, saying why, and leaves the base as it was.
func TestMethodsRefuseMerge(t *testing.T) {
	for _, mc := range methodCases() {
		cfg := tinyConfig()
		m := randomModel(t, cfg, 1)
		meth := mc.attach(t, m)
		if mc.merges || meth.NewPass(1).Linear == nil && meth.NewPass(1).Input == nil && meth.NewPass(1).KV == nil && meth.NewPass(1).Sublayer == nil {
			continue // merges, or trains base weights only (nothing to fold)
		}
		before := append([]float32(nil), m.Params.Data...)
		err := m.Merge()
		require.Error(t, err, mc.name)
		assert.Contains(t, err.Error(), meth.Name()+" cannot be merged into the base weights", mc.name)
		if u, ok := meth.(model.Unmergeable); ok {
			assert.Contains(t, err.Error(), u.WhyNotMerged(), mc.name)
		}
		t.Logf("%s: %v", mc.name, err)
		assert.False(t, m.Merged(), mc.name)
		assert.Equal(t, before, m.Params.Data, "%s: a refused merge changes no weight", mc.name)
	}
}

// TestMethodsReadTheirParams: hooks hold no copy of the parameters beyond a
// pass: values written into Params() after the activations and a decoder
// were made (as restoring a snapshot does) are what the next passes use,
// bit for bit as a model that started with them.
func TestMethodsReadTheirParams(t *testing.T) {
	for _, mc := range methodCases() {
		cfg := tinyConfig()
		m, fresh := randomModel(t, cfg, 1), randomModel(t, cfg, 1)
		meth, want := mc.attach(t, m), mc.attach(t, fresh)
		T := min(6, m.Context())
		bt := randomBatch(cfg, 1, T, 2)
		acts, d := m.NewActs(1, T), m.NewDecoder(1)
		bt.forward(m, acts)
		_, err := d.Next(bt.inputs[0])
		require.NoError(t, err)
		perturb(want, 9)
		copy(meth.Params(), want.Params())
		freshActs := fresh.NewActs(1, T)
		bt.forward(fresh, freshActs)
		bt.forward(m, acts)
		n := T * cfg.VocabSize
		requireSameBits(t, mc.name+" forward after new parameters", freshActs.Logits[:n], acts.Logits[:n])
		d.Reset()
		fd := fresh.NewDecoder(1)
		for _, tok := range bt.inputs {
			got, err := d.Next(tok)
			require.NoError(t, err)
			wantLogits, err := fd.Next(tok)
			require.NoError(t, err)
			requireSameBits(t, mc.name+" decoder after new parameters", wantLogits, got)
		}
	}
}

// TestPlacesTogether: methods at different places attached at once (LoRA at
// the linear layers, adapters at the sublayer outputs, a prompt at the input
// embeddings, a prefix at the keys and values, token rows): their gradients against the
// float64 reference with every method's version at its place, and the
// decoder against the training forward. The prefix's keys and values come
// first, then the prompt's rows, then the tokens.
func TestPlacesTogether(t *testing.T) {
	cfg := tinyConfig()
	cfg.SeqLen = 12
	m := randomModel(t, cfg, 1)
	lora, err := AddLoRA(m, LoRAConfig{Rank: 2, Alpha: 4, Targets: qvDown}, rng.New(3))
	require.NoError(t, err)
	ah, err := AddAdapterH(m, AdapterHConfig{Width: 2, FrozenNorms: true}, rng.New(4))
	require.NoError(t, err)
	pe, err := AddPrefixEmbed(m, PrefixEmbedConfig{Len: 2}, rng.New(5))
	require.NoError(t, err)
	pl, err := AddPrefixLayer(m, PrefixLayerConfig{Len: 3, Projection: true, Hidden: 4}, rng.New(6))
	require.NoError(t, err)
	tk, err := AddTokens(m, TokensConfig{IDs: tokenIDs})
	require.NoError(t, err)
	require.Equal(t, 12-5, m.Context())
	meths := []Method{lora, ah, pe, pl, tk}
	for i, meth := range meths {
		perturb(meth, uint64(10+i))
	}
	const T = 6
	bt := randomBatch(cfg, 2, T, 2)
	acts := m.NewActs(2, T)
	tr := m.Trainable()
	grad := make([]float32, tr.Len)
	_, methGrads := tr.BindGrads(cfg, grad)
	acts.MethodGrads = methGrads
	loss32 := bt.forward(m, acts)
	m.Backward(acts, nil)
	r := newRef(m)
	off := 0
	var p64s [][]float64
	for _, meth := range meths {
		p64 := to64(meth.Params())
		p64s = append(p64s, p64)
		switch meth.(type) {
		case *LoRA:
			loraRef(r, lora, acts, p64)
		case *AdapterH:
			bottleneckRef(r, meth, p64, acts)
		case *PrefixEmbed:
			r.Input = func() []float64 { return p64 }
		case *PrefixLayer:
			prefixLayerRef(r, meth, p64, acts)
		case *Tokens:
			tokensRef(r, meth, p64, acts)
		}
	}
	loss := refLoss(t, r, bt, loss32)
	for i, meth := range meths {
		g := methGrads[off : off+len(meth.Params())]
		for _, ts := range meth.Tensors() {
			ref.GradCheck(t, meth.Name()+" "+ts.Name, view64(ts, p64s[i]), ts.View(g), loss, 12)
		}
		off += len(meth.Params())
	}
	d := m.NewDecoder(2)
	m.Forward(acts, bt.inputs, nil, nil, 2, T)
	V := cfg.VocabSize
	for pos := range T {
		logits, err := d.Next(bt.inputs[pos], bt.inputs[T+pos])
		require.NoError(t, err)
		for s := range 2 {
			assert.InDeltaSlice(t, acts.Logits[(s*T+pos)*V:(s*T+pos+1)*V], logits[s*V:(s+1)*V], 1e-5, "sequence %d position %d", s, pos)
		}
	}
	_, err = d.Next(1, 1) // the 7th token: the last the context holds
	require.NoError(t, err)
	_, err = d.Next(1, 1)
	require.Error(t, err, "the context is full after 7 tokens")
	assert.Contains(t, err.Error(), "context of 7 tokens is full (5 of its 12 positions")
}
