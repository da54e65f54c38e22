// This file holds the facts task: knowledge injection of invented facts
// ("the capital of Vortania is Lumen") about names made from syllables.
//
// The point is memorisation, so the splits are not disjoint by fact:
//   - Train states every fact twice, in the trained question form
//     ("Q: what is the capital of Vortania?\nA: " -> "Lumen") and as a
//     statement ("fact: " -> "the capital of Vortania is Lumen."); a Train
//     above 2*Facts repeats these pairs (in a shuffled order) to fill it.
//   - Test asks the first Test facts in the trained question form: the same
//     prompts as in Train. Its exact match is how much was memorised.
//   - Val asks the first Val facts in a held-out phrasing
//     ("Q: which city is the capital of Vortania?\nA: "), never trained: it
//     measures whether the knowledge transfers beyond the trained wording,
//     which is harder and expected to stay below Test.

package data

import (
	"fmt"
	"strings"

	"golora/core/rng"
)

// relation is one kind of fact: how to name its subject and object, and how
// to phrase it.
type relation struct {
	subject, object func(r *rng.RNG, names *nameMaker) string
	question        string // trained question, %s = subject
	heldOut         string // val's question, %s = subject
	statement       string // %s = subject, %s = object
}

var materials = []string{"glass", "copper", "wood", "stone", "silver", "clay", "wool", "iron", "paper", "bone", "gold", "tin", "silk", "amber"}

var relations = []relation{
	{
		subject:   func(r *rng.RNG, n *nameMaker) string { return n.make(r, 2, []string{"ia", "land", "ova", "ar"}, true) },
		object:    func(r *rng.RNG, n *nameMaker) string { return n.make(r, 2, []string{""}, true) },
		question:  "Q: what is the capital of %s?\nA: ",
		heldOut:   "Q: which city is the capital of %s?\nA: ",
		statement: "the capital of %s is %s.",
	},
	{
		subject:   func(r *rng.RNG, n *nameMaker) string { return n.make(r, 2, []string{"co", "worth", "ton"}, true) },
		object:    func(r *rng.RNG, n *nameMaker) string { return n.make(r, 2, []string{""}, true) },
		question:  "Q: who founded %s?\nA: ",
		heldOut:   "Q: who was the founder of %s?\nA: ",
		statement: "%s was founded by %s.",
	},
	{
		subject:   func(r *rng.RNG, n *nameMaker) string { return "the " + n.make(r, 2, []string{""}, false) },
		object:    func(r *rng.RNG, n *nameMaker) string { return pick(r, materials) },
		question:  "Q: what is %s made of?\nA: ",
		heldOut:   "Q: which material is %s made of?\nA: ",
		statement: "%s is made of %s.",
	},
	{
		subject:   func(r *rng.RNG, n *nameMaker) string { return n.make(r, 2, []string{""}, true) },
		object:    func(r *rng.RNG, n *nameMaker) string { return n.make(r, 2, []string{"by", "ford", "holm"}, true) },
		question:  "Q: where does %s live?\nA: ",
		heldOut:   "Q: in which town does %s live?\nA: ",
		statement: "%s lives in %s.",
	},
	{
		subject:   func(r *rng.RNG, n *nameMaker) string { return n.make(r, 2, []string{"ia", "land", "ova", "ar"}, true) },
		object:    func(r *rng.RNG, n *nameMaker) string { return n.make(r, 1, []string{"ish", "ese", "ic"}, true) },
		question:  "Q: what language do people speak in %s?\nA: ",
		heldOut:   "Q: which language is spoken in %s?\nA: ",
		statement: "people in %s speak %s.",
	},
}

const factsStatementPrompt = "fact: "

// fact is one invented fact.
type fact struct {
	rel             int
	subject, object string
}

func (f fact) question() Example {
	return Example{Prompt: fmt.Sprintf(relations[f.rel].question, f.subject), Completion: f.object}
}

func (f fact) heldOut() Example {
	return Example{Prompt: fmt.Sprintf(relations[f.rel].heldOut, f.subject), Completion: f.object}
}

func (f fact) statement() Example {
	return Example{Prompt: factsStatementPrompt, Completion: fmt.Sprintf(relations[f.rel].statement, f.subject, f.object)}
}

// nameMaker invents pronounceable names from syllables, each one new and none
// a word of the corpus.
type nameMaker struct{ used map[string]bool }

var (
	nameOnsets = []string{"b", "br", "d", "dr", "f", "g", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "th", "v", "z", "sh"}
	nameVowels = []string{"a", "e", "i", "o", "u", "ai", "ei", "ou"}
	nameCodas  = []string{"", "", "n", "r", "l", "s", "k", "m"}
)

func newNameMaker() *nameMaker {
	n := &nameMaker{used: map[string]bool{}}
	for _, w := range corpusWords() {
		n.used[w] = true
	}
	return n
}

// make returns syllables syllables plus one of suffixes, capitalised if
// capital, never returned before and never a corpus word.
func (n *nameMaker) make(r *rng.RNG, syllables int, suffixes []string, capital bool) string {
	for {
		var b strings.Builder
		for range syllables {
			b.WriteString(pick(r, nameOnsets) + pick(r, nameVowels) + pick(r, nameCodas))
		}
		s := b.String() + pick(r, suffixes)
		if len(s) < 4 || n.used[s] {
			continue
		}
		n.used[s] = true
		if capital {
			return capFirst(s)
		}
		return s
	}
}

// corpusWords lists every lowercase word of the corpus and task word lists.
func corpusWords() []string {
	var words []string
	for _, list := range [][]string{
		restaurantNames, eatTypes, foods, prices, priceWords, areas, areaWords, ratings, families, familyWords,
		people, places, objects, adjectives, furniture, weathers, times, animals, pastVerbs, actionVerbs,
		prepositions, feelings, materials,
	} {
		for _, phrase := range list {
			words = append(words, strings.Fields(strings.ToLower(phrase))...)
		}
	}
	return words
}

// newFacts invents cfg.Facts facts, cycling through the relations so each
// kind is equally common.
func newFacts(cfg TaskConfig) (*Task, error) {
	r := rng.New(cfg.Seed ^ seedFacts)
	names := newNameMaker()
	facts := make([]fact, cfg.Facts)
	for i := range facts {
		rel := i % len(relations)
		facts[i] = fact{rel: rel, subject: relations[rel].subject(r, names), object: relations[rel].object(r, names)}
	}
	r.Shuffle(len(facts), func(i, j int) { facts[i], facts[j] = facts[j], facts[i] })

	pairs := make([]Example, 0, 2*len(facts))
	for _, f := range facts {
		pairs = append(pairs, f.question(), f.statement())
	}
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	train := make([]Example, cfg.Train)
	for i := range train {
		train[i] = pairs[i%len(pairs)]
	}
	val := make([]Example, cfg.Val)
	for i := range val {
		val[i] = facts[i].heldOut()
	}
	test := make([]Example, cfg.Test)
	for i := range test {
		test[i] = facts[i].question()
	}
	desc := fmt.Sprintf("facts: memorise %d invented facts (%d kinds: capital, founder, material, home town, language). "+
		"Train states each fact as a question and as a statement; Test asks the trained questions (memorisation); "+
		"Val asks in a held-out phrasing (transfer).", cfg.Facts, len(relations))
	return &Task{Name: "facts", Description: desc, Train: train, Val: val, Test: test}, nil
}
