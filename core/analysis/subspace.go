// Subspace similarity (the paper's Eq. 4) between the top singular vectors of two matrices, and the SVD it rests on.
package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"golora/core/rng"
)

// Factors is a thin SVD, M = U diag(S) Vᵀ: U (rows, k), S (k) descending,
// V (cols, k), k = min(rows, cols).
type Factors struct {
	U *mat.Dense
	S []float64
	V *mat.Dense
}

// Factorize returns the thin SVD of m, or an error if m holds a NaN or an
// infinity (gonum would return vectors of NaN) or the SVD does not converge.
func Factorize(m mat.Matrix) (Factors, error) {
	r, c := m.Dims()
	for i := range r {
		for j := range c {
			if v := m.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return Factors{}, fmt.Errorf("analysis: a %d x %d matrix holds %g at (%d, %d): not finite", r, c, v, i, j)
			}
		}
	}
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDThin) {
		return Factors{}, fmt.Errorf("analysis: the SVD of a %d x %d matrix did not converge", r, c)
	}
	var f Factors
	f.U, f.V = new(mat.Dense), new(mat.Dense)
	svd.UTo(f.U)
	svd.VTo(f.V)
	f.S = svd.Values(nil)
	return f, nil
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
