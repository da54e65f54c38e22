// This file holds RoPE's row loops as vector code (GOEXPERIMENT=simd), with the default build's bits.

//go:build goexperiment.simd

package nn

import "simd"

// ropeMaxHS is the largest head size the vector loops take (their scratch is
// on the stack); larger heads go through the scalar loops.
const ropeMaxHS = 256

// forwardRow rotates row bt (all heads) of in into out, at position pos (see ropeHeadsForward).
func (r *RoPE) forwardRow(out, in []float32, bt, pos, heads, hs, half int) {
	if hs > ropeMaxHS {
		r.forwardRowScalar(out, in, bt, pos, heads, hs, half)
		return
	}
	off := bt * heads * hs
	ropeHeadsForward(out[off:off+heads*hs], in[off:off+heads*hs], r.cosE[pos*hs:(pos+1)*hs], r.sinE[pos*hs:(pos+1)*hs], hs)
}

// backwardRow accumulates row bt of din from dout, at position pos (see ropeHeadsBackward).
func (r *RoPE) backwardRow(din, dout []float32, bt, pos, heads, hs, half int) {
	if hs > ropeMaxHS {
		r.backwardRowScalar(din, dout, bt, pos, heads, hs, half)
		return
	}
	off := bt * heads * hs
	ropeHeadsBackward(din[off:off+heads*hs], dout[off:off+heads*hs], r.cosE[pos*hs:(pos+1)*hs], r.sinE[pos*hs:(pos+1)*hs], hs)
}

// ropeHeadsForward rotates each head (hs elements) of in into out:
// x'[j] = x[j]·ce[j] + x[j^1]·se[j], which is x0·cos - x1·sin and
// x1·cos + x0·sin rounded as the scalar loop rounds them (-(x1·sin) is exact,
// and the two products are added in either order to the same float); x[j^1]
// comes from a padded copy of the head (loadPairs). out may alias in.
func ropeHeadsForward(out, in, ce, se []float32, hs int) {
	even := evenLanes()
	var buf [ropeMaxHS + 2]float32
	for off := 0; off+hs <= len(in); off += hs {
		copy(buf[1:], in[off:off+hs]) // buf[1+j] = x[j]
		o := out[off : off+hs]
		for j := 0; j < hs; {
			x, sw, c := loadPairs(buf[:], j, hs, even)
			cv, _ := simd.LoadFloat32sPart(ce[j:])
			sv, _ := simd.LoadFloat32sPart(se[j:])
			x.Mul(cv).Add(sw.Mul(sv)).StorePart(o[j:])
			j += c
		}
	}
}

// ropeHeadsBackward accumulates each head's gradient: dx[j] += d[j]·ce[j] -
// d[j^1]·se[j] (d0·cos + d1·sin and -d0·sin + d1·cos, rounded as the scalar
// loop rounds them).
func ropeHeadsBackward(din, dout, ce, se []float32, hs int) {
	even := evenLanes()
	var buf [ropeMaxHS + 2]float32
	for off := 0; off+hs <= len(dout); off += hs {
		copy(buf[1:], dout[off:off+hs])
		dx := din[off : off+hs]
		for j := 0; j < hs; {
			d, sw, c := loadPairs(buf[:], j, hs, even)
			cv, _ := simd.LoadFloat32sPart(ce[j:])
			sv, _ := simd.LoadFloat32sPart(se[j:])
			g, _ := simd.LoadFloat32sPart(dx[j:])
			g.Add(d.Mul(cv).Sub(sw.Mul(sv))).StorePart(dx[j:])
			j += c
		}
	}
}

// loadPairs loads one vector of a head copied into buf[1:1+hs] (buf[0] and
// buf[1+hs] are padding), starting at element j (even), and the same vector
// with each pair swapped: x[j^1] comes from the load one element later in
// the even lanes and one element earlier in the odd ones. c is how many
// elements the vector holds.
func loadPairs(buf []float32, j, hs int, even simd.Mask32s) (x, swapped simd.Float32s, c int) {
	x, c = simd.LoadFloat32sPart(buf[1+j : 1+hs])
	next, _ := simd.LoadFloat32sPart(buf[2+j : 2+hs])
	prev, _ := simd.LoadFloat32sPart(buf[j:hs])
	return x, next.IfElse(even, prev), c
}

// evenLanes is true in the even lanes.
func evenLanes() simd.Mask32s {
	var idx [16]float32
	for i := range idx {
		idx[i] = float32(i % 2)
	}
	return simd.LoadFloat32s(idx[:]).Equal(simd.BroadcastFloat32s(0))
}
