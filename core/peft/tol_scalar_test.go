//go:build !goexperiment.simd

package peft

// decoderTol: in the default build the KV-cache decoder sums every product
// in the order the training forward does, so its logits are the same bits.
const decoderTol = 0.0
