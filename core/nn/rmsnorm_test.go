package nn

import (
	"fmt"
	"testing"

	"golora/core/rng"
)

func TestRMSNormGrad(t *testing.T) {
	for _, tc := range []struct {
		n, c   int
		frozen bool // nil dweight: the weight is frozen
	}{{1, 1, false}, {1, 5, false}, {3, 8, false}, {7, 33, false}, {4, 6, true}} {
		t.Run(fmt.Sprintf("n%d_c%d_frozen%v", tc.n, tc.c, tc.frozen), func(t *testing.T) {
			r := rng.New(uint64(tc.n*100 + tc.c))
			in, weight, w := randn(r, tc.n*tc.c, 1), randn(r, tc.c, 1), randn(r, tc.n*tc.c, 1)
			for i := range weight {
				weight[i] += 1
			}
			out, rstd, din, dweight := floats(tc.n*tc.c), floats(tc.n), floats(tc.n*tc.c), floats(tc.c)
			params := []param{{"in", in, din}, {"weight", weight, dweight}}
			bw := dweight
			if tc.frozen {
				params, bw = params[:1], nil
			}
			fwd := func() []float32 { RMSNormForward(out, rstd, in, weight, tc.n, tc.c, 1e-5); return out }
			bwd := func() { RMSNormBackward(din, bw, w, in, weight, rstd, tc.n, tc.c) }
			// L sums up to 231 float32 outputs, each rounded at ~1e-7 relative, and the
			// difference quotient divides that noise by 2e-2: numeric gradients are
			// good to ~1e-4 absolute, hence a floor of 3e-2 rather than 1e-2.
			e := gradCheck(t, "RMSNormBackward", fwd, bwd, params, w, 1e-2, 3e-2, 5e-3)
			t.Logf("worst gradient error %.3g", e)
		})
	}
}

func TestRMSNormFixtures(t *testing.T) {
	for _, f := range loadFixtures(t, "rmsnorm") {
		n, c := f.Sizes["n"], f.Sizes["c"]
		out, rstd, din, dweight := floats(n*c), floats(n), floats(n*c), floats(c)
		RMSNormForward(out, rstd, f.Inputs["in"], f.Inputs["weight"], n, c, float32(f.Scalars["eps"]))
		RMSNormBackward(din, dweight, f.Inputs["w"], f.Inputs["in"], f.Inputs["weight"], rstd, n, c)
		t.Logf("%s: worst errors out %.3g, rstd %.3g, din %.3g, dweight %.3g", f.Case,
			assertClose(t, "RMSNormForward "+f.Case+" out", f.Outputs["out"], out, fixtureRTol),
			assertClose(t, "RMSNormForward "+f.Case+" rstd", f.Outputs["rstd"], rstd, fixtureRTol),
			assertClose(t, "RMSNormBackward "+f.Case+" din", f.Grads["in"], din, fixtureRTol),
			assertClose(t, "RMSNormBackward "+f.Case+" dweight", f.Grads["weight"], dweight, fixtureRTol))
	}
}
