// Intrinsic dimension (Li et al. 2018; Aghajanyan et al. 2020): train in a
// random d-dimensional subspace of the whole weight space,
//
//	θ = θ0 + P z,  z ∈ R^d trained from 0,  P (D, d) random with unit columns,
//
// so that the smallest d reaching 90% of full fine-tuning's score (d90)
// measures how few directions a task needs. P is the Fastfood transform the
// two papers use (Le et al. 2013): P z = c · S H G Π H B z, with H the
// Walsh-Hadamard matrix of size L = 2^⌈log2 D⌉, B random signs, Π a random
// permutation, G Gaussian, S keeping the first D rows and c = 1/sqrt(D·ΣG²)
// (columns of norm about 1). Only B, Π and G are stored (O(L)), never P
// (D x d floats: 1.7 GB at d = 1,000 on the shipped base), and a product
// costs O(L log L) whatever d. The gradient is dL/dz = Pᵀ dL/dθ: every step
// computes the whole model's weight gradient, as full fine-tuning does, and
// projects it. Drawn in the order G, Π, B, P's first k columns are the same
// for every d ≥ k: the subspaces of a sweep are nested.
//
// It acts at the model's weights place (model.Pass.Weights): each pass
// writes θ0 + P z into weights of its own at Begin, and projects their
// gradient at End.

package peft

import (
	"fmt"
	"math"
	"math/bits"

	"golora/core/model"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// IntrinsicConfig is the subspace's dimension and the seed of its projection.
type IntrinsicConfig struct {
	Dim  int    // d: the trained parameters, 1..the base's parameter count
	Seed uint64 // draws P's signs, permutation and Gaussian scales
}

// ---------------------------------------------------------------- layer

// Fastfood is the projection P (D, d) = c · S H G Π H B, applied without
// being stored: Apply computes P z and ApplyT accumulates Pᵀ g.
type Fastfood struct {
	D, Dim int       // P's rows and columns
	L      int       // the transform's size: a power of two >= D
	B      []float32 // (Dim) random signs ±1
	Perm   []int32   // (L) Π: (Π u)[j] = u[Perm[j]]
	G      []float32 // (L) N(0, 1)
	Scale  float32   // c = 1/sqrt(D · ΣG²)
}

// NewFastfood draws P (D, dim) from r: G, then Π, then B, so that the first
// k columns do not depend on dim.
func NewFastfood(D, dim int, r *rng.RNG) *Fastfood {
	if D < 1 || dim < 1 || dim > D {
		panic(fmt.Sprintf("peft: fastfood of %d x %d", D, dim))
	}
	L := 1 << bits.Len(uint(D-1))
	f := &Fastfood{D: D, Dim: dim, L: L, B: make([]float32, dim), Perm: make([]int32, L), G: make([]float32, L)}
	var ss float64
	for i := range f.G {
		f.G[i] = r.Normal()
		ss += float64(f.G[i]) * float64(f.G[i])
	}
	for i := range f.Perm {
		f.Perm[i] = int32(i)
	}
	r.Shuffle(L, func(i, j int) { f.Perm[i], f.Perm[j] = f.Perm[j], f.Perm[i] })
	for i := range f.B {
		f.B[i] = 1
		if r.Uint64()&1 == 1 {
			f.B[i] = -1
		}
	}
	f.Scale = float32(1 / math.Sqrt(float64(D)*ss))
	return f
}

// Apply sets dst (D) = base + P z (z of Dim values), with buf and tmp L
// floats of scratch. Where (P z)_i is zero, dst_i is base_i bit for bit
// (even a -0 weight), so z = 0 gives base exactly.
func (f *Fastfood) Apply(dst, base, z, buf, tmp []float32) {
	f.check(len(dst), len(z), len(buf), len(tmp))
	// H (B z): B z has its non-zeros in the first b = 2^⌈log2 d⌉ entries, and
	// H_L = H_(L/b) ⊗ H_b, so H (B z) is H_b (B z)[:b] repeated L/b times
	// (the stages over larger strides would only add zeros).
	b := 1 << bits.Len(uint(f.Dim-1))
	head := buf[:b]
	clear(head)
	for k, v := range z {
		head[k] = f.B[k] * v
	}
	fwht(head)
	for off := b; off < f.L; off += b {
		copy(buf[off:off+b], head)
	}
	for j, p := range f.Perm {
		tmp[j] = f.G[j] * buf[p]
	}
	fwht(tmp)
	for i, b := range base[:f.D] {
		dst[i] = b
		if v := f.Scale * tmp[i]; v != 0 {
			dst[i] = b + v
		}
	}
}

// ApplyT accumulates dz (Dim) += Pᵀ g for g (D), with buf and tmp L floats
// of scratch: Pᵀ = c · B H Πᵀ G H Sᵀ.
func (f *Fastfood) ApplyT(dz, g, buf, tmp []float32) {
	f.check(len(g), len(dz), len(buf), len(tmp))
	copy(buf, g)
	clear(buf[f.D:])
	fwht(buf)
	for j, p := range f.Perm {
		tmp[p] = f.G[j] * buf[j]
	}
	// Only the first d entries of H tmp are needed: with H_L = H_2 ⊗ H_(L/2),
	// the first half of H x is H_(L/2) (x[:L/2] + x[L/2:]); so fold tmp
	// down to b = 2^⌈log2 d⌉ entries (the additions fwht's last stages would
	// make, in their order), then transform those.
	b := 1 << bits.Len(uint(f.Dim-1))
	for h := f.L / 2; h >= b; h /= 2 {
		lo, hi := tmp[:h], tmp[h:2*h]
		for j, v := range hi {
			lo[j] += v
		}
	}
	fwht(tmp[:b])
	for k := range dz {
		dz[k] += f.Scale * (f.B[k] * tmp[k])
	}
}

func (f *Fastfood) check(d, dim, buf, tmp int) {
	if d != f.D || dim != f.Dim || buf < f.L || tmp < f.L {
		panic(fmt.Sprintf("peft: fastfood (%d, %d) of size %d given %d, %d and scratch %d, %d", f.D, f.Dim, f.L, d, dim, buf, tmp))
	}
}

// fwhtBlock is how many values the first stages of fwht transform at a
// time (8 KiB: they stay in the L1 cache while every stride below it runs).
const fwhtBlock = 1 << 11

// fwht replaces x (a power of two long) by H x, the unnormalised
// Walsh-Hadamard transform (H_ij = (-1)^popcount(i&j)), in place: log2(n)
// stages of butterflies (a, b) -> (a+b, a-b), two stages per pass over x
// where it can. Only additions, in a fixed order: the same bits in every build.
func fwht(x []float32) {
	n := len(x)
	blk := min(n, fwhtBlock)
	for lo := 0; lo < n; lo += blk {
		b := x[lo : lo+blk]
		h := 1
		if bits.TrailingZeros(uint(blk))%2 == 1 {
			for i := 0; i+1 < len(b); i += 2 {
				b[i], b[i+1] = b[i]+b[i+1], b[i]-b[i+1]
			}
			h = 2
		}
		for ; h < blk; h *= 4 {
			butterflies2(b, h)
		}
	}
	h := blk
	for ; 4*h <= n; h *= 4 {
		butterflies2(x, h)
	}
	if h < n {
		butterflies(x, h)
	}
}

// butterflies runs one stage of fwht: stride h over all of x.
func butterflies(x []float32, h int) {
	for i := 0; i < len(x); i += 2 * h {
		a, c := x[i:i+h], x[i+h:i+2*h]
		for j, u := range a {
			v := c[j]
			a[j], c[j] = u+v, u-v
		}
	}
}

// butterflies2 runs the stages of strides h and 2h in one pass, with the
// additions of butterflies(x, h) then butterflies(x, 2h), in that order.
func butterflies2(x []float32, h int) {
	for i := 0; i < len(x); i += 4 * h {
		a, b, c, d := x[i:i+h], x[i+h:i+2*h], x[i+2*h:i+3*h], x[i+3*h:i+4*h]
		for j, u := range a {
			s0, d0 := u+b[j], u-b[j]
			s1, d1 := c[j]+d[j], c[j]-d[j]
			a[j], b[j], c[j], d[j] = s0+s1, d0+d1, s0-s1, d0-d1
		}
	}
}

// ---------------------------------------------------------------- attach

// Intrinsic trains z alone; the base weights θ0 stay as they are and every
// pass computes with θ0 + P z.
type Intrinsic struct {
	IntrinsicConfig
	P     *Fastfood
	z, dz []float32 // (Dim)
	m     *model.Model
	saved []float32 // θ0 while merged
}

// AddIntrinsic attaches the intrinsic-dimension method to m, z = 0.
// Errors: Dim outside 1..m's parameter count, or a method on m that trains
// base weights or supplies them.
func AddIntrinsic(m *model.Model, cfg IntrinsicConfig) (*Intrinsic, error) {
	D := m.NumParams()
	if cfg.Dim < 1 || cfg.Dim > D {
		return nil, fmt.Errorf("intrinsic: dim must be between 1 and %d (the base's parameters), got %d", D, cfg.Dim)
	}
	in := &Intrinsic{IntrinsicConfig: cfg, P: NewFastfood(D, cfg.Dim, rng.New(cfg.Seed)),
		z: make([]float32, cfg.Dim), dz: make([]float32, cfg.Dim), m: m}
	if err := m.Attach(in); err != nil {
		return nil, err
	}
	return in, nil
}

// IntrinsicOf returns the Intrinsic attached to m, or nil.
func IntrinsicOf(m *model.Model) *Intrinsic {
	for _, meth := range m.Methods() {
		if in, ok := meth.(*Intrinsic); ok {
			return in
		}
	}
	return nil
}

// Name is "intrinsic".
func (in *Intrinsic) Name() string { return "intrinsic" }

// Params is z.
func (in *Intrinsic) Params() []float32 { return in.z }

// Grads is dL/dz.
func (in *Intrinsic) Grads() []float32 { return in.dz }

// TrainsBase is false: the base weights are θ0, fixed; the passes compute with θ0 + P z.
func (in *Intrinsic) TrainsBase(string) bool { return false }

// Tensors names z, "intrinsic.z" (Dim).
func (in *Intrinsic) Tensors() []Tensor {
	return []Tensor{{Name: "intrinsic.z", Shape: []int{in.Dim}}}
}

// Delta returns P z (the base's parameter count), the change the method makes to the weights.
func (in *Intrinsic) Delta() []float32 {
	d := make([]float32, in.P.D)
	p := in.newScratch()
	in.P.Apply(d, d, in.z, p.buf, p.tmp)
	return d
}

// WriteWeights sets dst = base + P z (both the base's parameter count), with the bits a pass computes with when
// base is θ0: a fine-tuned model's weights.
func (in *Intrinsic) WriteWeights(dst, base []float32) {
	p := in.newScratch()
	in.P.Apply(dst, base, in.z, p.buf, p.tmp)
}

// Merge writes θ0 + P z into the model's weights (the bits every pass
// computes with), keeping θ0 for Unmerge.
func (in *Intrinsic) Merge(m *model.Model) error {
	in.saved = append(in.saved[:0], m.Params.Data...)
	p := in.newScratch()
	in.P.Apply(m.Params.Data, in.saved, in.z, p.buf, p.tmp)
	return nil
}

// Unmerge restores θ0 exactly.
func (in *Intrinsic) Unmerge(m *model.Model) error {
	if len(in.saved) != len(m.Params.Data) {
		return fmt.Errorf("intrinsic: not merged")
	}
	copy(m.Params.Data, in.saved)
	in.saved = in.saved[:0]
	return nil
}

// intrinsicPass holds one pass's weights θ0 + P z, their gradient and the
// transform's scratch.
type intrinsicPass struct {
	in       *Intrinsic
	w, g     *model.Params
	buf, tmp []float32 // (L)
	at       []float32 // z when w was last written (nil: never)
}

func (in *Intrinsic) newScratch() *intrinsicPass {
	return &intrinsicPass{in: in, buf: make([]float32, in.P.L), tmp: make([]float32, in.P.L)}
}

// NewPass gives the pass its own weights and weight gradient (rows does not matter).
func (in *Intrinsic) NewPass(int) *model.Pass {
	p := in.newScratch()
	p.w, p.g = model.NewParams(in.m.Config), model.NewParams(in.m.Config)
	return &model.Pass{Weights: p.w, WeightGrads: p.g, Begin: p.begin, End: p.end}
}

// begin writes θ0 + P z into the pass's weights, unless z has not changed
// since they were written (evaluation's passes reuse them).
func (p *intrinsicPass) begin(*model.Ctx) {
	z := p.in.z
	if p.at != nil && sameBits(p.at, z) {
		return
	}
	p.in.P.Apply(p.w.Data, p.in.m.Params.Data, z, p.buf, p.tmp)
	p.at = append(p.at[:0], z...)
}

// end accumulates dL/dz += Pᵀ dL/dθ.
func (p *intrinsicPass) end(ctx *model.Ctx) {
	p.in.P.ApplyT(ctx.Grads, p.g.Data, p.buf, p.tmp)
}

func sameBits(a, b []float32) bool {
	for i, v := range a {
		if math.Float32bits(v) != math.Float32bits(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}
