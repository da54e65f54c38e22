package nn

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"golora/core/rng"
)

func TestEmbeddingGrad(t *testing.T) {
	for _, tc := range []struct{ n, c, v int }{{1, 1, 1}, {5, 3, 4}, {9, 7, 3}} {
		t.Run(fmt.Sprintf("n%d_c%d_v%d", tc.n, tc.c, tc.v), func(t *testing.T) {
			r := rng.New(uint64(tc.n*100 + tc.c))
			table := randn(r, tc.v*tc.c, 1)
			ids := make([]int, tc.n)
			for i := range ids {
				ids[i] = r.Intn(tc.v) // n > v repeats ids, whose gradient rows must add
			}
			out, dtable, w := floats(tc.n*tc.c), floats(tc.v*tc.c), randn(r, tc.n*tc.c, 1)
			fwd := func() []float32 { EmbeddingForward(out, table, ids, tc.n, tc.c); return out }
			bwd := func() { EmbeddingBackward(dtable, w, ids, tc.n, tc.c) }
			e := gradCheck(t, "EmbeddingBackward", fwd, bwd, []param{{"table", table, dtable}}, w, 1e-2, 1e-2, 1e-3)
			t.Logf("worst gradient error %.3g", e)
		})
	}
}

func TestEmbeddingFixtures(t *testing.T) {
	for _, f := range loadFixtures(t, "embedding") {
		n, c := f.Sizes["n"], f.Sizes["c"]
		out, dtable := floats(n*c), floats(len(f.Inputs["table"]))
		EmbeddingForward(out, f.Inputs["table"], f.Ints["ids"], n, c)
		EmbeddingBackward(dtable, f.Inputs["w"], f.Ints["ids"], n, c)
		// A copy and a sum of at most n terms: PyTorch and golora must agree exactly here.
		assert.Equal(t, f.Outputs["out"], out, "EmbeddingForward %s out", f.Case)
		assertClose(t, "EmbeddingBackward "+f.Case+" dtable", f.Grads["table"], dtable, fixtureRTol)
	}
}

func TestEmbeddingBadID(t *testing.T) {
	assert.PanicsWithValue(t, "nn: EmbeddingForward: token id 3 at row 1 is outside a table of 3 rows", func() {
		EmbeddingForward(floats(4), floats(6), []int{0, 3}, 2, 2)
	})
	assert.Panics(t, func() { EmbeddingBackward(floats(6), floats(4), []int{-1, 0}, 2, 2) })
}
