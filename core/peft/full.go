// Full fine-tuning and the frozen base: the two ends every method is measured between.

package peft

import "golora/core/model"

// Full trains every base weight and adds nothing: the baseline the paper
// measures LoRA against. Its gradients are the base's own (model.Trainable).
type Full struct{}

// Name is "full".
func (Full) Name() string { return "full" }

// Params is empty: Full has no parameters of its own.
func (Full) Params() []float32 { return nil }

// Grads is empty too.
func (Full) Grads() []float32 { return nil }

// TrainsBase is true for every base tensor.
func (Full) TrainsBase(string) bool { return true }

// NewPass has no hooks: every layer runs plainly.
func (Full) NewPass(int) *model.Pass { return &model.Pass{} }

// Frozen trains nothing: the base model's own score, for reference.
type Frozen struct{}

// Name is "frozen".
func (Frozen) Name() string { return "frozen" }

// Params is empty.
func (Frozen) Params() []float32 { return nil }

// Grads is empty.
func (Frozen) Grads() []float32 { return nil }

// TrainsBase is false for every base tensor.
func (Frozen) TrainsBase(string) bool { return false }

// NewPass has no hooks.
func (Frozen) NewPass(int) *model.Pass { return &model.Pass{} }
