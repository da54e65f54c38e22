// This file holds the e2e task: data-to-text in the style of the E2E NLG
// benchmark, with one deterministic house-style sentence per meaning
// representation.

package data

import (
	"strings"

	"golora/core/rng"
)

// e2eMaxBytes bounds len(prompt)+len(completion), so that with BOS and End an
// example fits a 128-token byte-level context with room to spare.
const e2eMaxBytes = 120

// The optional fields of a meaning representation, in the fixed order they
// are written (name always comes first).
var e2eFields = []string{"type", "food", "price", "area", "rating", "family", "near"}

// mr is one meaning representation: the index of each field's value, -1 when
// the field is absent (near is an index into restaurantNames).
type mr struct {
	name                                         int
	typ, food, price, area, rating, family, near int
}

// e2eDescription is what a UI shows about the task.
const e2eDescription = "e2e: data-to-text in the style of the E2E NLG benchmark. The prompt is a meaning " +
	"representation of 3-5 fields (name always, then 2-4 of type, food, price, area, rating, family, near), " +
	"the completion one sentence in a fixed house style that mentions every field. Test prompts are " +
	"combinations never seen in training."

func newE2E(cfg TaskConfig) (*Task, error) {
	r := rng.New(cfg.Seed ^ seedE2E)
	ex, err := distinctExamples(r, cfg.Train+cfg.Val+cfg.Test, "e2e", func(r *rng.RNG) Example {
		for {
			if e := randomMR(r).example(); len(e.Prompt)+len(e.Completion) <= e2eMaxBytes {
				return e
			}
		}
	})
	if err != nil {
		return nil, err
	}
	tr, va, te := splitInOrder(ex, cfg.Train, cfg.Val)
	return &Task{Name: "e2e", Description: e2eDescription, Train: tr, Val: va, Test: te}, nil
}

// randomMR draws a name and 2-4 distinct optional fields with random values.
func randomMR(r *rng.RNG) mr {
	m := mr{name: r.Intn(len(restaurantNames)), typ: -1, food: -1, price: -1, area: -1, rating: -1, family: -1, near: -1}
	k := 2 + r.Intn(3)
	perm := r.Perm(len(e2eFields))
	for _, f := range perm[:k] {
		switch e2eFields[f] {
		case "type":
			m.typ = r.Intn(len(eatTypes))
		case "food":
			m.food = r.Intn(len(foods))
		case "price":
			m.price = r.Intn(len(prices))
		case "area":
			m.area = r.Intn(len(areas))
		case "rating":
			m.rating = r.Intn(len(ratings))
		case "family":
			m.family = r.Intn(len(families))
		case "near":
			m.near = r.Intn(len(restaurantNames) - 1)
			if m.near >= m.name { // any name but its own
				m.near++
			}
		}
	}
	return m
}

// example renders m as prompt "name[The Mill] food[Italian] area[riverside]\n"
// and its house-style sentence:
//
//	NAME is a[n] [PRICE] [FOOD] TYPE|place [AREA] [near NEAR][, rated RATING][ and ][FAMILY].
//
// e.g. "The Mill is a cheap Italian restaurant by the riverside near Zizzi,
// rated high and family friendly."
func (m mr) example() Example {
	var p strings.Builder
	field := func(key, val string) {
		p.WriteString(" " + key + "[" + val + "]")
	}
	p.WriteString("name[" + restaurantNames[m.name] + "]")
	var desc []string // the noun phrase after "is a"
	if m.typ >= 0 {
		field("type", eatTypes[m.typ])
	}
	if m.food >= 0 {
		field("food", foods[m.food])
	}
	if m.price >= 0 {
		field("price", prices[m.price])
		desc = append(desc, priceWords[m.price])
	}
	if m.food >= 0 {
		desc = append(desc, foods[m.food])
	}
	if m.typ >= 0 {
		desc = append(desc, eatTypes[m.typ])
	} else {
		desc = append(desc, "place")
	}
	if m.area >= 0 {
		field("area", areas[m.area])
		desc = append(desc, areaWords[m.area])
	}
	var tail []string
	if m.rating >= 0 {
		field("rating", ratings[m.rating])
		tail = append(tail, "rated "+ratings[m.rating])
	}
	if m.family >= 0 {
		field("family", families[m.family])
		tail = append(tail, familyWords[m.family])
	}
	if m.near >= 0 {
		field("near", restaurantNames[m.near])
		desc = append(desc, "near "+restaurantNames[m.near])
	}
	p.WriteString("\n")
	c := restaurantNames[m.name] + " is " + withArticle(strings.Join(desc, " "))
	if len(tail) > 0 {
		c += ", " + strings.Join(tail, " and ")
	}
	return Example{Prompt: p.String(), Completion: c + "."}
}
