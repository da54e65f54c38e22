package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
)

func TestRoPEGrad(t *testing.T) {
	for _, tc := range []struct{ b, t, heads, hs, pos0 int }{
		{1, 1, 1, 2, 0}, {1, 4, 2, 8, 0}, {2, 3, 3, 6, 5}, {3, 1, 1, 4, 9},
	} {
		t.Run(fmt.Sprintf("b%d_t%d_h%d_hs%d_pos%d", tc.b, tc.t, tc.heads, tc.hs, tc.pos0), func(t *testing.T) {
			r := rng.New(uint64(tc.t*100 + tc.hs))
			rope := NewRoPE(16, tc.hs, 10000)
			size := tc.b * tc.t * tc.heads * tc.hs
			in, w := randn(r, size, 1), randn(r, size, 1)
			out, din := floats(size), floats(size)
			fwd := func() []float32 { rope.Forward(out, in, tc.b, tc.t, tc.heads, tc.hs, tc.pos0); return out }
			bwd := func() { rope.Backward(din, w, tc.b, tc.t, tc.heads, tc.hs, tc.pos0) }
			e := gradCheck(t, "RoPE.Backward", fwd, bwd, []param{{"in", in, din}}, w, 1e-2, 1e-2, 1e-3)
			t.Logf("worst gradient error %.3g", e)
		})
	}
}

func TestRoPEFixtures(t *testing.T) {
	for _, f := range loadFixtures(t, "rope") {
		b, tt, heads, hs, pos0 := f.Sizes["b"], f.Sizes["t"], f.Sizes["heads"], f.Sizes["hs"], f.Sizes["pos0"]
		rope := NewRoPE(f.Sizes["maxT"], hs, f.Scalars["base"])
		out, din := floats(len(f.Inputs["in"])), floats(len(f.Inputs["in"]))
		rope.Forward(out, f.Inputs["in"], b, tt, heads, hs, pos0)
		rope.Backward(din, f.Inputs["w"], b, tt, heads, hs, pos0)
		t.Logf("%s: worst errors out %.3g, din %.3g", f.Case,
			assertClose(t, "RoPE.Forward "+f.Case+" out", f.Outputs["out"], out, fixtureRTol),
			assertClose(t, "RoPE.Backward "+f.Case+" din", f.Grads["in"], din, fixtureRTol))
	}
}

// TestRoPEOffset checks that rotating tokens p0.. of a sequence with pos0 = p0
// (how decoding with a KV cache calls it) gives exactly the matching slice of
// the whole sequence's rotation, and that rotating in place equals out of place.
func TestRoPEOffset(t *testing.T) {
	const b, tt, heads, hs, p0 = 2, 7, 3, 4, 3
	r := rng.New(3)
	rope := NewRoPE(tt, hs, 10000)
	row := heads * hs
	in := randn(r, b*tt*row, 1)
	full := floats(len(in))
	rope.Forward(full, in, b, tt, heads, hs, 0)

	tail, want := floats(b*(tt-p0)*row), floats(b*(tt-p0)*row)
	for bi := range b {
		copy(tail[bi*(tt-p0)*row:], in[(bi*tt+p0)*row:(bi+1)*tt*row])
		copy(want[bi*(tt-p0)*row:], full[(bi*tt+p0)*row:(bi+1)*tt*row])
	}
	got := floats(len(tail))
	rope.Forward(got, tail, b, tt-p0, heads, hs, p0)
	assert.Equal(t, want, got, "RoPE.Forward with pos0=%d against the full sequence's slice", p0)

	inPlace := append([]float32(nil), in...)
	rope.Forward(inPlace, inPlace, b, tt, heads, hs, 0)
	assert.Equal(t, full, inPlace, "RoPE.Forward in place")
}

func TestRoPEPanics(t *testing.T) {
	assert.Panics(t, func() { NewRoPE(4, 3, 10000) }, "odd head size")
	rope := NewRoPE(4, 2, 10000)
	assert.Panics(t, func() { rope.Forward(floats(8), floats(8), 1, 4, 1, 2, 1) }, "positions past maxT")
	assert.Panics(t, func() { rope.Forward(floats(8), floats(8), 1, 2, 1, 4, 0) }, "wrong head size")
}

// TestRoPERowsMatchScalar: the row loops of this build (vector code in SIMD
// builds) give the scalar loops' bits, forward (also in place) and backward,
// for head sizes around every vector width and past the vector loops' limit.
func TestRoPERowsMatchScalar(t *testing.T) {
	for _, hs := range []int{2, 4, 6, 8, 24, 34, 64, 258} {
		const heads, maxT = 3, 9
		r := NewRoPE(maxT, hs, 10000)
		g := rng.New(uint64(hs))
		n := heads * hs
		for pos := range maxT {
			in := randn(g, n, 1)
			want, got := make([]float32, n), make([]float32, n)
			r.forwardRowScalar(want, in, 0, pos, heads, hs, hs/2)
			r.forwardRow(got, in, 0, pos, heads, hs, hs/2)
			inPlace := append([]float32(nil), in...)
			r.forwardRow(inPlace, inPlace, 0, pos, heads, hs, hs/2)
			dx0 := randn(g, n, 1)
			wantB, gotB := append([]float32(nil), dx0...), append([]float32(nil), dx0...)
			r.backwardRowScalar(wantB, in, 0, pos, heads, hs, hs/2)
			r.backwardRow(gotB, in, 0, pos, heads, hs, hs/2)
			for i := range n {
				require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "hs %d pos %d forward %d", hs, pos, i)
				require.Equal(t, math.Float32bits(want[i]), math.Float32bits(inPlace[i]), "hs %d pos %d in place %d", hs, pos, i)
				require.Equal(t, math.Float32bits(wantB[i]), math.Float32bits(gotB[i]), "hs %d pos %d backward %d", hs, pos, i)
			}
		}
	}
}
