// The learning-rate schedule and gradient clipping.
package optim

import "golora/core/mathf"

// Schedule is linear warmup from 0 to Max over Warmup steps, then cosine decay
// to Min at Total steps (nanoGPT's get_lr). Steps count from 0.
type Schedule struct {
	Max, Min      float32
	Warmup, Total int
}

// At returns the learning rate for step (0-based).
func (s Schedule) At(step int) float32 {
	if step < s.Warmup {
		return s.Max * float32(step+1) / float32(s.Warmup+1)
	}
	if step >= s.Total {
		return s.Min
	}
	span := s.Total - s.Warmup
	if span <= 0 {
		return s.Max
	}
	ratio := float64(step-s.Warmup) / float64(span)
	coeff := 0.5 * (1 + mathf.Cos64(mathf.Pi*ratio))
	return s.Min + float32(coeff)*(s.Max-s.Min)
}

// GlobalNorm returns the L2 norm of all gradients together (summed in float64).
func GlobalNorm(grads ...[]float32) float64 {
	var sum float64
	for _, g := range grads {
		for _, x := range g {
			sum += float64(x) * float64(x)
		}
	}
	return mathf.Sqrt64(sum)
}

// ClipGlobalNorm scales grads so that their global norm is at most maxNorm
// (as torch.nn.utils.clip_grad_norm_ does) and returns the norm before clipping.
// maxNorm <= 0 disables clipping.
func ClipGlobalNorm(maxNorm float32, grads ...[]float32) float64 {
	norm := GlobalNorm(grads...)
	if maxNorm <= 0 || norm <= float64(maxNorm) || norm != norm {
		return norm
	}
	scale := float32(float64(maxNorm) / (norm + 1e-6))
	for _, g := range grads {
		for i := range g {
			g[i] *= scale
		}
	}
	return norm
}
