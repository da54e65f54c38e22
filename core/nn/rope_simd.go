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
// and the two products are added in either order to the same float). The
// pair-swapped x[j^1] comes from two loads one element apart in a padded copy
// of the head, picked lane by lane (vectors start at even j). out may alias in.
func ropeHeadsForward(out, in, ce, se []float32, hs int) {
	even := evenLanes()
	var buf [ropeMaxHS + 2]float32
	for off := 0; off+hs <= len(in); off += hs {
		copy(buf[1:], in[off:off+hs]) // buf[1+j] = x[j]
		o := out[off : off+hs]
		for j := 0; j < hs; {
			x, c := simd.LoadFloat32sPart(buf[1+j : 1+hs])
			next, _ := simd.LoadFloat32sPart(buf[2+j : 2+hs])
			prev, _ := simd.LoadFloat32sPart(buf[j:hs])
			cv, _ := simd.LoadFloat32sPart(ce[j:])
			sv, _ := simd.LoadFloat32sPart(se[j:])
			sw := next.IfElse(even, prev) // x[j^1]
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
			d, c := simd.LoadFloat32sPart(buf[1+j : 1+hs])
			next, _ := simd.LoadFloat32sPart(buf[2+j : 2+hs])
			prev, _ := simd.LoadFloat32sPart(buf[j:hs])
			cv, _ := simd.LoadFloat32sPart(ce[j:])
			sv, _ := simd.LoadFloat32sPart(se[j:])
			g, _ := simd.LoadFloat32sPart(dx[j:])
			sw := next.IfElse(even, prev) // d[j^1]
			g.Add(d.Mul(cv).Sub(sw.Mul(sv))).StorePart(dx[j:])
			j += c
		}
	}
}

// evenLanes is true in the even lanes.
func evenLanes() simd.Mask32s {
	var idx [16]float32
	for i := range idx {
		idx[i] = float32(i % 2)
	}
	return simd.LoadFloat32s(idx[:]).Equal(simd.BroadcastFloat32s(0))
}
