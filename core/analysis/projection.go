// ΔW against W (the paper's Table 7): W projected on ΔW's top directions, on its own, and on random ones; the amplification factor.
package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"golora/core/rng"
)

// Projection is Table 7 for one weight: ||Uᵀ W V||_F with U, V the top-R
// singular vectors of ΔW, of W, or of a Gaussian matrix of W's shape.
type Projection struct {
	R             int     `json:"r"`
	NormW         float64 `json:"norm_w"`          // ||W||_F
	NormDelta     float64 `json:"norm_delta_w"`    // ||ΔW||_F
	OnDelta       float64 `json:"proj_on_delta_w"` // ||U_ΔWᵀ W V_ΔW||_F
	OnW           float64 `json:"proj_on_w"`       // ||U_Wᵀ W V_W||_F = sqrt(σ1² + ... + σR²) of W
	OnRandom      float64 `json:"proj_on_random"`  // ||U_Gᵀ W V_G||_F, G Gaussian
	Amplification float64 `json:"amplification"`   // NormDelta / OnDelta (0 when ΔW = 0)
}

// Project computes the Projection of w against delta (both (out, in)) at
// rank r. ws are w's singular values (descending), df delta's SVD (U and V,
// at least r columns); the random directions are drawn from rnd. W's own
// top-r projection Uᵀ W V is diag(σ1 ... σR), so OnW is computed from ws.
func Project(w, delta *mat.Dense, ws []float64, df Factors, r int, rnd *rng.RNG) (Projection, error) {
	out, in := w.Dims()
	if dr, dc := delta.Dims(); dr != out || dc != in {
		return Projection{}, fmt.Errorf("analysis: ΔW is %d x %d, W is %d x %d", dr, dc, out, in)
	}
	if r < 1 || r > min(out, in) {
		return Projection{}, fmt.Errorf("analysis: projection rank %d outside 1..%d", r, min(out, in))
	}
	ug, err := randomBasis(out, r, rnd)
	if err != nil {
		return Projection{}, err
	}
	vg, err := randomBasis(in, r, rnd)
	if err != nil {
		return Projection{}, err
	}
	var onW float64
	for _, v := range ws[:r] {
		onW += v * v
	}
	p := Projection{R: r, NormW: mat.Norm(w, 2), NormDelta: mat.Norm(delta, 2), OnDelta: projected(w, top(df.U, r), top(df.V, r)),
		OnW: math.Sqrt(onW), OnRandom: projected(w, ug, vg)}
	if p.NormDelta > 0 && p.OnDelta > 0 {
		p.Amplification = p.NormDelta / p.OnDelta
	}
	return p, nil
}

// projected is ||Uᵀ W V||_F.
func projected(w, u, v *mat.Dense) float64 {
	var uw, uwv mat.Dense
	uw.Mul(u.T(), w)
	uwv.Mul(&uw, v)
	return mat.Norm(&uwv, 2)
}

// Spectrum is a matrix's singular values with two effective ranks.
type Spectrum struct {
	Values        []float64 `json:"singular_values"` // descending
	EffectiveRank float64   `json:"effective_rank"`  // Roy & Vetterli: exp of the entropy of σ/Σσ
	Energy90      int       `json:"rank_90"`         // singular values holding 90% of Σσ²
}

// NewSpectrum computes the effective ranks of singular values s (descending).
func NewSpectrum(s []float64) Spectrum {
	return Spectrum{Values: s, EffectiveRank: EffectiveRank(s), Energy90: EnergyRank(s, 0.9)}
}

// EffectiveRank is Roy and Vetterli's (2007) effective rank of singular
// values s: exp(−Σ p_k ln p_k) with p_k = σ_k / Σσ. It is k for k equal
// non-zero values, between 1 and k otherwise, and 0 for a zero matrix.
func EffectiveRank(s []float64) float64 {
	var sum float64
	for _, v := range s {
		sum += v
	}
	if !(sum > 0) {
		return 0
	}
	var h float64
	for _, v := range s {
		if p := v / sum; p > 0 {
			h -= p * math.Log(p)
		}
	}
	return math.Exp(h)
}

// EnergyRank is the smallest k whose top k singular values hold at least
// the fraction frac of Σσ² (the squared Frobenius norm); 0 for a zero matrix.
func EnergyRank(s []float64, frac float64) int {
	var total float64
	for _, v := range s {
		total += v * v
	}
	if !(total > 0) {
		return 0
	}
	var acc float64
	for k, v := range s {
		acc += v * v
		// A relative slack, so that three equal values reach 100% despite rounding.
		if acc >= frac*total*(1-1e-12) {
			return k + 1
		}
	}
	return len(s)
}
