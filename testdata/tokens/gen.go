//go:build ignore

// gen writes the token-rows benchmark's tasks (README, "Characters the base never learned"): two JSON Lines files
// whose prompts are words and whose completions are digits, so that a base that never saw a digit (base-v1) has to
// produce characters it cannot tell apart. Written for issue 16, unlike testdata/owndata's tasks (whose prompts hold
// the digits too). Run from the repository root: go run testdata/tokens/gen.go. The files are committed; the script
// is kept beside them to show how they were made.
//
//	dates:   "the twelfth of june nineteen eighty-seven\n" -> "1987-06-12"
//	numbers: "four thousand three hundred and five\n"    -> "4305"
package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

type example struct {
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"`
}

const perTask = 1000

var (
	ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
		"twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens     = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	ordinals = []string{"", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
		"eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
		"nineteenth", "twentieth"}
	months = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
		"november", "december"}
	days = []int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
)

// below100 spells 0..99: "seven", "forty-two".
func below100(n int) string {
	if n < 20 {
		return ones[n]
	}
	if n%10 == 0 {
		return tens[n/10]
	}
	return tens[n/10] + "-" + ones[n%10]
}

// words spells 0..9999 in British style: "four thousand three hundred and five".
func words(n int) string {
	if n < 100 {
		return below100(n)
	}
	var parts []string
	if n >= 1000 {
		parts = append(parts, ones[n/1000]+" thousand")
		n %= 1000
	}
	if n >= 100 {
		parts = append(parts, ones[n/100]+" hundred")
		n %= 100
	}
	if n > 0 {
		parts = append(parts, "and "+below100(n))
	}
	return strings.Join(parts, " ")
}

// ordinal spells 1..31: "third", "twenty-first", "thirtieth".
func ordinal(d int) string {
	switch {
	case d <= 20:
		return ordinals[d]
	case d == 30:
		return "thirtieth"
	}
	return tens[d/10] + "-" + ordinals[d%10]
}

// year spells a year as people say it: 1987 "nineteen eighty-seven", 1905 "nineteen oh five", 2000 "two thousand",
// 2014 "twenty fourteen".
func year(y int) string {
	hi, lo := y/100, y%100
	switch {
	case y == 2000:
		return "two thousand"
	case lo == 0:
		return below100(hi) + " hundred"
	case lo < 10:
		return below100(hi) + " oh " + ones[lo]
	}
	return below100(hi) + " " + below100(lo)
}

func main() {
	r := rand.New(rand.NewPCG(16, 2026))
	tasks := []struct {
		name string
		gen  func() example
	}{
		{"dates", func() example {
			m := r.IntN(12)
			d := 1 + r.IntN(days[m])
			y := 1900 + r.IntN(130)
			return example{fmt.Sprintf("the %s of %s %s\n", ordinal(d), months[m], year(y)), fmt.Sprintf("%04d-%02d-%02d", y, m+1, d)}
		}},
		{"numbers", func() example {
			n := r.IntN(10000)
			if r.IntN(4) == 0 {
				n = r.IntN(100)
			}
			return example{words(n) + "\n", fmt.Sprint(n)}
		}},
	}
	for _, task := range tasks {
		seen := map[string]bool{}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		for n := 0; n < perTask; {
			e := task.gen()
			if seen[e.Prompt] {
				continue
			}
			seen[e.Prompt] = true
			if err := enc.Encode(e); err != nil {
				panic(err)
			}
			n++
		}
		path := filepath.Join("testdata", "tokens", task.name+".jsonl")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			panic(err)
		}
		fmt.Println(path)
	}
}
