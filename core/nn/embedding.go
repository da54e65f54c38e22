// This file holds the token embedding: a table lookup forward, a scatter-add backward.

package nn

import "fmt"

// EmbeddingForward copies row ids[i] of table (V, C) into row i of out (N, C).
func EmbeddingForward(out, table []float32, ids []int, n, c int) {
	checkLen("EmbeddingForward out", out, n*c)
	checkInts("EmbeddingForward ids", ids, n)
	for i, id := range ids[:n] {
		if id < 0 || (id+1)*c > len(table) {
			panic(fmt.Sprintf("nn: EmbeddingForward: token id %d at row %d is outside a table of %d rows", id, i, len(table)/max(c, 1)))
		}
		copy(out[i*c:(i+1)*c], table[id*c:(id+1)*c])
	}
}

// EmbeddingBackward accumulates dtable (V, C) += dout (N, C) scattered by ids:
// row i of dout adds into row ids[i] of dtable (a token seen twice gets both).
func EmbeddingBackward(dtable, dout []float32, ids []int, n, c int) {
	checkLen("EmbeddingBackward dout", dout, n*c)
	checkInts("EmbeddingBackward ids", ids, n)
	for i, id := range ids[:n] {
		if id < 0 || (id+1)*c > len(dtable) {
			panic(fmt.Sprintf("nn: EmbeddingBackward: token id %d at row %d is outside a table of %d rows", id, i, len(dtable)/max(c, 1)))
		}
		// forward: out[i] = table[ids[i]]
		drow := dtable[id*c : (id+1)*c]
		for j, d := range dout[i*c : (i+1)*c] {
			drow[j] += d
		}
	}
}
