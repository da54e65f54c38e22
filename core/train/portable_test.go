//go:build !goexperiment.simd

package train

import "testing"

// scalarLossHash is the fingerprint of lossHash's 20 losses in a default
// (scalar) build. The same constant must hold natively and under wasm: that
// is the proof that a default build trains bit-identically on both.
const scalarLossHash = 0xffd1affdca74acf9

func TestScalarLossesPinned(t *testing.T) {
	got, ls := lossHash(t)
	if got != scalarLossHash {
		t.Fatalf("loss fingerprint %#x, pinned %#x; losses %v", got, uint64(scalarLossHash), ls)
	}
}
