// PiSSA (Meng et al. 2024, "Principal Singular values and Singular vectors
// Adaptation"): LoRA whose A and B start from the top r singular triplets of
// the weight they adapt, with the rest of the weight, the residual, frozen in
// its place. As PEFT's init_lora_weights="pissa" does:
//
//	W0 = U S Vᵀ (thin SVD),  A = sqrt(S_r / s) · V_rᵀ (R, In),  B = U_r · sqrt(S_r / s) (Out, R),
//	W_res = W0 - s·B·A,
//
// with s LoRA's scaling, so that s·B·A = U_r S_r V_rᵀ and the model starts
// at W_res + s·B·A = W0 up to float rounding (not bit for bit: the residual
// is rounded to float32). Training is LoRA's, on the principal directions
// instead of from B = 0.
//
// The residual is what the layer's base weight holds from then on, so the
// adapter alone fits only that residual base. To share it, ΔW = s·B·A -
// s·B0·A0 (B0, A0 the initial factors) is a plain LoRA of rank 2r on W0:
// A' = [A; A0], B' = [B, -B0], with lora_alpha doubled (times sqrt 2 with
// rsLoRA) to keep the scaling: PEFT's path_initial_model_for_weight_conversion
// (ToLoRA).

package peft

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"golora/core/model"
)

// InitPiSSA is PEFT's init_lora_weights "pissa": A and B from W0's SVD, the residual frozen.
const InitPiSSA LoRAInit = "pissa"

// PiSSAFactors returns the initial A (R, In) and B (Out, R) of an adapter of
// rank r and scaling s on w (Out, In): the top r singular triplets of w, each
// singular value split as sqrt(σ/s) on both sides. The SVD runs in float64
// (gonum); an error if it does not converge or w is not finite.
func PiSSAFactors(w []float32, out, in, r int, s float32) (a, b []float32, err error) {
	if len(w) != out*in || r < 1 || r > min(out, in) || !(s > 0) {
		return nil, nil, fmt.Errorf("pissa: rank %d of a %d x %d weight of %d values, scaling %g", r, out, in, len(w), s)
	}
	w64 := make([]float64, len(w))
	for i, v := range w {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("pissa: the weight holds %g at %d", v, i)
		}
		w64[i] = float64(v)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(out, in, w64), mat.SVDThin) {
		return nil, nil, fmt.Errorf("pissa: the SVD of a %d x %d weight did not converge", out, in)
	}
	sv := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	a, b = make([]float32, r*in), make([]float32, out*r)
	for k := range r {
		root := math.Sqrt(sv[k] / float64(s))
		for j := range in {
			a[k*in+j] = float32(root * v.At(j, k))
		}
		for o := range out {
			b[o*r+k] = float32(u.At(o, k) * root)
		}
	}
	return a, b, nil
}

// AddPiSSA attaches LoRA adapters to cfg.Targets in every layer of m,
// initialised by PiSSA, and replaces each adapted weight of m by its residual
// W0 - s·B·A (the bits Unmerge leaves). cfg.Init is set to InitPiSSA. On an
// error m is unchanged.
func AddPiSSA(m *model.Model, cfg LoRAConfig) (*LoRA, error) {
	cfg.Init = InitPiSSA
	shapes, err := loraShapes(m, cfg)
	if err != nil {
		return nil, err
	}
	l, err := NewLoRA(cfg, shapes, nil)
	if err != nil {
		return nil, err
	}
	for _, ad := range l.Adapters {
		w := m.Params.Layers[ad.Layer].Weight(ad.Target)
		a, b, err := PiSSAFactors(w, ad.Out, ad.In, ad.Rank, ad.Scaling)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ad.Module, err)
		}
		copy(ad.A, a)
		copy(ad.B, b)
	}
	if err := m.Attach(l); err != nil {
		return nil, err
	}
	for _, ad := range l.Adapters {
		ad.Unmerge(m.Params.Layers[ad.Layer].Weight(ad.Target))
	}
	return l, nil
}

// ToLoRA rewrites a PiSSA adapter as the plain LoRA of rank 2r on the
// original weights W0 that gives the same model: A' = [A; A0] (2R, In),
// B' = [B, -B0] (Out, 2R), alpha' = 2·alpha (sqrt(2)·alpha with rsLoRA), so
// W0 + s'·B'·A' = W_res + s·B·A. init holds the adapters' initial values,
// laid out as l.Params(). The result is detached (attach it to a copy of the
// original base to use it).
func (l *LoRA) ToLoRA(init []float32) (*LoRA, error) {
	if len(init) != len(l.params) {
		return nil, fmt.Errorf("pissa: %d initial values for an adapter of %d", len(init), len(l.params))
	}
	cfg := l.LoRAConfig
	cfg.Rank *= 2
	cfg.Alpha *= 2
	if cfg.RSLoRA {
		cfg.Alpha = l.Alpha * float32(math.Sqrt2)
	}
	cfg.Init = InitKaiming
	var shapes []Shape
	for _, a := range l.Adapters {
		shapes = append(shapes, Shape{Module: a.Module, Layer: a.Layer, Target: a.Target, In: a.In, Out: a.Out})
	}
	out, err := NewLoRA(cfg, shapes, nil)
	if err != nil {
		return nil, fmt.Errorf("pissa: as a plain LoRA of rank %d: %w", cfg.Rank, err)
	}
	for i, a := range l.Adapters {
		o := out.Adapters[i]
		R, R2 := a.Rank, o.Rank
		a0 := init[a.Off : a.Off+len(a.A)]
		b0 := init[a.Off+len(a.A) : a.Off+len(a.A)+len(a.B)]
		copy(o.A, a.A)
		copy(o.A[len(a.A):], a0)
		for r := range a.Out {
			copy(o.B[r*R2:r*R2+R], a.B[r*R:(r+1)*R])
			for k, v := range b0[r*R : (r+1)*R] {
				o.B[r*R2+R+k] = -v
			}
		}
	}
	return out, nil
}
