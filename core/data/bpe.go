// This file holds BPE, llama2.c's tokenizer: the tokenizer.bin reader and
// encode/decode exactly as llama2.c's run.c does them.
//
// tokenizer.bin, little-endian: int32 max_token_length, then for each of the
// vocab_size tokens: float32 score, int32 length, length bytes. Ids 0, 1, 2 are
// <unk>, BOS and EOS; 3..258 are the byte tokens "<0x00>".."<0xFF>"; the rest
// are merges, scored by -rank. The file does not store vocab_size: the model's
// header gives it.

package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// llama2.c's special ids (sentencepiece's Llama layout).
const (
	BPEUnk      = 0 // "<unk>"
	BPEBOS      = 1 // "\n<s>\n": begins a sequence; run.c also stops generating at it
	BPEEOS      = 2 // "\n</s>\n": never learned by stories260K (SOURCES.md), so not End
	bpeByteBase = 3 // id of byte token "<0x00>"; byte b is id b + 3
)

// BPE is a llama2.c tokenizer read from tokenizer.bin. It implements Tokenizer
// with BOS() = End() = 1: llama2.c models delimit sequences with BOS and stop
// generating when they produce it; they never learned EOS.
type BPE struct {
	name   string
	pieces []string       // id -> piece text ("<0x41>" for byte tokens)
	scores []float32      // id -> merge score (higher merges first)
	lookup map[string]int // piece -> id (lowest id when a piece repeats)
	space  int            // id of " ", run.c's dummy prefix
	maxLen int            // max_token_length from the file
}

// Limits on tokenizer.bin values, far above real files (tok512: 512 tokens of at
// most 7 bytes; Llama 2: 32000 tokens of at most 48 bytes).
const (
	bpeMaxVocab    = 1 << 20
	bpeMaxTokenLen = 1 << 16
)

// ReadBPE reads a llama2.c tokenizer.bin holding exactly vocabSize tokens (the
// model's vocab_size). It checks what run.c silently relies on: ids 3..258 are
// the byte tokens <0x00>..<0xFF> (byte fallback), " " is a token (dummy prefix),
// no piece is longer than max_token_length or holds a NUL byte. name is the file
// name used in errors and in Name().
func ReadBPE(r io.Reader, name string, vocabSize int) (*BPE, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer %s: "+format, append([]any{name}, args...)...)
	}
	if vocabSize < bpeByteBase+256 || vocabSize > bpeMaxVocab {
		return nil, fail("vocab size %d is outside [%d, %d] (3 specials and 256 byte tokens come first)", vocabSize, bpeByteBase+256, bpeMaxVocab)
	}
	var word [8]byte
	readFull := func(b []byte, what string, id int) error {
		if _, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if id < 0 {
					return fail("truncated in %s", what)
				}
				return fail("truncated in %s of token %d: the file holds fewer than the model's %d tokens", what, id, vocabSize)
			}
			return fail("%w", err)
		}
		return nil
	}
	if err := readFull(word[:4], "max_token_length", -1); err != nil {
		return nil, err
	}
	maxLen := int(int32(binary.LittleEndian.Uint32(word[:4])))
	if maxLen < 1 || maxLen > bpeMaxTokenLen {
		return nil, fail("max_token_length %d is outside [1, %d]", maxLen, bpeMaxTokenLen)
	}
	t := &BPE{
		name:   name,
		pieces: make([]string, 0, min(vocabSize, 1<<16)), // grown as read: vocabSize is not yet trusted
		scores: make([]float32, 0, min(vocabSize, 1<<16)),
		lookup: make(map[string]int, min(vocabSize, 1<<16)),
		space:  -1,
		maxLen: maxLen,
	}
	for id := range vocabSize {
		if err := readFull(word[:8], "score and length", id); err != nil {
			return nil, err
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(word[:4]))
		n := int(int32(binary.LittleEndian.Uint32(word[4:8])))
		if n < 0 || n > maxLen {
			return nil, fail("token %d: length %d is outside [0, max_token_length %d]", id, n, maxLen)
		}
		b := make([]byte, n)
		if err := readFull(b, "bytes", id); err != nil {
			return nil, err
		}
		piece := string(b)
		if strings.IndexByte(piece, 0) >= 0 {
			return nil, fail("token %d: piece %q holds a NUL byte (run.c would truncate it)", id, piece)
		}
		t.pieces = append(t.pieces, piece)
		t.scores = append(t.scores, score)
		if _, dup := t.lookup[piece]; !dup {
			t.lookup[piece] = id
		}
	}
	if n, _ := io.ReadFull(r, word[:1]); n != 0 {
		return nil, fail("more than the model's %d tokens in the file (vocab size mismatch)", vocabSize)
	}
	for b := range 256 {
		if want := fmt.Sprintf("<0x%02X>", b); t.pieces[bpeByteBase+b] != want {
			return nil, fail("token %d is %q, want byte token %q (byte fallback uses id = byte + 3)", bpeByteBase+b, t.pieces[bpeByteBase+b], want)
		}
	}
	space, ok := t.lookup[" "]
	if !ok {
		return nil, fail(`no " " token, which encoding prepends to every text`)
	}
	t.space = space
	return t, nil
}

// EncodeRun encodes text exactly as run.c's encode does: optional BOS; a dummy
// prefix " " when text is non-empty; each UTF-8 code point (a lead byte and at
// most 3 continuation bytes, as run.c groups raw bytes) looked up as a piece, or
// else its bytes as byte tokens (id = byte + 3); then repeatedly merging the
// adjacent pair whose concatenated pieces form the highest-scoring token (the
// leftmost on ties, scores must beat -1e10); optional EOS (2).
//
// Two choices where run.c has undefined behaviour: a NUL byte (where a C string
// would end) is encoded like any other byte, as <0x00>; a piece that occurs
// twice in the vocabulary resolves to its lowest id (run.c's bsearch may pick
// either).
func (t *BPE) EncodeRun(text string, bos, eos bool) []int {
	ids := make([]int, 0, len(text)+3)
	if bos {
		ids = append(ids, BPEBOS)
	}
	if text != "" {
		ids = append(ids, t.space)
	}
	for i := 0; i < len(text); {
		// A code point as run.c reads it: this byte plus following continuation
		// bytes (10xxxxxx), four bytes at most.
		j := i + 1
		for j < len(text) && text[j]&0xC0 == 0x80 && j-i < 4 {
			j++
		}
		if id, ok := t.lookup[text[i:j]]; ok {
			ids = append(ids, id)
		} else {
			for k := i; k < j; k++ {
				ids = append(ids, int(text[k])+bpeByteBase)
			}
		}
		i = j
	}
	start := 0
	if bos {
		start = 1
	}
	ids = ids[:start+t.merge(ids[start:])]
	if eos {
		ids = append(ids, BPEEOS)
	}
	return ids
}

// merge runs run.c's merge loop over ids in place and returns the new length.
// Each round picks the pair with the highest score (leftmost on ties) among
// all adjacent pairs, as run.c does; pair results are cached and only the two
// pairs next to a merge are looked up again, which changes the cost, not the
// result.
func (t *BPE) merge(ids []int) int {
	n := len(ids)
	if n < 2 {
		return n
	}
	pair := make([]int, n-1) // pair[i]: id of pieces[ids[i]]+pieces[ids[i+1]], or -1
	look := func(i int) int {
		if id, ok := t.lookup[t.pieces[ids[i]]+t.pieces[ids[i+1]]]; ok {
			return id
		}
		return -1
	}
	for i := range pair {
		pair[i] = look(i)
	}
	for n > 1 {
		best, bestScore := -1, float32(-1e10)
		for i := 0; i < n-1; i++ {
			if id := pair[i]; id != -1 && t.scores[id] > bestScore {
				best, bestScore = i, t.scores[id]
			}
		}
		if best == -1 {
			break
		}
		ids[best] = pair[best]
		copy(ids[best+1:n-1], ids[best+2:n])
		copy(pair[best:n-2], pair[best+1:n-1])
		n--
		if best > 0 {
			pair[best-1] = look(best - 1)
		}
		if best < n-1 {
			pair[best] = look(best)
		}
	}
	return n
}

// Encode is EncodeRun(text, false, false): the dummy prefix, no BOS, no EOS.
// Every call adds the dummy " " prefix, as run.c does for each prompt.
func (t *BPE) Encode(text string) []int { return t.EncodeRun(text, false, false) }

// DecodePiece is run.c's decode: the piece of token, without its leading space
// when prev is BOS (sentencepiece's rule), and a byte token "<0xHH>" turned into
// its single raw byte. The byte test mirrors run.c's sscanf(piece, "<0x%02hhX>"):
// "<0x", optional white space, an optional sign and one or two hex digits; the
// closing '>' is not checked. Ids outside the vocabulary give "".
func (t *BPE) DecodePiece(prev, token int) string {
	if token < 0 || token >= len(t.pieces) {
		return ""
	}
	piece := t.pieces[token]
	if prev == BPEBOS && strings.HasPrefix(piece, " ") {
		piece = piece[1:]
	}
	if b, ok := scanByteToken(piece); ok {
		return string([]byte{b})
	}
	return piece
}

// scanByteToken mirrors sscanf(piece, "<0x%02hhX>", &b) == 1.
func scanByteToken(piece string) (byte, bool) {
	rest, ok := strings.CutPrefix(piece, "<0x")
	if !ok {
		return 0, false
	}
	rest = strings.TrimLeft(rest, " \t\n\v\f\r") // %X skips white space first
	width, neg := 2, false
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		neg = rest[0] == '-'
		rest, width = rest[1:], width-1
	}
	v, digits := 0, 0
	for digits < width && digits < len(rest) {
		d := hexDigit(rest[digits])
		if d < 0 {
			break
		}
		v = v*16 + d
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		v = -v
	}
	return byte(v), true // %hhX stores the value modulo 256
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Decode joins DecodePiece over ids, each with the previous id as prev (BOS
// before the first, as after run.c's prompt BOS), so that Decode(Encode(s)) == s
// for every string s: the dummy prefix's space is dropped, byte tokens give
// their raw bytes. The special ids <unk>, BOS and EOS decode to "" (a BOS in the
// middle starts a new sequence: the next piece loses its leading space). Unlike
// DecodeRun it prints every byte, so that it inverts Encode.
func (t *BPE) Decode(ids []int) string {
	var sb strings.Builder
	prev := BPEBOS
	for _, id := range ids {
		if id != BPEUnk && id != BPEBOS && id != BPEEOS {
			sb.WriteString(t.DecodePiece(prev, id))
		}
		prev = id
	}
	return sb.String()
}

// DecodeRun returns exactly what run.c's generate prints for the tokens that
// follow the prompt's BOS (ids excludes that first BOS): it stops at the first
// BOS, decodes each token against the previous one, and drops pieces that
// safe_printf refuses: empty ones and single bytes that are neither printable
// ASCII nor white space (in the C locale). It omits the final "\n" run.c prints
// after the loop.
func (t *BPE) DecodeRun(ids []int) string {
	var sb strings.Builder
	prev := BPEBOS
	for _, id := range ids {
		if id == BPEBOS {
			break
		}
		piece := t.DecodePiece(prev, id)
		if len(piece) == 1 && !cPrintOrSpace(piece[0]) {
			piece = ""
		}
		sb.WriteString(piece)
		prev = id
	}
	return sb.String()
}

// cPrintOrSpace is C's isprint(c) || isspace(c) in the "C" locale.
func cPrintOrSpace(c byte) bool {
	return (c >= 0x20 && c <= 0x7E) || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// VocabSize is the number of tokens read from the file.
func (t *BPE) VocabSize() int { return len(t.pieces) }

// BOS is id 1.
func (t *BPE) BOS() int { return BPEBOS }

// End is BOS (id 1): llama2.c models never learned EOS, and run.c stops at BOS.
func (t *BPE) End() int { return BPEBOS }

// Name is "bpe:" and the file name given to ReadBPE, e.g. "bpe:tok512.bin".
func (t *BPE) Name() string { return "bpe:" + t.name }

// Piece returns the raw vocabulary text of id ("" outside the vocabulary).
func (t *BPE) Piece(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Score returns the merge score of id (0 outside the vocabulary).
func (t *BPE) Score(id int) float32 {
	if id < 0 || id >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}
