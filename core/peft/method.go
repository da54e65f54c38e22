// What every method offers a run beyond the model's places: its tensors by name.

package peft

import "golora/core/model"

// Method is a fine-tuning method as a run sees it: the model's places, and
// its own parameters by name, for files, messages and fixtures.
type Method interface {
	model.Method
	// Tensors lists the method's own parameters in Params order, named as
	// PEFT names them where PEFT has the method (<module>.lora_A, ...), each
	// a span of Params() (and of Grads(), laid out the same way).
	Tensors() []Tensor
}

// Tensor names a span of a method's flat parameters.
type Tensor struct {
	Name  string
	Shape []int
	Off   int // where it starts in Params()
}

// Len is the number of values.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// View is the tensor's span of buf (Params(), Grads(), or a buffer laid out as they are).
func (t Tensor) View(buf []float32) []float32 {
	n := t.Len()
	return buf[t.Off : t.Off+n : t.Off+n]
}

// Tensors names every A and B: <module>.lora_A (R, In) and <module>.lora_B (Out, R).
func (s *LoRA) Tensors() []Tensor {
	var ts []Tensor
	for _, a := range s.Adapters {
		ts = append(ts, Tensor{a.Module + ".lora_A", []int{a.Rank, a.In}, a.Off},
			Tensor{a.Module + ".lora_B", []int{a.Out, a.Rank}, a.Off + a.Rank*a.In})
	}
	return ts
}

// Tensors names LoRA's tensors, then each <module>.lora_magnitude_vector (Out).
func (d *DoRA) Tensors() []Tensor {
	ts := d.LoRA.Tensors()
	for i, a := range d.Adapters {
		ts = append(ts, Tensor{a.Module + ".lora_magnitude_vector", []int{a.Out}, d.magOff[i]})
	}
	return ts
}

// Tensors names each added bias, <module>.bias (Out).
func (bf *BitFit) Tensors() []Tensor {
	var ts []Tensor
	for _, b := range bf.Biases {
		ts = append(ts, Tensor{b.Module + ".bias", []int{len(b.B)}, b.off})
	}
	return ts
}

// Tensors names each vector, <module>.ia3_l (PEFT's name; In for down_proj, else Out).
func (ia *IA3) Tensors() []Tensor {
	var ts []Tensor
	for _, s := range ia.Scales {
		ts = append(ts, Tensor{s.Module + ".ia3_l", []int{len(s.L)}, s.off})
	}
	return ts
}

// Tensors is empty: Top trains base weights only.
func (*Top) Tensors() []Tensor { return nil }

// Tensors is empty: Full trains base weights only.
func (Full) Tensors() []Tensor { return nil }

// Tensors is empty: Frozen trains nothing.
func (Frozen) Tensors() []Tensor { return nil }
