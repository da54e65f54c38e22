// This file holds the SwiGLU gate of the MLP, silu(a) * b, and its gradient.

package nn

import "golora/core/mathf"

// SiLU returns x * sigmoid(x) (also called swish).
func SiLU(x float32) float32 { return x * mathf.Sigmoid(x) }

// SwiGLUForward computes out = silu(a) * b elementwise over n elements, where
// in the MLP a = gate_proj(x) and b = up_proj(x), both (N, H), so n = N*H.
// out may alias a or b.
func SwiGLUForward(out, a, b []float32, n int) {
	checkLen("SwiGLUForward out", out, n)
	checkLen("SwiGLUForward a", a, n)
	checkLen("SwiGLUForward b", b, n)
	a, b = a[:n], b[:n]
	for i := range out[:n] {
		out[i] = SiLU(a[i]) * b[i]
	}
}

// SwiGLUBackward accumulates da and db from dout over n elements.
func SwiGLUBackward(da, db, dout, a, b []float32, n int) {
	checkLen("SwiGLUBackward da", da, n)
	checkLen("SwiGLUBackward db", db, n)
	checkLen("SwiGLUBackward dout", dout, n)
	checkLen("SwiGLUBackward a", a, n)
	checkLen("SwiGLUBackward b", b, n)
	da, db, a, b = da[:n], db[:n], a[:n], b[:n]
	for i, d := range dout[:n] {
		x := a[i]
		sig := mathf.Sigmoid(x)
		silu := x * sig
		// forward: out[i] = SiLU(a[i]) * b[i]
		db[i] += d * silu
		// silu'(x) = sig + x*sig*(1-sig) = sig * (1 + x*(1-sig))
		da[i] += d * b[i] * sig * (1 + x*(1-sig))
	}
}
