//go:build !goexperiment.simd

package mathf

// ExpShifted: see vec.go. The default build calls Exp element by element, so
// its bits are the same natively and in wasm.
func ExpShifted(x []float32, shift float32) float64 {
	var sum float64
	for i, v := range x {
		e := Exp(v - shift)
		x[i] = e
		sum += float64(e)
	}
	return sum
}

// Sigmoids: see vec.go.
func Sigmoids(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = Sigmoid(v)
	}
}

// AddScaled: see vec.go.
func AddScaled(dst, x []float32, a float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] += a * v
	}
}
