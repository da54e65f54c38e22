// UnseenChars: which characters of a user's data the base can (almost) not
// say, measured before training so that a run that cannot work is told why.
package train

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golora/core/data"
	"golora/core/model"
	"golora/core/nn"
	"golora/core/rng"
)

// A character counts as one the base has (almost) never seen when the base,
// writing text of its own, writes it (or, for a character of several bytes,
// one of its bytes) less than once in a million bytes (UnseenRate): how often
// it writes a byte estimates how often it saw it in pretraining, whatever the
// user's data. A byte a base never saw lies orders of magnitude below one it saw on
// this scale: base-v1, whose corpus had no digit, writes each of the 35 bytes
// it never saw about once in 12 million bytes, and the rarest byte it saw
// (';') once in 80,000; the current base's first stage wrote its rarest
// printable byte ('~') once in 68,000, and the base itself writes every
// printable byte at least once in 3,600. A threshold of 1 in a million sits
// a factor of ten or more from both sides.
//
// The previous rule read the user's data (a byte under 1 in 3,000 wherever
// it occurs and under 1 in 100 at every position): it flagged characters
// that were merely unlikely where the data put them, such as '?' after a
// number ("12 cm = ? mm"), which the current base knows well.
const UnseenRate = 1e-6

// WrittenRows is how many texts of a full context the base samples to
// estimate how often it writes each byte (WrittenRates): 32 x 128 positions,
// about a second natively for the shipped base.
const WrittenRows = 32

// AnywhereNats is a probability of 1 in 100 in nats: a token the base gives
// less at every position of a user's data is one it (almost) never produces
// there (the trainable token rows' auto rule).
const AnywhereNats = 4.6

// UnseenChar is one character the base has (almost) never seen.
type UnseenChar struct {
	Char  string  `json:"char"`  // the character, as Go quotes it ("'7'", "'\\t'", "'é'")
	Count int     `json:"count"` // occurrences in the examples checked
	Rate  float64 `json:"rate"`  // how often the base writes it (its rarest byte), per byte written
}

// UnseenReport is what UnseenChars found.
type UnseenReport struct {
	Examples int          `json:"examples"` // examples checked
	Chars    []UnseenChar `json:"chars"`    // most frequent first; empty when the base knows every character
	Skipped  string       `json:"skipped,omitempty"`
	// Remedies are what to do, best first, one sentence each; Advice is them
	// as one text.
	Remedies []string `json:"remedies,omitempty"`
	Advice   string   `json:"advice,omitempty"`
	// TrainTokens is the first remedy as a Config.TrainTokens value ("auto" when Chars is not empty): the page
	// applies it with one click.
	TrainTokens string `json:"train_tokens,omitempty"`
}

// UnseenChars reports the characters of up to maxExamples of ex (prompt and
// completion) that the base has (almost) never seen (UnseenRate), with what
// to do about them. It needs a byte-level tokenizer, where a token is a byte;
// with another it reports why it skipped.
func UnseenChars(m *model.Model, tok data.Tokenizer, ex []data.Example, maxExamples int) (UnseenReport, error) {
	if tok.Name() != "byte" {
		return UnseenReport{Skipped: fmt.Sprintf("the check reads byte-level tokens; this base's tokenizer is %q", tok.Name())}, nil
	}
	ex = ex[:min(len(ex), maxExamples)]
	rates, err := WrittenRates(m, tok, WrittenRows, 1)
	if err != nil {
		return UnseenReport{}, err
	}
	count := map[rune]int{}
	rate := map[rune]float64{}
	for _, e := range ex {
		for _, s := range []string{e.Prompt, e.Completion} {
			for len(s) > 0 {
				c, n := utf8.DecodeRuneInString(s)
				if _, ok := rate[c]; !ok {
					rate[c] = 1
					for i := range n {
						rate[c] = min(rate[c], rates[s[i]])
					}
				}
				count[c]++
				s = s[n:]
			}
		}
	}
	rep := UnseenReport{Examples: len(ex)}
	for c, r := range rate {
		if r < UnseenRate {
			rep.Chars = append(rep.Chars, UnseenChar{Char: fmt.Sprintf("%q", c), Count: count[c], Rate: r})
		}
	}
	slices.SortFunc(rep.Chars, func(a, b UnseenChar) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Char, b.Char)
	})
	if len(rep.Chars) > 0 {
		rep.TrainTokens = TokensAuto
		rep.Remedies = []string{
			fmt.Sprintf("train their embedding rows beside LoRA (-train-tokens auto: %d values per token)", m.Config.Dim),
			"use full fine-tuning (-method full), which trains every embedding row",
			"train LoRA on more targets (all seven: q,k,v,o,gate,up,down)",
			"or use a base that knows them",
		}
		rep.Advice = "the base can hardly produce these: LoRA on q,v alone will likely not learn them. " +
			capFirst(strings.Join(rep.Remedies, "; "))
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
		times := "times"
		if c.Count == 1 {
			times = "time"
		}
		s += fmt.Sprintf(" %s (%d %s)", c.Char, c.Count, times)
	}
	return s + "\n  " + r.Advice
}

func capFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// WrittenRates estimates how often the base writes each byte: the mean, over
// every position of rows texts it samples itself (from BOS at temperature 1,
// a new text after each end token, to the end of the context), of the
// probability it gives the byte there. Averaging probabilities rather than
// counting sampled bytes makes the estimate of a rare byte smooth: a byte
// the base saw once in 20,000 of its pretraining bytes comes out near that,
// one it never saw orders of magnitude lower.
func WrittenRates(m *model.Model, tok data.Tokenizer, rows int, seed uint64) ([256]float64, error) {
	var rates [256]float64
	V, T := m.Config.VocabSize, m.Context() // a prefix method takes some of the context
	var ids [256]int
	for c := range 256 {
		ids[c] = tok.Encode(string([]byte{byte(c)}))[0]
	}
	d := m.NewDecoder(rows)
	r := rng.New(seed)
	next := make([]int, rows)
	for i := range next {
		next[i] = tok.BOS()
	}
	probs := make([]float32, V)
	n := 0
	for range T {
		logits, err := d.Next(next...)
		if err != nil {
			return rates, err
		}
		for i := range rows {
			nn.Softmax(probs, logits[i*V:(i+1)*V])
			for c, id := range ids {
				rates[c] += float64(probs[id])
			}
			next[i] = sampleFrom(probs, r.Float32())
			if next[i] == tok.End() {
				next[i] = tok.BOS()
			}
		}
		n += rows
	}
	for c := range rates {
		rates[c] /= float64(n)
	}
	return rates, nil
}

// sampleFrom returns the index where the running sum of probs passes coin.
func sampleFrom(probs []float32, coin float32) int {
	var cdf float32
	for i, p := range probs {
		if cdf += p; coin < cdf {
			return i
		}
	}
	return len(probs) - 1
}
