// This file holds causal grouped-query self-attention: training forward/backward and the one-token KV-cache step.

package nn

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golora/core/mathf"
	"golora/core/matmul"
	"golora/core/par"
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
// t2*stride. AttentionStep calls it; it sums in the order AttentionForward's
// products do (each dot product over the head in order, the output over
// positions in order), so in the default build the KV-cache step gives the
// training forward's bits (SIMD builds fuse the forward's multiply-adds).
func attendRow(out, probs, q, k, v []float32, stride, hs int, scale float32) {
	q = q[:hs]
	// Four positions' dot products side by side: four independent chains
	// instead of one (each still summed in increasing i, so the bits are
	// those of one dot at a time).
	t2 := 0
	for ; t2+4 <= len(probs); t2 += 4 {
		k0 := k[t2*stride : t2*stride+hs]
		k1 := k[(t2+1)*stride : (t2+1)*stride+hs]
		k2 := k[(t2+2)*stride : (t2+2)*stride+hs]
		k3 := k[(t2+3)*stride : (t2+3)*stride+hs]
		var d0, d1, d2, d3 float32
		for i, x := range q {
			d0 += x * k0[i]
			d1 += x * k1[i]
			d2 += x * k2[i]
			d3 += x * k3[i]
		}
		probs[t2], probs[t2+1], probs[t2+2], probs[t2+3] = d0*scale, d1*scale, d2*scale, d3*scale
	}
	for ; t2 < len(probs); t2++ {
		kr := k[t2*stride : t2*stride+hs]
		var dot float32
		for i, x := range q {
			dot += x * kr[i]
		}
		probs[t2] = dot * scale
	}
	maxval := probs[0]
	for _, d := range probs[1:] {
		if d > maxval {
			maxval = d
		}
	}
	sum := mathf.ExpShifted(probs, maxval)
	// The maximum contributes exp(0) = 1, so sum >= 1.
	inv := float32(1 / sum)
	for t2 := range probs {
		probs[t2] *= inv
	}
	out = out[:hs]
	clear(out)
	for t2, p := range probs {
		mathf.AddScaled(out, v[t2*stride:t2*stride+hs], p) // out += p·v[t2], in increasing t2
	}
}

// AttentionForward computes causal self-attention with grouped-query heads.
// q is (B, T, NH*HS); k and v are (B, T, NKV*HS); query head h reads key/value
// head h/(NH/NKV). Scores are scaled by 1/sqrt(HS). att (B, NH, T, T) receives
// the softmax probabilities, saved for the backward pass, with the entries
// above the diagonal (future positions) set to 0. out is (B, T, NH*HS).
//
// Each (sequence, head) is computed in blocks of attBlock query rows through
// core/matmul (SIMD where built), reading q, k and v where they lie and
// writing att and out in place: rows [i0, i1) attend to keys [0, i1) only,
// S = Q·Kᵀ straight into att's rows, then O = P·V, so the work above the
// diagonal past each block is skipped (about 40% of it at T = 128). The
// keys and values of a (sequence, kv head) are packed once for all its
// query heads and blocks. Work is split across goroutines by (sequence, kv
// head): every output is written by one goroutine, so results do not
// depend on GOMAXPROCS.
func AttentionForward(out, att, q, k, v []float32, b, t, nh, nkv, hs int) {
	AttentionForwardLead(out, att, q, k, v, b, t, 0, nh, nkv, hs)
}

// AttentionForwardLead is AttentionForward with p leading keys and values
// before each sequence's own, which every query attends to (prefix tuning's
// keys and values): k and v are (B, P+T, NKV*HS), sequence b's own key i at
// row P+i, and query i attends to keys 0..P+i. att is (B, NH, T, P+T). With
// p = 0 it is AttentionForward, operation for operation.
func AttentionForwardLead(out, att, q, k, v []float32, b, t, p, nh, nkv, hs int) {
	checkHeads("AttentionForward", nh, nkv, hs)
	if p < 0 {
		panic(fmt.Sprintf("nn: AttentionForward: negative number of leading keys %d", p))
	}
	qd, kvd, tk := nh*hs, nkv*hs, p+t
	checkLen("AttentionForward out", out, b*t*qd)
	checkLen("AttentionForward att", att, b*nh*t*tk)
	checkLen("AttentionForward q", q, b*t*qd)
	checkLen("AttentionForward k", k, b*tk*kvd)
	checkLen("AttentionForward v", v, b*tk*kvd)
	group := nh / nkv
	scale := 1 / mathf.Sqrt(float32(hs))
	forEachGroup(b, nkv, t*tk, hs, func(bi, g int, sc *attScratch) {
		kvo := bi*tk*kvd + g*hs
		sc.x.Pack(k[kvo:], kvd, true, hs, tk)  // Kᵀ (HS, P+T)
		sc.y.Pack(v[kvo:], kvd, false, tk, hs) // V (P+T, HS)
		for h := g * group; h < (g+1)*group; h++ {
			qo := bi*t*qd + h*hs
			pr := att[(bi*nh+h)*t*tk : (bi*nh+h+1)*t*tk]
			for i0 := 0; i0 < t; i0 += attBlock {
				i1 := min(i0+attBlock, t)
				rows, live := i1-i0, p+i1 // the block's rows see keys [0, P+i1)
				pb := pr[i0*tk:]
				matmul.MulPacked(pb, tk, q[qo+i0*qd:], qd, &sc.x, rows, hs, live, false) // S (rows, P+i1) = Q·Kᵀ
				for r := range rows {
					row := pb[r*tk : (r+1)*tk]
					softmaxCausal(row[:live], p+i0+r, scale)
					clear(row[live:])
				}
				matmul.MulPacked(out[qo+i0*qd:], qd, pb, tk, &sc.y, rows, live, hs, false) // O (rows, HS) = P·V
			}
		}
	})
}

// attBlock is the number of query rows attention computes at once: smaller
// blocks skip more of the masked upper triangle but make more, smaller products.
const attBlock = 32

// softmaxCausal turns row ti of the scores into probabilities over positions
// 0..ti (scaled by scale, max subtracted, summed in float64) and zeroes the future.
func softmaxCausal(row []float32, ti int, scale float32) {
	live := row[:ti+1]
	maxval := scaleByMax(live, scale)
	sum := mathf.ExpShifted(live, maxval)
	scaleBy(live, float32(1/sum)) // the maximum contributes exp(0) = 1, so sum >= 1
	clear(row[ti+1:])
}

// AttentionBackward accumulates dq (B, T, NH*HS), dk and dv (B, T, NKV*HS)
// from dout (B, T, NH*HS), using the probabilities att that AttentionForward
// saved. datt (B, NH, T, T) is caller scratch and is overwritten: it ends up
// holding the gradient of the pre-softmax scores times the scale (the gradient
// of the unscaled dot products), zero above the diagonal. The work goes in
// the forward's blocks of query rows, skipping the same upper triangle, with
// every operand read and every gradient added where it lies. Any of dq, dk
// and dv may be nil when nothing needs it (a frozen first layer needs only
// the gradients its adapters read): its products are skipped, and the others
// are unchanged; datt is then left undefined when both dq and dk are nil.
func AttentionBackward(dq, dk, dv, datt, dout, q, k, v, att []float32, b, t, nh, nkv, hs int) {
	AttentionBackwardLead(dq, dk, dv, datt, dout, q, k, v, att, b, t, 0, nh, nkv, hs)
}

// AttentionBackwardLead is the backward pass of AttentionForwardLead: dk and
// dv are (B, P+T, NKV*HS) like k and v (the leading rows get the gradients
// of the leading keys and values, per sequence), datt is (B, NH, T, P+T).
func AttentionBackwardLead(dq, dk, dv, datt, dout, q, k, v, att []float32, b, t, p, nh, nkv, hs int) {
	checkHeads("AttentionBackward", nh, nkv, hs)
	if p < 0 {
		panic(fmt.Sprintf("nn: AttentionBackward: negative number of leading keys %d", p))
	}
	qd, kvd, tk := nh*hs, nkv*hs, p+t
	if dq != nil {
		checkLen("AttentionBackward dq", dq, b*t*qd)
	}
	if dk != nil {
		checkLen("AttentionBackward dk", dk, b*tk*kvd)
	}
	if dv != nil {
		checkLen("AttentionBackward dv", dv, b*tk*kvd)
	}
	needS := dq != nil || dk != nil // the scores' gradient
	if !needS && dv == nil {
		return
	}
	checkLen("AttentionBackward datt", datt, b*nh*t*tk)
	checkLen("AttentionBackward dout", dout, b*t*qd)
	checkLen("AttentionBackward q", q, b*t*qd)
	checkLen("AttentionBackward k", k, b*tk*kvd)
	checkLen("AttentionBackward v", v, b*tk*kvd)
	checkLen("AttentionBackward att", att, b*nh*t*tk)
	group := nh / nkv
	scale := 1 / mathf.Sqrt(float32(hs))
	forEachGroup(b, nkv, t*tk, hs, func(bi, g int, sc *attScratch) {
		kvo := bi*tk*kvd + g*hs
		if needS {
			sc.x.Pack(v[kvo:], kvd, true, hs, tk) // Vᵀ (HS, P+T)
		}
		if dq != nil {
			sc.y.Pack(k[kvo:], kvd, false, tk, hs) // K (P+T, HS)
		}
		for h := g * group; h < (g+1)*group; h++ {
			qo := bi*t*qd + h*hs
			pr := att[(bi*nh+h)*t*tk : (bi*nh+h+1)*t*tk]
			dp := datt[(bi*nh+h)*t*tk : (bi*nh+h+1)*t*tk]
			for i0 := 0; i0 < t; i0 += attBlock {
				i1 := min(i0+attBlock, t)
				rows, live := i1-i0, p+i1
				pb, db := pr[i0*tk:], dp[i0*tk:]
				dO := dout[qo+i0*qd:]
				// forward: O = P·V
				if dv != nil {
					matmul.Mul(dv[kvo:], kvd, pb, tk, true, dO, qd, false, live, rows, hs, true) // dV (P+i1, HS) += Pᵀ·dO
				}
				if !needS {
					continue
				}
				matmul.MulPacked(db, tk, dO, qd, &sc.x, rows, hs, live, false) // dP (rows, P+i1) = dO·Vᵀ
				// forward: P = softmax(scale * S) row by row, causal
				for r := range rows {
					ti := p + i0 + r
					prr, dr := pb[r*tk:r*tk+ti+1], db[r*tk:(r+1)*tk]
					softmaxGrad(dr, prr, float32(dot64(prr, dr)), scale)
					clear(dr[ti+1:])
				}
				// forward: S = Q·Kᵀ
				if dq != nil {
					matmul.MulPacked(dq[qo+i0*qd:], qd, db, tk, &sc.y, rows, live, hs, true) // dQ (rows, HS) += dS·K
				}
				if dk != nil {
					matmul.Mul(dk[kvo:], kvd, db, tk, true, q[qo+i0*qd:], qd, false, live, rows, hs, true) // dK (P+i1, HS) += dSᵀ·Q
				}
			}
		}
	})
}

// attScratch is one goroutine's packed copies of a (sequence, kv head)'s
// keys and values, in the orientations each pass multiplies by.
type attScratch struct{ x, y matmul.Packed }

var attPool = sync.Pool{New: func() any { return new(attScratch) }}

// forEachGroup calls f for every (sequence, kv head) pair, spread over up to
// par.Workers() goroutines; each pair's outputs are disjoint from every other's.
// area is the size of one head's score matrix (T·(P+T)).
func forEachGroup(b, nkv, area, hs int, f func(bi, g int, sc *attScratch)) {
	units := b * nkv
	workers := min(units, par.Workers())
	if area*hs < 1<<12 {
		workers = 1 // tiny problems: goroutines cost more than they save
	}
	var next atomic.Int64
	work := func() {
		sc := attPool.Get().(*attScratch)
		defer attPool.Put(sc)
		for {
			u := int(next.Add(1)) - 1
			if u >= units {
				return
			}
			f(u/nkv, u%nkv, sc)
		}
	}
	if workers <= 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
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
