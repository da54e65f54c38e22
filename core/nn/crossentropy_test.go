package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"golora/core/rng"
)

func TestCrossEntropyGrad(t *testing.T) {
	for _, tc := range []struct {
		n, v   int
		scale  float32
		ignore []int // rows whose target is -1
	}{{1, 2, 1, nil}, {4, 7, 1, nil}, {9, 33, 3, []int{0, 4}}, {3, 5, 1, []int{0, 1, 2}}} {
		t.Run(fmt.Sprintf("n%d_v%d_ignore%d", tc.n, tc.v, len(tc.ignore)), func(t *testing.T) {
			r := rng.New(uint64(tc.n*100 + tc.v))
			logits, w := randn(r, tc.n*tc.v, tc.scale), randn(r, tc.n, 1)
			targets := make([]int, tc.n)
			for i := range targets {
				targets[i] = r.Intn(tc.v)
			}
			for _, i := range tc.ignore {
				targets[i] = -1
			}
			losses, probs, dlogits := floats(tc.n), floats(tc.n*tc.v), floats(tc.n*tc.v)
			fwd := func() []float32 { CrossEntropyForward(losses, probs, logits, targets, tc.n, tc.v); return losses }
			bwd := func() { CrossEntropyBackward(dlogits, probs, targets, w, tc.n, tc.v) }
			// The losses (up to ~10) are rounded to float32 (ulp ~1e-6) before the
			// difference quotient divides by 2e-2, so a numeric gradient is only good
			// to ~1e-4 absolute: the floor is 3e-2 rather than 1e-2.
			e := gradCheck(t, "CrossEntropyBackward", fwd, bwd, []param{{"logits", logits, dlogits}}, w, 1e-2, 3e-2, 5e-3)
			t.Logf("worst gradient error %.3g", e)
			for _, i := range tc.ignore {
				assert.Zero(t, losses[i], "CrossEntropyForward loss of ignored row %d", i)
			}
		})
	}
}

func TestMaskedMeanGrad(t *testing.T) {
	for _, mask := range [][]float32{{1}, {0, 1, 1, 0, 1}, {0.5, 2, 0, 1}} {
		t.Run(fmt.Sprint(mask), func(t *testing.T) {
			r := rng.New(uint64(len(mask)))
			losses, dlosses, w := randn(r, len(mask), 2), floats(len(mask)), randn(r, 1, 1)
			scratch, out := floats(len(mask)), floats(1)
			fwd := func() []float32 { out[0] = MaskedMean(losses, mask); return out }
			bwd := func() {
				MaskedMeanBackward(scratch, mask) // overwrites, so chain through scratch
				for i, d := range scratch {
					dlosses[i] += w[0] * d
				}
			}
			gradCheck(t, "MaskedMeanBackward", fwd, bwd, []param{{"losses", losses, dlosses}}, w, 1e-2, 1e-2, 1e-3)
		})
	}
	zero := []float32{0, 0}
	d := []float32{7, 7}
	assert.Zero(t, MaskedMean([]float32{3, 4}, zero), "MaskedMean with an all-zero mask")
	MaskedMeanBackward(d, zero)
	assert.Equal(t, []float32{0, 0}, d, "MaskedMeanBackward with an all-zero mask")

	// Over a given denominator: two halves of a batch add up to its mean.
	losses, mask := []float32{1, 2, 3, 4}, []float32{1, 0, 1, 1}
	whole := MaskedMean(losses, mask)
	lo, hi := MaskedMeanOver(losses[:2], mask[:2], 3), MaskedMeanOver(losses[2:], mask[2:], 3)
	assert.InDelta(t, whole, lo+hi, 1e-6)
	assert.InDelta(t, 1.0/3, lo, 1e-7)
	MaskedMeanBackwardOver(d, mask[:2], 3)
	assert.Equal(t, []float32{1.0 / 3, 0}, d)
	assert.Zero(t, MaskedMeanOver(losses[:2], zero, 3), "no loss in the part: its share is 0")
}

func TestCrossEntropyFixtures(t *testing.T) {
	for _, f := range loadFixtures(t, "crossentropy") {
		n, v := f.Sizes["n"], f.Sizes["v"]
		losses, probs, dlogits := floats(n), floats(n*v), floats(n*v)
		mean := CrossEntropyForward(losses, probs, f.Inputs["logits"], f.Ints["targets"], n, v)
		CrossEntropyBackward(dlogits, probs, f.Ints["targets"], f.Inputs["w"], n, v)
		t.Logf("%s: worst errors losses %.3g, probs %.3g, mean %.3g, dlogits %.3g", f.Case,
			assertClose(t, "CrossEntropyForward "+f.Case+" losses", f.Outputs["losses"], losses, fixtureRTol),
			assertClose(t, "CrossEntropyForward "+f.Case+" probs", f.Outputs["probs"], probs, fixtureRTol),
			assertClose(t, "CrossEntropyForward "+f.Case+" mean", f.Outputs["mean"], []float32{mean}, fixtureRTol),
			assertClose(t, "CrossEntropyBackward "+f.Case+" dlogits", f.Grads["logits"], dlogits, fixtureRTol))
	}
	for _, f := range loadFixtures(t, "maskedmean") {
		mask := f.Inputs["mask"]
		dlosses := floats(len(mask))
		mean := MaskedMean(f.Inputs["losses"], mask)
		MaskedMeanBackward(dlosses, mask)
		for i := range dlosses {
			dlosses[i] *= f.Inputs["w"][0]
		}
		assertClose(t, "MaskedMean "+f.Case, f.Outputs["mean"], []float32{mean}, fixtureRTol)
		assertClose(t, "MaskedMeanBackward "+f.Case, f.Grads["losses"], dlosses, fixtureRTol)
	}
}

// TestCrossEntropyStable feeds logits far outside exp's float32 range: the
// max subtraction must keep every probability and loss finite.
func TestCrossEntropyStable(t *testing.T) {
	logits := []float32{1000, -1000, 999, 0, -3e4, 3e4}
	losses, probs := floats(2), floats(6)
	mean := CrossEntropyForward(losses, probs, logits, []int{1, 1}, 2, 3)
	assert.InDelta(t, 2000+math.Log1p(math.Exp(-1)), float64(losses[0]), 1e-3, "CrossEntropyForward loss row 0")
	assert.InDelta(t, 6e4, float64(losses[1]), 1e-3, "CrossEntropyForward loss row 1")
	assert.InDelta(t, (float64(losses[0])+float64(losses[1]))/2, float64(mean), 1e-2, "CrossEntropyForward mean")
	assert.InDelta(t, 1/(1+math.Exp(-1)), float64(probs[0]), 1e-7, "CrossEntropyForward probs[0]")
	assert.Equal(t, float32(1), probs[5], "CrossEntropyForward probs[5]")
	probs2 := floats(3)
	Softmax(probs2, logits[:3])
	assert.Equal(t, probs[:3], probs2, "Softmax matches CrossEntropyForward's probabilities")
	inPlace := append([]float32(nil), logits[:3]...)
	Softmax(inPlace, inPlace)
	assert.Equal(t, probs[:3], inPlace, "Softmax in place")
}
