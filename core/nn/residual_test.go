package nn

import (
	"fmt"
	"testing"

	"golora/core/rng"
)

func TestResidualGrad(t *testing.T) {
	for _, n := range []int{1, 6, 37} {
		t.Run(fmt.Sprint("n", n), func(t *testing.T) {
			r := rng.New(uint64(n))
			a, b, w := randn(r, n, 1), randn(r, n, 1), randn(r, n, 1)
			out, da, db := floats(n), floats(n), floats(n)
			fwd := func() []float32 { ResidualForward(out, a, b, n); return out }
			bwd := func() { ResidualBackward(da, db, w, n) }
			gradCheck(t, "ResidualBackward", fwd, bwd, []param{{"a", a, da}, {"b", b, db}}, w, 1e-2, 1e-2, 1e-3)
		})
	}
}

func TestResidualFixtures(t *testing.T) {
	for _, f := range loadFixtures(t, "residual") {
		n := f.Sizes["n"]
		out, da, db := floats(n), floats(n), floats(n)
		ResidualForward(out, f.Inputs["a"], f.Inputs["b"], n)
		ResidualBackward(da, db, f.Inputs["w"], n)
		assertClose(t, "ResidualForward "+f.Case+" out", f.Outputs["out"], out, fixtureRTol)
		assertClose(t, "ResidualBackward "+f.Case+" da", f.Grads["a"], da, fixtureRTol)
		assertClose(t, "ResidualBackward "+f.Case+" db", f.Grads["b"], db, fixtureRTol)
	}
}
