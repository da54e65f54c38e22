// FillBatch lays given sequences out as one batch, in order (evaluation uses it).
package data

// FillBatch makes dst a batch of exactly seqs, in order: row r is seqs[r],
// padded to the longest; targets and mask as Batcher.Next writes them.
func FillBatch(dst *Batch, seqs []Sequence) { layout(dst, seqs) }
