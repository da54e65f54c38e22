// This file holds the softmax cross-entropy loss over the vocabulary and the masked mean that reduces it.

package nn

import (
	"fmt"

	"golora/core/mathf"
)

// CrossEntropyForward computes, for each row i of logits (N, V), the
// probabilities probs[i] = softmax(logits[i]) (saved for the backward pass)
// and the loss losses[i] = -log probs[i][targets[i]]. It subtracts the row
// maximum before exponentiating and sums in float64; the loss is computed as
// log Σ exp(l - max) - (l_target - max), which stays exact where the target's
// probability underflows float32. Rows with targets[i] < 0 are ignored: their
// loss is 0 (their probabilities are still written, for sampling or metrics).
// It returns the mean loss over the rows not ignored (0 if none), as PyTorch's
// F.cross_entropy(..., ignore_index=-1) does; use MaskedMean for other weightings.
func CrossEntropyForward(losses, probs, logits []float32, targets []int, n, v int) float32 {
	checkLen("CrossEntropyForward losses", losses, n)
	checkLen("CrossEntropyForward probs", probs, n*v)
	checkLen("CrossEntropyForward logits", logits, n*v)
	checkInts("CrossEntropyForward targets", targets, n)
	for i, tg := range targets[:n] {
		if tg >= v {
			panic(fmt.Sprintf("nn: CrossEntropyForward: target %d at row %d is outside a vocabulary of %d", tg, i, v))
		}
	}
	forRows(n, 2*v, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			l := logits[i*v : (i+1)*v]
			maxval, sum := softmax(probs[i*v:(i+1)*v], l)
			if tg := targets[i]; tg >= 0 {
				losses[i] = float32(mathf.Log64(sum) - (float64(l[tg]) - float64(maxval)))
			} else {
				losses[i] = 0
			}
		}
	})
	var total float64
	count := 0
	for i, tg := range targets[:n] {
		if tg >= 0 {
			total += float64(losses[i])
			count++
		}
	}
	if count == 0 {
		return 0
	}
	return float32(total / float64(count))
}

// CrossEntropyBackward accumulates dlogits (N, V) += dlosses[i] * (probs[i] -
// onehot(targets[i])) for each row, given dlosses (N), the gradient of the
// final loss with respect to each row's loss (see MaskedMeanBackward). Rows with
// targets[i] < 0 are skipped.
func CrossEntropyBackward(dlogits, probs []float32, targets []int, dlosses []float32, n, v int) {
	checkLen("CrossEntropyBackward dlogits", dlogits, n*v)
	checkLen("CrossEntropyBackward probs", probs, n*v)
	checkInts("CrossEntropyBackward targets", targets, n)
	checkLen("CrossEntropyBackward dlosses", dlosses, n)
	for i, tg := range targets[:n] {
		if tg >= v {
			panic(fmt.Sprintf("nn: CrossEntropyBackward: target %d at row %d is outside a vocabulary of %d", tg, i, v))
		}
	}
	forRows(n, v, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			tg := targets[i]
			if tg < 0 {
				continue
			}
			dl := dlosses[i]
			p := probs[i*v : (i+1)*v]
			dlog := dlogits[i*v : (i+1)*v]
			for j, pj := range p {
				// forward: losses[i] = log Σ exp(l - max) - (l[tg] - max), so dloss/dl_j = p_j - [j == tg]
				dlog[j] += dl * pj
			}
			dlog[tg] -= dl
		}
	})
}

// MaskedMean returns Σ mask_i*losses_i / Σ mask_i, accumulated in float64, or 0
// if the mask sums to 0. The per-position mask is how fine-tuning trains on the
// target tokens only (mask 1) and not on the prompt (mask 0).
func MaskedMean(losses, mask []float32) float32 { return MaskedMeanOver(losses, mask, 0) }

// MaskedMeanOver returns Σ mask_i*losses_i / den (den > 0), or MaskedMean when
// den is 0. A batch computed in parts passes the whole batch's Σ mask as den,
// so that the parts' losses and gradients add up to the batch's.
func MaskedMeanOver(losses, mask []float32, den float64) float32 {
	checkLen("MaskedMean losses", losses, len(mask))
	var num, sum float64
	for i, m := range mask {
		num += float64(m) * float64(losses[i])
		sum += float64(m)
	}
	if den <= 0 {
		den = sum
	}
	if den == 0 {
		return 0
	}
	return float32(num / den)
}

// MaskedMeanBackward writes dlosses[i] = mask_i / Σ mask, the gradient of
// MaskedMean with respect to each loss. Unlike the other backward functions it
// OVERWRITES dlosses: the per-row losses are a leaf of the loss, not a tensor
// that several layers read. If the mask sums to 0, dlosses is all zero.
func MaskedMeanBackward(dlosses, mask []float32) { MaskedMeanBackwardOver(dlosses, mask, 0) }

// MaskedMeanBackwardOver is the gradient of MaskedMeanOver with the same den:
// dlosses[i] = mask_i / den (den = Σ mask when 0). It overwrites dlosses.
func MaskedMeanBackwardOver(dlosses, mask []float32, den float64) {
	checkLen("MaskedMeanBackward dlosses", dlosses, len(mask))
	if den <= 0 {
		for _, m := range mask {
			den += float64(m)
		}
	}
	for i, m := range mask {
		if den == 0 {
			dlosses[i] = 0
			continue
		}
		// forward: num += m * losses[i]; return num / den
		dlosses[i] = float32(float64(m) / den)
	}
}

// Softmax writes softmax(in) into out for one row (len(in) elements), for
// sampling; the probabilities are those CrossEntropyForward saves. out may alias in.
func Softmax(out, in []float32) {
	checkLen("Softmax out", out, len(in))
	if len(in) > 0 {
		softmax(out, in)
	}
}

// softmax writes softmax(in) into out (len(in) > 0): it subtracts the maximum,
// exponentiates in float32 (mathf.ExpShifted: vectorised in SIMD builds), sums
// in float64, and returns the maximum and the sum of exp(in - max), from which
// the cross-entropy takes its log-sum-exp.
func softmax(out, in []float32) (maxval float32, sum float64) {
	out = out[:len(in)]
	maxval = in[0]
	for j, x := range in {
		out[j] = x
		if x > maxval { // a NaN logit still makes the row NaN, through its exponential
			maxval = x
		}
	}
	sum = mathf.ExpShifted(out, maxval)
	scaleBy(out, float32(1/sum)) // the maximum contributes exp(0) = 1, so sum >= 1
	return maxval, sum
}
