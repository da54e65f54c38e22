// This file holds the rotary position embedding (RoPE) as llama2.c's run.c applies it.

package nn

import (
	"fmt"

	"golora/core/mathf"
)

// RoPE rotates each pair (2i, 2i+1) of every head by the angle pos*freq_i,
// freq_i = base^(-2i/HS):
//
//	x0' = x0*cos - x1*sin
//	x1' = x0*sin + x1*cos
//
// This is the interleaved-pairs layout of llama2.c and Meta's original Llama
// code (torch.view_as_complex on (…, HS/2, 2)), not Hugging Face's rotate_half
// layout, whose checkpoints permute the q and k projections instead.
type RoPE struct {
	maxT int       // positions 0..maxT-1 are tabulated
	hs   int       // head size
	cos  []float32 // (maxT, HS/2) cos(pos * freq_i)
	sin  []float32 // (maxT, HS/2) sin(pos * freq_i)
	// The same per element, for the vector loops (rope_simd.go): cosE[pos][j]
	// = cos_{j/2}, sinE[pos][j] = -sin_{j/2} at even j and +sin_{j/2} at odd
	// j, so that x'[j] = x[j]·cosE[j] + x[j^1]·sinE[j].
	cosE, sinE []float32 // (maxT, HS)
}

// NewRoPE tabulates cos and sin for positions 0..maxT-1 and a head size hs
// (even). The angles are computed in float64 with mathf and rounded once to
// float32, so the tables are identical on every platform.
func NewRoPE(maxT, hs int, base float64) *RoPE {
	if maxT <= 0 || hs <= 0 || hs%2 != 0 || base <= 0 {
		panic(fmt.Sprintf("nn: NewRoPE: need maxT > 0, an even head size > 0 and base > 0, got maxT=%d hs=%d base=%g", maxT, hs, base))
	}
	half := hs / 2
	r := &RoPE{maxT: maxT, hs: hs, cos: make([]float32, maxT*half), sin: make([]float32, maxT*half),
		cosE: make([]float32, maxT*hs), sinE: make([]float32, maxT*hs)}
	for i := range half {
		freq := mathf.Pow64(base, -float64(2*i)/float64(hs))
		for pos := range maxT {
			angle := float64(pos) * freq
			c, s := float32(mathf.Cos64(angle)), float32(mathf.Sin64(angle))
			r.cos[pos*half+i], r.sin[pos*half+i] = c, s
			r.cosE[pos*hs+2*i], r.cosE[pos*hs+2*i+1] = c, c
			r.sinE[pos*hs+2*i], r.sinE[pos*hs+2*i+1] = -s, s
		}
	}
	return r
}

// MaxT returns the number of positions the tables cover.
func (r *RoPE) MaxT() int { return r.maxT }

func (r *RoPE) check(what string, out, in []float32, b, t, heads, hs, pos0 int) {
	if hs != r.hs {
		panic(fmt.Sprintf("nn: RoPE.%s: head size %d, tables built for %d", what, hs, r.hs))
	}
	if pos0 < 0 || pos0+t > r.maxT {
		panic(fmt.Sprintf("nn: RoPE.%s: positions %d..%d outside the tables' 0..%d", what, pos0, pos0+t-1, r.maxT-1))
	}
	if n := b * t * heads * hs; len(out) < n || len(in) < n { // the names are built only on failure
		checkLen("RoPE."+what+" out", out, n)
		checkLen("RoPE."+what+" in", in, n)
	}
}

// Forward rotates in (B, T, heads*HS) into out (same shape); token t of each
// sequence sits at position pos0+t (pos0 > 0 when decoding with a KV cache).
// out may alias in.
func (r *RoPE) Forward(out, in []float32, b, t, heads, hs, pos0 int) {
	r.check("Forward", out, in, b, t, heads, hs, pos0)
	eachRow(b, t, heads, hs, pos0, func(bt, pos int) { r.forwardRow(out, in, bt, pos, heads, hs, hs/2) })
}

// eachRow calls f on every row bt of a (B, T, heads*HS) tensor with its
// position, rows spread over goroutines (each row is independent).
func eachRow(b, t, heads, hs, pos0 int, f func(bt, pos int)) {
	forRows(b*t, heads*hs, func(r0, r1 int) {
		for bt := r0; bt < r1; bt++ {
			f(bt, pos0+bt%t)
		}
	})
}

// Backward accumulates din += Rᵀ dout, the rotation by the opposite angle.
// din must not alias dout.
func (r *RoPE) Backward(din, dout []float32, b, t, heads, hs, pos0 int) {
	r.check("Backward", din, dout, b, t, heads, hs, pos0)
	eachRow(b, t, heads, hs, pos0, func(bt, pos int) { r.backwardRow(din, dout, bt, pos, heads, hs, hs/2) })
}

// forwardRowScalar rotates row bt (all heads) of in into out, at position pos.
func (r *RoPE) forwardRowScalar(out, in []float32, bt, pos, heads, hs, half int) {
	cos := r.cos[pos*half : (pos+1)*half]
	sin := r.sin[pos*half : (pos+1)*half]
	for h := range heads {
		off := (bt*heads + h) * hs
		x := in[off : off+hs]
		o := out[off : off+hs]
		for i := range half {
			x0, x1 := x[2*i], x[2*i+1]
			o[2*i] = x0*cos[i] - x1*sin[i]
			o[2*i+1] = x0*sin[i] + x1*cos[i]
		}
	}
}

// backwardRowScalar accumulates row bt of din from dout, at position pos.
func (r *RoPE) backwardRowScalar(din, dout []float32, bt, pos, heads, hs, half int) {
	cos := r.cos[pos*half : (pos+1)*half]
	sin := r.sin[pos*half : (pos+1)*half]
	for h := range heads {
		off := (bt*heads + h) * hs
		d := dout[off : off+hs]
		dx := din[off : off+hs]
		for i := range half {
			d0, d1 := d[2*i], d[2*i+1]
			// forward: o[2*i] = x0*cos[i] - x1*sin[i]; o[2*i+1] = x0*sin[i] + x1*cos[i]
			dx[2*i] += d0*cos[i] + d1*sin[i]
			dx[2*i+1] += -d0*sin[i] + d1*cos[i]
		}
	}
}
