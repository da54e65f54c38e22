// This file holds RMSNorm, Llama's normalisation: scale each row by the inverse of its root mean square.

package nn

import "golora/core/mathf"

// RMSNormForward computes, for each row i of in (N, C),
// out[i] = in[i] * rstd[i] * weight, with rstd[i] = 1/sqrt(mean(in[i]²) + eps)
// saved (N) for the backward pass. The mean of squares is summed by dot64
// (float64 in the default build, float32 vector lanes in SIMD builds). weight is (C).
func RMSNormForward(out, rstd, in, weight []float32, n, c int, eps float32) {
	checkLen("RMSNormForward out", out, n*c)
	checkLen("RMSNormForward rstd", rstd, n)
	checkLen("RMSNormForward in", in, n*c)
	checkLen("RMSNormForward weight", weight, c)
	weight = weight[:c]
	forRows(n, c, func(r0, r1 int) { rmsnormRows(out, rstd, in, weight, r0, r1, c, eps) })
}

func rmsnormRows(out, rstd, in, weight []float32, r0, r1, c int, eps float32) {
	for i := r0; i < r1; i++ {
		x := in[i*c : (i+1)*c]
		ss := dot64(x, x)
		r := float32(1 / mathf.Sqrt64(ss/float64(c)+float64(eps)))
		rstd[i] = r
		mulRow(out[i*c:(i+1)*c], x, weight, r)
	}
}

// RMSNormBackward accumulates din (N, C) and dweight (C) from dout (N, C),
// using the rstd that RMSNormForward saved. dweight may be nil when the weight
// is frozen (its product is then skipped).
func RMSNormBackward(din, dweight, dout, in, weight, rstd []float32, n, c int) {
	checkLen("RMSNormBackward din", din, n*c)
	checkLen("RMSNormBackward dout", dout, n*c)
	checkLen("RMSNormBackward in", in, n*c)
	checkLen("RMSNormBackward weight", weight, c)
	checkLen("RMSNormBackward rstd", rstd, n)
	if dweight != nil {
		checkLen("RMSNormBackward dweight", dweight, c)
		dweight = dweight[:c]
	}
	weight = weight[:c]
	forRows(n, 2*c, func(r0, r1 int) { rmsnormBackwardRows(din, dout, in, weight, rstd, r0, r1, c) })
	if dweight == nil {
		return
	}
	// dweight sums over rows: split by columns, each summed over every row in order.
	forRows(c, n, func(c0, c1 int) {
		for i := range n {
			x := in[i*c : (i+1)*c]
			d := dout[i*c : (i+1)*c]
			r := rstd[i]
			for j := c0; j < c1; j++ {
				// forward: o[j] = x[j] * r * w
				dweight[j] += d[j] * x[j] * r
			}
		}
	})
}

func rmsnormBackwardRows(din, dout, in, weight, rstd []float32, r0, r1, c int) {
	for i := r0; i < r1; i++ {
		x := in[i*c : (i+1)*c]
		d := dout[i*c : (i+1)*c]
		dx := din[i*c : (i+1)*c]
		r := rstd[i]
		// With out_j = x_j r w_j and r = (mean(x²)+eps)^(-1/2), dr/dx_j = -r³ x_j / C, so
		// dx_j = r w_j d_j - (r³/C) x_j Σ_k d_k w_k x_k.
		dot := dot64w(d, weight, x)
		k := float32(float64(r) * float64(r) * float64(r) * dot / float64(c))
		rmsnormGrad(dx, d, x, weight, r, k) // forward: o[j] = x[j] * r * w[j]
	}
}
