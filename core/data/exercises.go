// This file holds Exercises, the pretraining lines that ask for something
// computed from the text before them: a field looked up in a record, a list
// sorted, digits grouped, words recased, numbers added. They are what people's
// fine-tuning data asks of a model, in many phrasings, so that a base already
// knows how to read a prompt and answer from it, and an adapter on q and v
// only has to map a new format onto an operation the base can do.

package data

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golora/core/rng"
)

const seedExercises uint64 = 0x6578657263697365 // "exercise"

// exerciseMaxLen bounds an exercise line, so that one fits a window of 128
// tokens with its BOS and end token.
const exerciseMaxLen = 126

// exercise is one instance of an operation: the data shown, a few ways of
// asking for the result, and the result.
type exercise struct {
	in  string
	ask []string // instructions, one drawn per use ("sort the numbers", "year?")
	out string
	// keyed: the instruction names a part of this instance (a record's key,
	// a position), so that a few-shot line must show it with the input.
	keyed bool
}

// An operation draws one instance. v is drawn once per line and selects the
// operation's variant (ascending or descending, which separator, ...), so
// that the instances of a few-shot line all do the same thing.
type operation func(r *rng.RNG, v int) exercise

// Exercises returns n exercise lines generated from seed. A line is either
// one instance framed by a drawn layout (an instruction before or after the
// data, "Q:/A:", "Input:/Output:", "### Instruction", ...; the answer after a
// drawn separator), or several instances of one operation on lines of their
// own, "input SEP output", with the operation left to be inferred from the
// pairs (in-context learning). The operations (exerciseOps) are lookups in
// records of several notations, positions in lists, extraction, case and
// separator changes, reordering, digit grouping and padding, decimal shifts
// and unit conversions, arithmetic on small numbers, comparisons, sorting,
// counting, rounding, numbers in words and Roman numerals, and yes/no
// questions. Reformatting dates and taking initials (acronyms) are left out
// on purpose: they are the held-out operations of the base's card
// (models/README.md).
func Exercises(seed uint64, n int) []string {
	r := rng.New(seed ^ seedExercises)
	out := make([]string, 0, n)
	for len(out) < n {
		op, v := exerciseOps[r.Intn(len(exerciseOps))], r.Intn(1<<20)
		var s string
		if r.Intn(3) == 0 {
			s = fewShot(r, op, v)
		} else {
			s = framed(r, op(r, v))
		}
		if len(s) > exerciseMaxLen || len(s) < 12 {
			continue
		}
		out = append(out, s)
	}
	return out
}

// Separators between a prompt and its answer.
var answerSeps = []string{"\n", " -> ", " => ", ": ", " = ", "\t", " | ", "\nAnswer: ", "\nA: ", "\n> ", " ", "\n\n"}

// framed lays out one exercise in a drawn style.
func framed(r *rng.RNG, e exercise) string {
	ask := pick(r, e.ask)
	sep := pick(r, answerSeps)
	switch r.Intn(8) {
	case 0, 1: // instruction, then the data
		return ask + ": " + e.in + sep + e.out
	case 2, 3: // the data, then the instruction or question
		return e.in + pick(r, []string{"\n", " ", "\n\n", ". "}) + ask + sep + e.out
	case 4:
		return "Q: " + ask + " " + e.in + "\nA: " + e.out
	case 5:
		return "Input: " + e.in + "\n" + pick(r, []string{"Task", "Instruction", "Question"}) + ": " + ask + "\nOutput: " + e.out
	case 6:
		return "### Instruction:\n" + ask + "\n### Input:\n" + e.in + "\n### Response:\n" + e.out
	default:
		return ask + "\n" + e.in + "\n" + e.out
	}
}

// fewShot writes instances of op, one per line, "input SEP output", the
// operation stated at most once at the top.
func fewShot(r *rng.RNG, op operation, v int) string {
	sep := pick(r, []string{" -> ", " => ", ": ", " = ", "\t", " | ", " ", " >> ", " ~ "})
	var b strings.Builder
	first := op(r, v)
	if !first.keyed && r.Intn(2) == 0 {
		b.WriteString(pick(r, first.ask) + "\n")
	}
	ask := r.Intn(1 << 20)
	for e, k := first, 0; k < 5; e, k = op(r, v), k+1 {
		in := e.in
		if e.keyed {
			in += pick(r, []string{" ", "\n", ". "}) + e.ask[ask%len(e.ask)]
		}
		line := in + sep + e.out
		if strings.Contains(e.in, "\n") || b.Len()+len(line)+1 > exerciseMaxLen {
			if k == 0 {
				return framed(r, first)
			}
			break
		}
		if k > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
	return b.String()
}

// The vocabulary of the exercises: common words, distinct from the benchmark's
// (testdata/owndata) and from the facts task's invented names.
var (
	exWords = []string{
		"apple", "river", "stone", "cloud", "paper", "green", "quick", "table", "music", "light", "honey", "tiger",
		"piano", "ocean", "lemon", "chair", "storm", "glass", "bread", "zebra", "violet", "copper", "pepper",
		"rocket", "candle", "pocket", "silver", "winter", "forest", "bridge", "basket", "window", "mirror", "harbor",
		"planet", "garden", "yellow", "purple", "orange", "spider", "ticket", "button", "camera", "dinner", "engine",
		"falcon", "guitar", "hammer", "island", "jacket", "kitten", "ladder", "marble", "needle", "oyster", "parrot",
		"quartz", "rabbit", "saddle", "tunnel", "velvet", "walnut", "anchor", "bottle", "cactus", "desert", "feather",
		"blue", "red", "salt", "milk", "fire", "wind", "moon", "star", "tree", "fish", "bird", "rain", "snow", "road",
	}
	exSmallWords = []string{"of", "the", "and", "in", "on", "a", "to", "for", "with", "at", "by", "from"}
	exKeys       = []string{
		"name", "city", "age", "year", "code", "id", "email", "phone", "colour", "price", "country", "job", "score",
		"status", "size", "weight", "zip", "team", "model", "version", "user", "host", "port", "lang", "level", "rank",
		"owner", "room", "qty", "total", "sku", "tag", "height", "brand", "genre", "plan", "region", "seat", "gate",
	}
	exDomains = []string{"example.org", "mail.net", "post.io", "acme.com", "uni.edu", "home.co.uk", "web.de", "shop.fr"}
	exExts    = []string{"pdf", "txt", "csv", "png", "jpg", "json", "go", "py", "md", "html", "zip", "mp3", "xlsx"}
	exStatus  = []string{"open", "closed", "pending", "active", "paid", "late", "done", "new", "failed", "ok"}
)

// exValue draws a value that suits key.
func exValue(r *rng.RNG, key string) string {
	switch key {
	case "name", "owner", "user":
		if key == "user" {
			return strings.ToLower(pick(r, firstNames)) + strconv.Itoa(r.Intn(100))
		}
		return fullName(r)
	case "city", "region":
		return pick(r, cities)
	case "country":
		return pick(r, countries)
	case "age", "qty", "level", "rank", "seat":
		return strconv.Itoa(1 + r.Intn(99))
	case "year":
		return strconv.Itoa(1800 + r.Intn(230))
	case "code", "sku", "gate":
		return fmt.Sprintf("%c%c%d", 'A'+r.Intn(26), 'A'+r.Intn(26), r.Intn(1000))
	case "id", "zip", "port", "room":
		return strconv.Itoa(r.Intn(100000))
	case "email":
		return strings.ToLower(pick(r, firstNames)) + "@" + pick(r, exDomains)
	case "phone":
		return fmt.Sprintf("%03d-%04d", r.Intn(1000), r.Intn(10000))
	case "colour":
		return pick(r, colours)
	case "price", "total":
		return money(r.Intn(100000))
	case "job":
		return pick(r, jobs)
	case "score", "height", "weight", "size":
		return decimal(r.Intn(10000), 1+r.Intn(2))
	case "status", "plan":
		return pick(r, exStatus)
	case "version":
		return fmt.Sprintf("%d.%d.%d", r.Intn(10), r.Intn(30), r.Intn(50))
	case "host":
		return pick(r, exWords) + "." + pick(r, exDomains)
	case "lang":
		return pick(r, []string{"Go", "Python", "C", "Rust", "Java", "SQL", "Lua", "Ruby"})
	default:
		return pick(r, exWords)
	}
}

// record draws 3-6 distinct keys with values.
func record(r *rng.RNG) (keys, vals []string) {
	k := 3 + r.Intn(4)
	for _, i := range r.Perm(len(exKeys))[:k] {
		keys = append(keys, exKeys[i])
		vals = append(vals, exValue(r, exKeys[i]))
	}
	return keys, vals
}

// renderRecord writes a record in one of several notations.
func renderRecord(v int, keys, vals []string) string {
	var parts []string
	switch v % 7 {
	case 0: // key=value with a separator
		sep := []string{" | ", "; ", ", ", " ", "&", "\t", " / "}[v/7%7]
		eq := []string{"=", ":", ": ", " = "}[v/49%4]
		for i := range keys {
			parts = append(parts, keys[i]+eq+vals[i])
		}
		return strings.Join(parts, sep)
	case 1: // key: value lines
		for i := range keys {
			parts = append(parts, capFirstIf(v/7%2 == 0, keys[i])+": "+vals[i])
		}
		return strings.Join(parts, "\n")
	case 2: // JSON
		for i := range keys {
			v := vals[i]
			if _, err := strconv.Atoi(v); err != nil {
				v = `"` + v + `"`
			}
			parts = append(parts, `"`+keys[i]+`": `+v)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case 3: // a header line and a row
		sep := []string{",", ";", "\t", " | "}[v/7%4]
		return strings.Join(keys, sep) + "\n" + strings.Join(vals, sep)
	case 4: // tags
		for i := range keys {
			parts = append(parts, "<"+keys[i]+">"+vals[i]+"</"+keys[i]+">")
		}
		return strings.Join(parts, "")
	case 5: // prose
		for i := range keys {
			parts = append(parts, "the "+keys[i]+" is "+vals[i])
		}
		return capFirst(strings.Join(parts, ", ")) + "."
	default: // brackets
		for i := range keys {
			parts = append(parts, "["+keys[i]+"] "+vals[i])
		}
		return strings.Join(parts, " ")
	}
}

func capFirstIf(c bool, s string) string {
	if c {
		return capFirst(s)
	}
	return s
}

func askKey(k string) []string {
	return []string{k + "?", "What is the " + k + "?", k + ":", "the " + k, "Which " + k + "?", k + " =", "get " + k,
		"value of " + k, "Give the " + k + ".", "[" + k + "]", strings.ToUpper(k), "Find the " + k}
}

// Ordinals for positions in a list.
var ordinals = []string{"first", "second", "third", "fourth", "fifth", "sixth"}

func randomWords(r *rng.RNG, lo, hi int) []string {
	k := lo + r.Intn(hi-lo+1)
	out := make([]string, k)
	for i := range out {
		out[i] = pick(r, exWords)
	}
	return out
}

func distinctInts(r *rng.RNG, k, lo, hi int) []int {
	seen := map[int]bool{}
	var out []int
	for len(out) < k {
		v := lo + r.Intn(hi-lo)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// listSep is a list separator chosen by v.
func listSep(v int) string { return []string{", ", " ", "; ", ",", " | ", " / "}[v%6] }

func titleCase(words []string, keepSmall bool) string {
	out := make([]string, len(words))
	for i, w := range words {
		if keepSmall && i > 0 && slices.Contains(exSmallWords, w) {
			out[i] = w
		} else {
			out[i] = capFirst(w)
		}
	}
	return strings.Join(out, " ")
}

// groupDigits writes n with sep between groups of three digits.
func groupDigits(n int, sep string) string {
	return strings.ReplaceAll(grouped(n), ",", sep)
}

// trimDecimal writes v / 10^places without trailing zeros: 1250, 3 -> "1.25".
func trimDecimal(v, places int) string {
	s := decimal(v, places)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Unit pairs and the power of ten between them.
var exConversions = []struct {
	from, to, fromLong, toLong string
	shift                      int
}{
	{"km", "m", "kilometres", "metres", 3}, {"m", "cm", "metres", "centimetres", 2}, {"m", "mm", "metres", "millimetres", 3},
	{"cm", "mm", "centimetres", "millimetres", 1}, {"kg", "g", "kilograms", "grams", 3}, {"l", "ml", "litres", "millilitres", 3},
	{"t", "kg", "tonnes", "kilograms", 3}, {"GB", "MB", "gigabytes", "megabytes", 3}, {"s", "ms", "seconds", "milliseconds", 3},
	{"kW", "W", "kilowatts", "watts", 3}, {"g", "mg", "grams", "milligrams", 3}, {"km", "cm", "kilometres", "centimetres", 5},
}

// exerciseOps are the operations Exercises draws from.
var exerciseOps = []operation{
	// Lookups.
	func(r *rng.RNG, v int) exercise { // a field of a record
		keys, vals := record(r)
		i := r.Intn(len(keys))
		return exercise{renderRecord(v, keys, vals), askKey(keys[i]), vals[i], true}
	},
	func(r *rng.RNG, v int) exercise { // a position in a list
		w := randomWords(r, 3, 6)
		i := r.Intn(len(w))
		asks := []string{"the " + ordinals[i] + " word", "item " + strconv.Itoa(i+1), "word #" + strconv.Itoa(i+1),
			"What is the " + ordinals[i] + " item?", "position " + strconv.Itoa(i+1)}
		if i == len(w)-1 {
			asks = append(asks, "the last word", "last item?")
		}
		return exercise{strings.Join(w, listSep(v)), asks, w[i], true}
	},
	func(r *rng.RNG, v int) exercise { // the value paired with a key, among pairs
		k := 3 + r.Intn(4)
		names := r.Perm(len(exWords))[:k]
		vals := distinctInts(r, k, 0, 100)
		var parts []string
		arrow := []string{" -> ", ": ", "=", " is ", " costs "}[v%5]
		for i, n := range names {
			parts = append(parts, exWords[n]+arrow+strconv.Itoa(vals[i]))
		}
		i := r.Intn(k)
		w := exWords[names[i]]
		return exercise{strings.Join(parts, listSep(v/5)), []string{w + "?", "and " + w, "What about " + w + "?", w + arrow}, strconv.Itoa(vals[i]), true}
	},
	func(r *rng.RNG, v int) exercise { // the key that has a value
		keys, vals := record(r)
		i := r.Intn(len(keys))
		return exercise{renderRecord(v, keys, vals), []string{"which field holds " + vals[i] + "?", "key of " + vals[i], "Where is " + vals[i] + "?"}, keys[i], true}
	},
	// Extraction.
	func(r *rng.RNG, v int) exercise { // the domain of an address
		u, d := strings.ToLower(pick(r, firstNames))+pick(r, []string{"", ".", "_"})+strings.ToLower(pick(r, surnames)), pick(r, exDomains)
		return exercise{u + "@" + d, []string{"domain?", "the domain", "Which domain?", "mail server"}, d, false}
	},
	func(r *rng.RNG, v int) exercise { // a file's extension or name
		name := pick(r, exWords) + pick(r, []string{"_", "-", ""}) + strconv.Itoa(r.Intn(100))
		ext := pick(r, exExts)
		if v%2 == 0 {
			return exercise{name + "." + ext, []string{"extension?", "file type", "the extension"}, ext, false}
		}
		return exercise{"/home/" + strings.ToLower(pick(r, firstNames)) + "/" + name + "." + ext, []string{"file name?", "base name", "the file"}, name + "." + ext, false}
	},
	func(r *rng.RNG, v int) exercise { // the number in a sentence
		n := strconv.Itoa(number(r))
		s := pick(r, []string{"We sold %s " + pick(r, groceries) + " today.", "Room %s is on the left.", "It took %s minutes.", "She scored %s points.", "There were %s people."})
		return exercise{fmt.Sprintf(s, n), []string{"the number", "number?", "How many?", "digits only"}, n, false}
	},
	func(r *rng.RNG, v int) exercise { // the text between brackets or quotes
		w := strings.Join(randomWords(r, 1, 3), " ")
		open, close := "(", ")"
		switch v % 3 {
		case 0:
			open, close = `"`, `"`
		case 1:
			open, close = "[", "]"
		}
		return exercise{pick(r, exWords) + " " + open + w + close + " " + pick(r, exWords), []string{"inside the brackets", "the quoted part", "what is enclosed?", "extract it"}, w, false}
	},
	func(r *rng.RNG, v int) exercise { // first and last name swapped
		f, l := pick(r, firstNames), pick(r, surnames)
		if v%2 == 0 {
			return exercise{l + ", " + f, []string{"first name first", "full name", "as written normally"}, f + " " + l, false}
		}
		return exercise{f + " " + l, []string{"surname, first name", "last name first", "for the index"}, l + ", " + f, false}
	},
	// Case and separators.
	func(r *rng.RNG, v int) exercise {
		w := strings.Join(randomWords(r, 1, 4), " ")
		return exercise{w, []string{"uppercase", "in capitals", "UPPER", "shout it", "all caps"}, strings.ToUpper(w), false}
	},
	func(r *rng.RNG, v int) exercise {
		w := randomWords(r, 1, 4)
		u := strings.ToUpper(strings.Join(w, " "))
		if v%2 == 0 {
			u = titleCase(w, false)
		}
		return exercise{u, []string{"lowercase", "in small letters", "lower", "no capitals"}, strings.Join(w, " "), false}
	},
	func(r *rng.RNG, v int) exercise { // title case, small words kept or not
		w := randomWords(r, 2, 5)
		keep := v%2 == 0
		if keep {
			w = slices.Insert(w, 1+r.Intn(len(w)-1), pick(r, exSmallWords))
		}
		asks := []string{"capitalise each word", "Title Case", "capitals for every word", "as a heading"}
		if keep {
			asks = []string{"title case (small words stay lower)", "as a title", "headline style", "capitalise the main words"}
		}
		return exercise{strings.Join(w, " "), asks, titleCase(w, keep), false}
	},
	func(r *rng.RNG, v int) exercise { // sentence case
		w := randomWords(r, 2, 6)
		return exercise{strings.Join(w, " "), []string{"capitalise the first letter", "as a sentence", "sentence case"}, capFirst(strings.Join(w, " ")) + []string{"", "."}[v%2], false}
	},
	func(r *rng.RNG, v int) exercise { // identifiers: snake, kebab, camel
		w := randomWords(r, 2, 4)
		switch v % 3 {
		case 0:
			return exercise{strings.Join(w, " "), []string{"snake_case", "as a variable", "join with underscores"}, strings.Join(w, "_"), false}
		case 1:
			return exercise{strings.Join(w, " "), []string{"kebab-case", "as a slug", "join with hyphens"}, strings.Join(w, "-"), false}
		default:
			return exercise{strings.Join(w, " "), []string{"camelCase", "as a Go name", "lowerCamel"}, w[0] + strings.ReplaceAll(titleCase(w[1:], false), " ", ""), false}
		}
	},
	func(r *rng.RNG, v int) exercise { // another separator
		w := randomWords(r, 2, 5)
		from, to := listSep(v), []string{", ", "; ", " ", " | ", "-", "/", " and "}[v/6%7]
		if from == to {
			to = "\t"
		}
		return exercise{strings.Join(w, from), []string{"separate with " + strconv.Quote(to), "use " + strconv.Quote(strings.TrimSpace(to)) + " between", "rejoin"}, strings.Join(w, to), false}
	},
	// Reordering and editing.
	func(r *rng.RNG, v int) exercise {
		w := randomWords(r, 2, 5)
		rev := slices.Clone(w)
		slices.Reverse(rev)
		sep := listSep(v)
		return exercise{strings.Join(w, sep), []string{"reverse the order", "backwards", "last to first", "reversed"}, strings.Join(rev, sep), false}
	},
	func(r *rng.RNG, v int) exercise { // a short word spelt backwards
		w := pick(r, exWords)
		b := []byte(w)
		slices.Reverse(b)
		return exercise{w, []string{"spell it backwards", "reverse the letters", "mirror"}, string(b), false}
	},
	func(r *rng.RNG, v int) exercise { // spelt out with spaces, or joined back
		w := pick(r, exWords)
		sp := strings.Join(strings.Split(w, ""), []string{" ", "-", ", "}[v/2%3])
		if v%2 == 0 {
			return exercise{w, []string{"spell it", "letter by letter", "spell out"}, sp, false}
		}
		return exercise{sp, []string{"join the letters", "the word", "which word?"}, w, false}
	},
	func(r *rng.RNG, v int) exercise { // alphabetical order
		w := randomWords(r, 3, 5)
		s := slices.Clone(w)
		slices.Sort(s)
		sep := listSep(v)
		return exercise{strings.Join(w, sep), []string{"alphabetical order", "sort A-Z", "sort the words", "in dictionary order"}, strings.Join(s, sep), false}
	},
	func(r *rng.RNG, v int) exercise { // drop an item, or repeated items
		w := randomWords(r, 3, 6)
		sep := listSep(v / 2)
		if v%2 == 0 {
			return exercise{strings.Join(w, sep), []string{"without the first", "drop the first item", "all but the first"}, strings.Join(w[1:], sep), false}
		}
		var seen, kept []string
		for _, x := range append(w, w[r.Intn(len(w))]) {
			if !slices.Contains(seen, x) {
				kept = append(kept, x)
			}
			seen = append(seen, x)
		}
		return exercise{strings.Join(append(w, w[r.Intn(len(w))]), sep), []string{"remove duplicates", "unique items", "each once"}, strings.Join(kept, sep), false}
	},
	func(r *rng.RNG, v int) exercise { // first or last word
		w := randomWords(r, 2, 6)
		if v%2 == 0 {
			return exercise{strings.Join(w, " "), []string{"first word", "the first one", "begins with?"}, w[0], false}
		}
		return exercise{strings.Join(w, " "), []string{"last word", "the last one", "ends with?"}, w[len(w)-1], false}
	},
	// Number formats.
	func(r *rng.RNG, v int) exercise { // digits grouped
		n := 1000 + r.Intn(999999000)
		sep := []string{",", " ", ".", "'", "_"}[v/3%5]
		if v%3 == 0 {
			return exercise{groupDigits(n, sep), []string{"digits only", "remove the separators", "as a plain number", "ungroup"}, strconv.Itoa(n), false}
		}
		return exercise{strconv.Itoa(n), []string{"with separators", "format the number", "readable", "in groups of three", "with " + strconv.Quote(sep)}, groupDigits(n, sep), false}
	},
	func(r *rng.RNG, v int) exercise { // padding and leading zeros
		n, w := r.Intn(1000), 3+v/2%4
		if v%2 == 0 {
			return exercise{strconv.Itoa(n), []string{fmt.Sprintf("pad to %d digits", w), "zero-padded", fmt.Sprintf("%d digits", w)}, fmt.Sprintf("%0*d", w, n), false}
		}
		return exercise{fmt.Sprintf("%0*d", w, n), []string{"strip the zeros", "without leading zeros", "as a number"}, strconv.Itoa(n), false}
	},
	func(r *rng.RNG, v int) exercise { // decimal shifts
		x, places := r.Intn(100000), r.Intn(3)
		k := 1 + v/2%3
		p := []int{1, 10, 100, 1000}[k]
		if v%2 == 0 {
			return exercise{trimDecimal(x, places), []string{"times " + strconv.Itoa(p), "multiply by " + strconv.Itoa(p), "x" + strconv.Itoa(p), "* " + strconv.Itoa(p)}, trimDecimal(x*p, places), false}
		}
		return exercise{trimDecimal(x, places), []string{"divided by " + strconv.Itoa(p), "/ " + strconv.Itoa(p), "over " + strconv.Itoa(p)}, trimDecimal(x, places+k), false}
	},
	func(r *rng.RNG, v int) exercise { // unit conversions, both ways
		c := exConversions[v/2%len(exConversions)]
		x, places := r.Intn(10000), r.Intn(3)
		p := 1
		for range c.shift {
			p *= 10
		}
		if v%2 == 0 {
			from := trimDecimal(x, places)
			return exercise{from + " " + pick(r, []string{c.from, c.fromLong}), []string{"in " + c.toLong, "convert to " + c.to, "how many " + c.toLong + "?", "to " + c.to},
				trimDecimal(x*p, places) + " " + c.to, false}
		}
		return exercise{trimDecimal(x, places) + " " + c.to, []string{"in " + c.fromLong, "convert to " + c.from, "to " + c.from},
			trimDecimal(x, places+c.shift) + " " + c.from, false}
	},
	func(r *rng.RNG, v int) exercise { // rounding
		x := r.Intn(100000)
		switch v % 3 {
		case 0:
			return exercise{decimal(x, 2), []string{"round to a whole number", "nearest integer", "rounded"}, strconv.Itoa((x + 50) / 100), false}
		case 1:
			return exercise{strconv.Itoa(x), []string{"round to the nearest 10", "to tens"}, strconv.Itoa((x + 5) / 10 * 10), false}
		default:
			return exercise{strconv.Itoa(x), []string{"round to the nearest 100", "to hundreds"}, strconv.Itoa((x + 50) / 100 * 100), false}
		}
	},
	func(r *rng.RNG, v int) exercise { // words and numerals
		n := r.Intn(1000)
		if v%2 == 0 {
			return exercise{strconv.Itoa(n), []string{"in words", "spell the number", "write it out"}, inWords(n), false}
		}
		return exercise{inWords(n), []string{"in digits", "as a numeral", "the number"}, strconv.Itoa(n), false}
	},
	func(r *rng.RNG, v int) exercise { // Roman numerals
		n := 1 + r.Intn(300)
		if v%2 == 0 {
			return exercise{strconv.Itoa(n), []string{"in Roman numerals", "Roman", "as a Roman numeral"}, roman(n), false}
		}
		return exercise{roman(n), []string{"in Arabic numerals", "value?", "as a number"}, strconv.Itoa(n), false}
	},
	func(r *rng.RNG, v int) exercise { // percentages
		p := 5 * (1 + r.Intn(19))
		base := 20 * (1 + r.Intn(50))
		return exercise{fmt.Sprintf("%d%% of %d", p, base), []string{"compute", "how much?", "result"}, trimDecimal(p*base, 2), false}
	},
	// Arithmetic.
	func(r *rng.RNG, v int) exercise {
		a, b := r.Intn(1000), r.Intn(1000)
		if v/4%2 == 0 {
			a, b = a%100, b%100
		}
		switch v % 4 {
		case 0:
			return exercise{fmt.Sprintf("%d + %d", a, b), []string{"add", "sum", "what is", "calculate"}, strconv.Itoa(a + b), false}
		case 1:
			return exercise{fmt.Sprintf("%d - %d", a, b), []string{"subtract", "difference", "what is", "calculate"}, strconv.Itoa(a - b), false}
		case 2:
			return exercise{fmt.Sprintf("%d and %d", a, b), []string{"their sum", "add them", "total"}, strconv.Itoa(a + b), false}
		default:
			a, b = max(a, b), min(a, b)
			return exercise{fmt.Sprintf("%d from %d", b, a), []string{"take away", "subtract", "what is left"}, strconv.Itoa(a - b), false}
		}
	},
	func(r *rng.RNG, v int) exercise { // one step
		n := r.Intn(10000)
		switch v % 4 {
		case 0:
			return exercise{strconv.Itoa(n), []string{"plus one", "next number", "increment", "add 1"}, strconv.Itoa(n + 1), false}
		case 1:
			return exercise{strconv.Itoa(n + 1), []string{"minus one", "previous number", "decrement", "subtract 1"}, strconv.Itoa(n), false}
		case 2:
			n %= 1000
			return exercise{strconv.Itoa(n), []string{"double it", "times two", "twice"}, strconv.Itoa(2 * n), false}
		default:
			n = 2 * (n % 1000)
			return exercise{strconv.Itoa(n), []string{"half of it", "divided by two", "halve"}, strconv.Itoa(n / 2), false}
		}
	},
	func(r *rng.RNG, v int) exercise { // small products and the sum of a short list
		if v%2 == 0 {
			a, b := 1+r.Intn(12), 1+r.Intn(12)
			return exercise{fmt.Sprintf("%d x %d", a, b), []string{"multiply", "product", "times table"}, strconv.Itoa(a * b), false}
		}
		xs := make([]int, 2+r.Intn(4))
		s := 0
		for i := range xs {
			xs[i] = 1 + r.Intn(9)
			s += xs[i]
		}
		return exercise{joinInts(xs, listSep(v/2)), []string{"sum of these", "add them up", "total"}, strconv.Itoa(s), false}
	},
	// Comparing, sorting, counting.
	func(r *rng.RNG, v int) exercise {
		xs := distinctInts(r, 2+r.Intn(4), 0, []int{10, 100, 1000, 100000}[r.Intn(4)])
		sep := listSep(v / 2)
		if v%2 == 0 {
			return exercise{joinInts(xs, sep), []string{"the largest", "max", "which is biggest?", "highest"}, strconv.Itoa(slices.Max(xs)), false}
		}
		return exercise{joinInts(xs, sep), []string{"the smallest", "min", "which is lowest?", "minimum"}, strconv.Itoa(slices.Min(xs)), false}
	},
	func(r *rng.RNG, v int) exercise {
		xs := distinctInts(r, 3+r.Intn(4), 0, []int{10, 100, 1000, 10000}[r.Intn(4)])
		s := slices.Clone(xs)
		slices.Sort(s)
		sep := listSep(v / 3)
		if v%3 == 0 {
			slices.Reverse(s)
			return exercise{joinInts(xs, sep), []string{"sort descending", "largest first", "from high to low", "in decreasing order"}, joinInts(s, sep), false}
		}
		return exercise{joinInts(xs, sep), []string{"sort ascending", "smallest first", "in order", "from low to high", "sorted"}, joinInts(s, sep), false}
	},
	func(r *rng.RNG, v int) exercise { // how many items
		w := randomWords(r, 1, 7)
		return exercise{strings.Join(w, listSep(v)), []string{"how many items?", "count them", "number of words"}, strconv.Itoa(len(w)), false}
	},
	func(r *rng.RNG, v int) exercise { // yes/no questions
		switch v % 4 {
		case 0:
			n := r.Intn(1000)
			return exercise{strconv.Itoa(n), []string{"even or odd?", "parity"}, []string{"even", "odd"}[n%2], false}
		case 1:
			a, b := r.Intn(1000), r.Intn(1000)
			ans := "no"
			if a > b {
				ans = "yes"
			}
			return exercise{fmt.Sprintf("%d > %d", a, b), []string{"true?", "is it so?", "yes or no"}, ans, false}
		case 2:
			w := randomWords(r, 2, 5)
			x := pick(r, exWords)
			ans := "no"
			if slices.Contains(w, x) {
				ans = "yes"
			}
			return exercise{strings.Join(w, ", "), []string{"contains " + x + "?", "is " + x + " there?", "any " + x + "?"}, ans, true}
		default:
			a, b := pick(r, exWords), pick(r, exWords)
			ans := a
			if len(b) > len(a) {
				ans = b
			}
			if len(a) == len(b) {
				ans = "same"
			}
			return exercise{a + " or " + b, []string{"which is longer?", "the longer word"}, ans, false}
		}
	},
}
