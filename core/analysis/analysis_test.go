package analysis

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"golora/core/rng"
)

// orthonormal returns a (d, k) matrix with orthonormal columns, from the QR
// factorisation of a Gaussian matrix.
func orthonormal(d, k int, seed uint64) *mat.Dense {
	var qr mat.QR
	qr.Factorize(gaussian(d, k, rng.New(seed)))
	var q mat.Dense
	qr.QTo(&q)
	return mat.DenseCopyOf(q.Slice(0, d, 0, k))
}

// withSpectrum returns U diag(s) Vᵀ for orthonormal U (out, k) and V (in, k).
func withSpectrum(u, v *mat.Dense, s []float64) *mat.Dense {
	var us, m mat.Dense
	us.Mul(u, mat.NewDiagDense(len(s), s))
	m.Mul(&us, v.T())
	return &m
}

func unit(d, i int) []float64 {
	x := make([]float64, d)
	x[i] = 1
	return x
}

// columns stacks vectors of R^d as the columns of a (d, len(vs)) matrix.
func columns(d int, vs ...[]float64) *mat.Dense {
	m := mat.NewDense(d, len(vs), nil)
	for j, v := range vs {
		m.SetCol(j, v)
	}
	return m
}

func TestSimilarityKnownSubspaces(t *testing.T) {
	const d = 6
	e := func(i int) []float64 { return unit(d, i) }
	t.Run("identical", func(t *testing.T) {
		u := orthonormal(d, 4, 1)
		grid := Similarity(u, u, 4, 4)
		for i := range 4 {
			assert.InDelta(t, 1, grid[i][i], 1e-12, "φ(U, U, %d, %d)", i+1, i+1)
		}
	})
	t.Run("same span, other basis", func(t *testing.T) {
		// U2 = U1 · Q for a rotation Q: the spans agree at i = j = 3, not before.
		u1 := orthonormal(d, 3, 2)
		var u2 mat.Dense
		u2.Mul(u1, orthonormal(3, 3, 3))
		grid := Similarity(u1, &u2, 3, 3)
		assert.InDelta(t, 1, grid[2][2], 1e-12, "φ(3, 3) over one span")
		assert.Less(t, grid[0][0], 1-1e-3, "φ(1, 1) between different first vectors")
	})
	t.Run("orthogonal", func(t *testing.T) {
		grid := Similarity(columns(d, e(0), e(1)), columns(d, e(2), e(3), e(4)), 2, 3)
		for i := range grid {
			for j := range grid[i] {
				assert.InDelta(t, 0, grid[i][j], 1e-15, "φ(%d, %d) of orthogonal spans", i+1, j+1)
			}
		}
	})
	t.Run("one direction shared", func(t *testing.T) {
		// span{e0, e1} against span{e0, e2}: ||[e0 e1]ᵀ [e0 e2]||² = 1.
		grid := Similarity(columns(d, e(0), e(1)), columns(d, e(0), e(2)), 2, 2)
		want := [][]float64{{1, 1}, {1, 0.5}}
		for i := range want {
			assert.InDeltaSlice(t, want[i], grid[i], 1e-15, "φ row i=%d", i+1)
		}
	})
	t.Run("nested", func(t *testing.T) {
		// The top direction of the small basis is the second of the large one.
		grid := Similarity(columns(d, e(1)), columns(d, e(0), e(1), e(2)), 1, 3)
		assert.InDeltaSlice(t, []float64{0, 1, 1}, grid[0], 1e-15, "φ(1, j)")
	})
}

// Two random subspaces of R^d of dimensions i ≤ j have E||U1ᵀU2||² = i·j/d,
// so φ(i, j) averages max(i, j)/d.
func TestSimilarityRandomControl(t *testing.T) {
	const d, r1, r2, trials = 96, 4, 24, 40
	sum := make([][]float64, r1)
	for i := range sum {
		sum[i] = make([]float64, r2)
	}
	r := rng.New(5)
	for range trials {
		f1, err := Factorize(gaussian(r1, d, r))
		require.NoError(t, err)
		f2, err := Factorize(gaussian(r2, d, r))
		require.NoError(t, err)
		g := Similarity(f1.V, f2.V, r1, r2)
		for i := range g {
			for j := range g[i] {
				sum[i][j] += g[i][j] / trials
			}
		}
	}
	for _, ij := range [][2]int{{1, 1}, {4, 4}, {1, 24}, {4, 24}, {2, 12}} {
		i, j := ij[0], ij[1]
		want := float64(max(i, j)) / d
		assert.InDelta(t, want, sum[i-1][j-1], 0.35*want, "mean φ(%d, %d) of random subspaces", i, j)
	}
}

// W = Σ σ_k u_k v_kᵀ with known σ; ΔW = c · u_m v_mᵀ along W's m-th pair
// projects W to exactly σ_m, so the amplification is c/σ_m.
func TestProjectionKnownAmplification(t *testing.T) {
	const out, in, k = 12, 10, 10
	s := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	u, v := orthonormal(out, k, 11), orthonormal(in, k, 12)
	w := withSpectrum(u, v, s)
	const m, c = 6, 3.0 // σ_7 = 4
	delta := withSpectrum(columns(out, mat.Col(nil, m, u)), columns(in, mat.Col(nil, m, v)), []float64{c})
	wf, err := Factorize(w)
	require.NoError(t, err)
	df, err := Factorize(delta)
	require.NoError(t, err)
	p, err := Project(w, delta, wf.S, df, 1, rng.New(1))
	require.NoError(t, err)
	assert.InDelta(t, math.Sqrt(385), p.NormW, 1e-9, "||W||_F = sqrt(Σσ²)")
	assert.InDelta(t, c, p.NormDelta, 1e-12, "||ΔW||_F")
	assert.InDelta(t, 4, p.OnDelta, 1e-9, "W on ΔW's direction is σ_7")
	assert.InDelta(t, 10, p.OnW, 1e-9, "W on its own top direction is σ_1")
	assert.InDelta(t, c/4, p.Amplification, 1e-9, "amplification ||ΔW||/||UᵀWV||")
	assert.Less(t, p.OnRandom, p.OnW, "random directions catch less of W than its own")

	// At r = 3 on W's own directions: sqrt(10² + 9² + 8²), computed from σ
	// for OnW and through the product Uᵀ W V for OnDelta with ΔW = W.
	p3, err := Project(w, w, wf.S, wf, 3, rng.New(1))
	require.NoError(t, err)
	assert.InDelta(t, math.Sqrt(245), p3.OnW, 1e-9, "W on its top 3")
	assert.InDelta(t, math.Sqrt(245), p3.OnDelta, 1e-9, "ΔW = W projects like W")
	assert.InDelta(t, math.Sqrt(385.0/245), p3.Amplification, 1e-9, "ΔW = W: its norm over its top-3 part")

	_, err = Project(w, delta, wf.S, df, 11, rng.New(1))
	assert.ErrorContains(t, err, "rank 11 outside 1..10")
}

func TestSpectrumPlantedRank(t *testing.T) {
	t.Run("equal values", func(t *testing.T) {
		s := []float64{2, 2, 2, 0, 0}
		assert.InDelta(t, 3, EffectiveRank(s), 1e-12, "three equal singular values")
		assert.Equal(t, 3, EnergyRank(s, 0.9), "90% of three equal values needs all three")
	})
	t.Run("energy boundary", func(t *testing.T) {
		// 9 / 10.01 = 0.8991 < 0.9, 10 / 10.01 > 0.9.
		assert.Equal(t, 2, EnergyRank([]float64{3, 1, 0.1}, 0.9))
		assert.Equal(t, 1, EnergyRank([]float64{3, 1, 0.1}, 0.89))
	})
	t.Run("zero", func(t *testing.T) {
		assert.Zero(t, EffectiveRank([]float64{0, 0}))
		assert.Zero(t, EnergyRank([]float64{0, 0}, 0.9))
	})
	t.Run("rank 3 product", func(t *testing.T) {
		// B (20, 3) · A (3, 16): three non-zero singular values, the rest at rounding level.
		var d mat.Dense
		r := rng.New(7)
		d.Mul(gaussian(20, 3, r), gaussian(3, 16, r))
		f, err := Factorize(&d)
		require.NoError(t, err)
		sp := NewSpectrum(f.S)
		assert.Len(t, sp.Values, 16)
		assert.Greater(t, sp.Values[2], 1e-3, "third singular value")
		assert.Less(t, sp.Values[3], 1e-12*sp.Values[0], "fourth singular value")
		assert.LessOrEqual(t, sp.Energy90, 3)
		assert.Greater(t, sp.EffectiveRank, 1.0)
		assert.LessOrEqual(t, sp.EffectiveRank, 3.0+1e-9)
	})
}

func TestIntrudersPlanted(t *testing.T) {
	const n = 16
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(n - i) // 16 ... 1
	}
	u, v := orthonormal(n, n, 21), orthonormal(n, n, 22)
	w0 := withSpectrum(u, v, s)
	f0, err := Factorize(w0)
	require.NoError(t, err)

	t.Run("unchanged", func(t *testing.T) {
		x, err := FindIntruders(f0, f0, 10, 0.5)
		require.NoError(t, err)
		assert.Zero(t, x.Count)
		for j, c := range x.MaxCos {
			assert.InDelta(t, 1, c, 1e-9, "max cos of singular vector %d with itself", j+1)
		}
	})
	t.Run("small dense change", func(t *testing.T) {
		// Full fine-tuning's kind of change: every vector moves a little.
		var wt mat.Dense
		noise := gaussian(n, n, rng.New(23))
		noise.Scale(0.01, noise)
		wt.Add(w0, noise)
		ft, err := Factorize(&wt)
		require.NoError(t, err)
		x, err := FindIntruders(f0, ft, 10, 0.5)
		require.NoError(t, err)
		assert.Zero(t, x.Count, "max cos %v", x.MaxCos)
	})
	t.Run("one planted intruder", func(t *testing.T) {
		// x spread evenly over all 16 left singular vectors has cosine 1/4 with each;
		// a large rank-1 update along it becomes the top singular vector.
		xs := make([]float64, n)
		for i := range n {
			col := mat.Col(nil, i, u)
			for k := range xs {
				xs[k] += col[k] / math.Sqrt(n)
			}
		}
		var wt mat.Dense
		wt.Add(w0, withSpectrum(columns(n, xs), columns(n, mat.Col(nil, 0, orthonormal(n, 1, 24))), []float64{1000}))
		ft, err := Factorize(&wt)
		require.NoError(t, err)
		x, err := FindIntruders(f0, ft, 10, 0.5)
		require.NoError(t, err)
		assert.Equal(t, 1, x.Count, "max cos %v", x.MaxCos)
		assert.InDelta(t, 0.25, x.MaxCos[0], 0.02, "the top vector is the planted one")
		assert.Equal(t, 0, x.CountBelow(0.2), "none below 0.2")
	})
	t.Run("outside the span of a tall W0", func(t *testing.T) {
		// W0 (24, 8) spans 8 of 24 dimensions; a direction orthogonal to them has cosine 0.
		const out, in = 24, 8
		uu, vv := orthonormal(out, in+1, 25), orthonormal(in, in, 26)
		w := withSpectrum(top(uu, in), vv, s[:in])
		fw, err := Factorize(w)
		require.NoError(t, err)
		var wt mat.Dense
		wt.Add(w, withSpectrum(columns(out, mat.Col(nil, in, uu)), columns(in, mat.Col(nil, 0, vv)), []float64{50}))
		ft, err := Factorize(&wt)
		require.NoError(t, err)
		x, err := FindIntruders(fw, ft, 3, 0.5)
		require.NoError(t, err)
		assert.Equal(t, 1, x.Count, "max cos %v", x.MaxCos)
	})
	t.Run("bad settings", func(t *testing.T) {
		_, err := FindIntruders(f0, f0, 17, 0.5)
		assert.ErrorContains(t, err, "k = 17 outside 1..16")
		_, err = FindIntruders(f0, f0, 10, 0)
		assert.ErrorContains(t, err, "eps = 0 outside (0, 1]")
	})
}

// The SVD of s·B·A from its factors equals the SVD of the product.
func TestFactorizeProduct(t *testing.T) {
	const out, r, in = 20, 4, 12
	g := rng.New(31)
	b, a := gaussian(out, r, g), gaussian(r, in, g)
	var p mat.Dense
	p.Mul(b, a)
	p.Scale(0.7, &p)
	want, err := Factorize(&p)
	require.NoError(t, err)
	got, err := FactorizeProduct(0.7, b, a)
	require.NoError(t, err)
	require.Len(t, got.S, in)
	assert.InDeltaSlice(t, want.S, got.S, 1e-9, "singular values, the last %d zero", in-r)
	// The singular vectors agree up to sign: the reconstruction is the product.
	var rec, us mat.Dense
	us.Mul(got.U, mat.NewDiagDense(r, got.S[:r]))
	rec.Mul(&us, got.V.T())
	assert.True(t, mat.EqualApprox(&p, &rec, 1e-9), "U diag(S) Vᵀ = 0.7 B A")
	grid := Similarity(want.U, got.U, r, r)
	for i := range r {
		assert.InDelta(t, 1, grid[i][i], 1e-9, "the top %d left singular vectors span the same space", i+1)
	}
	_, err = FactorizeProduct(1, b, gaussian(r+1, in, g))
	assert.ErrorContains(t, err, "product of 20 x 4 and 5 x 12")
}

func TestFactorizeRefusesNaN(t *testing.T) {
	m := mat.NewDense(2, 2, []float64{1, math.NaN(), 0, 1})
	_, err := Factorize(m)
	assert.ErrorContains(t, err, "not finite")
}
