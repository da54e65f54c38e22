package nn

import (
	"testing"

	"golora/core/rng"
)

func TestQuickAttentionGrad(t *testing.T) {
	r := rng.New(1)
	b, tt, nh, nkv, hs := 2, 3, 4, 2, 4
	q, k, v := randn(r, b*tt*nh*hs, 1), randn(r, b*tt*nkv*hs, 1), randn(r, b*tt*nkv*hs, 1)
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	out, att, datt := make([]float32, len(q)), make([]float32, b*nh*tt*tt), make([]float32, b*nh*tt*tt)
	w := randn(r, len(out), 1)
	fwd := func() []float32 { AttentionForward(out, att, q, k, v, b, tt, nh, nkv, hs); return out }
	bwd := func() { AttentionBackward(dq, dk, dv, datt, w, q, k, v, att, b, tt, nh, nkv, hs) }
	e := gradCheck(t, "Attention", fwd, bwd, []param{{"q", q, dq}, {"k", k, dk}, {"v", v, dv}}, w, 1e-2, 1e-2, 1e-2)
	t.Logf("worst %.3g", e)
}
