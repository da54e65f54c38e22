// Package lora implements Low-Rank Adaptation (Hu et al. 2021) over a frozen
// linear layer, with loralib's vocabulary: a frozen weight W0 (out, in) gets
// the update h = W0 x + scaling * B A x, where lora_A is A (r, in), lora_B is
// B (out, r), and scaling is lora_alpha / r (or lora_alpha / sqrt(r) with
// rsLoRA). A starts random, B starts at zero, so training starts exactly at the
// base model; only A and B have gradients and optimizer state. Merge folds
// scaling * B A into W0 for zero-cost inference; Unmerge takes it out again.
//
// Shapes: N rows (batch times time), In and Out the adapted layer's sizes,
// R the rank. Activations are row-major (N, In) and (N, Out).
package lora

import (
	"fmt"

	"golora/core/mathf"
	"golora/core/matmul"
	"golora/core/rng"
)

// Init names how A is initialised (B is always zero).
type Init string

// The two initialisations: loralib's code and the paper's text.
const (
	InitKaiming  Init = "kaiming"  // loralib: kaiming_uniform_(a=sqrt(5)), uniform in ±1/sqrt(in)
	InitGaussian Init = "gaussian" // the paper: Gaussian; std 1/r as PEFT's "gaussian" init
)

// Adapter is one low-rank update of a linear layer. A, B, DA and DB are views
// into a Set's flat buffers.
type Adapter struct {
	Module  string    // module path, e.g. model.layers.0.self_attn.q_proj
	In, Out int       // the adapted weight is (Out, In)
	Rank    int       // r
	Scaling float32   // alpha/r, or alpha/sqrt(r) with rsLoRA
	A       []float32 // (R, In)  lora_A.weight
	B       []float32 // (Out, R) lora_B.weight
	DA, DB  []float32 // gradients of A and B, same shapes
	Off     int       // where A starts in the Set's flat buffers (B follows it)
}

// GradViews returns this adapter's gradient slices in another buffer laid
// out as the Set's Grads: a step computed in parts side by side gives each
// part its own gradient buffer.
func (a *Adapter) GradViews(grads []float32) (dA, dB []float32) {
	nA, nB := len(a.A), len(a.B)
	return grads[a.Off : a.Off+nA : a.Off+nA], grads[a.Off+nA : a.Off+nA+nB : a.Off+nA+nB]
}

// Scaling returns alpha/r, or alpha/sqrt(r) for rsLoRA (Kalajdzievski 2023).
func Scaling(alpha float32, rank int, rslora bool) float32 {
	if rslora {
		return alpha / mathf.Sqrt(float32(rank))
	}
	return alpha / float32(rank)
}

// Cache is what one adapter's forward pass saves for its backward pass.
//
// The products keep the rank on the row side: u is stored transposed, (R, N),
// so that no product has only R output columns (a SIMD kernel computes 32
// columns at a time natively: with R = 8 three quarters of its work would be
// padding), and the products with R rows read a row-major activation in
// place (matmul does for products of few rows). Each element is still one
// chain of multiply-adds.
type Cache struct {
	SUT  []float32 // (R, N) = scaling * (x_d · Aᵀ)ᵀ
	Keep []float32 // (N, In) dropout scale per input element (0 or 1/(1-p)); nil without dropout
	XD   []float32 // (N, In) dropped-out input x * Keep; nil without dropout
	DBT  []float32 // (R, Out) scratch: the step's gradient of B, transposed
}

// NewCache sizes a cache for up to n rows; dropout > 0 also keeps the mask.
func (a *Adapter) NewCache(n int, dropout bool) *Cache {
	c := &Cache{SUT: make([]float32, a.Rank*n), DBT: make([]float32, a.Rank*a.Out)}
	if dropout {
		c.Keep = make([]float32, n*a.In)
		c.XD = make([]float32, n*a.In)
	}
	return c
}

// Forward adds the adapter's update to out: out (N, Out) += scaling * (x_d · Aᵀ) · Bᵀ,
// where x_d is x after dropout with probability p (drawn from r) when p > 0.
// Pass p = 0 (or r = nil) for evaluation.
func (a *Adapter) Forward(out, x []float32, c *Cache, n int, p float32, r *rng.RNG) {
	xd := x
	if p > 0 && r != nil {
		if c.Keep == nil {
			panic("lora: Forward with dropout needs a cache made with dropout")
		}
		keep, scale := c.Keep[:n*a.In], 1/(1-p)
		xd = c.XD[:n*a.In]
		for i := range keep {
			if r.Float32() < p {
				keep[i] = 0
			} else {
				keep[i] = scale
			}
			xd[i] = x[i] * keep[i]
		}
	} else if c.Keep != nil {
		c.Keep = c.Keep[:0] // marks "no dropout in this pass" for Backward
	}
	R := a.Rank
	sut := a.scaledU(xd, c, n)
	// out += (s u) · Bᵀ, added straight into out. (Scaling u rather than the
	// product rounds differently, not worse: neither is the merged weight's rounding.)
	matmul.Mul(out, a.Out, sut, n, true, a.B, R, true, n, R, a.Out, true)
}

// scaledU sets the cache's (s u)ᵀ = scaling · A · xᵀ (R, N) and returns it.
func (a *Adapter) scaledU(x []float32, c *Cache, n int) []float32 {
	sut := c.SUT[:a.Rank*n]
	matmul.MulNT(sut, a.A, x, a.Rank, a.In, n, false) // uᵀ (R, N) = A · xᵀ
	for i, v := range sut {
		sut[i] = a.Scaling * v
	}
	return sut
}

// Fuse writes the weight with the update folded in, dst = w + scaling · B · A
// (Out, In), with exactly the bits Merge gives w. A layer whose output is
// computed through it, out = x · dstᵀ, needs no adapter products in its
// forward pass and its input gradient is dout · dst: only the products for
// the gradients of A and B remain (see ForwardFused). Not with dropout, which
// applies to the adapter's input alone.
func (a *Adapter) Fuse(dst, w []float32) {
	checkWeight(a, w)
	checkWeight(a, dst)
	matmul.MulNN(dst, a.B, a.A, a.Out, a.Rank, a.In, false)
	for i, d := range dst[:len(w)] {
		dst[i] = w[i] + d*a.Scaling
	}
}

// ForwardFused is the adapter's part of a forward pass whose output the
// caller computed with the fused weight (Fuse): it saves what Backward
// needs, s·u = scaling · x · Aᵀ. Backward must then be called with dx = nil,
// the input gradient coming from the fused weight.
func (a *Adapter) ForwardFused(x []float32, c *Cache, n int) {
	if c.Keep != nil {
		c.Keep = c.Keep[:0] // no dropout in this pass
	}
	a.scaledU(x, c, n)
}

// Backward accumulates the gradients of Forward. With dout (N, Out):
// DB += doutᵀ · (s u); du = s * dout · B; DA += duᵀ · x_d; dx += (du · A) * keep.
// du is (R, N) scratch, where du is kept transposed as u is; dx may be nil
// (the first layer's input needs no gradient, and a fused layer's comes
// through its fused weight).
func (a *Adapter) Backward(dx, dout, x []float32, c *Cache, du []float32, n int) {
	a.BackwardTo(a.DA, a.DB, dx, dout, x, c, du, n)
}

// BackwardTo is Backward with the gradients of A and B accumulated into dA
// and dB (shaped as A and B) instead of DA and DB.
func (a *Adapter) BackwardTo(dA, dB, dx, dout, x []float32, c *Cache, du []float32, n int) {
	R, s := a.Rank, a.Scaling
	xd := x
	dropout := len(c.Keep) > 0
	if dropout {
		xd = c.XD[:n*a.In]
	}
	// forward: out += (s u) · Bᵀ
	dbt := c.DBT[:R*a.Out]
	matmul.MulNN(dbt, c.SUT[:R*n], dout, R, n, a.Out, false) // DBᵀ (R, Out) = (s u)ᵀ · dout
	for o := range a.Out {
		row := dB[o*R : (o+1)*R]
		for k := range row {
			row[k] += dbt[k*a.Out+o]
		}
	}
	dut := du[:R*n]
	matmul.Mul(dut, n, a.B, R, true, dout, a.Out, true, R, a.Out, n, false) // duᵀ (R, N) = Bᵀ · doutᵀ
	for i := range dut {
		dut[i] *= s
	}
	// forward: uᵀ = A · x_dᵀ
	matmul.MulNN(dA, dut, xd, R, n, a.In, true) // DA += duᵀ · x_d
	if dx == nil {
		return
	}
	if !dropout {
		matmul.Mul(dx, a.In, dut, n, true, a.A, a.In, false, n, R, a.In, true) // dx += du · A
		return
	}
	// forward: x_d = x * keep
	for i := range n {
		row := dx[i*a.In : (i+1)*a.In]
		keep := c.Keep[i*a.In : (i+1)*a.In]
		for j := range row {
			var sum float32
			for k := range R {
				sum += dut[k*n+i] * a.A[k*a.In+j]
			}
			row[j] += sum * keep[j]
		}
	}
}

// Delta returns scaling * B · A (Out, In), the update Merge adds.
func (a *Adapter) Delta() []float32 {
	d := make([]float32, a.Out*a.In)
	matmul.MulNN(d, a.B, a.A, a.Out, a.Rank, a.In, false)
	for i := range d {
		d[i] *= a.Scaling
	}
	return d
}

// Merge adds scaling * B · A into w (Out, In).
func (a *Adapter) Merge(w []float32) {
	checkWeight(a, w)
	for i, d := range a.Delta() {
		w[i] += d
	}
}

// Unmerge subtracts scaling * B · A from w, undoing Merge up to float rounding.
func (a *Adapter) Unmerge(w []float32) {
	checkWeight(a, w)
	for i, d := range a.Delta() {
		w[i] -= d
	}
}

func checkWeight(a *Adapter, w []float32) {
	if len(w) != a.Out*a.In {
		panic(fmt.Sprintf("lora: %s: weight has %d elements, adapter is (%d, %d)", a.Module, len(w), a.Out, a.In))
	}
}

// Reset initialises A (kaiming or gaussian) and zeroes B.
func (a *Adapter) Reset(init Init, r *rng.RNG) {
	switch init {
	case InitGaussian:
		std := 1 / float32(a.Rank)
		for i := range a.A {
			a.A[i] = std * r.Normal()
		}
	default:
		// kaiming_uniform_(a=sqrt(5)) on a (R, In) tensor: gain sqrt(2/(1+5)),
		// bound = gain*sqrt(3/fan_in) = 1/sqrt(In).
		bound := 1 / mathf.Sqrt(float32(a.In))
		for i := range a.A {
			a.A[i] = r.Uniform(-bound, bound)
		}
	}
	clear(a.B)
}
