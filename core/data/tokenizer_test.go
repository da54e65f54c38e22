package data

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestByteTokenizerRoundTrip(t *testing.T) {
	tok := NewByteTokenizer()
	for _, tc := range []struct {
		name, text string
		ids        []int
	}{
		{"empty", "", []int{}},
		{"ascii", "Hi\n", []int{'H' + 2, 'i' + 2, '\n' + 2}},
		{"nul and 0xff", "\x00\xff", []int{2, 257}},
		{"two-byte char", "é", []int{0xc3 + 2, 0xa9 + 2}},
		{"four-byte char", "🙂", []int{0xf0 + 2, 0x9f + 2, 0x99 + 2, 0x82 + 2}},
		{"invalid utf-8 kept", "a\xc3", []int{'a' + 2, 0xc3 + 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := tok.Encode(tc.text)
			assert.Equal(t, tc.ids, ids, "Encode(%q)", tc.text)
			assert.Equal(t, tc.text, tok.Decode(ids), "Decode(Encode(%q))", tc.text)
		})
	}
}

func TestByteTokenizerSpecials(t *testing.T) {
	tok := NewByteTokenizer()
	var _ Tokenizer = tok
	assert.Equal(t, 258, tok.VocabSize())
	assert.Equal(t, 0, tok.BOS())
	assert.Equal(t, 1, tok.End())
	assert.Equal(t, "byte", tok.Name())
	// Special and out-of-range ids decode to nothing.
	assert.Equal(t, "ab", tok.Decode([]int{0, 'a' + 2, 1, -5, 258, 1000, 'b' + 2}))
}

func FuzzByteTokenizer(f *testing.F) {
	for _, s := range []string{"", "the cat sat on the mat", "é🙂\x00\xff", "a\xc3(", "Q: what?\nA: "} {
		f.Add(s)
	}
	tok := NewByteTokenizer()
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		require.Len(t, ids, len(s), "one id per byte")
		for i, id := range ids {
			require.True(t, id >= 2 && id < tok.VocabSize(), "Encode id %d at %d not a byte id", id, i)
		}
		require.Equal(t, s, tok.Decode(ids), "round trip")
	})
}
