// This file holds the word lists of golora's small world. The corpus and the
// e2e and cipher tasks draw from the same lists, so a base model pretrained on
// the corpus already knows the tasks' vocabulary.

package data

// Restaurant names, in the style of the E2E NLG benchmark (short ones, so that
// an e2e prompt and its completion fit a 128-byte context).
var restaurantNames = []string{
	"The Mill", "The Eagle", "Aromi", "Zizzi", "Cotto", "Giraffe", "The Punter",
	"Wildwood", "Strada", "Loch Fyne", "The Vaults", "The Phoenix", "The Plough",
	"Cocum", "Green Man", "Clowns", "Alimentum", "Blue Spice", "The Waterman",
	"The Dove", "Midsummer", "The Bakers",
}

// The e2e fields' values: the word used in a meaning representation and, where
// it differs, the words the house style writes.
var (
	eatTypes = []string{"restaurant", "pub", "coffee shop"}
	foods    = []string{"Italian", "French", "Chinese", "Indian", "Japanese", "English", "fast food"}
	prices   = []string{"cheap", "moderate", "high"}
	// priceWords[i] is how prices[i] reads before the food.
	priceWords = []string{"cheap", "mid-priced", "expensive"}
	areas      = []string{"riverside", "city centre"}
	// areaWords[i] is how areas[i] reads after the type.
	areaWords = []string{"by the riverside", "in the city centre"}
	ratings   = []string{"low", "average", "high"}
	families  = []string{"yes", "no"}
	// familyWords[i] is how families[i] reads in the tail.
	familyWords = []string{"family friendly", "not family friendly"}
)

// The rest of the small world: people, places, objects, weather, time.
var (
	people = []string{
		"Anna", "Ben", "Clara", "David", "Emma", "Frank", "Grace", "Harry", "Isla",
		"Jack", "Kate", "Leo", "Mia", "Noah", "Olivia", "Paul", "Rosa", "Sam",
		"Tom", "Una", "Victor", "Wendy",
	}
	places = []string{
		"park", "market", "library", "station", "river", "beach", "museum", "school",
		"bakery", "harbour", "garden", "hill", "bridge", "forest", "farm", "shop",
		"castle", "lake", "square", "zoo",
	}
	objects = []string{
		"cup", "book", "lamp", "key", "box", "hat", "ball", "coat", "chair", "clock",
		"basket", "map", "kite", "bag", "spoon", "candle", "bottle", "letter",
		"ring", "bell", "boat", "bike", "jar", "plate",
	}
	adjectives = []string{
		"red", "small", "old", "new", "blue", "heavy", "bright", "wooden", "green",
		"tiny", "big", "soft", "shiny", "quiet", "yellow", "warm", "broken",
		"lucky", "strange", "pretty", "dusty", "brown",
	}
	furniture = []string{"table", "shelf", "bed", "desk", "floor", "chair", "window sill"}
	weathers  = []string{"sunny", "rainy", "windy", "cold", "warm", "foggy", "cloudy", "snowy", "stormy"}
	times     = []string{
		"in the morning", "at night", "after lunch", "on monday", "on friday",
		"at noon", "in the evening", "last week", "on sunday", "before dinner",
	}
	animals = []string{"cat", "dog", "bird", "fox", "horse", "duck", "rabbit", "mouse", "goat", "owl"}
	// Past tense verbs that take an object: "found a cup".
	pastVerbs = []string{
		"found", "bought", "lost", "carried", "painted", "sold", "dropped", "washed",
		"hid", "fixed", "made", "gave away", "picked up", "opened",
	}
	// Present tense verbs for "the cat sat on the mat" style sentences.
	actionVerbs = []string{
		"sat", "slept", "stood", "waited", "jumped", "ran", "played", "looked",
		"walked", "sang", "hid", "danced", "rested",
	}
	prepositions = []string{"on", "under", "near", "behind", "by", "in", "beside", "over"}
	feelings     = []string{"happy", "tired", "hungry", "sleepy", "glad", "calm", "busy", "cheerful"}
)
