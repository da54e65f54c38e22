package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"golora/core/rng"
)

// TestRowKernels checks the elementwise row kernels element by element
// against the formulas written out, bit for bit, at lengths around every
// vector width (so the SIMD build's partial last vector is covered).
func TestRowKernels(t *testing.T) {
	r := rng.New(3)
	same := func(want, got float32, what string, n, i int) {
		t.Helper()
		require.Equal(t, math.Float32bits(want), math.Float32bits(got), "%s n=%d element %d: %v, want %v", what, n, i, got, want)
	}
	for n := 1; n <= 70; n++ {
		a, b, d := randn(r, n, 2), randn(r, n, 1), randn(r, n, 1)
		sig := make([]float32, n)
		for i, x := range a {
			sig[i] = 1 / (1 + float32(math.Exp(float64(-x))))
		}
		da, db := randn(r, n, 1), randn(r, n, 1)
		da0, db0 := append([]float32(nil), da...), append([]float32(nil), db...)
		swigluBackward(da, db, d, a, b, sig)
		for i := range n {
			x, s := a[i], sig[i]
			same(db0[i]+d[i]*(x*s), db[i], "swigluBackward db", n, i)
			same(da0[i]+d[i]*b[i]*s*(1+x*(1-s)), da[i], "swigluBackward da", n, i)
		}

		dx := randn(r, n, 1)
		dx0 := append([]float32(nil), dx...)
		const rs, k = 1.3, -0.2
		rmsnormGrad(dx, d, a, b, rs, k)
		for j := range n {
			same(dx0[j]+(rs*b[j]*d[j]-k*a[j]), dx[j], "rmsnormGrad", n, j)
		}

		dr := append([]float32(nil), d...)
		const s, sc = 0.7, 0.25
		softmaxGrad(dr, sig, s, sc)
		for i := range n {
			same(sig[i]*(d[i]-s)*sc, dr[i], "softmaxGrad", n, i)
		}

		x := append([]float32(nil), a...)
		x[n/2] = 9 // the maximum, wherever it falls in a vector
		m := scaleByMax(x, 0.5)
		for i := range n {
			want := a[i] * 0.5
			if i == n/2 {
				want = 4.5
			}
			same(want, x[i], "scaleByMax", n, i)
		}
		same(4.5, m, "scaleByMax maximum", n, 0)
		neg := make([]float32, n) // all negative: the zeros a partial load pads with must not win
		for i := range neg {
			neg[i] = -1 - float32(i)
		}
		same(-0.5, scaleByMax(neg, 0.5), "scaleByMax of negatives", n, 0)

		y := append([]float32(nil), b...)
		scaleBy(y, 1.7)
		for i := range n {
			same(b[i]*1.7, y[i], "scaleBy", n, i)
		}

		o := make([]float32, n)
		mulRow(o, a, b, 1.3)
		for j := range n {
			same(a[j]*1.3*b[j], o[j], "mulRow", n, j)
		}
		addTo(o, a, b)
		for i := range n {
			same(a[i]+b[i], o[i], "addTo", n, i)
		}
		mulGate(o, a, sig, b)
		for i := range n {
			same(a[i]*sig[i]*b[i], o[i], "mulGate", n, i)
		}

		// The dots: partial sums (float32 lanes in SIMD builds), so only close to the float64 sum in index order.
		var want, wantW, scale float64
		for i := range n {
			want += float64(a[i]) * float64(d[i])
			wantW += float64(a[i]) * float64(b[i]) * float64(d[i])
			scale += math.Abs(float64(a[i])*float64(b[i])*float64(d[i])) + math.Abs(float64(a[i])*float64(d[i]))
		}
		require.InDelta(t, want, dot64(a, d), dotTol*scale, "dot64 n=%d", n)
		require.InDelta(t, wantW, dot64w(a, b, d), dotTol*scale, "dot64w n=%d", n)
	}
	require.Equal(t, 0.0, dot64(nil, nil))
	require.Equal(t, 0.0, dot64w(nil, nil, nil))
}
