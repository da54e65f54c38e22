// The intrinsic-dimension method: its projection against a dense P built from the definition, finite differences of
// dL/dz on the float64 reference, the base at z = 0, merging and decoding.
package peft

import (
	"fmt"
	"math"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
	"golora/internal/ref"
)

// hadamard is H_ij = (-1)^popcount(i&j), the definition.
func hadamard(i, j int) float64 {
	if bits.OnesCount(uint(i&j))%2 == 1 {
		return -1
	}
	return 1
}

// wht64 is H x in float64 by the recursion H_2n = [[H_n, H_n], [H_n, -H_n]].
func wht64(x []float64) []float64 {
	n := len(x)
	if n == 1 {
		return []float64{x[0]}
	}
	a, b := wht64(x[:n/2]), wht64(x[n/2:])
	out := make([]float64, n)
	for i := range n / 2 {
		out[i], out[n/2+i] = a[i]+b[i], a[i]-b[i]
	}
	return out
}

// denseP is P (D, Dim) in float64 from f's parts: P_ik = c Σ_j H_ij G_j H_{Π(j),k} B_k.
func denseP(f *Fastfood) [][]float64 {
	p := make([][]float64, f.D)
	for i := range p {
		p[i] = make([]float64, f.Dim)
	}
	col := make([]float64, f.L)
	for k := range f.Dim {
		h := wht64unit(f.L, k)
		for j := range f.L {
			col[j] = float64(f.G[j]) * h[f.Perm[j]] * float64(f.B[k])
		}
		y := wht64(col)
		for i := range f.D {
			p[i][k] = float64(f.Scale) * y[i]
		}
	}
	return p
}

// wht64unit is column k of H (size n).
func wht64unit(n, k int) []float64 {
	c := make([]float64, n)
	for i := range c {
		c[i] = hadamard(i, k)
	}
	return c
}

func TestFWHT(t *testing.T) {
	for _, n := range []int{1, 2, 8, 64, 2 * fwhtBlock, 8 * fwhtBlock} {
		r := rng.New(uint64(n))
		x := make([]float32, n)
		x64 := make([]float64, n)
		for i := range x {
			x[i] = r.Normal()
			x64[i] = float64(x[i])
		}
		want := wht64(x64)
		if n <= 64 { // the recursion against the definition
			for i := range n {
				var s float64
				for j := range n {
					s += hadamard(i, j) * x64[j]
				}
				require.InDelta(t, s, want[i], 1e-9, "n=%d i=%d", n, i)
			}
		}
		fwht(x)
		for i := range n {
			require.InDelta(t, want[i], float64(x[i]), 1e-5*math.Sqrt(float64(n)), "fwht n=%d entry %d", n, i)
		}
	}
}

// TestFastfood: Apply and ApplyT against the dense P and Pᵀ, P's columns of norm about 1, nested columns.
func TestFastfood(t *testing.T) {
	for _, c := range []struct{ D, dim int }{{1, 1}, {37, 5}, {64, 64}, {300, 9}} {
		t.Run(fmt.Sprintf("D=%d,d=%d", c.D, c.dim), func(t *testing.T) {
			f := NewFastfood(c.D, c.dim, rng.New(3))
			require.Equal(t, 1<<bits.Len(uint(c.D-1)), f.L)
			p := denseP(f)
			r := rng.New(4)
			z, g, base := make([]float32, c.dim), make([]float32, c.D), make([]float32, c.D)
			for i := range z {
				z[i] = r.Normal()
			}
			for i := range g {
				g[i], base[i] = r.Normal(), r.Normal()
			}
			buf, tmp := make([]float32, f.L), make([]float32, f.L)
			got := make([]float32, c.D)
			f.Apply(got, base, z, buf, tmp)
			for i := range c.D {
				want := float64(base[i])
				for k := range c.dim {
					want += p[i][k] * float64(z[k])
				}
				assert.InDelta(t, want, float64(got[i]), 1e-5, "(base + P z)[%d]", i)
			}
			dz := make([]float32, c.dim)
			dz[0] = 1 // ApplyT accumulates
			f.ApplyT(dz, g, buf, tmp)
			for k := range c.dim {
				want := 0.0
				if k == 0 {
					want = 1
				}
				for i := range c.D {
					want += p[i][k] * float64(g[i])
				}
				assert.InDelta(t, want, float64(dz[k]), 1e-5*math.Sqrt(float64(c.D)), "1 + (Pᵀ g)[%d]", k)
			}
			nested := NewFastfood(c.D, min(3, c.dim), rng.New(3))
			pn := denseP(nested)
			for i := range c.D {
				for k := range nested.Dim {
					require.Equal(t, p[i][k], pn[i][k], "column %d of P is the same for d=%d and d=%d", k, nested.Dim, c.dim)
				}
			}
		})
	}
	// P's columns have unit norm in expectation: (1/D) Σ_i P_ik² summed over a large D.
	f := NewFastfood(3000, 16, rng.New(5))
	p := denseP(f)
	var sum float64
	for i := range f.D {
		for k := range f.Dim {
			sum += p[i][k] * p[i][k]
		}
	}
	mean := sum / float64(f.Dim)
	t.Logf("mean squared column norm of P (3000 x 16): %.4f", mean)
	assert.InDelta(t, 1, mean, 0.1, "P's columns have norm about 1")
}

// intrinsicRef puts θ0 + P z (z from z64, through the dense P) into the float64 reference.
func intrinsicRef(r *ref.Model, theta0 []float64, p [][]float64, z64 []float64) {
	for i, b := range theta0 {
		v := b
		for k, zk := range z64 {
			v += p[i][k] * zk
		}
		r.Params[i] = v
	}
}

// TestIntrinsicGradient: dL/dz = Pᵀ dL/dθ against central differences of the float64 reference at θ0 + P z.
func TestIntrinsicGradient(t *testing.T) {
	for _, untied := range []bool{false, true} {
		t.Run(fmt.Sprintf("untied=%v", untied), func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Tied = !untied
			m := randomModel(t, cfg, 1)
			in, err := AddIntrinsic(m, IntrinsicConfig{Dim: 6, Seed: 2})
			require.NoError(t, err)
			r := rng.New(5)
			for i := range in.Params() {
				in.Params()[i] = 3 * r.Normal() // P z moves each weight by about |z|/sqrt(D)
			}
			bt := randomBatch(cfg, 2, 6, 2)
			acts := m.NewActs(2, 6)
			tr := m.Trainable()
			require.Equal(t, 6, tr.Len, "the run trains z alone")
			grad := make([]float32, tr.Len)
			base, methGrads := tr.BindGrads(cfg, grad)
			require.Nil(t, base, "no base gradient is bound")
			acts.MethodGrads = methGrads
			loss32 := bt.forward(m, acts)
			m.Backward(acts, base)
			rm := newRef(m)
			theta0 := append([]float64(nil), rm.Params...)
			p := denseP(in.P)
			z64 := to64(in.Params())
			loss := func() float64 {
				intrinsicRef(rm, theta0, p, z64)
				return rm.Loss(bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
			}
			require.InEpsilon(t, loss(), float64(loss32), 1e-6, "the float32 loss against the float64 reference")
			ref.GradCheck(t, "intrinsic.z", z64, grad, loss, 6)
		})
	}
}

// TestIntrinsicStartsAtBase: at z = 0 the logits are the base's bit for bit,
// in training and in the decoder, and the base weights are never written.
func TestIntrinsicStartsAtBase(t *testing.T) {
	cfg := tinyConfig()
	base := randomModel(t, cfg, 1)
	base.Params.Data[3] = float32(math.Copysign(0, -1)) // a -0 weight stays -0
	bt := randomBatch(cfg, 2, 7, 2)
	acts := base.NewActs(2, 7)
	bt.forward(base, acts)
	n := 2 * 7 * cfg.VocabSize
	want := append([]float32(nil), acts.Logits[:n]...)
	m := base.Clone()
	in, err := AddIntrinsic(m, IntrinsicConfig{Dim: 50, Seed: 1})
	require.NoError(t, err)
	a := m.NewActs(2, 7)
	bt.forward(m, a)
	requireSameBits(t, "intrinsic logits at z = 0", want, a.Logits[:n])
	requireSameBits(t, "the pass's weights at z = 0", base.Params.Data, a.Hooks(in).Weights.Data)
	d := m.NewDecoder(1)
	dBase := base.NewDecoder(1)
	for _, tok := range bt.inputs[:7] {
		l1, err := d.Next(tok)
		require.NoError(t, err)
		l0, err := dBase.Next(tok)
		require.NoError(t, err)
		requireSameBits(t, "decoder logits at z = 0", l0, l1)
	}
	// A gradient and a change of z leave the model's own weights as they were.
	tr := m.Trainable()
	grad := make([]float32, tr.Len)
	_, mg := tr.BindGrads(cfg, grad)
	a.MethodGrads = mg
	bt.forward(m, a)
	m.Backward(a, nil)
	for i, g := range grad {
		in.Params()[i] -= 0.5 * g
	}
	bt.forward(m, a)
	requireSameBits(t, "the base weights after training z", base.Params.Data, m.Params.Data)
	assert.NotEqual(t, want[0], a.Logits[0], "a step of z changes the logits")
}

// TestIntrinsicMerge: merged, the model holds exactly the weights the passes
// compute with (same logits, bit for bit); unmerging restores θ0 exactly.
// The decoder agrees with the training forward.
func TestIntrinsicMerge(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	before := append([]float32(nil), m.Params.Data...)
	in, err := AddIntrinsic(m, IntrinsicConfig{Dim: 20, Seed: 9})
	require.NoError(t, err)
	perturb(in, 3)
	bt := randomBatch(cfg, 1, 8, 2)
	acts := m.NewActs(1, 8)
	bt.forward(m, acts)
	n := 8 * cfg.VocabSize
	unmerged := append([]float32(nil), acts.Logits[:n]...)
	d := m.NewDecoder(1)
	V := cfg.VocabSize
	for pos, tok := range bt.inputs {
		logits, err := d.Next(tok)
		require.NoError(t, err)
		for j := range V {
			require.InDelta(t, unmerged[pos*V+j], logits[j], 1e-5, "decoder pos %d logit %d", pos, j)
		}
	}
	require.NoError(t, m.Merge())
	delta := in.Delta()
	for i := range before {
		want := before[i]
		if delta[i] != 0 {
			want += delta[i]
		}
		require.Equal(t, math.Float32bits(want), math.Float32bits(m.Params.Data[i]), "merged weight %d = θ0 + P z", i)
	}
	bt.forward(m, acts)
	requireSameBits(t, "merged logits", unmerged, acts.Logits[:n])
	require.NoError(t, m.Unmerge())
	requireSameBits(t, "θ0 after unmerge", before, m.Params.Data)
}

func TestIntrinsicRefusals(t *testing.T) {
	cfg := tinyConfig()
	m := randomModel(t, cfg, 1)
	D := m.NumParams()
	for _, dim := range []int{0, -1, D + 1} {
		_, err := AddIntrinsic(m, IntrinsicConfig{Dim: dim})
		assert.ErrorContains(t, err, "dim must be between 1 and", "dim %d", dim)
	}
	_, err := AddIntrinsic(m, IntrinsicConfig{Dim: D})
	require.NoError(t, err, "d = D is allowed")
	_, err = AddIntrinsic(m, IntrinsicConfig{Dim: 3})
	assert.ErrorContains(t, err, "both supply the base weights")
	m = randomModel(t, cfg, 1)
	require.NoError(t, m.Attach(Full{}))
	_, err = AddIntrinsic(m, IntrinsicConfig{Dim: 3})
	assert.ErrorContains(t, err, "while intrinsic supplies the base weights")
	m = randomModel(t, cfg, 1)
	_, err = AddTop(m, TopConfig{Layers: 1})
	require.NoError(t, err)
	_, err = AddIntrinsic(m, IntrinsicConfig{Dim: 3})
	assert.ErrorContains(t, err, "while intrinsic supplies the base weights")
}
