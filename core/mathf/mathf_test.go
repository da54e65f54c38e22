package mathf

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAgainstStdlib(t *testing.T) {
	for _, x := range []float64{-700, -80, -10, -1.5, -0.3, -1e-8, 0, 1e-8, 0.1, 0.5, 1, 2.5, 17, 88, 700} {
		assert.InEpsilon(t, math.Exp(x), Exp64(x), 1e-14, "Exp64(%g)", x)
	}
	for _, x := range []float64{1e-300, 1e-20, 0.001, 0.5, 0.9999, 1, 1.0001, 2, 10, 12345.678, 1e200} {
		assert.InDelta(t, math.Log(x), Log64(x), 1e-14*math.Max(1, math.Abs(math.Log(x))), "Log64(%g)", x)
	}
	assert.Equal(t, 0.0, Log64(1))
	for x := -50.0; x <= 50; x += 0.37 {
		assert.InDelta(t, math.Sin(x), Sin64(x), 1e-14, "Sin64(%g)", x)
		assert.InDelta(t, math.Cos(x), Cos64(x), 1e-14, "Cos64(%g)", x)
	}
	for _, x := range []float32{-20, -3, -0.5, 0, 0.5, 3, 20} {
		assert.InDelta(t, 1/(1+math.Exp(-float64(x))), float64(Sigmoid(x)), 1e-7, "Sigmoid(%g)", x)
		assert.InDelta(t, math.Tanh(float64(x)), float64(Tanh(x)), 1e-7, "Tanh(%g)", x)
	}
	assert.InEpsilon(t, math.Pow(10000, -0.25), Pow64(10000, -0.25), 1e-14)
}

func TestSpecialValues(t *testing.T) {
	assert.True(t, math.IsInf(Exp64(1000), 1))
	assert.Equal(t, 0.0, Exp64(-1000))
	assert.True(t, math.IsNaN(Exp64(math.NaN())))
	assert.True(t, math.IsInf(Log64(0), -1))
	assert.True(t, math.IsNaN(Log64(-1)))
	// The smallest subnormal is 2**-1074 (amd64's assembly math.Log gets this one wrong).
	assert.InDelta(t, -1074*math.Ln2, Log64(5e-324), 1e-12)
}

// Exp (float32) stays within one float32 ulp of the true value over its whole range.
func TestExpFloat32(t *testing.T) {
	worst := 0.0
	for x := float32(-103.9); x < 88.7; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(Exp(x))
		ulp := float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want))
		if want < 1.2e-38 { // subnormal results: absolute error below the smallest subnormal
			ulp = 1.5e-45
		}
		worst = math.Max(worst, math.Abs(got-want)/ulp)
	}
	t.Logf("worst error %.3f ulp", worst)
	assert.LessOrEqual(t, worst, 1.0)
	assert.True(t, math.IsInf(float64(Exp(89)), 1))
	assert.Equal(t, float32(0), Exp(-105))
	assert.Equal(t, float32(1), Exp(0))
}

func BenchmarkExp(b *testing.B) {
	var s float32
	for i := 0; i < b.N; i++ {
		s += Exp(float32(i%200)*0.1 - 10)
	}
	_ = s
}

// The slice functions (vector code in SIMD builds) against the float64
// exponential, over softmax's range and beyond, including the tail of a slice
// shorter than a vector and the special values.
func TestVecExp(t *testing.T) {
	x := make([]float32, 1003)
	state := uint32(11)
	for i := range x {
		state = state*1664525 + 1013904223        // an LCG: no dependency on core/rng
		x[i] = 174*float32(state>>8)/(1<<24) - 85 // results stay normal floats
	}
	x[0], x[1], x[2], x[3] = 0, -0.5, 88, -85
	orig := append([]float32(nil), x...)
	sum := ExpShifted(x, 1.5)
	var want float64
	for i, v := range orig {
		e := Exp64(float64(v - 1.5)) // the subtraction rounds in float32, as in ExpShifted
		want += float64(x[i])
		if rel := math.Abs(float64(x[i])-e) / e; rel > 3e-7 {
			t.Fatalf("ExpShifted(%g, 1.5) = %g, want %g (relative error %.2g)", v, x[i], e, rel)
		}
	}
	assert.InEpsilon(t, want, sum, expSumTol, "ExpShifted's sum")
	sig := make([]float32, len(orig))
	Sigmoids(sig, orig)
	for i, v := range orig {
		want := 1 / (1 + Exp64(-float64(v)))
		if d := math.Abs(float64(sig[i]) - want); d > 3e-7*want {
			t.Fatalf("Sigmoids(%g) = %g, want %g", v, sig[i], want)
		}
	}
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 100, -200}
	ExpShifted(special, 0)
	assert.True(t, math.IsNaN(float64(special[0])), "exp(NaN)")
	assert.True(t, math.IsInf(float64(special[1]), 1), "exp(+Inf)")
	assert.Zero(t, special[2], "exp(-Inf)")
	assert.True(t, math.IsInf(float64(special[3]), 1), "exp(100) overflows")
	assert.Zero(t, special[4], "exp(-200) underflows")
	// Every element's bits depend only on its value, not on where the slice starts.
	a := append([]float32(nil), orig[:37]...)
	b := append([]float32(nil), orig[5:37]...)
	ExpShifted(a, 0)
	ExpShifted(b, 0)
	for i := range b {
		assert.Equal(t, math.Float32bits(a[i+5]), math.Float32bits(b[i]), "element %d depends on its offset", i)
	}
}

func TestAddScaled(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 16, 24, 33} {
		x, dst, want := make([]float32, n), make([]float32, n+1), make([]float32, n+1)
		for i := range x {
			x[i] = float32(i)*0.37 - 2
			dst[i] = float32(n-i) * 0.11
			want[i] = dst[i] + 1.5*x[i]
		}
		dst[n], want[n] = 7, 7 // past len(x): untouched
		AddScaled(dst, x, 1.5)
		for i := range want {
			if d := float64(dst[i] - want[i]); d > 1e-6 || d < -1e-6 {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want[i])
			}
		}
	}
}
