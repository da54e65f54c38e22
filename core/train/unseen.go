// UnseenChars: which characters of a user's data the base can (almost) not
// say, measured before training so that a run that cannot work is told why.
package train

import (
	"fmt"
	"math"
	"slices"

	"golora/core/data"
	"golora/core/model"
)

// A character counts as one the base has (almost) never seen when both hold:
//   - where it occurs, the base gives it under 1 in 3,000 (UnseenNats), even
//     at its easiest occurrence;
//   - at no position of the data does the base give it 1 in 100 (AnywhereNats).
//
// The first alone flags too much: where the base cannot read the data (after
// an unseen digit), it mispredicts the next bytes too, even ones it knows (a
// period after a digit). The second alone flags too little: in a context it
// cannot read, the base's distribution flattens and gives every byte a
// little. A byte the base knows scores a few nats even where it is hard to
// guess (a random digit: about 2.3); the previous base, which never saw a
// digit, gave digits over 10 nats wherever they were.
const (
	UnseenNats   = 8
	AnywhereNats = 4.6
)

// UnseenChar is one character the base scores as almost never seen.
type UnseenChar struct {
	Char  string  `json:"char"`  // the character, as Go quotes it ("'7'", "'\\t'")
	Count int     `json:"count"` // occurrences in the examples checked
	Nats  float32 `json:"nats"`  // the base's lowest loss on it where it occurs
}

// UnseenReport is what UnseenChars found.
type UnseenReport struct {
	Examples int          `json:"examples"` // examples checked
	Chars    []UnseenChar `json:"chars"`    // most frequent first; empty when the base knows every character
	Skipped  string       `json:"skipped,omitempty"`
	Advice   string       `json:"advice,omitempty"`
	// TrainTokens is the first remedy as a Config.TrainTokens value ("auto" when Chars is not empty): the page
	// applies it with one click.
	TrainTokens string `json:"train_tokens,omitempty"`
}

// UnseenChars scores the base on up to maxExamples of ex (prompt and
// completion, as training reads them) and reports the characters the base
// has (almost) never seen (UnseenNats). It needs a byte-level tokenizer, where a token is
// a character; with another it reports why it skipped.
func UnseenChars(m *model.Model, tok data.Tokenizer, ex []data.Example, maxExamples int) (UnseenReport, error) {
	if tok.Name() != "byte" {
		return UnseenReport{Skipped: fmt.Sprintf("the check reads byte-level tokens; this base's tokenizer is %q", tok.Name())}, nil
	}
	ex = ex[:min(len(ex), maxExamples)]
	seqs, err := data.EncodeExamples(tok, ex, m.Context(), "data") // a prefix method takes some of the context
	if err != nil {
		return UnseenReport{}, err
	}
	acts := m.NewActs(1, m.Context())
	V := m.Config.VocabSize
	var ids [256]int // each byte's token
	for c := range 256 {
		ids[c] = tok.Encode(string([]byte{byte(c)}))[0]
	}
	var best [256]float32    // the highest probability of each byte at any position
	var easiest [256]float32 // its lowest loss where it occurs
	var count [256]int
	for _, s := range seqs {
		T := len(s.Tokens) - 1
		m.Forward(acts, s.Tokens[:T], s.Tokens[1:], nil, 1, T)
		for i, id := range s.Tokens[1:] {
			if b := tok.Decode([]int{id}); len(b) == 1 {
				if l := acts.Losses[i]; count[b[0]] == 0 || l < easiest[b[0]] {
					easiest[b[0]] = l
				}
				count[b[0]]++
			}
			probs := acts.Probs[i*V : (i+1)*V]
			for c, id := range ids {
				best[c] = max(best[c], probs[id])
			}
		}
	}
	rep := UnseenReport{Examples: len(seqs)}
	for c := range 256 {
		if count[c] > 0 && easiest[c] > UnseenNats && -math.Log(float64(best[c])) > AnywhereNats {
			rep.Chars = append(rep.Chars, UnseenChar{Char: fmt.Sprintf("%q", rune(c)), Count: count[c], Nats: easiest[c]})
		}
	}
	slices.SortStableFunc(rep.Chars, func(a, b UnseenChar) int { return b.Count - a.Count })
	if len(rep.Chars) > 0 {
		rep.TrainTokens = TokensAuto
		rep.Advice = "the base can hardly produce these: LoRA on q,v alone will likely not learn them. " +
			fmt.Sprintf("Train their embedding rows beside LoRA (-train-tokens auto: %d values per token), ", m.Config.Dim) +
			"or use full fine-tuning, LoRA on more targets (all seven: q,k,v,o,gate,up,down), or a base that knows them"
	}
	return rep, nil
}

// String is the report as one or two lines for a terminal.
func (r UnseenReport) String() string {
	switch {
	case r.Skipped != "":
		return "unseen characters: not checked: " + r.Skipped
	case len(r.Chars) == 0:
		return fmt.Sprintf("unseen characters: none (the base knows every character of %d examples)", r.Examples)
	}
	s := fmt.Sprintf("unseen characters: the base has (almost) never seen %d of the characters in %d examples:", len(r.Chars), r.Examples)
	for i, c := range r.Chars {
		if i == 12 {
			s += fmt.Sprintf(" and %d more", len(r.Chars)-i)
			break
		}
		s += fmt.Sprintf(" %s (%d times, >= %.1f nats)", c.Char, c.Count, c.Nats)
	}
	return s + "\n  " + r.Advice
}
