package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"golora/core/rng"
)

type attnShape struct{ b, t, nh, nkv, hs int }

var attnShapes = []attnShape{
	{1, 1, 1, 1, 2}, // T=1: a single position, softmax of one score
	{1, 4, 2, 2, 4}, // plain multi-head
	{2, 5, 4, 2, 3}, // B > 1, grouped-query, odd head size
	{2, 3, 6, 1, 4}, // multi-query: every head reads one key/value head
	{1, 7, 3, 3, 5},
	{1, 70, 2, 1, 3}, // three blocks of query rows (attBlock = 32), the last one partial
}

// nans returns n NaNs: a buffer that must be overwritten before it is read.
func nans(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

func TestAttentionGrad(t *testing.T) {
	for _, s := range attnShapes {
		t.Run(fmt.Sprintf("b%d_t%d_nh%d_nkv%d_hs%d", s.b, s.t, s.nh, s.nkv, s.hs), func(t *testing.T) {
			r := rng.New(uint64(s.t*100 + s.nh*10 + s.hs))
			q, k, v := randn(r, s.b*s.t*s.nh*s.hs, 1), randn(r, s.b*s.t*s.nkv*s.hs, 1), randn(r, s.b*s.t*s.nkv*s.hs, 1)
			dq, dk, dv := floats(len(q)), floats(len(k)), floats(len(v))
			out, att, datt := nans(len(q)), nans(s.b*s.nh*s.t*s.t), nans(s.b*s.nh*s.t*s.t)
			w := randn(r, len(out), 1)
			fwd := func() []float32 { AttentionForward(out, att, q, k, v, s.b, s.t, s.nh, s.nkv, s.hs); return out }
			bwd := func() { AttentionBackward(dq, dk, dv, datt, w, q, k, v, att, s.b, s.t, s.nh, s.nkv, s.hs) }
			// eps 2e-2: at T=70 the float32 rounding of 420 outputs dominates the central difference at eps 1e-2
			// (0.0055 in the SIMD128 build), while the curvature error is still small at 2e-2 (0.0040 at worst).
			e := gradCheck(t, "AttentionBackward", fwd, bwd, []param{{"q", q, dq}, {"k", k, dk}, {"v", v, dv}}, w, 2e-2, 1e-2, 5e-3)
			t.Logf("worst gradient error %.3g", e)

			// datt started as NaN: backward must have overwritten all of it, with zeros above the diagonal.
			for i, d := range datt {
				if i%s.t > (i/s.t)%s.t {
					assert.Zero(t, d, "AttentionBackward datt[%d] above the diagonal", i)
				}
				assert.False(t, math.IsNaN(float64(d)), "AttentionBackward datt[%d] left unwritten", i)
			}

			// att: rows are probability distributions over the past, zero above the diagonal.
			fwd()
			for row := range s.b * s.nh * s.t {
				ti := row % s.t
				var sum float64
				for t2, p := range att[row*s.t : (row+1)*s.t] {
					if t2 > ti {
						assert.Zero(t, p, "AttentionForward att row %d col %d above the diagonal", row, t2)
					}
					sum += float64(p)
				}
				assert.InDelta(t, 1, sum, 1e-6, "AttentionForward att row %d sums to 1", row)
			}
		})
	}
}

func TestAttentionFixtures(t *testing.T) {
	for _, f := range loadFixtures(t, "attention") {
		b, tt, nh, nkv, hs := f.Sizes["b"], f.Sizes["t"], f.Sizes["nh"], f.Sizes["nkv"], f.Sizes["hs"]
		q, k, v := f.Inputs["q"], f.Inputs["k"], f.Inputs["v"]
		out, att, datt := floats(len(q)), floats(b*nh*tt*tt), floats(b*nh*tt*tt)
		dq, dk, dv := floats(len(q)), floats(len(k)), floats(len(v))
		AttentionForward(out, att, q, k, v, b, tt, nh, nkv, hs)
		AttentionBackward(dq, dk, dv, datt, f.Inputs["w"], q, k, v, att, b, tt, nh, nkv, hs)
		t.Logf("%s: worst errors out %.3g, att %.3g, dq %.3g, dk %.3g, dv %.3g", f.Case,
			assertClose(t, "AttentionForward "+f.Case+" out", f.Outputs["out"], out, fixtureRTol),
			assertClose(t, "AttentionForward "+f.Case+" att", f.Outputs["att"], att, fixtureRTol),
			assertClose(t, "AttentionBackward "+f.Case+" dq", f.Grads["q"], dq, fixtureRTol),
			assertClose(t, "AttentionBackward "+f.Case+" dk", f.Grads["k"], dk, fixtureRTol),
			assertClose(t, "AttentionBackward "+f.Case+" dv", f.Grads["v"], dv, fixtureRTol))
	}
}

// TestAttentionStep checks that attending one token at a time through a KV
// cache (generation) gives exactly AttentionForward's row for that position.
func TestAttentionStep(t *testing.T) {
	for _, s := range attnShapes {
		t.Run(fmt.Sprintf("b%d_t%d_nh%d_nkv%d_hs%d", s.b, s.t, s.nh, s.nkv, s.hs), func(t *testing.T) {
			r := rng.New(uint64(s.t*100 + s.nh*10 + s.hs + 1))
			qd, kvd, maxT := s.nh*s.hs, s.nkv*s.hs, s.t+3 // a cache longer than the sequence
			q, k, v := randn(r, s.b*s.t*qd, 1), randn(r, s.b*s.t*kvd, 1), randn(r, s.b*s.t*kvd, 1)
			out, att := floats(len(q)), floats(s.b*s.nh*s.t*s.t)
			AttentionForward(out, att, q, k, v, s.b, s.t, s.nh, s.nkv, s.hs)
			for bi := range s.b {
				kc, vc := nans(maxT*kvd), nans(maxT*kvd) // positions past pos must never be read
				scores, step := floats(maxT), floats(qd)
				for pos := range s.t {
					row := bi*s.t + pos
					copy(kc[pos*kvd:], k[row*kvd:(row+1)*kvd])
					copy(vc[pos*kvd:], v[row*kvd:(row+1)*kvd])
					AttentionStep(step, scores, q[row*qd:(row+1)*qd], kc, vc, pos, s.nh, s.nkv, s.hs)
					// The training forward runs blocked products (SIMD where built), the step
					// plain loops: the same math in another summation order.
					assert.InDeltaSlice(t, out[row*qd:(row+1)*qd], step, 1e-5, "AttentionStep batch %d pos %d", bi, pos)
				}
			}
		})
	}
}

func TestAttentionPanics(t *testing.T) {
	assert.PanicsWithValue(t, "nn: AttentionForward: need NH a positive multiple of NKV and HS > 0, got NH=3 NKV=2 HS=4", func() {
		AttentionForward(floats(12), floats(9), floats(12), floats(8), floats(8), 1, 1, 3, 2, 4)
	})
	assert.Panics(t, func() { AttentionStep(floats(4), floats(1), floats(4), floats(4), floats(4), 1, 1, 1, 4) }, "cache shorter than pos+1")
}

// BenchmarkAttention times one training forward and backward at the shipped
// base's shapes (half a default batch: one worker's part).
func BenchmarkAttention(b *testing.B) {
	const B, T, NH, NKV, HS = 8, 115, 4, 2, 24
	r := rng.New(1)
	q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
	out, dout := floats(len(q)), randn(r, len(q), 1)
	att, datt := floats(B*NH*T*T), floats(B*NH*T*T)
	dq, dk, dv := floats(len(q)), floats(len(k)), floats(len(v))
	for b.Loop() {
		AttentionForward(out, att, q, k, v, B, T, NH, NKV, HS)
		AttentionBackward(dq, dk, dv, datt, dout, q, k, v, att, B, T, NH, NKV, HS)
	}
}

// TestAttentionBackwardSkips requires that leaving out any of dq, dk and dv
// leaves the others' bits unchanged.
func TestAttentionBackwardSkips(t *testing.T) {
	const B, T, NH, NKV, HS = 2, 70, 4, 2, 5
	r := rng.New(9)
	q, k, v := randn(r, B*T*NH*HS, 1), randn(r, B*T*NKV*HS, 1), randn(r, B*T*NKV*HS, 1)
	dout := randn(r, len(q), 1)
	out, att := floats(len(q)), floats(B*NH*T*T)
	AttentionForward(out, att, q, k, v, B, T, NH, NKV, HS)
	grads := func(mask int) [3][]float32 {
		var g [3][]float32
		for i, n := range []int{len(q), len(k), len(v)} {
			if mask&(1<<i) != 0 {
				g[i] = randn(rng.New(uint64(i)), n, 1) // the same starting values in every call: they accumulate
			}
		}
		AttentionBackward(g[0], g[1], g[2], nans(B*NH*T*T), dout, q, k, v, att, B, T, NH, NKV, HS)
		return g
	}
	all := grads(7)
	for mask := range 7 {
		got := grads(mask)
		for i, name := range []string{"dq", "dk", "dv"} {
			if got[i] == nil {
				continue
			}
			for j := range got[i] {
				if math.Float32bits(got[i][j]) != math.Float32bits(all[i][j]) {
					t.Fatalf("mask %03b: %s[%d] = %v, with every gradient %v", mask, name, j, got[i][j], all[i][j])
				}
			}
		}
	}
}

// TestAttentionLeadGrad checks the backward pass of attention with leading
// keys and values (prefix tuning's) by finite differences, and that each
// row's probabilities spread over the leading keys and its own past only.
func TestAttentionLeadGrad(t *testing.T) {
	for _, s := range []struct{ b, t, p, nh, nkv, hs int }{
		{1, 1, 1, 1, 1, 2},
		{2, 5, 3, 4, 2, 3},
		{1, 40, 2, 2, 1, 3}, // two blocks of query rows
	} {
		t.Run(fmt.Sprintf("b%d_t%d_p%d_nh%d_nkv%d", s.b, s.t, s.p, s.nh, s.nkv), func(t *testing.T) {
			r := rng.New(uint64(s.t*100 + s.p))
			tk := s.p + s.t
			q, k, v := randn(r, s.b*s.t*s.nh*s.hs, 1), randn(r, s.b*tk*s.nkv*s.hs, 1), randn(r, s.b*tk*s.nkv*s.hs, 1)
			dq, dk, dv := floats(len(q)), floats(len(k)), floats(len(v))
			out, att, datt := nans(len(q)), nans(s.b*s.nh*s.t*tk), nans(s.b*s.nh*s.t*tk)
			w := randn(r, len(out), 1)
			fwd := func() []float32 {
				AttentionForwardLead(out, att, q, k, v, s.b, s.t, s.p, s.nh, s.nkv, s.hs)
				return out
			}
			bwd := func() {
				AttentionBackwardLead(dq, dk, dv, datt, w, q, k, v, att, s.b, s.t, s.p, s.nh, s.nkv, s.hs)
			}
			e := gradCheck(t, "AttentionBackwardLead", fwd, bwd, []param{{"q", q, dq}, {"k", k, dk}, {"v", v, dv}}, w, 2e-2, 1e-2, 5e-3)
			t.Logf("worst gradient error %.3g", e)
			fwd()
			for row := range s.b * s.nh * s.t {
				ti := row % s.t
				var sum float64
				for j, pr := range att[row*tk : (row+1)*tk] {
					if j > s.p+ti {
						assert.Zero(t, pr, "row %d key %d is in the future", row, j)
					}
					sum += float64(pr)
				}
				assert.InDelta(t, 1, sum, 1e-6, "row %d sums to 1", row)
			}
		})
	}
}

// TestAttentionLeadIsTheLastRows: P leading keys and values with T queries
// give the last T rows of attention over all P+T positions (whatever the
// first P queries), bit for bit, and so do their gradients of q, k and v
// when only those rows have an output gradient; the KV-cache step agrees too.
func TestAttentionLeadIsTheLastRows(t *testing.T) {
	const B, T, P, NH, NKV, HS = 2, 37, 5, 4, 2, 3
	qd, kvd, tk := NH*HS, NKV*HS, P+T
	r := rng.New(11)
	qAll, k, v := randn(r, B*tk*qd, 1), randn(r, B*tk*kvd, 1), randn(r, B*tk*kvd, 1)
	dAll := randn(r, B*tk*qd, 1)
	q, dout := floats(B*T*qd), floats(B*T*qd)
	for b := range B {
		for i := range P {
			clear(dAll[(b*tk+i)*qd : (b*tk+i+1)*qd]) // the leading rows' outputs are not read
		}
		copy(q[b*T*qd:(b+1)*T*qd], qAll[(b*tk+P)*qd:(b+1)*tk*qd])
		copy(dout[b*T*qd:(b+1)*T*qd], dAll[(b*tk+P)*qd:(b+1)*tk*qd])
	}
	full, attFull := floats(len(qAll)), floats(B*NH*tk*tk)
	AttentionForward(full, attFull, qAll, k, v, B, tk, NH, NKV, HS)
	out, att := floats(len(q)), floats(B*NH*T*tk)
	AttentionForwardLead(out, att, q, k, v, B, T, P, NH, NKV, HS)
	dqAll, dkAll, dvAll := floats(len(qAll)), floats(len(k)), floats(len(v))
	AttentionBackward(dqAll, dkAll, dvAll, floats(B*NH*tk*tk), dAll, qAll, k, v, attFull, B, tk, NH, NKV, HS)
	dq, dk, dv := floats(len(q)), floats(len(k)), floats(len(v))
	AttentionBackwardLead(dq, dk, dv, floats(B*NH*T*tk), dout, q, k, v, att, B, T, P, NH, NKV, HS)
	same := func(what string, want, got []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
				t.Fatalf("%s[%d] = %v, the full attention's %v", what, i, got[i], want[i])
			}
		}
	}
	for b := range B {
		same("out", full[(b*tk+P)*qd:(b+1)*tk*qd], out[b*T*qd:(b+1)*T*qd])
		same("dq", dqAll[(b*tk+P)*qd:(b+1)*tk*qd], dq[b*T*qd:(b+1)*T*qd])
	}
	assert.InDeltaSlice(t, dkAll, dk, 1e-5, "dk")
	assert.InDeltaSlice(t, dvAll, dv, 1e-5, "dv")
	scores, step := floats(tk), floats(qd)
	for b := range B {
		for i := range T {
			AttentionStep(step, scores, q[(b*T+i)*qd:(b*T+i+1)*qd], k[b*tk*kvd:], v[b*tk*kvd:], P+i, NH, NKV, HS)
			assert.InDeltaSlice(t, out[(b*T+i)*qd:(b*T+i+1)*qd], step, 1e-5, "step of sequence %d, query %d", b, i)
		}
	}
}
