// This file holds the vector versions of the elementwise row kernels (see rows.go), with Go's portable simd package.

//go:build goexperiment.simd

package nn

import "simd"

// swigluBackward: see rows.go.
func swigluBackward(da, db, dout, a, b, sig []float32) {
	n := len(dout)
	da, db, a, b, sig = da[:n], db[:n], a[:n], b[:n], sig[:n]
	one := simd.BroadcastFloat32s(1)
	for i := 0; i < n; {
		d, c := simd.LoadFloat32sPart(dout[i:])
		x, _ := simd.LoadFloat32sPart(a[i:])
		s, _ := simd.LoadFloat32sPart(sig[i:])
		bv, _ := simd.LoadFloat32sPart(b[i:])
		dbv, _ := simd.LoadFloat32sPart(db[i:])
		dav, _ := simd.LoadFloat32sPart(da[i:])
		dbv.Add(d.Mul(x.Mul(s))).StorePart(db[i:])
		dav.Add(d.Mul(bv).Mul(s).Mul(one.Add(x.Mul(one.Sub(s))))).StorePart(da[i:])
		i += c
	}
}

// rmsnormGrad: see rows.go.
func rmsnormGrad(dx, d, x, w []float32, r, k float32) {
	n := len(w)
	dx, d, x = dx[:n], d[:n], x[:n]
	rv, kv := simd.BroadcastFloat32s(r), simd.BroadcastFloat32s(k)
	for j := 0; j < n; {
		wv, c := simd.LoadFloat32sPart(w[j:])
		dv, _ := simd.LoadFloat32sPart(d[j:])
		xv, _ := simd.LoadFloat32sPart(x[j:])
		dxv, _ := simd.LoadFloat32sPart(dx[j:])
		dxv.Add(rv.Mul(wv).Mul(dv).Sub(kv.Mul(xv))).StorePart(dx[j:])
		j += c
	}
}

// softmaxGrad: see rows.go.
func softmaxGrad(dr, p []float32, s, scale float32) {
	dr = dr[:len(p)]
	sv, cv := simd.BroadcastFloat32s(s), simd.BroadcastFloat32s(scale)
	for i := 0; i < len(p); {
		pv, c := simd.LoadFloat32sPart(p[i:])
		dv, _ := simd.LoadFloat32sPart(dr[i:])
		pv.Mul(dv.Sub(sv)).Mul(cv).StorePart(dr[i:])
		i += c
	}
}

// scaleByMax: see rows.go. Whole vectors keep a vector of maxima; the
// last few elements go through the scalar loop.
func scaleByMax(x []float32, a float32) float32 {
	av := simd.BroadcastFloat32s(a)
	m := simd.BroadcastFloat32s(x[0] * a)
	l := m.Len()
	i := 0
	for ; i+l <= len(x); i += l {
		v := simd.LoadFloat32s(x[i:]).Mul(av)
		v.Store(x[i:])
		m = m.Max(v)
	}
	var lanes [16]float32
	m.Store(lanes[:l])
	best := lanes[0]
	for _, v := range lanes[1:l] {
		if v > best {
			best = v
		}
	}
	for ; i < len(x); i++ {
		v := x[i] * a
		x[i] = v
		if v > best {
			best = v
		}
	}
	return best
}

// scaleBy: see rows.go.
func scaleBy(x []float32, a float32) {
	av := simd.BroadcastFloat32s(a)
	for i := 0; i < len(x); {
		v, c := simd.LoadFloat32sPart(x[i:])
		v.Mul(av).StorePart(x[i:])
		i += c
	}
}

// mulRow: see rows.go.
func mulRow(out, x, w []float32, r float32) {
	out, x = out[:len(w)], x[:len(w)]
	rv := simd.BroadcastFloat32s(r)
	for j := 0; j < len(w); {
		xv, c := simd.LoadFloat32sPart(x[j:])
		wv, _ := simd.LoadFloat32sPart(w[j:])
		xv.Mul(rv).Mul(wv).StorePart(out[j:])
		j += c
	}
}

// mulGate: see rows.go.
func mulGate(out, a, sig, b []float32) {
	out, sig, b = out[:len(a)], sig[:len(a)], b[:len(a)]
	for i := 0; i < len(a); {
		av, c := simd.LoadFloat32sPart(a[i:])
		sv, _ := simd.LoadFloat32sPart(sig[i:])
		bv, _ := simd.LoadFloat32sPart(b[i:])
		av.Mul(sv).Mul(bv).StorePart(out[i:])
		i += c
	}
}

// dot64: see rows.go. The SIMD build sums in float32 vector lanes (each lane
// over the indices it loads, fused multiply-adds natively), then adds the
// lanes in order in float64: the order is fixed by the vector width, so the
// bits do not depend on anything else.
func dot64(x, y []float32) float64 {
	y = y[:len(x)]
	var acc simd.Float32s
	for i := 0; i < len(x); {
		xv, c := simd.LoadFloat32sPart(x[i:])
		yv, _ := simd.LoadFloat32sPart(y[i:])
		acc = xv.MulAdd(yv, acc)
		i += c
	}
	return sumLanes(acc)
}

// dot64w: see rows.go; summed as the SIMD dot64.
func dot64w(x, w, y []float32) float64 {
	w, y = w[:len(x)], y[:len(x)]
	var acc simd.Float32s
	for i := 0; i < len(x); {
		xv, c := simd.LoadFloat32sPart(x[i:])
		wv, _ := simd.LoadFloat32sPart(w[i:])
		yv, _ := simd.LoadFloat32sPart(y[i:])
		acc = xv.Mul(wv).MulAdd(yv, acc)
		i += c
	}
	return sumLanes(acc)
}

// sumLanes adds v's lanes in order, in float64.
func sumLanes(v simd.Float32s) float64 {
	var lanes [16]float32
	v.Store(lanes[:v.Len()])
	var s float64
	for _, x := range lanes[:v.Len()] {
		s += float64(x)
	}
	return s
}

// addTo: see rows.go.
func addTo(out, a, b []float32) {
	a, b = a[:len(out)], b[:len(out)]
	for i := 0; i < len(out); {
		av, c := simd.LoadFloat32sPart(a[i:])
		bv, _ := simd.LoadFloat32sPart(b[i:])
		av.Add(bv).StorePart(out[i:])
		i += c
	}
}
