// This file holds the portable loops of the elementwise row kernels; rows_simd.go has their vector versions.

//go:build !goexperiment.simd

package nn

// swigluBackward: see rows.go.
func swigluBackward(da, db, dout, a, b, sig []float32) {
	n := len(dout)
	da, db, a, b, sig = da[:n], db[:n], a[:n], b[:n], sig[:n]
	for i, d := range dout {
		x, s := a[i], sig[i]
		db[i] += d * (x * s)
		da[i] += d * b[i] * s * (1 + x*(1-s))
	}
}

// rmsnormGrad: see rows.go.
func rmsnormGrad(dx, d, x, w []float32, r, k float32) {
	n := len(w)
	dx, d, x = dx[:n], d[:n], x[:n]
	for j, wj := range w {
		dx[j] += r*wj*d[j] - k*x[j]
	}
}

// softmaxGrad: see rows.go.
func softmaxGrad(dr, p []float32, s, scale float32) {
	dr = dr[:len(p)]
	for i, x := range p {
		dr[i] = x * (dr[i] - s) * scale
	}
}

// scaleByMax: see rows.go.
func scaleByMax(x []float32, a float32) float32 {
	m := x[0] * a
	for i, v := range x {
		v *= a
		x[i] = v
		if v > m { // not the max builtin: its NaN and signed-zero rules cost a call in wasm
			m = v
		}
	}
	return m
}

// scaleBy: see rows.go.
func scaleBy(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// mulRow: see rows.go.
func mulRow(out, x, w []float32, r float32) {
	out, x = out[:len(w)], x[:len(w)]
	for j, wj := range w {
		out[j] = x[j] * r * wj
	}
}

// mulGate: see rows.go.
func mulGate(out, a, sig, b []float32) {
	out, sig, b = out[:len(a)], sig[:len(a)], b[:len(a)]
	for i, x := range a {
		out[i] = x * sig[i] * b[i]
	}
}

// dot64: see rows.go. The default build sums in float64 (each product of
// two float32 values is exact there), as four partial sums over the indices
// i mod 4, added at the end as (s0 + s1) + (s2 + s3): four independent
// chains of additions instead of one, whose latency bounded the loop.
// Portable code, so the same bits in every build.
func dot64(x, y []float32) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(y[i+1])
		s2 += float64(x[i+2]) * float64(y[i+2])
		s3 += float64(x[i+3]) * float64(y[i+3])
	}
	if r := x[i:]; len(r) > 0 { // the last one to three terms, into s0, s1, s2 in turn
		y = y[i:]
		s0 += float64(r[0]) * float64(y[0])
		if len(r) > 1 {
			s1 += float64(r[1]) * float64(y[1])
		}
		if len(r) > 2 {
			s2 += float64(r[2]) * float64(y[2])
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// dot64w: see rows.go. The triple product is rounded once, in float64, and
// summed over the same four partial sums as dot64.
func dot64w(x, w, y []float32) float64 {
	w, y = w[:len(x)], y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(w[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(w[i+1]) * float64(y[i+1])
		s2 += float64(x[i+2]) * float64(w[i+2]) * float64(y[i+2])
		s3 += float64(x[i+3]) * float64(w[i+3]) * float64(y[i+3])
	}
	if r := x[i:]; len(r) > 0 { // as in dot64
		w, y = w[i:], y[i:]
		s0 += float64(r[0]) * float64(w[0]) * float64(y[0])
		if len(r) > 1 {
			s1 += float64(r[1]) * float64(w[1]) * float64(y[1])
		}
		if len(r) > 2 {
			s2 += float64(r[2]) * float64(w[2]) * float64(y[2])
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// addTo: see rows.go.
func addTo(out, a, b []float32) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] + b[i]
	}
}
