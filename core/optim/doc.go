// Package optim holds the optimiser that updates golora's trainable
// parameters: AdamW over flat float32 slices, the learning-rate schedule
// (linear warmup then cosine decay) and global-norm gradient clipping.
//
// Everything works on flat slices so that LoRA's A/B matrices and a full
// model's weights go through the same code; the optimizer state (two moments
// per trainable parameter) is allocated only for what is trained, which is
// where LoRA's memory saving comes from.
package optim
