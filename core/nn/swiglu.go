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
	if sig == nil {
		for i := range out[:n] {
			out[i] = SiLU(a[i]) * b[i]
		}
		return
	}
	checkLen("SwiGLUForward sig", sig, n)
	sig = sig[:n]
	for i := range out[:n] {
		x := a[i]
		s := mathf.Sigmoid(x)
		sig[i] = s
		out[i] = x * s * b[i]
	}
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
	da, db, a, b, sig = da[:n], db[:n], a[:n], b[:n], sig[:n]
	for i, d := range dout[:n] {
		x, s := a[i], sig[i]
		// forward: out[i] = x*s * b[i], the same product as SiLU(x) * b[i]
		db[i] += d * (x * s)
		// silu'(x) = s + x*s*(1-s) = s * (1 + x*(1-s))
		da[i] += d * b[i] * s * (1 + x*(1-s))
	}
}
