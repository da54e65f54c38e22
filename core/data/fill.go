// FillBatch lays given sequences out as one batch, in order (evaluation uses it).
package data

// FillBatch makes dst a batch of exactly seqs, in order: row r is seqs[r],
// padded to the longest; targets and mask as Batcher.Next writes them.
func FillBatch(dst *Batch, seqs []Sequence) {
	T := 1
	for _, s := range seqs {
		T = max(T, len(s.Tokens)-1)
	}
	dst.resize(len(seqs), T)
	for row, s := range seqs {
		in := dst.Inputs[row*T : (row+1)*T]
		tg := dst.Targets[row*T : (row+1)*T]
		mk := dst.Mask[row*T : (row+1)*T]
		for t := range T {
			in[t], tg[t], mk[t] = 0, -1, 0
			if t+1 < len(s.Tokens) {
				in[t] = s.Tokens[t]
				if t+1 >= s.PromptLen {
					tg[t], mk[t] = s.Tokens[t+1], 1
				}
			}
		}
	}
}
