// AdamW with bias correction and decoupled weight decay, as torch.optim.AdamW computes it.
package optim

import (
	"fmt"

	"golora/core/mathf"
)

// AdamW is Adam with decoupled weight decay (Loshchilov and Hutter, 2019).
// Defaults follow torch.optim.AdamW except WeightDecay (0, the LoRA recipes' usual choice).
type AdamW struct {
	Beta1       float32 // first-moment decay (0.9)
	Beta2       float32 // second-moment decay (0.999)
	Eps         float32 // added to the denominator (1e-8)
	WeightDecay float32 // decoupled: p -= lr*wd*p before the Adam update

	m, v       []float32 // moments (len(params))
	noDecay    []bool    // parameters exempt from weight decay (nil: none)
	lrScale    []float32 // per parameter: its learning rate over the step's (nil: 1 for all)
	step       int       // updates taken so far
	pow1, pow2 float64   // Beta1^step and Beta2^step, tracked by multiplication (same on every platform)
}

// NewAdamW returns an optimizer for n parameters with torch's default betas and eps.
func NewAdamW(n int, weightDecay float32) *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay,
		m: make([]float32, n), v: make([]float32, n), pow1: 1, pow2: 1}
}

// SkipDecay exempts the parameters in [lo, hi) of each span from weight decay,
// as nanoGPT exempts norm gains: decaying an RMSNorm weight toward zero only
// shrinks the activations that the next layer must then scale back up.
func (o *AdamW) SkipDecay(spans ...[2]int) {
	if o.noDecay == nil {
		o.noDecay = make([]bool, len(o.m))
	}
	for _, sp := range spans {
		if sp[0] < 0 || sp[1] > len(o.m) || sp[0] > sp[1] {
			panic(fmt.Sprintf("optim: SkipDecay span %v outside 0..%d", sp, len(o.m)))
		}
		for i := sp[0]; i < sp[1]; i++ {
			o.noDecay[i] = true
		}
	}
}

// ScaleLR gives the parameters in [lo, hi) of each span a learning rate of
// scale times the step's (LoRA+ trains lora_B at ratio x lora_A's rate, as
// torch does with a second parameter group): their update and their decoupled
// weight decay both use it.
func (o *AdamW) ScaleLR(scale float32, spans ...[2]int) {
	if !(scale > 0) {
		panic(fmt.Sprintf("optim: ScaleLR by %g", scale))
	}
	if o.lrScale == nil {
		o.lrScale = make([]float32, len(o.m))
		for i := range o.lrScale {
			o.lrScale[i] = 1
		}
	}
	for _, sp := range spans {
		if sp[0] < 0 || sp[1] > len(o.m) || sp[0] > sp[1] {
			panic(fmt.Sprintf("optim: ScaleLR span %v outside 0..%d", sp, len(o.m)))
		}
		for i := sp[0]; i < sp[1]; i++ {
			o.lrScale[i] = scale
		}
	}
}

// Len is the number of parameters the optimizer holds state for.
func (o *AdamW) Len() int { return len(o.m) }

// StateBytes is the memory held by the optimizer's moments.
func (o *AdamW) StateBytes() int64 { return int64(len(o.m)+len(o.v)) * 4 }

// Steps is the number of updates taken.
func (o *AdamW) Steps() int { return o.step }

// State is everything an AdamW carries from one update to the next, for
// saving a run and resuming it bit for bit.
type State struct {
	M, V       []float32
	Step       int
	Pow1, Pow2 float64
}

// State returns the optimizer's state (the moments are its own slices: copy
// them before the next Step if they must be kept).
func (o *AdamW) State() State { return State{M: o.m, V: o.v, Step: o.step, Pow1: o.pow1, Pow2: o.pow2} }

// SetState makes st the optimizer's state (the moments are copied).
func (o *AdamW) SetState(st State) error {
	if len(st.M) != len(o.m) || len(st.V) != len(o.v) {
		return fmt.Errorf("optim: AdamW holds %d parameters, the state has %d and %d moments", len(o.m), len(st.M), len(st.V))
	}
	if st.Step < 0 {
		return fmt.Errorf("optim: AdamW state at step %d", st.Step)
	}
	copy(o.m, st.M)
	copy(o.v, st.V)
	o.step, o.pow1, o.pow2 = st.Step, st.Pow1, st.Pow2
	return nil
}

// Step applies one update with learning rate lr to params from grads.
// It panics if the slices do not match the optimizer's size.
func (o *AdamW) Step(params, grads []float32, lr float32) {
	o.StepParts([][]float32{params}, grads, lr)
}

// StepParts is Step for parameters that lie in several slices, taken in
// order as one vector (a run that trains some base tensors and a method's
// own parameters): element for element the same update as Step.
func (o *AdamW) StepParts(params [][]float32, grads []float32, lr float32) {
	n := 0
	for _, p := range params {
		n += len(p)
	}
	if n != len(o.m) || len(grads) != len(o.m) {
		panic(fmt.Sprintf("optim: AdamW holds %d parameters, got params %d grads %d", len(o.m), n, len(grads)))
	}
	o.step++
	o.pow1 *= float64(o.Beta1)
	o.pow2 *= float64(o.Beta2)
	// torch: denom = sqrt(v)/sqrt(1-b2^t) + eps; p -= lr/(1-b1^t) * m/denom.
	bc2Sqrt := float32(mathf.Sqrt64(1 - o.pow2))
	stepSize := float32(float64(lr) / (1 - o.pow1))
	decay := 1 - lr*o.WeightDecay
	b1, b2 := o.Beta1, o.Beta2
	off := 0
	for _, part := range params {
		for j, p := range part {
			i := off + j
			g := grads[i]
			step, dec := stepSize, decay
			if o.lrScale != nil && o.lrScale[i] != 1 {
				lri := lr * o.lrScale[i]
				step, dec = float32(float64(lri)/(1-o.pow1)), 1-lri*o.WeightDecay
			}
			if o.noDecay == nil || !o.noDecay[i] {
				p *= dec
			}
			m := b1*o.m[i] + (1-b1)*g
			v := b2*o.v[i] + (1-b2)*(g*g)
			o.m[i], o.v[i] = m, v
			denom := mathf.Sqrt(v)/bc2Sqrt + o.Eps
			part[j] = p - step*(m/denom)
		}
		off += len(part)
	}
}
