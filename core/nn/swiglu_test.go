package nn

import (
	"fmt"
	"testing"

	"golora/core/rng"
)

func TestSwiGLUGrad(t *testing.T) {
	for _, n := range []int{1, 7, 64} {
		t.Run(fmt.Sprint("n", n), func(t *testing.T) {
			r := rng.New(uint64(n))
			a, b, w := randn(r, n, 3), randn(r, n, 1), randn(r, n, 1) // a spans silu's curved and flat parts
			out, sig, da, db := floats(n), floats(n), floats(n), floats(n)
			fwd := func() []float32 { SwiGLUForward(out, sig, a, b, n); return out }
			bwd := func() { SwiGLUBackward(da, db, w, a, b, sig, n) }
			e := gradCheck(t, "SwiGLUBackward", fwd, bwd, []param{{"a", a, da}, {"b", b, db}}, w, 1e-2, 1e-2, 5e-3)
			t.Logf("worst gradient error %.3g", e)
		})
	}
}

func TestSwiGLUFixtures(t *testing.T) {
	for _, f := range loadFixtures(t, "swiglu") {
		n := f.Sizes["n"]
		out, sig, da, db := floats(n), floats(n), floats(n), floats(n)
		SwiGLUForward(out, sig, f.Inputs["a"], f.Inputs["b"], n)
		SwiGLUBackward(da, db, f.Inputs["w"], f.Inputs["a"], f.Inputs["b"], sig, n)
		t.Logf("%s: worst errors out %.3g, da %.3g, db %.3g", f.Case,
			assertClose(t, "SwiGLUForward "+f.Case+" out", f.Outputs["out"], out, fixtureRTol),
			assertClose(t, "SwiGLUBackward "+f.Case+" da", f.Grads["a"], da, fixtureRTol),
			assertClose(t, "SwiGLUBackward "+f.Case+" db", f.Grads["b"], db, fixtureRTol))
	}
}

// Without a sigmoid buffer (decoding), the forward pass gives the same bits,
// also when out aliases a.
func TestSwiGLUForwardNoSig(t *testing.T) {
	r := rng.New(5)
	n := 33
	a, b := randn(r, n, 3), randn(r, n, 1)
	want, sig := floats(n), floats(n)
	SwiGLUForward(want, sig, a, b, n)
	got := append([]float32(nil), a...)
	SwiGLUForward(got, nil, got, b, n)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("SwiGLUForward without sig: element %d is %g, with sig %g", i, got[i], want[i])
		}
	}
}
