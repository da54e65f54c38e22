// This file holds the cipher task: rewrite a short sentence under a fixed
// substitution of k letters, the other letters unchanged.

package data

import (
	"fmt"
	"strings"

	"golora/core/rng"
)

// cipherMaxSentence bounds a cipher sentence, so that "cipher: " + sentence +
// "\n" + the enciphered sentence stays near 110 bytes.
const cipherMaxSentence = 50

const cipherPrefix = "cipher: "

// cipherKey is a substitution of the 26 lowercase letters (key[i] is the image
// of 'a'+i); upper-case letters follow their lowercase image.
type cipherKey [26]byte

// newCipherKey derives from seed a substitution that changes exactly k
// letters. For k >= 2 the k letters are permuted in one random cycle, so the
// substitution is a bijection (decipherable) and none of the k maps to
// itself. For k = 1 the one letter maps to another letter, which then stands
// for two letters: no permutation changes exactly one letter.
func newCipherKey(seed uint64, k int) cipherKey {
	var key cipherKey
	for i := range key {
		key[i] = byte('a' + i)
	}
	r := rng.New(seed ^ seedCipher)
	chosen := r.Perm(26)[:k]
	if k == 1 {
		key[chosen[0]] = byte('a' + (chosen[0]+1+r.Intn(25))%26)
		return key
	}
	for i, c := range chosen {
		key[c] = byte('a' + chosen[(i+1)%k])
	}
	return key
}

// apply enciphers s.
func (key *cipherKey) apply(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = key[c-'a']
		case c >= 'A' && c <= 'Z':
			b[i] = key[c-'A'] - 'a' + 'A'
		}
	}
	return string(b)
}

// String lists the changed letters, "a->q b->x ...".
func (key *cipherKey) String() string {
	var parts []string
	for i, c := range key {
		if c != byte('a'+i) {
			parts = append(parts, fmt.Sprintf("%c->%c", 'a'+i, c))
		}
	}
	return strings.Join(parts, " ")
}

func newCipher(cfg TaskConfig) (*Task, error) {
	key := newCipherKey(cfg.Seed, cfg.Difficulty)
	r := rng.New(cfg.Seed ^ seedCipher ^ 0x5e47)
	ex, err := distinctExamples(r, cfg.Train+cfg.Val+cfg.Test, "cipher", func(r *rng.RNG) Example {
		s := shortSentence(r, cipherMaxSentence)
		return Example{Prompt: cipherPrefix + s + "\n", Completion: key.apply(s)}
	})
	if err != nil {
		return nil, err
	}
	tr, va, te := splitInOrder(ex, cfg.Train, cfg.Val)
	desc := fmt.Sprintf("cipher: rewrite a short sentence with a fixed substitution of %d letters (%s); "+
		"other letters, spaces and punctuation unchanged. Test sentences never appear in training.", cfg.Difficulty, key.String())
	return &Task{Name: "cipher", Description: desc, Train: tr, Val: va, Test: te}, nil
}
