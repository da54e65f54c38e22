// This file holds RoPE's row loops for the default build; rope_simd.go has their vector versions.

//go:build !goexperiment.simd

package nn

// forwardRow rotates row bt (all heads) of in into out, at position pos.
func (r *RoPE) forwardRow(out, in []float32, bt, pos, heads, hs, half int) {
	r.forwardRowScalar(out, in, bt, pos, heads, hs, half)
}

// backwardRow accumulates row bt of din from dout, at position pos.
func (r *RoPE) backwardRow(din, dout []float32, bt, pos, heads, hs, half int) {
	r.backwardRowScalar(din, dout, bt, pos, heads, hs, half)
}
