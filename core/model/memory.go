// The memory a model's working buffers take, computed from the same sizes as NewActs and NewDecoder allocate, so
// that a caller with a budget (the browser page's workers) can refuse a run before allocating it.
package model

// ActsBytes is what NewActs(maxB, maxT) allocates on m as it stands (with the leading positions of its attached
// methods), in bytes, besides the attached methods' own scratch. For a large vocabulary the three (N, V) buffers
// (logits, probabilities and their gradient, N = maxB·maxT) are most of it.
func (m *Model) ActsBytes(maxB, maxT int) int64 {
	c := m.Config
	T, TK := maxT+m.lead.rows, maxT+m.lead.rows+m.lead.kv
	N, C, KVD, H, V := int64(maxB*maxT), int64(c.Dim), int64(c.KVDim()), int64(c.HiddenDim), int64(c.VocabSize)
	NT, NK := int64(maxB*T), int64(maxB*TK)
	att := int64(maxB*c.NHeads) * int64(T) * int64(TK)
	ints := 3 * N         // inputs, targets, rows
	floats := N + 2*N*C + // mask, lnS, dlnS
		2*NT*C + NT + 2*N*V + N + // X0, LnF, RstdF, Logits, Probs, Losses
		5*NT*C + NK*KVD + NT*KVD + NK*KVD + att + // dres, dln, dattY, dq, dqPre, dk, dkPre, dv, datt
		3*NT*H + N*V + N // dg, du, dh, dlogits, dlosses
	perLayer := NT*C + NT + NT*C + 2*NK*KVD + att + 3*NT*C + NT + 4*NT*H + NT*C // Ln1, Rstd1, Q, K, V, Att, AttY, XMid, Ln2, Rstd2, G, U, Sig, Hd, XOut
	floats += int64(c.NLayers) * perLayer
	return 8*ints + 4*floats
}

// DecoderBytes is what NewDecoder(b) allocates on m, in bytes, besides the attached methods' own scratch: the key
// and value caches of b rows over the whole context, and the scratch of a prefill chunk.
func (m *Model) DecoderBytes(b int) int64 {
	c := m.Config
	rows, C, H := int64(b*prefillChunk), int64(c.Dim), int64(c.HiddenDim)
	floats := 5*rows*C + 2*rows*H + int64(c.SeqLen) + rows + int64(b+1)*int64(c.VocabSize) +
		2*int64(c.NLayers)*int64(b)*int64(c.SeqLen)*int64(c.KVDim())
	return 8*rows + 4*floats
}
