// Package peft holds golora's fine-tuning methods, one type per file, each
// with its config, its hand-written forward and backward side by side, and
// how it attaches to a model: Hugging Face PEFT's tuners/<method>/{config,
// layer, model}.py in Go's terms, one file with three sections.
//
// A method acts on the model only at the places core/model offers (see
// model.Method): a linear layer's weight or output, and which base weights
// train. The model's Forward and Backward call those places in order and do
// no method's work of their own; this package imports core/model, never the
// other way round, and core/train imports both.
//
// Every method's trainable parameters are one flat buffer (Params and Grads
// of the same layout); a run's optimizer, clipping, parts of a step and
// snapshots see the model's Trainable vector, which joins them to the base
// weights a method trains. Frozen weights have no gradient and no optimizer
// state, and their weight-gradient products are skipped.
//
// The methods: lora.go (LoRA), dora.go (DoRA: LoRA's direction with a
// learned magnitude per output row), ia3.go ((IA)³: learned scales of the
// keys, values and MLP activation), bitfit.go (the RMSNorm gains and added
// biases), top.go (the last k blocks), full.go (full fine-tuning, and frozen:
// the base as it is). method.go names each method's tensors.
package peft
