// This file holds the shared test helpers: seeded random tensors and the finite-difference gradient check.

package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"golora/core/rng"
)

// randn returns n values drawn from N(0, std²) by r.
func randn(r *rng.RNG, n int, std float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Normal() * std
	}
	return s
}

// param is one input of a kernel under a gradient check: x is perturbed in
// place, grad receives the analytic gradient.
type param struct {
	name    string
	x, grad []float32
}

// weightedSum is the scalar loss of the gradient checks, L = Σ w_i out_i, in float64.
func weightedSum(w, out []float32) float64 {
	var s float64
	for i, x := range out[:len(w)] {
		s += float64(w[i]) * float64(x)
	}
	return s
}

// gradPrefill is what every gradient buffer holds before backward runs:
// subtracting it afterwards checks that backward accumulates rather than overwrites.
const gradPrefill = 0.375

// gradCheck compares the analytic gradients of L = Σ w_i out_i (w is the
// backward pass's dout) with central differences. forward recomputes the
// output from the current parameter values; backward accumulates the
// gradients of L into each param's grad, given that forward has just run.
// The error of each element is |analytic - numeric| / max(|analytic|,
// |numeric|, floor); the test fails if the worst exceeds tol, and the message
// names the parameter and index of the worst element. It returns the worst error.
func gradCheck(t *testing.T, fn string, forward func() []float32, backward func(), params []param, w []float32, eps float32, floor, tol float64) float64 {
	t.Helper()
	for _, p := range params {
		for i := range p.grad {
			p.grad[i] = gradPrefill
		}
	}
	forward()
	backward()
	worst, where := 0.0, ""
	for _, p := range params {
		for i, x0 := range p.x {
			xp, xm := x0+eps, x0-eps
			p.x[i] = xp
			lp := weightedSum(w, forward())
			p.x[i] = xm
			lm := weightedSum(w, forward())
			p.x[i] = x0
			numeric := (lp - lm) / float64(xp-xm) // the step float32 actually took
			analytic := float64(p.grad[i]) - gradPrefill
			rel := math.Abs(analytic-numeric) / math.Max(math.Max(math.Abs(analytic), math.Abs(numeric)), floor)
			if rel > worst || math.IsNaN(rel) {
				worst = rel
				where = fmt.Sprintf("d%s[%d]: analytic %.7g, numeric %.7g", p.name, i, analytic, numeric)
			}
		}
	}
	assert.LessOrEqual(t, worst, tol, "%s: worst relative gradient error %.3g at %s", fn, worst, where)
	return worst
}
