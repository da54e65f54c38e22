// This file holds the SwiGLU gate of the MLP, silu(a) * b, and its gradient.

package nn

import "golora/core/mathf"

// SiLU returns x * sigmoid(x) (also called swish).
func SiLU(x float32) float32 { return x * mathf.Sigmoid(x) }

// SwiGLUForward computes out = silu(a) * b elementwise over n elements, where
// in the MLP a = gate_proj(x) and b = up_proj(x), both (N, H), so n = N*H.
// When sig is not nil it receives sigmoid(a), which SwiGLUBackward reuses
// instead of computing the exponentials again (nil where no backward pass
// follows, as in decoding). out may alias a or b; sig must alias neither.
func SwiGLUForward(out, sig, a, b []float32, n int) {
	checkLen("SwiGLUForward out", out, n)
	checkLen("SwiGLUForward a", a, n)
	checkLen("SwiGLUForward b", b, n)
	a, b = a[:n], b[:n]
	if sig == nil { // in chunks through a stack buffer: the same bits as with sig
		var buf [256]float32
		for i := 0; i < n; i += len(buf) {
			c := min(len(buf), n-i)
			swiglu(out[i:i+c], buf[:c], a[i:i+c], b[i:i+c])
		}
		return
	}
	checkLen("SwiGLUForward sig", sig, n)
	forElems(n, func(i0, i1 int) { swiglu(out[i0:i1], sig[i0:i1], a[i0:i1], b[i0:i1]) })
}

// swiglu sets sig = sigmoid(a) (vectorised in SIMD builds), then out = a*sig*b.
func swiglu(out, sig, a, b []float32) {
	mathf.Sigmoids(sig, a)
	mulGate(out, a, sig, b)
}

// SwiGLUBackward accumulates da and db from dout over n elements, with sig
// the sigmoid(a) that SwiGLUForward saved.
func SwiGLUBackward(da, db, dout, a, b, sig []float32, n int) {
	checkLen("SwiGLUBackward da", da, n)
	checkLen("SwiGLUBackward db", db, n)
	checkLen("SwiGLUBackward dout", dout, n)
	checkLen("SwiGLUBackward a", a, n)
	checkLen("SwiGLUBackward b", b, n)
	checkLen("SwiGLUBackward sig", sig, n)
	forElems(n, func(i0, i1 int) { swigluBackward(da[i0:i1], db[i0:i1], dout[i0:i1], a[i0:i1], b[i0:i1], sig[i0:i1]) })
}
