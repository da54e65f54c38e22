//go:build goexperiment.simd

package mathf

import (
	"math"
	"simd"
)

// The vector exponential is Cephes' expf in float32: x = k ln2 + r with the
// constant ln2 split in two (so k ln2 is exact), a degree-5 polynomial for
// exp(r) - 1 - r, and 2**k built in the exponent bits. Within 2 ulps of e**x
// (TestVecExp checks it against Exp64). Below -87.34 it returns 0 and above
// 88.38 +Inf, where the scalar Exp still returns subnormals and the largest
// floats: no softmax or sigmoid can tell the difference. Natively MulAdd is fused, in wasm
// it is a multiply then an add, so the last bits differ between the two; each
// element's result depends only on its own input, never on the vector width
// or on where a slice starts.
const (
	expHi    = 88.3762626647949  // above: +Inf (2**k would overflow)
	expLo    = -87.3365447505531 // below: 0 (2**k would be subnormal)
	expRound = 1.5 * (1 << 23)   // x + expRound - expRound rounds x to an integer
	ln2HiF   = 0.693359375
	ln2LoF   = -2.12194440e-4
)

func expVec(x simd.Float32s) simd.Float32s {
	bc := simd.BroadcastFloat32s
	hi, lo := bc(expHi), bc(expLo)
	xc := x.Min(hi).Max(lo)
	k := xc.Mul(bc(log2e)).Add(bc(expRound)).Sub(bc(expRound))
	r := xc.Sub(k.Mul(bc(ln2HiF))).Sub(k.Mul(bc(ln2LoF)))
	p := bc(1.9875691500e-4)
	p = p.MulAdd(r, bc(1.3981999507e-3))
	p = p.MulAdd(r, bc(8.3334519073e-3))
	p = p.MulAdd(r, bc(4.1665795894e-2))
	p = p.MulAdd(r, bc(1.6666665459e-1))
	p = p.MulAdd(r, bc(5.0000001201e-1))
	y := p.MulAdd(r.Mul(r), r).Add(bc(1))
	scale := k.ConvertToInt32().Add(simd.BroadcastInt32s(127)).ToBits().ShiftAllLeft(23).BitsToFloat32()
	y = y.Mul(scale)
	y = bc(0).IfElse(x.Less(lo), y) // underflow
	y = bc(float32(math.Inf(1))).IfElse(x.Greater(hi), y)
	return x.IfElse(x.NotEqual(x), y) // NaN in, NaN out
}

// ExpShifted: see vec.go. The SIMD build sums whole vectors in float32
// lanes, then adds the lanes in order and the last few elements in float64:
// one float64 addition per element was a serial chain that cost more than
// the exponentials.
func ExpShifted(x []float32, shift float32) float64 {
	var acc simd.Float32s
	s := simd.BroadcastFloat32s(shift)
	l := acc.Len()
	i := 0
	for ; i+l <= len(x); i += l {
		e := expVec(simd.LoadFloat32s(x[i:]).Sub(s))
		e.Store(x[i:])
		acc = acc.Add(e)
	}
	var lanes [16]float32
	acc.Store(lanes[:l])
	var sum float64
	for _, v := range lanes[:l] {
		sum += float64(v)
	}
	if i < len(x) {
		v, _ := simd.LoadFloat32sPart(x[i:])
		expVec(v.Sub(s)).StorePart(x[i:])
		for _, e := range x[i:] {
			sum += float64(e)
		}
	}
	return sum
}

// Sigmoids: see vec.go.
func Sigmoids(dst, x []float32) {
	dst = dst[:len(x)]
	one := simd.BroadcastFloat32s(1)
	for i := 0; i < len(x); {
		v, n := simd.LoadFloat32sPart(x[i:])
		one.Div(one.Add(expVec(v.Neg()))).StorePart(dst[i:])
		i += n
	}
}

// AddScaled: see vec.go.
func AddScaled(dst, x []float32, a float32) {
	dst = dst[:len(x)]
	av := simd.BroadcastFloat32s(a)
	for i := 0; i < len(x); {
		xv, n := simd.LoadFloat32sPart(x[i:])
		d, _ := simd.LoadFloat32sPart(dst[i:])
		av.MulAdd(xv, d).StorePart(dst[i:])
		i += n
	}
}
