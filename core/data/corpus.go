// This file holds Corpus, the pretraining text: English-like sentences about a
// small world of restaurants, people, places, objects and weather.

package data

import (
	"strings"

	"golora/core/rng"
)

// Corpus length bounds, in bytes: long enough to carry context, short enough
// that one sentence fits a 128-token window of the byte tokenizer.
const (
	corpusMinLen = 50
	corpusMaxLen = 120
)

// Corpus returns n sentences (some of two or three short sentences) of
// 50-120 bytes, generated from seed. Restaurants are described in many styles,
// so that the e2e task's vocabulary (names, food, prices, areas, ratings) is
// known to a base model; the cipher's substitution and the facts' invented
// names never appear. About half begin with a capital letter, half in
// lowercase; a few are questions and answers on two lines ("Q: ...\nA: ...").
func Corpus(seed uint64, n int) []string {
	r := rng.New(seed ^ seedCorpus)
	out := make([]string, 0, n)
	for len(out) < n {
		s := corpusTemplates[r.Intn(len(corpusTemplates))](r)
		for len(s) < corpusMinLen {
			s += " " + capFirst(shortTemplates[r.Intn(len(shortTemplates))](r))
		}
		if len(s) > corpusMaxLen {
			continue
		}
		if r.Intn(2) == 0 {
			s = capFirst(s)
		}
		out = append(out, s)
	}
	return out
}

// Seeds of the independent streams derived from a user's seed, so that (say)
// the corpus and the cipher key of the same seed are unrelated.
const (
	seedCorpus uint64 = 0x636f72707573 // "corpus"
	seedE2E    uint64 = 0x653265
	seedCipher uint64 = 0x636970686572
	seedFacts  uint64 = 0x6661637473
	seedSplit  uint64 = 0x73706c6974
)

func pick(r *rng.RNG, list []string) string { return list[r.Intn(len(list))] }

// pickOther picks an element of list different from not.
func pickOther(r *rng.RNG, list []string, not string) string {
	for {
		if s := pick(r, list); s != not {
			return s
		}
	}
}

// capFirst upper-cases the first byte of an ASCII sentence.
func capFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// lowFirst lower-cases the first byte of an ASCII word ("The Mill" in the
// middle of a sentence stays, "The" at a start of a clause changes).
func lowFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]-'A'+'a') + s[1:]
}

// article returns "a" or "an" for the word that follows it.
func article(next string) string {
	if next != "" && strings.ContainsRune("aeiouAEIOU", rune(next[0])) {
		return "an"
	}
	return "a"
}

// foodPhrase is "Italian food", but "fast food" (not "fast food food").
func foodPhrase(f string) string {
	if strings.HasSuffix(f, "food") {
		return f
	}
	return f + " food"
}

func withArticle(phrase string) string { return article(phrase) + " " + phrase }

func join(parts ...string) string { return strings.Join(parts, " ") }

type template func(r *rng.RNG) string

// corpusTemplates make whole sentences, restaurant ones weighted by repetition.
var corpusTemplates = []template{
	// Restaurants, in varied styles.
	func(r *rng.RNG) string {
		return join(pick(r, restaurantNames), "is", withArticle(pick(r, priceWords)), pick(r, foods), pick(r, eatTypes), pick(r, areaWords)+".")
	},
	func(r *rng.RNG) string {
		name := pick(r, restaurantNames)
		return join("if you want", foodPhrase(pick(r, foods))+", try", name, "near", pickOther(r, restaurantNames, name)+"; it is", pick(r, priceWords)+".")
	},
	func(r *rng.RNG) string {
		return join(pick(r, restaurantNames), "serves", foodPhrase(pick(r, foods)), "at", pick(r, []string{"low", "fair", "high"}), "prices and is", pick(r, familyWords)+".")
	},
	func(r *rng.RNG) string {
		return join("we had dinner at", pick(r, restaurantNames)+",", withArticle(pick(r, foods)), pick(r, eatTypes), pick(r, areaWords)+", and it was", pick(r, []string{"lovely.", "too loud.", "very good.", "fine."}))
	},
	func(r *rng.RNG) string {
		return join("the", pick(r, eatTypes), "called", pick(r, restaurantNames), "has", withArticle(pick(r, ratings)), "customer rating.")
	},
	func(r *rng.RNG) string {
		name := pick(r, restaurantNames)
		return join("Q: is", name, "family friendly?\nA:", pick(r, []string{"yes, children are welcome at " + name + ".", "no, " + name + " is not family friendly."}))
	},
	func(r *rng.RNG) string {
		p := pick(r, people)
		return join(p, "likes", foodPhrase(pick(r, foods))+", so", pick(r, []string{"she", "he"}), "often eats at", pick(r, restaurantNames), pick(r, times)+".")
	},
	func(r *rng.RNG) string {
		name := pick(r, restaurantNames)
		return join("near", pickOther(r, restaurantNames, name), pick(r, areaWords), "there is", withArticle(pick(r, priceWords)), pick(r, eatTypes), "named", name+".")
	},
	func(r *rng.RNG) string {
		return join(pick(r, restaurantNames), "is rated", pick(r, ratings), "by its customers, and its prices are", pick(r, []string{"cheap", "moderate", "high"})+".")
	},
	func(r *rng.RNG) string {
		return join("Q: where can I get", foodPhrase(pick(r, foods))+"?\nA: try", pick(r, restaurantNames)+", it is", pick(r, areaWords)+".")
	},
	func(r *rng.RNG) string {
		name := pick(r, restaurantNames)
		return join(name, "is", withArticle(pick(r, []string{"nice", "busy", "quiet", "friendly", "small"})), "place near", pickOther(r, restaurantNames, name)+", rated", pick(r, ratings), "and", pick(r, familyWords)+".")
	},
	// Records followed by prose, and sentences said twice: the copying that
	// data-to-text and the cipher need (a model learns to copy from text
	// that repeats itself). Neither uses the e2e house style nor its
	// name[...] format, so the task itself is never seen in pretraining.
	func(r *rng.RNG) string {
		name, i := pick(r, restaurantNames), r.Intn(len(priceWords))
		typ := pick(r, eatTypes)
		return join("card:", name, "/", typ, "/", prices[i]+" prices.", name, "is", withArticle(priceWords[i]), typ+".")
	},
	func(r *rng.RNG) string {
		name := pick(r, restaurantNames)
		other := pickOther(r, restaurantNames, name)
		food := pick(r, foods)
		return join("listing - "+name, "("+food+", near", other+"):", "at", name, "you can eat", foodPhrase(food), "close to", other+".")
	},
	func(r *rng.RNG) string {
		s := shortSentence(r, 48)
		return join("Q: repeat after me:", s+"\nA:", s+".")
	},
	func(r *rng.RNG) string {
		p := pick(r, people)
		s := shortSentence(r, 40)
		return join(p, "said \""+s+"\" and then said it again: \""+s+"\".")
	},
	// Random words said twice: nothing but copying predicts the second half,
	// which is how a small model acquires the induction heads that reading a
	// prompt needs. Listed several times to weigh it more: a byte-level model
	// needs many examples before copying whole words takes hold.
	repeatWords, repeatWords, repeatWords, repeatWords, repeatWords, repeatWords,
	repeatCode, repeatCode, repeatCode, repeatCode,
	restaurantCard, restaurantCard,
	func(r *rng.RNG) string {
		p := pick(r, people)
		name := pick(r, restaurantNames)
		return join("my friend", p, "works at", name+".", "if you go to", name+", say hello to", p+".")
	},
	// People going places.
	func(r *rng.RNG) string {
		return join(pick(r, people), "went to the", pick(r, places), pick(r, times), "and", pick(r, pastVerbs), withArticle(pick(r, adjectives)), pick(r, objects)+".")
	},
	func(r *rng.RNG) string {
		a := pick(r, people)
		return join(pick(r, times)+",", a, "and", pickOther(r, people, a), "walked to the", pick(r, places), "because it was", pick(r, weathers)+".")
	},
	func(r *rng.RNG) string {
		return join(pick(r, people), "took the", pick(r, []string{"bus", "train", "boat", "bike"}), "to the", pick(r, places), "and met", pick(r, people), "there", pick(r, times)+".")
	},
	// Objects.
	func(r *rng.RNG) string {
		return join("the", pick(r, adjectives), pick(r, objects), "is", pick(r, prepositions), "the", pick(r, furniture), "next to the", pick(r, adjectives), pick(r, objects)+".")
	},
	func(r *rng.RNG) string {
		return join(pick(r, people), "keeps", withArticle(pick(r, adjectives)), pick(r, objects), "next to", withArticle(pick(r, adjectives)), pick(r, objects), "on the", pick(r, furniture)+".")
	},
	// Weather.
	func(r *rng.RNG) string {
		return join("it was", pick(r, weathers), pick(r, areaWords)+", so", pick(r, people), "stayed at home with", withArticle(pick(r, adjectives)), pick(r, objects)+".")
	},
	func(r *rng.RNG) string {
		return join("the weather by the", pick(r, places), "was", pick(r, weathers), pick(r, times)+", and the", pick(r, animals), "was", pick(r, feelings)+".")
	},
	func(r *rng.RNG) string {
		return join("Q: what is the weather like today?\nA: it is", pick(r, weathers), "and", pick(r, weathers), "near the", pick(r, places)+".")
	},
	// Simple stories.
	func(r *rng.RNG) string {
		p := pick(r, people)
		return join("once upon a time,", p, "found", withArticle(pick(r, adjectives)), pick(r, objects), "near the", pick(r, places)+".", p, "took it home and was", pick(r, feelings)+".")
	},
	func(r *rng.RNG) string {
		return join("the", pick(r, animals), pick(r, actionVerbs), pick(r, prepositions), "the", pick(r, objects), pick(r, times), "while", pick(r, people), "was", pick(r, feelings)+".")
	},
	func(r *rng.RNG) string {
		return join(pick(r, people), "was", pick(r, feelings)+", so", pick(r, []string{"she", "he"}), "went to", pick(r, restaurantNames), "for", foodPhrase(pick(r, foods)), "with a friend.")
	},
	// Questions and answers.
	func(r *rng.RNG) string {
		p, pl := pick(r, people), pick(r, places)
		return join("Q: where did", p, "go", pick(r, times)+"?\nA:", p, "went to the", pl+".")
	},
	func(r *rng.RNG) string {
		o := pick(r, objects)
		return join("Q: where is the", o+"?\nA: the", o, "is", pick(r, prepositions), "the", pick(r, furniture)+".")
	},
}

// shortTemplates make short sentences that pad a corpus line up to 50 bytes.
var shortTemplates = []template{
	func(r *rng.RNG) string { return join("the", pick(r, animals), pick(r, actionVerbs)+".") },
	func(r *rng.RNG) string { return join("it was", pick(r, weathers)+".") },
	func(r *rng.RNG) string { return join(pick(r, people), "was", pick(r, feelings)+".") },
	func(r *rng.RNG) string { return join("then", pick(r, people), "went home.") },
	func(r *rng.RNG) string {
		return join("the food was", pick(r, []string{"good", "cheap", "cold", "hot"})+".")
	},
}

// shortSentence returns a lowercase sentence of at most maxLen bytes, without
// a final period, for the cipher task ("the red cat sat on the mat").
func shortSentence(r *rng.RNG, maxLen int) string {
	for {
		var s string
		switch r.Intn(5) {
		case 0:
			s = join("the", pick(r, adjectives), pick(r, animals), pick(r, actionVerbs), pick(r, prepositions), "the", pick(r, objects))
		case 1:
			s = join(pick(r, people), pick(r, pastVerbs), withArticle(pick(r, adjectives)), pick(r, objects), "at the", pick(r, places))
		case 2:
			s = join(pick(r, people), "went to the", pick(r, places), pick(r, times))
		case 3:
			s = join("it was", pick(r, weathers), "and the", pick(r, animals), "was", pick(r, feelings))
		default:
			s = join("the", pick(r, objects), "is", pick(r, prepositions), "the", pick(r, adjectives), pick(r, furniture))
		}
		s = strings.ToLower(s)
		if len(s) <= maxLen {
			return s
		}
	}
}

// repeatWords says a list of 3..7 random words, then says it again.
func repeatWords(r *rng.RNG) string {
	lists := [][]string{restaurantNames, foods, objects, animals, people, places, adjectives, weathers}
	words := make([]string, 3+r.Intn(5))
	for i := range words {
		words[i] = pick(r, lists[r.Intn(len(lists))])
	}
	list := strings.Join(words, " ")
	return join("Q: say these words back:", list+"\nA:", list+".")
}

// restaurantCard names a restaurant, then restates it: copying a name from a record into prose.
func restaurantCard(r *rng.RNG) string {
	name, other := pick(r, restaurantNames), pick(r, restaurantNames)
	return join("note: "+name+" (near", other+").", name, "is near", other+", and", name, "is", pick(r, []string{"open late", "busy", "quiet", "new"})+".")
}

// repeatCode spells out two or three made-up codes of random letters, then
// spells them again: no memory of the corpus helps, only copying does.
func repeatCode(r *rng.RNG) string {
	codes := make([]string, 2+r.Intn(2))
	for i := range codes {
		b := make([]byte, 3+r.Intn(5))
		for j := range b {
			b[j] = byte('a' + r.Intn(26))
		}
		codes[i] = string(b)
	}
	list := strings.Join(codes, " ")
	return join("the codes are", list+". once more, the codes are", list+".")
}
