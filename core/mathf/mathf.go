// Package mathf holds golora's own elementary functions. The standard library's
// math.Exp and math.Log run assembly on amd64 and portable Go in wasm, which can
// differ in the last bit; these use only +, -, *, / and sqrt (exact in IEEE 754
// on every platform), so a default build computes bit-identical results natively
// and in wasm. Accuracy is a few ulps in float64, far below float32 resolution.
package mathf

import "math"

// Pi is π.
const Pi = math.Pi

const (
	ln2Hi  = 6.93147180369123816490e-01 // high bits of ln 2, exact in float64
	ln2Lo  = 1.90821492927058770002e-10 // ln 2 - ln2Hi
	log2e  = 1.44269504088896338700e+00
	maxExp = 709.782712893383973096
	minExp = -745.13321910194110842
)

// Sqrt64 is the correctly rounded square root (IEEE 754 requires it to be exact).
func Sqrt64(x float64) float64 { return math.Sqrt(x) }

// Sqrt is the float32 square root, correctly rounded.
func Sqrt(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// Exp64 returns e**x, reducing x = k ln2 + r with |r| <= ln2/2 and summing a
// degree-13 Taylor polynomial of exp(r) in Horner form.
func Exp64(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > maxExp:
		return math.Inf(1)
	case x < minExp:
		return 0
	}
	var k float64
	if x >= 0 {
		k = float64(int64(x*log2e + 0.5))
	} else {
		k = float64(int64(x*log2e - 0.5))
	}
	r := (x - k*ln2Hi) - k*ln2Lo
	p := 1.0 / 6227020800 // 1/13!
	for _, c := range [...]float64{
		1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
		1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1,
	} {
		p = p*r + c
	}
	return ldexp(p, int(k))
}

// ldexp returns frac * 2**exp by repeated exact scaling by powers of two.
func ldexp(frac float64, exp int) float64 {
	for exp > 1000 {
		frac *= 0x1p1000
		exp -= 1000
	}
	for exp < -1000 {
		frac *= 0x1p-1000
		exp += 1000
	}
	if exp < -1020 {
		// Two steps keep the intermediate normal so only the last rounding happens.
		frac *= 0x1p-60
		exp += 60
	}
	return frac * math.Float64frombits(uint64(exp+1023)<<52)
}

// Exp is e**x for float32, the hot function of softmax and SiLU. It reduces
// x = k ln2 + r in float64 (|r| <= ln2/2) and sums a degree-7 Taylor polynomial,
// whose truncation error (< 6e-9 relative) is below float32's half-ulp, then
// rounds once. Within 1 ulp of the true value; several times faster than Exp64.
func Exp(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.8:
		return float32(math.Inf(1))
	case x < -104:
		return 0
	}
	xd := float64(x)
	// Round x*log2e to the nearest integer with the 1.5*2**52 trick: adding and
	// subtracting it leaves an integer (ties to even), in two exact IEEE adds
	// and no call (math.Floor is a function call on GOAMD64=v1).
	const round = 1.5 * (1 << 52)
	k := (xd*log2e + round) - round
	r := xd - k*math.Ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return float32(p * math.Float64frombits(uint64(int64(k)+1023)<<52))
}

// Log64 returns the natural logarithm: x = 2**k m with m in [sqrt(1/2), sqrt(2)),
// then log m = 2 atanh(s) with s = (m-1)/(m+1), summed as an odd series.
func Log64(x float64) float64 {
	switch {
	case x != x || x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	case math.IsInf(x, 1):
		return x
	}
	bits := math.Float64bits(x)
	k := int((bits>>52)&0x7ff) - 1023
	if k == -1023 { // subnormal: scale into the normal range first
		x *= 0x1p54
		bits = math.Float64bits(x)
		k = int((bits>>52)&0x7ff) - 1023 - 54
	}
	m := math.Float64frombits(bits&^(0x7ff<<52) | 1023<<52) // m in [1, 2)
	if m > math.Sqrt2 {
		m /= 2
		k++
	}
	s := (m - 1) / (m + 1)
	s2 := s * s
	// atanh(s)/s = sum s2^i/(2i+1); |s| <= 0.1716 so 11 terms reach 1e-18.
	sum := 0.0
	for i := 21; i >= 1; i -= 2 {
		sum = sum*s2 + 1/float64(i)
	}
	return float64(k)*ln2Hi + (2*s*sum + float64(k)*ln2Lo)
}

// Log is the float32 natural logarithm.
func Log(x float32) float32 { return float32(Log64(float64(x))) }

// Sin64 and Cos64 reduce x modulo π/2 (in three parts, Cody-Waite) and sum
// Taylor polynomials on [-π/4, π/4]. They are accurate for |x| up to about 1e6,
// which covers every angle golora computes (RoPE positions times frequencies).
func Sin64(x float64) float64 { return sincos(x, 0) }

// Cos64 returns the cosine of x; see Sin64.
func Cos64(x float64) float64 { return sincos(x, 1) }

func sincos(x float64, shift int) float64 {
	const (
		pio2Hi = 1.57079632673412561417e+00
		pio2Md = 6.07710050650619224932e-11
		pio2Lo = 2.02226624879595063154e-21
	)
	if x != x || math.IsInf(x, 0) {
		return math.NaN()
	}
	q := math.Floor(x*(2/math.Pi) + 0.5)
	r := ((x - q*pio2Hi) - q*pio2Md) - q*pio2Lo
	n := (int64(q) + int64(shift)) & 3
	r2 := r * r
	sinR := func() float64 {
		p := -1.0 / 1307674368000 // -1/15!
		for _, c := range [...]float64{1.0 / 6227020800, -1.0 / 39916800, 1.0 / 362880, -1.0 / 5040, 1.0 / 120, -1.0 / 6, 1} {
			p = p*r2 + c
		}
		return p * r
	}
	cosR := func() float64 {
		p := 1.0 / 20922789888000 // 1/16!
		for _, c := range [...]float64{-1.0 / 87178291200, 1.0 / 479001600, -1.0 / 3628800, 1.0 / 40320, -1.0 / 720, 1.0 / 24, -0.5, 1} {
			p = p*r2 + c
		}
		return p
	}
	switch n {
	case 0:
		return sinR()
	case 1:
		return cosR()
	case 2:
		return -sinR()
	default:
		return -cosR()
	}
}

// Pow64 returns x**y for x > 0 as exp(y log x).
func Pow64(x, y float64) float64 { return Exp64(y * Log64(x)) }

// Sigmoid is 1/(1+e**-x) in float32.
func Sigmoid(x float32) float32 { return float32(1 / (1 + float64(Exp(-x)))) }

// Tanh is the hyperbolic tangent in float32.
func Tanh(x float32) float32 {
	e := Exp64(-2 * math.Abs(float64(x)))
	t := (1 - e) / (1 + e)
	if x < 0 {
		t = -t
	}
	return float32(t)
}
