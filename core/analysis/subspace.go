// Subspace similarity (the paper's Eq. 4) between the top singular vectors of two matrices, and the SVD it rests on.
package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"golora/core/rng"
)

// Factors is a thin SVD, M = U diag(S) Vᵀ: U (rows, k), S (k) descending,
// V (cols, k), k = min(rows, cols). V is nil where only U was computed.
type Factors struct {
	U *mat.Dense
	S []float64
	V *mat.Dense
}

// Factorize returns the thin SVD of m, or an error if m holds a NaN or an
// infinity (gonum would return vectors of NaN) or the SVD does not converge.
func Factorize(m mat.Matrix) (Factors, error) { return factorize(m, mat.SVDThin) }

// factorizeU is Factorize without V, which costs about a third less.
func factorizeU(m mat.Matrix) (Factors, error) { return factorize(m, mat.SVDThinU) }

func factorize(m mat.Matrix, kind mat.SVDKind) (Factors, error) {
	r, c := m.Dims()
	for i := range r {
		for j := range c {
			if v := m.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return Factors{}, fmt.Errorf("analysis: a %d x %d matrix holds %g at (%d, %d): not finite", r, c, v, i, j)
			}
		}
	}
	var svd mat.SVD
	if !svd.Factorize(m, kind) {
		return Factors{}, fmt.Errorf("analysis: the SVD of a %d x %d matrix did not converge", r, c)
	}
	f := Factors{U: new(mat.Dense), S: svd.Values(nil)}
	svd.UTo(f.U)
	if kind&mat.SVDThinV != 0 {
		f.V = new(mat.Dense)
		svd.VTo(f.V)
	}
	return f, nil
}

// FactorizeProduct returns the thin SVD of s · B · A for B (out, r) and
// A (r, in), r ≤ min(out, in), without forming the product: with the thin
// SVDs B = U_B S_B V_Bᵀ and A = U_A S_A V_Aᵀ, s · B · A = U_B (s · S_B V_Bᵀ
// U_A S_A) V_Aᵀ, and the SVD of that r x r core, M = U_M Σ V_Mᵀ, gives
// U = U_B U_M, V = V_A V_M and the singular values Σ. The values beyond r are
// exactly zero and S holds them, so that S has min(out, in) entries as a
// Factorize of the product would; U and V have r columns.
func FactorizeProduct(s float64, b, a *mat.Dense) (Factors, error) {
	out, r := b.Dims()
	ra, in := a.Dims()
	if ra != r || r > min(out, in) {
		return Factors{}, fmt.Errorf("analysis: product of %d x %d and %d x %d factors", out, r, ra, in)
	}
	fb, err := Factorize(b)
	if err != nil {
		return Factors{}, err
	}
	fa, err := Factorize(a)
	if err != nil {
		return Factors{}, err
	}
	// core = s · S_B · (V_Bᵀ U_A) · S_A
	var core mat.Dense
	core.Mul(fb.V.T(), fa.U)
	for i := range r {
		for j := range r {
			core.Set(i, j, s*fb.S[i]*core.At(i, j)*fa.S[j])
		}
	}
	fm, err := Factorize(&core)
	if err != nil {
		return Factors{}, err
	}
	f := Factors{U: new(mat.Dense), V: new(mat.Dense), S: make([]float64, min(out, in))}
	f.U.Mul(fb.U, fm.U)
	f.V.Mul(fa.V, fm.V)
	copy(f.S, fm.S)
	return f, nil
}

// randomBasis returns (d, k) orthonormal columns spanning a uniformly random
// k-dimensional subspace of R^d: the left singular vectors of a Gaussian
// (d, k) matrix. The top k singular vectors of a Gaussian matrix are
// distributed the same way.
func randomBasis(d, k int, r *rng.RNG) (*mat.Dense, error) {
	f, err := factorizeU(gaussian(d, k, r))
	return f.U, err
}

// dense copies a row-major float32 (rows, cols) matrix into a float64 one.
func dense(rows, cols int, data []float32) *mat.Dense {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("analysis: %d values for a %d x %d matrix", len(data), rows, cols))
	}
	d := make([]float64, len(data))
	for i, v := range data {
		d[i] = float64(v)
	}
	return mat.NewDense(rows, cols, d)
}

// gaussian returns a (rows, cols) matrix of standard normal draws from r.
func gaussian(rows, cols int, r *rng.RNG) *mat.Dense {
	d := make([]float64, rows*cols)
	for i := range d {
		d[i] = float64(r.Normal())
	}
	return mat.NewDense(rows, cols, d)
}

// top returns the first k columns of u (a view).
func top(u *mat.Dense, k int) *mat.Dense {
	r, c := u.Dims()
	if k > c {
		panic(fmt.Sprintf("analysis: top %d of %d singular vectors", k, c))
	}
	return u.Slice(0, r, 0, k).(*mat.Dense)
}

// Similarity returns φ(i, j) = ||U1^iᵀ U2^j||²_F / min(i, j) for 1 ≤ i ≤ r1
// and 1 ≤ j ≤ r2 as grid[i-1][j-1], where U^i are the first i columns of
// u1 and u2 (orthonormal columns in the same space, at least r1 and r2 of
// them). The r1 x r2 products G = U1ᵀ U2 are computed once; φ(i, j) sums
// G's squares over the top-left i x j corner, through 2-D prefix sums.
func Similarity(u1, u2 *mat.Dense, r1, r2 int) [][]float64 {
	d1, c1 := u1.Dims()
	d2, c2 := u2.Dims()
	if d1 != d2 {
		panic(fmt.Sprintf("analysis: subspaces of R^%d and R^%d", d1, d2))
	}
	if r1 < 1 || r2 < 1 || r1 > c1 || r2 > c2 {
		panic(fmt.Sprintf("analysis: similarity over %d x %d vectors of bases with %d and %d", r1, r2, c1, c2))
	}
	var g mat.Dense
	g.Mul(top(u1, r1).T(), top(u2, r2))
	// prefix[i][j] = Σ_{a<i, b<j} G[a][b]²
	prefix := make([][]float64, r1+1)
	for i := range prefix {
		prefix[i] = make([]float64, r2+1)
	}
	for i := 1; i <= r1; i++ {
		for j := 1; j <= r2; j++ {
			v := g.At(i-1, j-1)
			prefix[i][j] = v*v + prefix[i-1][j] + prefix[i][j-1] - prefix[i-1][j-1]
		}
	}
	grid := make([][]float64, r1)
	for i := range grid {
		grid[i] = make([]float64, r2)
		for j := range grid[i] {
			grid[i][j] = clamp01(prefix[i+1][j+1] / float64(min(i+1, j+1)))
		}
	}
	return grid
}

// clamp01 keeps rounding from pushing φ a few ulps outside [0, 1].
func clamp01(x float64) float64 { return max(0, min(1, x)) }
