// Package nn holds golora's layer kernels, each a forward/backward pair in the
// style of llm.c's train_gpt2.c: one file per layer, forward and backward side
// by side, arguments ordered outputs, inputs, sizes.
//
// Shape legend (used in every comment of this package):
//
//	B    batch size
//	T    time: sequence length
//	N    rows = B*T (one row per token)
//	C    channels: the model dimension
//	V    vocabulary size
//	NH   query heads
//	NKV  key/value heads (grouped-query attention: NH is a multiple of NKV)
//	HS   head size (C = NH*HS for the queries)
//	H    hidden dimension of the MLP
//
// Conventions:
//   - Every tensor is a flat, row-major []float32; activations are (N, C) =
//     (B, T, C), so token t of sequence b is row b*T+t.
//   - Forward overwrites its outputs. Backward ACCUMULATES (+=) into the
//     gradients of its inputs and parameters and never zeroes them: the caller
//     zeroes all gradients once per step, so a tensor read by two layers (the
//     residual stream) collects both contributions. The exceptions are
//     documented where they occur (scratch buffers, MaskedMeanBackward).
//   - A slice may be longer than its shape says (callers size buffers for the
//     largest batch); kernels read and write only the prefix the sizes give.
//   - Kernels do not allocate: anything they need beyond their inputs and
//     outputs (the attention probabilities, the rstd of RMSNorm, the softmax
//     of the cross-entropy) is saved or scratch space passed by the caller.
//   - Transcendental functions go through golora/core/mathf, never the
//     standard library's math.Exp or math.Log, so a default build (GOAMD64=v1,
//     which never fuses multiply-adds, or wasm) gives bit-identical results
//     natively and in the browser. Every sum runs on one goroutine in a fixed
//     order: kernels whose rows are independent spread whole rows over
//     goroutines (forRows), never one row's sum, so results do not depend
//     on GOMAXPROCS.
//   - Kernels panic with an "nn: " message on programmer errors (a slice too
//     short for its shape, an inconsistent head count, a token id outside the
//     table); they never return errors.
package nn

import "fmt"

// checkLen panics unless s holds at least want elements.
func checkLen(what string, s []float32, want int) {
	if len(s) < want {
		panic(fmt.Sprintf("nn: %s has length %d, its shape needs %d", what, len(s), want))
	}
}

// checkInts is checkLen for index slices (token ids, targets).
func checkInts(what string, s []int, want int) {
	if len(s) < want {
		panic(fmt.Sprintf("nn: %s has length %d, its shape needs %d", what, len(s), want))
	}
}
