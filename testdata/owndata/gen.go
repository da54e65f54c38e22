//go:build ignore

// gen writes the own-data benchmark's tasks (README, "Your own data"): six
// small JSON Lines files, each a different format, written for this benchmark
// and not drawn from the pretraining corpus's templates. Run from the
// repository root: go run testdata/owndata/gen.go. The files are committed;
// the script is kept beside them to show how they were made.
package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

type example struct {
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"`
}

const perTask = 1000

func main() {
	r := rand.New(rand.NewPCG(11, 2026))
	tasks := map[string]func() example{
		// Metric conversions: the decimal point moves, the unit changes.
		"units": func() example {
			type conv struct {
				from, to string
				shift    int
			}
			cs := []conv{{"km", "m", 3}, {"m", "cm", 2}, {"kg", "g", 3}, {"l", "ml", 3}, {"m", "mm", 3}, {"cm", "mm", 1}}
			c := cs[r.IntN(len(cs))]
			whole, frac := r.IntN(100), r.IntN(100)
			v := fmt.Sprintf("%d.%02d", whole, frac)
			scaled := (whole*100 + frac)
			for range c.shift {
				scaled *= 10
			}
			out := fmt.Sprint(scaled / 100)
			if f := scaled % 100; f != 0 {
				out += strings.TrimRight(fmt.Sprintf(".%02d", f), "0")
			}
			return example{fmt.Sprintf("%s %s = ? %s\n", v, c.from, c.to), out + " " + c.to}
		},
		// Number formatting: digits grouped by thousands.
		"thousands": func() example {
			n := 1000 + r.IntN(99999000)
			s := fmt.Sprint(n)
			var b strings.Builder
			for i, c := range s {
				if i > 0 && (len(s)-i)%3 == 0 {
					b.WriteByte(',')
				}
				b.WriteRune(c)
			}
			return example{"group the digits of " + s + "\n", b.String()}
		},
		// One field of a pipe-separated record.
		"field": func() example {
			first := []string{"Ada", "Linus", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Niklaus", "Radia"}
			last := []string{"Lovelace", "Torvalds", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Wirth", "Perlman"}
			towns := []string{"Leeds", "Porto", "Turku", "Graz", "Bergen", "Utrecht", "Lille", "Basel", "Cork", "Aarhus", "Brno", "Malmo"}
			rec := map[string]string{
				"name": first[r.IntN(len(first))] + " " + last[r.IntN(len(last))],
				"year": fmt.Sprint(1900 + r.IntN(120)),
				"town": towns[r.IntN(len(towns))],
				"code": fmt.Sprintf("%c%c-%d", 'A'+r.IntN(26), 'A'+r.IntN(26), 100+r.IntN(900)),
			}
			keys := []string{"name", "year", "town", "code"}
			r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = k + "=" + rec[k]
			}
			want := keys[r.IntN(len(keys))]
			return example{strings.Join(parts, " | ") + "\n" + want + "?\n", rec[want]}
		},
		// Three to five numbers, sorted.
		"sort": func() example {
			v := make([]int, 3+r.IntN(3))
			for i := range v {
				v[i] = r.IntN(100)
			}
			in := fmt.Sprint(v)
			slices.Sort(v)
			return example{"sort " + strings.Trim(in, "[]") + "\n", strings.Trim(fmt.Sprint(v), "[]")}
		},
		// Title case, small words kept lowercase except first.
		"titlecase": func() example {
			words := []string{"music", "ocean", "paper", "winter", "garden", "river", "machine", "silver", "morning", "window", "castle", "market",
				"island", "thunder", "journey", "planet", "violin", "harvest", "lantern", "meadow", "crystal", "orchard", "canyon", "falcon"}
			small := []string{"of", "and", "the", "in", "on", "for"}
			n := 3 + r.IntN(3)
			lower := make([]string, 0, n)
			title := make([]string, 0, n)
			for i := range n {
				w := words[r.IntN(len(words))]
				if i > 0 && i < n-1 && r.IntN(3) == 0 {
					w = small[r.IntN(len(small))]
				}
				lower = append(lower, w)
				if i == 0 || !slices.Contains(small, w) {
					w = strings.ToUpper(w[:1]) + w[1:]
				}
				title = append(title, w)
			}
			return example{"Title: " + strings.Join(lower, " ") + "\n", strings.Join(title, " ")}
		},
		// Small sums and differences, asked in words.
		"arithmetic": func() example {
			a, b := r.IntN(50), r.IntN(50)
			if r.IntN(2) == 0 {
				return example{fmt.Sprintf("What is %d plus %d?\n", a, b), fmt.Sprint(a + b)}
			}
			a += b
			return example{fmt.Sprintf("What is %d minus %d?\n", a, b), fmt.Sprint(a - b)}
		},
	}
	names := make([]string, 0, len(tasks))
	for name := range tasks {
		names = append(names, name)
	}
	slices.Sort(names) // one random stream for all, so a fixed order
	for _, name := range names {
		gen := tasks[name]
		seen := map[string]bool{}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		for n := 0; n < perTask; {
			e := gen()
			if seen[e.Prompt] {
				continue
			}
			seen[e.Prompt] = true
			if err := enc.Encode(e); err != nil {
				panic(err)
			}
			n++
		}
		path := filepath.Join("testdata", "owndata", name+".jsonl")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			panic(err)
		}
		fmt.Println(path)
	}
}
