// This file holds Formats, the pretraining lines that carry what people's data
// holds and the small world lacks: numbers in every notation, dates and times,
// prices, units, records, CSV and JSON lines, lists, titles, quotes,
// arithmetic and code.

package data

import (
	"fmt"
	"strconv"
	"strings"

	"golora/core/rng"
)

const seedFormats uint64 = 0x666f726d617473 // "formats"

// Formats returns n lines generated from seed, each drawn from one of
// formatTemplates (40-240 bytes, some of several lines). Every printable
// ASCII byte, newline and tab appears in them at least once in 10,000 bytes
// (TestByteHistogram): twice the frequency a corpus needs, so that prose
// making up to half of a corpus cannot push a byte under 1 in 20,000.
// Numbers are built from integers (no float formatting), so the text is the
// same natively and in wasm.
func Formats(seed uint64, n int) []string {
	r := rng.New(seed ^ seedFormats)
	out := make([]string, 0, n)
	for len(out) < n {
		s := formatTemplates[r.Intn(len(formatTemplates))](r)
		for len(s) < 40 {
			s += "\n" + formatTemplates[r.Intn(len(formatTemplates))](r)
		}
		if len(s) > 240 {
			continue
		}
		out = append(out, s)
	}
	return out
}

// The vocabulary of the formats: ordinary words of records, shops, places,
// people and programs, none from the facts task's invented names.
var (
	firstNames = []string{
		"Alice", "Bruno", "Chen", "Dana", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Keiko", "Lars",
		"Maria", "Nadia", "Omar", "Priya", "Quentin", "Ravi", "Sofia", "Tariq", "Ursula", "Vera", "Wei", "Xavier",
		"Yusuf", "Zoe", "Amir", "Beatrice", "Carlos", "Daniel", "Eva", "George", "Helen", "Ivan", "Julia", "Kofi",
		"Laura", "Martin", "Nina", "Oscar", "Peter", "Rachel", "Simon", "Thomas", "Yara", "Zack", "Lucy", "Mark",
	}
	surnames = []string{
		"Smith", "Garcia", "Nguyen", "Kowalski", "Okafor", "Jensen", "Rossi", "Tanaka", "Dubois", "Schmidt",
		"Murphy", "Silva", "Novak", "Ahmed", "Larsen", "Moreau", "Fischer", "Kim", "Lopez", "Brown", "Walker",
		"Young", "Hill", "Baker", "Evans", "Price", "Ward", "Cole", "Fox", "Hughes", "Quinn", "Reed",
	}
	cities = []string{
		"London", "Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Dublin", "Oslo", "Vienna", "Prague", "Warsaw",
		"Athens", "Cairo", "Lagos", "Nairobi", "Mumbai", "Delhi", "Tokyo", "Osaka", "Seoul", "Beijing", "Sydney",
		"Toronto", "Chicago", "Boston", "Denver", "Austin", "Seattle", "Lima", "Bogota", "Santiago", "Quito",
		"New York", "San Francisco", "Mexico City", "Rio de Janeiro", "Cape Town", "Hong Kong",
	}
	countries = []string{
		"France", "Germany", "Spain", "Italy", "Portugal", "Ireland", "Norway", "Austria", "Poland", "Greece",
		"Egypt", "Nigeria", "Kenya", "India", "Japan", "Korea", "China", "Australia", "Canada", "Brazil",
		"Peru", "Chile", "Mexico", "Sweden", "Finland", "Denmark", "Turkey", "Vietnam", "Argentina",
	}
	months     = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	weekdays   = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	products   = []string{"notebook", "pencil", "stapler", "backpack", "umbrella", "kettle", "toaster", "blender", "headphones", "keyboard", "monitor", "charger", "jacket", "sneakers", "scarf", "mug", "teapot", "lamp", "desk", "chair", "bicycle", "helmet", "tent", "camera", "battery", "printer", "towel", "pillow", "blanket", "wallet"}
	groceries  = []string{"apples", "bananas", "bread", "butter", "cheese", "coffee", "eggs", "flour", "garlic", "honey", "lemons", "milk", "onions", "pasta", "pepper", "potatoes", "rice", "salt", "sugar", "tea", "tomatoes", "yogurt", "carrots", "oranges", "beans", "oats"}
	colours    = []string{"red", "green", "blue", "black", "white", "grey", "yellow", "orange", "purple", "pink", "brown", "silver"}
	jobs       = []string{"teacher", "nurse", "engineer", "designer", "driver", "chef", "lawyer", "doctor", "farmer", "pilot", "writer", "analyst", "clerk", "manager", "student", "plumber", "baker", "editor"}
	topics     = []string{"history", "music", "science", "travel", "cooking", "gardening", "football", "chess", "poetry", "economics", "weather", "art", "film", "health", "sleep", "water", "energy", "design", "language", "memory"}
	titleWords = []string{
		"river", "night", "garden", "city", "winter", "summer", "silence", "light", "shadow", "house", "road",
		"sea", "stone", "fire", "dream", "island", "mountain", "letter", "clock", "glass", "voice", "secret",
		"orchard", "harbour", "storm", "journey", "kingdom", "machine", "forest", "window", "bridge", "lantern",
	}
	titleAdjectives = []string{"last", "quiet", "long", "little", "hidden", "golden", "broken", "lost", "distant", "empty", "old", "young", "silver", "endless", "strange", "first"}
	organisations   = []string{
		"World Health Organization", "European Space Agency", "National Park Service", "United Nations",
		"International Monetary Fund", "British Broadcasting Corporation", "Royal Society of Chemistry",
		"North Atlantic Treaty Organization", "Federal Bureau of Investigation", "Central Processing Unit",
		"Random Access Memory", "Graphics Processing Unit", "Portable Document Format", "Frequently Asked Questions",
	}
	identifiers = []string{"count", "total", "name", "index", "value", "result", "items", "size", "offset", "buf", "line", "key", "user_id", "max_len", "is_valid", "next", "prev", "data", "err", "path"}
	units       = []struct{ short, long string }{
		{"kg", "kilograms"}, {"g", "grams"}, {"km", "kilometres"}, {"m", "metres"}, {"cm", "centimetres"},
		{"mm", "millimetres"}, {"l", "litres"}, {"ml", "millilitres"}, {"h", "hours"}, {"min", "minutes"},
		{"s", "seconds"}, {"mi", "miles"}, {"lb", "pounds"}, {"oz", "ounces"}, {"ft", "feet"}, {"in", "inches"},
		{"MB", "megabytes"}, {"GB", "gigabytes"}, {"kWh", "kilowatt hours"}, {"km/h", "kilometres per hour"},
	}
	currencies = []struct{ sign, code string }{{"$", "USD"}, {"EUR ", "EUR"}, {"GBP ", "GBP"}, {"$", "CAD"}, {"", "JPY"}}
)

// Numbers: integers with and without thousands separators, decimals, signs.

// grouped writes n with commas between groups of three digits: 1234567 -> "1,234,567".
func grouped(n int) string {
	s := strconv.Itoa(abs(n))
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// decimal writes the fixed-point number v / 10^places: decimal(-1234, 2) = "-12.34".
func decimal(v, places int) string {
	p := 1
	for range places {
		p *= 10
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if places == 0 {
		return sign + strconv.Itoa(v)
	}
	return fmt.Sprintf("%s%d.%0*d", sign, v/p, places, v%p)
}

// money writes cents as a price: "12.50", "1,234.99".
func money(cents int) string { return grouped(cents/100) + fmt.Sprintf(".%02d", cents%100) }

// number draws an integer whose size varies over orders of magnitude.
func number(r *rng.RNG) int {
	switch r.Intn(4) {
	case 0:
		return r.Intn(10)
	case 1:
		return r.Intn(100)
	case 2:
		return r.Intn(10000)
	default:
		return r.Intn(10000000)
	}
}

var onesWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
	"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
var tensWords = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}

// inWords spells 0 <= n < 1,000,000 in English: 1205 -> "one thousand two hundred five".
func inWords(n int) string {
	switch {
	case n < 20:
		return onesWords[n]
	case n < 100:
		if n%10 == 0 {
			return tensWords[n/10]
		}
		return tensWords[n/10] + "-" + onesWords[n%10]
	case n < 1000:
		if n%100 == 0 {
			return onesWords[n/100] + " hundred"
		}
		return onesWords[n/100] + " hundred " + inWords(n%100)
	default:
		if n%1000 == 0 {
			return inWords(n/1000) + " thousand"
		}
		return inWords(n/1000) + " thousand " + inWords(n%1000)
	}
}

// Dates and times.

type date struct{ y, m, d int } // m 1..12, d 1..28 (every month has those)

func randomDate(r *rng.RNG) date { return date{1950 + r.Intn(80), 1 + r.Intn(12), 1 + r.Intn(28)} }

// weekday is the day of the week (Zeller's congruence), so that dates say true things.
func (d date) weekday() string {
	y, m := d.y, d.m
	if m < 3 {
		m += 12
		y--
	}
	h := (d.d + 13*(m+1)/5 + y + y/4 - y/100 + y/400) % 7 // 0 = Saturday
	return weekdays[(h+5)%7]
}

// format writes d in one of several notations.
func (d date) format(r *rng.RNG) string {
	switch r.Intn(7) {
	case 0:
		return fmt.Sprintf("%04d-%02d-%02d", d.y, d.m, d.d)
	case 1:
		return fmt.Sprintf("%02d/%02d/%04d", d.d, d.m, d.y)
	case 2:
		return fmt.Sprintf("%d/%d/%d", d.m, d.d, d.y%100)
	case 3:
		return fmt.Sprintf("%s %d, %d", months[d.m-1], d.d, d.y)
	case 4:
		return fmt.Sprintf("%d %s %d", d.d, months[d.m-1][:3], d.y)
	case 5:
		return fmt.Sprintf("%s, %d %s %d", d.weekday(), d.d, months[d.m-1], d.y)
	default:
		return fmt.Sprintf("%d.%d.%d", d.d, d.m, d.y)
	}
}

// clock writes a time of day: "14:05", "2:05 pm", "14:05:09", "noon".
func clock(r *rng.RNG) string {
	h, m := r.Intn(24), r.Intn(60)
	switch r.Intn(4) {
	case 0:
		return fmt.Sprintf("%02d:%02d", h, m)
	case 1:
		half := "am"
		if h >= 12 {
			half = "pm"
		}
		return fmt.Sprintf("%d:%02d %s", (h+11)%12+1, m, half)
	case 2:
		return fmt.Sprintf("%02d:%02d:%02d", h, m, r.Intn(60))
	default:
		return fmt.Sprintf("%dh%02d", h, m)
	}
}

func fullName(r *rng.RNG) string { return pick(r, firstNames) + " " + pick(r, surnames) }

// price writes an amount in a random currency: "$12.50", "EUR 8.99", "1,200 JPY".
func price(r *rng.RNG, cents int) string {
	c := currencies[r.Intn(len(currencies))]
	if c.code == "JPY" {
		return grouped(cents) + " JPY"
	}
	if r.Intn(3) == 0 {
		return money(cents) + " " + c.code
	}
	return c.sign + money(cents)
}

// title writes a book or film title in title case: "The Last Light of the Harbour".
func title(r *rng.RNG) string {
	a, n, m := pick(r, titleAdjectives), pick(r, titleWords), pick(r, titleWords)
	var words []string
	switch r.Intn(4) {
	case 0:
		words = []string{"the", a, n}
	case 1:
		words = []string{"the", n, "and", "the", m}
	case 2:
		words = []string{"a", a, n, "in", "the", m}
	default:
		words = []string{n, "of", "the", a, m}
	}
	for i, w := range words {
		if i == 0 || !strings.Contains(" a an and the of in on for to ", " "+w+" ") {
			words[i] = capFirst(w)
		}
	}
	return strings.Join(words, " ")
}

// acronym writes the capitals of an organisation's name: "World Health Organization" -> "WHO".
func acronym(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		if w[0] >= 'A' && w[0] <= 'Z' {
			b.WriteByte(w[0])
		}
	}
	return b.String()
}

var romanDigits = []struct {
	v int
	s string
}{{1000, "M"}, {900, "CM"}, {500, "D"}, {400, "CD"}, {100, "C"}, {90, "XC"}, {50, "L"}, {40, "XL"}, {10, "X"}, {9, "IX"}, {5, "V"}, {4, "IV"}, {1, "I"}}

// roman writes 1 <= n < 4000 in Roman numerals: 1994 -> "MCMXCIV".
func roman(n int) string {
	var b strings.Builder
	for _, d := range romanDigits {
		for ; n >= d.v; n -= d.v {
			b.WriteString(d.s)
		}
	}
	return b.String()
}

// sortedInts returns k distinct random numbers below n in increasing order.
func sortedInts(r *rng.RNG, k, n int) []int {
	seen := map[int]bool{}
	var out []int
	for len(out) < k {
		v := r.Intn(n)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

// formatTemplates make the format lines; each draws its own values.
var formatTemplates = []template{
	// Integers, decimals, negatives, thousands separators.
	func(r *rng.RNG) string {
		a := 1000 + r.Intn(5000000)
		b := a + r.Intn(a/5+1) - a/10
		return fmt.Sprintf("The population of %s went from %s in %d to %s in %d.", pick(r, cities), grouped(a), 1960+r.Intn(30), grouped(b), 1995+r.Intn(30))
	},
	func(r *rng.RNG) string {
		t := r.Intn(600) - 200
		return fmt.Sprintf("%s, %s: %s C, wind %d km/h, humidity %d%%.", pick(r, cities), randomDate(r).format(r), decimal(t, 1), r.Intn(80), 20+r.Intn(80))
	},
	func(r *rng.RNG) string {
		bal := r.Intn(1000000) - 400000
		return fmt.Sprintf("Account %04d-%04d balance: %s (%s).", r.Intn(10000), r.Intn(10000), money(abs(bal))+map[bool]string{true: " CR", false: " DR"}[bal >= 0], randomDate(r).format(r))
	},
	func(r *rng.RNG) string {
		n := number(r)
		return fmt.Sprintf("%s (%s) %s.", grouped(n), inWords(n%1000000), pick(r, []string{"people signed up", "votes were counted", "tickets were sold", "trees were planted", "books were returned"}))
	},
	func(r *rng.RNG) string {
		x := r.Intn(2000001) - 1000000
		return fmt.Sprintf("x = %d, y = %s, z = %s; min = %d", x, decimal(r.Intn(20001)-10000, 3), decimal(r.Intn(999)+1, 2), min(x, r.Intn(10)))
	},
	// Dates and times in several notations.
	func(r *rng.RNG) string {
		d := randomDate(r)
		return fmt.Sprintf("%s was a %s. In ISO notation: %04d-%02d-%02d.", d.format(r), d.weekday(), d.y, d.m, d.d)
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("The meeting with %s is on %s at %s in room %d%c.", fullName(r), pick(r, weekdays), clock(r), 1+r.Intn(9), 'A'+rune(r.Intn(6)))
	},
	func(r *rng.RNG) string {
		d := randomDate(r)
		return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ %s %s", d.y, d.m, d.d, r.Intn(24), r.Intn(60), r.Intn(60),
			pick(r, []string{"INFO", "WARN", "ERROR", "DEBUG"}), pick(r, []string{"server started on port " + strconv.Itoa(1024+r.Intn(60000)), "request took " + strconv.Itoa(r.Intn(900)) + " ms", "disk usage at " + strconv.Itoa(r.Intn(100)) + "%", "user #" + strconv.Itoa(r.Intn(9999)) + " logged in", "cache miss for key <" + pick(r, identifiers) + ">"}))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("Train %d%d%d leaves %s at %s and arrives in %s at %s (%d h %d min).", r.Intn(10), r.Intn(10), r.Intn(10), pick(r, cities), clock(r), pick(r, cities), clock(r), r.Intn(9), r.Intn(60))
	},
	// Prices, units, percentages.
	func(r *rng.RNG) string {
		p := 100 + r.Intn(50000)
		off := 5 * (1 + r.Intn(12))
		return fmt.Sprintf("The %s %s costs %s; with %d%% off it is %s.", pick(r, colours), pick(r, products), price(r, p), off, money(p-p*off/100))
	},
	func(r *rng.RNG) string {
		u := units[r.Intn(len(units))]
		v := r.Intn(100000)
		return fmt.Sprintf("%s %s (%s %s) of %s.", decimal(v, 2), u.short, decimal(v, 2), u.long, pick(r, []string{"rain fell", "distance", "weight", "storage was used", "fuel was left", "time passed"}))
	},
	func(r *rng.RNG) string {
		km := 1 + r.Intn(500)
		return fmt.Sprintf("%d km is about %s miles; %d kg is about %s lb; %d C is %s F.", km, decimal(km*621/100, 1), km%120, decimal((km%120)*2205/100, 1), km%40, decimal(((km%40)*18+320), 1))
	},
	func(r *rng.RNG) string {
		a, b := r.Intn(1000), 1+r.Intn(1000)
		return fmt.Sprintf("Growth in Q%d: %+d.%d%%, up from %s%%; share of %s: %d/%d.", 1+r.Intn(4), r.Intn(40)-15, r.Intn(10), decimal(a-300, 1), pick(r, topics), min(a, b), max(a, b))
	},
	// Lists and enumerations.
	func(r *rng.RNG) string {
		k := 3 + r.Intn(4)
		var b strings.Builder
		b.WriteString(pick(r, []string{"Shopping list:", "To buy:", "Groceries for " + pick(r, weekdays) + ":"}))
		style := r.Intn(3)
		for i, g := range r.Perm(len(groceries))[:k] {
			switch style {
			case 0:
				fmt.Fprintf(&b, "\n%d. %s", i+1, groceries[g])
			case 1:
				fmt.Fprintf(&b, "\n- %d %s", 1+r.Intn(6), groceries[g])
			default:
				fmt.Fprintf(&b, "\n* %s (%s)", groceries[g], price(r, 50+r.Intn(900)))
			}
		}
		return b.String()
	},
	func(r *rng.RNG) string {
		k := 2 + r.Intn(4)
		var items []string
		for _, c := range r.Perm(len(cities))[:k] {
			items = append(items, cities[c])
		}
		last := items[k-1]
		return fmt.Sprintf("We visited %d cities: %s and %s. Steps: (a) book, (b) pack, (c) go; first %s, then %s.", k, strings.Join(items[:k-1], ", "), last, items[0], last)
	},
	func(r *rng.RNG) string {
		v := sortedInts(r, 4+r.Intn(4), 1000)
		order := r.Perm(len(v))
		mixed := make([]int, len(v))
		for i, o := range order {
			mixed[i] = v[o]
		}
		return fmt.Sprintf("scores: %s; ranked from lowest: %s; the highest is %d.", joinInts(mixed, ", "), joinInts(v, ", "), v[len(v)-1])
	},
	// key: value records.
	func(r *rng.RNG) string {
		d := randomDate(r)
		return fmt.Sprintf("Name: %s\nAge: %d\nCity: %s\nJob: %s\nJoined: %s", fullName(r), 18+r.Intn(70), pick(r, cities), pick(r, jobs), d.format(r))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("order_id=%d; item=%s; qty=%d; unit_price=%s; status=%s", 10000+r.Intn(90000), pick(r, products), 1+r.Intn(12), money(100+r.Intn(20000)), pick(r, []string{"paid", "shipped", "pending", "cancelled", "returned"}))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("Title:\t%s\nAuthor:\t%s\nYear:\t%d\nPages:\t%d\nISBN:\t978-%d-%03d-%05d-%d", title(r), fullName(r), 1900+r.Intn(125), 80+r.Intn(900), r.Intn(10), r.Intn(1000), r.Intn(100000), r.Intn(10))
	},
	// CSV-like and JSON-like lines.
	func(r *rng.RNG) string {
		var b strings.Builder
		b.WriteString(pick(r, []string{"id,name,city,amount", "id;name;city;amount", "id\tname\tcity\tamount"}))
		sep := string(b.String()[2])
		for range 2 + r.Intn(3) {
			fmt.Fprintf(&b, "\n%d%s%s%s%s%s%s", 1+r.Intn(999), sep, pick(r, firstNames), sep, pick(r, cities), sep, decimal(r.Intn(100000), 2))
		}
		return b.String()
	},
	func(r *rng.RNG) string {
		tags := r.Perm(len(colours))[:1+r.Intn(3)]
		ts := make([]string, len(tags))
		for i, t := range tags {
			ts[i] = `"` + colours[t] + `"`
		}
		return fmt.Sprintf(`{"id": %d, "name": "%s", "price": %s, "in_stock": %t, "tags": [%s]}`, r.Intn(100000), pick(r, products), decimal(r.Intn(100000), 2), r.Intn(2) == 0, strings.Join(ts, ", "))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf(`{"user": {"first": "%s", "last": "%s", "email": "%s.%s@example.org"}, "age": %d, "score": %s, "active": %s}`,
			pick(r, firstNames), pick(r, surnames), strings.ToLower(pick(r, firstNames)), strings.ToLower(pick(r, surnames)), 18+r.Intn(70), decimal(r.Intn(1001), 1), pick(r, []string{"true", "false", "null"}))
	},
	// Capitals, titles and acronyms.
	func(r *rng.RNG) string {
		t := title(r)
		return fmt.Sprintf("%q is a %d novel by %s. In capitals: %s.", t, 1900+r.Intn(125), fullName(r), strings.ToUpper(t))
	},
	func(r *rng.RNG) string {
		o := pick(r, organisations)
		return fmt.Sprintf("The %s (%s) published a report on %s in %s %d.", o, acronym(o), pick(r, topics), pick(r, months), 1990+r.Intn(36))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("CHAPTER %d\n\n%s\n\nIt was %s in %s when %s first saw the %s.", 1+r.Intn(30), strings.ToUpper(title(r)), pick(r, months), pick(r, cities), pick(r, firstNames), pick(r, titleWords))
	},
	func(r *rng.RNG) string {
		n := 1 + r.Intn(3999)
		return fmt.Sprintf("%d in Roman numerals is %s; %s is %d. Part %s, chapter %s.", n, roman(n), roman(1+n%40), 1+n%40, roman(1+r.Intn(12)), roman(1+r.Intn(30)))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("@%s_%d: run `%s --%s` first (it's ~%d KB), then `%s`. OK? Just ask @%s.", strings.ToLower(pick(r, firstNames)), r.Intn(100),
			pick(r, []string{"make", "git status", "ls", "npm test", "go vet"}), pick(r, []string{"help", "verbose", "dry-run", "quiet"}), 1+r.Intn(900),
			pick(r, identifiers), strings.ToLower(pick(r, surnames)))
	},
	// Quotes and punctuation.
	func(r *rng.RNG) string {
		a, b := pick(r, firstNames), pick(r, firstNames)
		return fmt.Sprintf(`"Is it really %s?" asked %s. "Yes!" said %s; "it's at %s -- I'm sure."`, clock(r), a, b, pick(r, cities))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("'%s' isn't %s's word; it's %s's (see p. %d, note %d).", pick(r, titleWords), pick(r, firstNames), pick(r, firstNames), 1+r.Intn(400), 1+r.Intn(40))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("Warning: the %s is hot! Don't touch it... Really? Yes: wait %d minutes, then [carefully] lift it.", pick(r, products), 2+r.Intn(20))
	},
	// Simple arithmetic.
	func(r *rng.RNG) string {
		a, b := number(r)%1000, number(r)%1000
		switch r.Intn(5) {
		case 0:
			return fmt.Sprintf("%d + %d = %d, and %d - %d = %d.", a, b, a+b, a, b, a-b)
		case 1:
			a, b = a%100, b%100
			return fmt.Sprintf("%d * %d = %d; %d x %d is %d.", a, b, a*b, b, a, a*b)
		case 2:
			b = 1 + b%12
			return fmt.Sprintf("%d / %d = %d remainder %d, since %d * %d + %d = %d.", a, b, a/b, a%b, b, a/b, a%b, a)
		case 3:
			a = a % 13
			return fmt.Sprintf("%d^2 = %d, %d^3 = %d, and 2^%d = %d.", a, a*a, a, a*a*a, a%11, 1<<(a%11))
		default:
			return fmt.Sprintf("%s plus %s is %s; %d more than %d is %d.", inWords(a%100), inWords(b%100), inWords(a%100+b%100), b%10, a, a+b%10)
		}
	},
	func(r *rng.RNG) string {
		k := 2 + r.Intn(4)
		nums := make([]int, k)
		sum := 0
		for i := range nums {
			nums[i] = 1 + r.Intn(99)
			sum += nums[i]
		}
		return fmt.Sprintf("Total: %s = %d (average %s); %d < %d and %d >= %d.", joinInts(nums, " + "), sum, decimal(sum*10/k, 1), nums[0], nums[0]+1+r.Intn(9), sum, sum-r.Intn(3))
	},
	// Code-like lines.
	func(r *rng.RNG) string {
		a, b := pick(r, identifiers), pick(r, identifiers)
		switch r.Intn(6) {
		case 0:
			return fmt.Sprintf("for i := 0; i < len(%s); i++ {\n\t%s += %s[i] * %d\n}", a, b, a, 1+r.Intn(9))
		case 1:
			return fmt.Sprintf("def %s(%s, %s=%d):\n\treturn [x ** 2 for x in %s if x %% %d == 0]", strings.ToLower(pick(r, []string{"scale", "filter_rows", "load", "parse"})), a, b, r.Intn(10), a, 2+r.Intn(5))
		case 2:
			return fmt.Sprintf("if (%s != NULL && %s->%s >= %d) { return %s & 0x%02X; } else { %s = ~%s | %d; }", a, a, b, r.Intn(100), b, r.Intn(256), b, b, r.Intn(16))
		case 3:
			return fmt.Sprintf("SELECT %s, COUNT(*) AS n FROM %s WHERE %s > %d GROUP BY %s ORDER BY n DESC LIMIT %d;", a, pick(r, []string{"users", "orders", "items", "events"}), b, r.Intn(1000), a, 1+r.Intn(50))
		case 4:
			return fmt.Sprintf("$ grep -rn \"%s\" ~/src/%s | sort | uniq -c > /tmp/%s_%d.txt && echo $?", a, b, a, r.Intn(100))
		default:
			return fmt.Sprintf("const %s = `%s-${%s}`; // %s @ line %d\n#include <%s.h>", a, b, a, pick(r, []string{"TODO", "FIXME", "NOTE"}), 1+r.Intn(999), pick(r, []string{"stdio", "stdlib", "string", "math"}))
		}
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("path: C:\\Users\\%s\\%s\\%s_%d.txt; regex: ^[A-Z][a-z]+\\d{%d}$; url: https://example.com/%s?id=%d&sort=%s#top",
			strings.ToLower(pick(r, firstNames)), pick(r, topics), pick(r, identifiers), r.Intn(100), 1+r.Intn(4), pick(r, topics), r.Intn(1000), pick(r, identifiers))
	},
	func(r *rng.RNG) string {
		k := pick(r, identifiers)
		return fmt.Sprintf("%s:\n  %s: %d\n  enabled: %t\n  tags: [%s, %s]\n  ratio: %s", k, pick(r, identifiers), r.Intn(5000), r.Intn(2) == 0, pick(r, colours), pick(r, colours), decimal(r.Intn(1000), 3))
	},
	func(r *rng.RNG) string {
		return fmt.Sprintf("| %s | %s | %s |\n|---|---:|---|\n| %s | %d | %s |", pick(r, []string{"name", "item"}), "qty", "note", pick(r, products), r.Intn(100), pick(r, []string{"*new*", "_old_", "**sale**", "~gone~"}))
	},
}
