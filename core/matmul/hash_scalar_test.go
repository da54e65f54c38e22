// This file pins the scalar build's bits: the same hash must come out natively and in wasm.

//go:build !goexperiment.simd

package matmul

import (
	"hash/fnv"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"golora/core/rng"
)

// scalarHash is the FNV-64a hash of the output bits of the products below,
// computed by the scalar build. It is not a correctness reference (the other
// tests compare with the naive loop and gonum); it proves that the portable
// kernel rounds identically on every platform: natively (GOAMD64=v1, no FMA
// contraction) and under GOOS=js GOARCH=wasm. A change to the blocking or the
// kernel's summation order changes it on purpose; update it only after
// checking that native and wasm agree on the new value.
const scalarHash = 0xe04e39d3288d9c2d

func TestScalarHashPinned(t *testing.T) {
	const m, k, n = 67, 301, 45 // odd sizes: edge tiles and a partial K block
	r := rng.New(2024)
	a, b, c := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, k*n)
	at := randSlice(r, k*m)
	out := make([]float32, 3*m*n)
	MulNT(out[:m*n], a, b, m, k, n, false)
	MulNN(out[m*n:2*m*n], a, c, m, k, n, false)
	copy(out[2*m*n:], out[:m*n])
	MulTN(out[2*m*n:], at, c, m, k, n, true)
	h := fnv.New64a()
	var buf [4]byte
	for _, v := range out {
		bits := math.Float32bits(v)
		buf[0], buf[1], buf[2], buf[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
		h.Write(buf[:])
	}
	assert.Equal(t, uint64(scalarHash), h.Sum64(), "TestScalarHashPinned: FNV-64a of the scalar products, got %#x", h.Sum64())
}
