// This file holds causal grouped-query self-attention: training forward/backward and the one-token KV-cache step.

package nn

import (
	"fmt"

	"golora/core/mathf"
)

// checkHeads panics unless the head counts describe grouped-query attention.
func checkHeads(what string, nh, nkv, hs int) {
	if nh <= 0 || nkv <= 0 || hs <= 0 || nh%nkv != 0 {
		panic(fmt.Sprintf("nn: %s: need NH a positive multiple of NKV and HS > 0, got NH=%d NKV=%d HS=%d", what, nh, nkv, hs))
	}
}

// attendRow is one query's attention over positions 0..len(probs)-1:
// probs[t2] = softmax_t2(q·k[t2] * scale), out = Σ_t2 probs[t2] v[t2].
// k and v start at the head's first element of position 0; row t2 starts at
// t2*stride. AttentionForward and AttentionStep both call it, which is what
// makes the KV-cache step bit-identical to the training forward.
func attendRow(out, probs, q, k, v []float32, stride, hs int, scale float32) {
	q = q[:hs]
	maxval := float32(0)
	for t2 := range probs {
		kr := k[t2*stride : t2*stride+hs]
		var dot float32
		for i, x := range q {
			dot += x * kr[i]
		}
		dot *= scale
		probs[t2] = dot
		if t2 == 0 || dot > maxval {
			maxval = dot
		}
	}
	var sum float64
	for t2, s := range probs {
		e := mathf.Exp(s - maxval)
		probs[t2] = e
		sum += float64(e)
	}
	// The maximum contributes exp(0) = 1, so sum >= 1.
	inv := float32(1 / sum)
	for t2 := range probs {
		probs[t2] *= inv
	}
	out = out[:hs]
	clear(out)
	for t2, p := range probs {
		vr := v[t2*stride : t2*stride+hs]
		for i, x := range vr {
			out[i] += p * x
		}
	}
}

// AttentionForward computes causal self-attention with grouped-query heads.
// q is (B, T, NH*HS); k and v are (B, T, NKV*HS); query head h reads key/value
// head h/(NH/NKV). Scores are scaled by 1/sqrt(HS). att (B, NH, T, T) receives
// the softmax probabilities, saved for the backward pass, with the entries
// above the diagonal (future positions) set to 0. out is (B, T, NH*HS).
func AttentionForward(out, att, q, k, v []float32, b, t, nh, nkv, hs int) {
	checkHeads("AttentionForward", nh, nkv, hs)
	qd, kvd := nh*hs, nkv*hs
	checkLen("AttentionForward out", out, b*t*qd)
	checkLen("AttentionForward att", att, b*nh*t*t)
	checkLen("AttentionForward q", q, b*t*qd)
	checkLen("AttentionForward k", k, b*t*kvd)
	checkLen("AttentionForward v", v, b*t*kvd)
	group := nh / nkv
	scale := 1 / mathf.Sqrt(float32(hs))
	for bi := range b {
		for h := range nh {
			kvo := bi*t*kvd + (h/group)*hs // head h/group of token 0 of sequence bi
			for ti := range t {
				qo := (bi*t+ti)*qd + h*hs
				row := att[((bi*nh+h)*t+ti)*t : ((bi*nh+h)*t+ti+1)*t]
				attendRow(out[qo:qo+hs], row[:ti+1], q[qo:qo+hs], k[kvo:], v[kvo:], kvd, hs, scale)
				clear(row[ti+1:])
			}
		}
	}
}

// AttentionBackward accumulates dq (B, T, NH*HS), dk and dv (B, T, NKV*HS)
// from dout (B, T, NH*HS), using the probabilities att that AttentionForward
// saved. datt (B, NH, T, T) is caller scratch and is overwritten: it ends up
// holding the gradient of the scaled pre-softmax scores, zero above the diagonal.
func AttentionBackward(dq, dk, dv, datt, dout, q, k, v, att []float32, b, t, nh, nkv, hs int) {
	checkHeads("AttentionBackward", nh, nkv, hs)
	qd, kvd := nh*hs, nkv*hs
	checkLen("AttentionBackward dq", dq, b*t*qd)
	checkLen("AttentionBackward dk", dk, b*t*kvd)
	checkLen("AttentionBackward dv", dv, b*t*kvd)
	checkLen("AttentionBackward datt", datt, b*nh*t*t)
	checkLen("AttentionBackward dout", dout, b*t*qd)
	checkLen("AttentionBackward q", q, b*t*qd)
	checkLen("AttentionBackward k", k, b*t*kvd)
	checkLen("AttentionBackward v", v, b*t*kvd)
	checkLen("AttentionBackward att", att, b*nh*t*t)
	group := nh / nkv
	scale := 1 / mathf.Sqrt(float32(hs))
	for bi := range b {
		for h := range nh {
			kvo := bi*t*kvd + (h/group)*hs
			for ti := range t {
				qo := (bi*t+ti)*qd + h*hs
				ro := ((bi*nh+h)*t + ti) * t
				p := att[ro : ro+ti+1]
				dp := datt[ro : ro+ti+1]
				clear(datt[ro+ti+1 : ro+t])
				qr, dqr, dor := q[qo:qo+hs], dq[qo:qo+hs], dout[qo:qo+hs]
				// Through the weighted sum of values.
				var pdp float64 // Σ_t2 p[t2] dp[t2], for the softmax below
				for t2 := range p {
					vo := kvo + t2*kvd
					vr, dvr := v[vo:vo+hs], dv[vo:vo+hs]
					var d float32
					for i, g := range dor {
						// forward: out[i] += p * x   (x = v[t2][i])
						d += g * vr[i]
						dvr[i] += p[t2] * g
					}
					dp[t2] = d
					pdp += float64(p[t2]) * float64(d)
				}
				// Through the softmax: dscore[t2] = p[t2] (dp[t2] - Σ_j p[j] dp[j]).
				s := float32(pdp)
				for t2 := range p {
					// forward: probs[t2] = exp(score[t2] - max) / sum
					ds := p[t2] * (dp[t2] - s)
					dp[t2] = ds
					ko := kvo + t2*kvd
					kr, dkr := k[ko:ko+hs], dk[ko:ko+hs]
					g := ds * scale
					for i, x := range qr {
						// forward: dot += x * kr[i]; dot *= scale
						dqr[i] += g * kr[i]
						dkr[i] += g * x
					}
				}
			}
		}
	}
}

// AttentionStep attends one new token at position pos to the KV cache, for
// generation. q is (NH*HS); kcache and vcache are (maxT, NKV*HS) and hold
// positions 0..pos, pos included (the caller writes the token's own k and v
// first). scores (at least pos+1) is scratch; out is (NH*HS). The result is
// bit-identical to row pos of AttentionForward over the same sequence.
func AttentionStep(out, scores, q, kcache, vcache []float32, pos, nh, nkv, hs int) {
	checkHeads("AttentionStep", nh, nkv, hs)
	if pos < 0 {
		panic(fmt.Sprintf("nn: AttentionStep: negative position %d", pos))
	}
	qd, kvd := nh*hs, nkv*hs
	checkLen("AttentionStep out", out, qd)
	checkLen("AttentionStep scores", scores, pos+1)
	checkLen("AttentionStep q", q, qd)
	checkLen("AttentionStep kcache", kcache, (pos+1)*kvd)
	checkLen("AttentionStep vcache", vcache, (pos+1)*kvd)
	group := nh / nkv
	scale := 1 / mathf.Sqrt(float32(hs))
	for h := range nh {
		kvo := (h / group) * hs
		attendRow(out[h*hs:(h+1)*hs], scores[:pos+1], q[h*hs:(h+1)*hs], kcache[kvo:], vcache[kvo:], kvd, hs, scale)
	}
}
