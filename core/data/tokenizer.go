// This file holds the Tokenizer interface and ByteTokenizer, the byte-level
// tokenizer of golora's own models.
//
// Why bytes and not BPE: the cipher task substitutes letters one by one. A
// BPE vocabulary merges letters into tokens ("the" is one token, "thx" three),
// so a tiny model would have to learn the substitution separately for every
// token that contains a substituted letter, and a token's spelling is hidden
// from it. With bytes every letter is its own token and the task is a
// per-position lookup. The price is longer sequences (one token per byte, so a
// 128-token context holds 126 bytes of prompt and completion) and a model that
// spends capacity on spelling. Bytes also need no unknown token: any UTF-8 text
// (indeed any byte string) round-trips exactly, which is what "characters
// with byte fallback" gives, without a character vocabulary to ship.
// llama2.c checkpoints bring their own BPE tokenizer (bpe*.go), behind the
// same interface.

package data

// Tokenizer maps text to token ids and back.
type Tokenizer interface {
	// Encode returns the ids of text, without BOS or End; it never drops
	// anything.
	Encode(text string) []int
	// Decode is the inverse of Encode on valid UTF-8; special tokens decode
	// to "". Decoding more tokens only appends: Decode(ids[:k]) is a prefix
	// of Decode(ids) (evaluation stops a row whose text already differs).
	Decode(ids []int) string
	// VocabSize is the number of ids: every id is in [0, VocabSize).
	VocabSize() int
	// BOS begins every sequence.
	BOS() int
	// End ends a completion: generation stops when it is produced.
	End() int
	// Name identifies the tokenizer in checkpoints and logs.
	Name() string
}

// Ids of ByteTokenizer: two special tokens, then the 256 byte values.
const (
	ByteBOS       = 0   // "<s>", begins every sequence
	ByteEOS       = 1   // "</s>", ends a completion (End)
	byteOffset    = 2   // id of byte 0x00
	ByteVocabSize = 258 // 2 specials + 256 bytes
)

// ByteTokenizer is golora's own byte-level tokenizer: id 0 is BOS "<s>", 1 is
// EOS "</s>" (End), and ids 2..257 are the bytes 0x00..0xFF. It has no state.
type ByteTokenizer struct{}

// NewByteTokenizer returns the byte-level tokenizer.
func NewByteTokenizer() *ByteTokenizer { return &ByteTokenizer{} }

// Encode returns one id per byte of text (UTF-8 characters are their bytes).
func (*ByteTokenizer) Encode(text string) []int {
	ids := make([]int, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int(text[i]) + byteOffset
	}
	return ids
}

// Decode returns the bytes of ids. BOS, EOS and ids outside the vocabulary
// decode to "" (a sampled model never produces the latter; skipping them
// keeps Decode total).
func (*ByteTokenizer) Decode(ids []int) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= byteOffset && id < ByteVocabSize {
			b = append(b, byte(id-byteOffset))
		}
	}
	return string(b)
}

// VocabSize is 258.
func (*ByteTokenizer) VocabSize() int { return ByteVocabSize }

// BOS is id 0.
func (*ByteTokenizer) BOS() int { return ByteBOS }

// End is EOS, id 1.
func (*ByteTokenizer) End() int { return ByteEOS }

// Name is "byte".
func (*ByteTokenizer) Name() string { return "byte" }
