// Intruder dimensions (Shuttleworth et al. 2024): top singular vectors of a fine-tuned weight unlike any of the pre-trained weight's.
package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Intruders is Algorithm 1 of Shuttleworth et al. for one weight: for each
// of the top K left singular vectors of the fine-tuned W, its largest
// |cosine| with the left singular vectors of W0; Count of them below Eps.
type Intruders struct {
	K      int       `json:"k"`
	Eps    float64   `json:"eps"`
	MaxCos []float64 `json:"max_cos"` // (K) for the fine-tuned W's singular vectors 1..K
	Count  int       `json:"count"`
}

// FindIntruders compares the left singular vectors of the fine-tuned weight
// (tuned, an SVD from Factorize) with all those of the pre-trained one
// (base), over the top k of tuned's and threshold eps.
func FindIntruders(base, tuned Factors, k int, eps float64) (Intruders, error) {
	d0, n := base.U.Dims()
	d1, m := tuned.U.Dims()
	if d0 != d1 {
		return Intruders{}, fmt.Errorf("analysis: singular vectors in R^%d and R^%d", d0, d1)
	}
	if k < 1 || k > m {
		return Intruders{}, fmt.Errorf("analysis: intruder k = %d outside 1..%d", k, m)
	}
	if !(eps > 0 && eps <= 1) {
		return Intruders{}, fmt.Errorf("analysis: intruder eps = %g outside (0, 1]", eps)
	}
	// cos[i][j] = U0[:, i] · Ut[:, j]: the columns are unit vectors.
	var cos mat.Dense
	cos.Mul(base.U.T(), top(tuned.U, k))
	res := Intruders{K: k, Eps: eps, MaxCos: make([]float64, k)}
	for j := range k {
		best := 0.0
		for i := range n {
			best = max(best, math.Abs(cos.At(i, j)))
		}
		res.MaxCos[j] = min(best, 1)
	}
	res.Count = res.CountBelow(eps)
	return res, nil
}

// CountBelow is the number of intruder dimensions at another threshold eps.
func (x Intruders) CountBelow(eps float64) int {
	n := 0
	for _, c := range x.MaxCos {
		if c < eps {
			n++
		}
	}
	return n
}
