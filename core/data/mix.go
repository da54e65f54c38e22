// This file holds the pretraining corpus as a whole: the small world's
// sentences, the format lines and the prose, mixed in one order, with a
// held-out part of each and without any line that gives away a task's test
// answer.

package data

import (
	"fmt"

	"golora/core/rng"
)

// CorpusConfig is the pretraining corpus's recipe.
type CorpusConfig struct {
	Seed        uint64
	World       int     // sentences of the small world (Corpus)
	Formats     int     // format lines (Formats)
	Exercises   int     // exercise lines (Exercises): a prompt and the answer computed from it
	ProseRepeat int     // how many times each prose passage appears in Train (0 = the prose is left out)
	ValFraction float32 // held-out share of each part, in (0, 0.5)
}

// The parts of a corpus, in CorpusText.Val's order.
const (
	PartWorld = iota
	PartFormats
	PartProse
	PartExercises
	NumParts
)

// PartNames names the parts, for reports.
var PartNames = [NumParts]string{"world", "formats", "prose", "exercises"}

// CorpusText is a built corpus.
type CorpusText struct {
	Train []string           // every part's training lines, in one random order that keeps each part's own
	Val   [NumParts][]string // each part's held-out lines (never in Train)
	Bytes [NumParts]int      // each part's bytes in Train (the prose's repeats included)
	// Dropped counts, per part, the lines left out for holding a test answer (LeakFilter).
	Dropped [NumParts]int
}

// Validate reports the first field of c that is out of range.
func (c CorpusConfig) Validate() error {
	switch {
	case c.World < 0 || c.Formats < 0 || c.Exercises < 0:
		return fmt.Errorf("corpus: world, formats and exercises line counts must be >= 0, got %d, %d and %d", c.World, c.Formats, c.Exercises)
	case c.World+c.Formats < 100:
		return fmt.Errorf("corpus: world + formats must be at least 100 lines, got %d", c.World+c.Formats)
	case c.ProseRepeat < 0 || c.ProseRepeat > 10:
		return fmt.Errorf("corpus: prose repeat must be 0..10, got %d", c.ProseRepeat)
	case !(c.ValFraction > 0 && c.ValFraction < 0.5):
		return fmt.Errorf("corpus: val fraction must be in (0, 0.5), got %g", c.ValFraction)
	}
	return nil
}

// BuildCorpus generates the world, format and exercise lines of cfg, takes the prose
// passages as given (ReadFortunes; nil or ProseRepeat 0 for none), drops every
// line that holds a test answer of a generated task, holds out the first
// ValFraction of each part and mixes the rest. The same cfg and prose give
// the same corpus.
func BuildCorpus(cfg CorpusConfig, prose []string) (*CorpusText, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	leaks, err := NewLeakFilter()
	if err != nil {
		return nil, err
	}
	if cfg.ProseRepeat == 0 {
		prose = nil
	}
	parts := [NumParts][]string{Corpus(cfg.Seed, cfg.World), Formats(cfg.Seed, cfg.Formats), prose, Exercises(cfg.Seed, cfg.Exercises)}
	ct := &CorpusText{}
	var train [NumParts][]string
	for i, lines := range parts {
		kept := make([]string, 0, len(lines))
		for _, s := range lines {
			if leaks.Leaks(s) {
				ct.Dropped[i]++
				continue
			}
			kept = append(kept, s)
		}
		nVal := 0
		if len(kept) > 0 {
			nVal = max(1, int(float32(len(kept))*cfg.ValFraction))
		}
		ct.Val[i] = kept[:nVal]
		train[i] = kept[nVal:]
	}
	// The prose repeats in a new order each time, so a passage's neighbours differ.
	r := rng.New(cfg.Seed ^ seedProse)
	var prosed []string
	for range cfg.ProseRepeat {
		order := r.Perm(len(train[PartProse]))
		for _, j := range order {
			prosed = append(prosed, train[PartProse][j])
		}
	}
	train[PartProse] = prosed
	for i, lines := range train {
		for _, s := range lines {
			ct.Bytes[i] += len(s)
		}
	}
	ct.Train = Mix(cfg.Seed, train[:]...)
	return ct, nil
}

// ByteCounts counts the bytes of every line of Train.
func (ct *CorpusText) ByteCounts() (counts [256]int, total int) {
	for _, s := range ct.Train {
		for i := range len(s) {
			counts[s[i]]++
		}
		total += len(s)
	}
	return counts, total
}

// CoveredBytes are the bytes a corpus must hold at a real frequency: the
// printable ASCII bytes, newline and tab.
func CoveredBytes() []byte {
	out := []byte{'\t', '\n'}
	for c := byte(' '); c <= '~'; c++ {
		out = append(out, c)
	}
	return out
}

// MinByteFrequency is the frequency every covered byte must reach in a corpus: 1 in 20,000 bytes.
const MinByteFrequency = 1.0 / 20000

// RarestByte is the covered byte that Train holds least often, and its frequency.
func (ct *CorpusText) RarestByte() (b byte, freq float64) {
	counts, total := ct.ByteCounts()
	freq = 2
	for _, c := range CoveredBytes() {
		if f := float64(counts[c]) / float64(max(total, 1)); f < freq {
			b, freq = c, f
		}
	}
	return b, freq
}

const seedProse uint64 = 0x70726f7365 // "prose"

// Mix returns the lines of all parts in one random order that keeps each
// part's own order; at every point the next line comes from a part with
// probability proportional to the lines it has left, so the parts are spread
// evenly over the whole.
func Mix(seed uint64, parts ...[]string) []string {
	r := rng.New(seed ^ seedProse ^ 0x6d6978)
	left := 0
	for _, p := range parts {
		left += len(p)
	}
	out := make([]string, 0, left)
	next := make([]int, len(parts))
	for ; left > 0; left-- {
		k := r.Intn(left)
		for i, p := range parts {
			if k < len(p)-next[i] {
				out = append(out, p[next[i]])
				next[i]++
				break
			}
			k -= len(p) - next[i]
		}
	}
	return out
}

// LeakFilter finds the lines of a corpus that would give away a test answer
// of the generated tasks at their default configs (the ones the README and
// the page measure): an e2e or cipher test completion (a whole sentence), or
// the subject of a facts test question (an invented name, so that no line
// states a test fact; a facts answer alone is one word, often a common
// material, which says nothing without its subject).
type LeakFilter struct {
	byPrefix map[string][]string // needles by their first leakPrefix bytes
}

const leakPrefix = 4 // the shortest needle (a two-syllable invented name) has 4 bytes

// NewLeakFilter builds the filter from the default tasks.
func NewLeakFilter() (*LeakFilter, error) {
	f := &LeakFilter{byPrefix: map[string][]string{}}
	for _, name := range TaskNames() {
		cfg, err := DefaultTaskConfig(name)
		if err != nil {
			return nil, err
		}
		task, err := NewTask(cfg)
		if err != nil {
			return nil, err
		}
		for _, e := range task.Test {
			needle := e.Completion
			if name == "facts" {
				needle = factsSubject(e.Prompt)
			}
			f.add(needle)
		}
	}
	return f, nil
}

func (f *LeakFilter) add(needle string) {
	if len(needle) < leakPrefix {
		panic(fmt.Sprintf("data: leak needle %q shorter than %d bytes", needle, leakPrefix))
	}
	k := needle[:leakPrefix]
	f.byPrefix[k] = append(f.byPrefix[k], needle)
}

// factsSubject is the subject of a facts question: "Q: who founded Brelton?\nA: " -> "Brelton".
func factsSubject(prompt string) string {
	for _, rel := range relations {
		pre, post, _ := cutVerb(rel.question)
		if len(prompt) > len(pre)+len(post) && prompt[:len(pre)] == pre && prompt[len(prompt)-len(post):] == post {
			return prompt[len(pre) : len(prompt)-len(post)]
		}
	}
	panic(fmt.Sprintf("data: %q is no facts question", prompt))
}

// cutVerb splits a format with one %s into its text before and after it.
func cutVerb(format string) (before, after string, ok bool) {
	for i := 0; i+1 < len(format); i++ {
		if format[i] == '%' && format[i+1] == 's' {
			return format[:i], format[i+2:], true
		}
	}
	return format, "", false
}

// Leaks reports whether s contains a needle.
func (f *LeakFilter) Leaks(s string) bool {
	for i := 0; i+leakPrefix <= len(s); i++ {
		for _, n := range f.byPrefix[s[i:i+leakPrefix]] {
			if len(s)-i >= len(n) && s[i:i+len(n)] == n {
				return true
			}
		}
	}
	return false
}
