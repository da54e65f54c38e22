// This file holds the residual connection: an elementwise sum and its gradient.

package nn

// ResidualForward computes out = a + b elementwise over n elements.
// out may alias a or b.
func ResidualForward(out, a, b []float32, n int) {
	checkLen("ResidualForward out", out, n)
	checkLen("ResidualForward a", a, n)
	checkLen("ResidualForward b", b, n)
	forElems(n, func(i0, i1 int) { addTo(out[i0:i1], a[i0:i1], b[i0:i1]) })
}

// ResidualBackward accumulates da += dout and db += dout over n elements.
func ResidualBackward(da, db, dout []float32, n int) {
	checkLen("ResidualBackward da", da, n)
	checkLen("ResidualBackward db", db, n)
	checkLen("ResidualBackward dout", dout, n)
	da, db = da[:n], db[:n]
	for i, d := range dout[:n] {
		// forward: out[i] = a[i] + b[i]
		da[i] += d
		db[i] += d
	}
}
