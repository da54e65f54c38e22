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
