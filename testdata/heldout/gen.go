//go:build ignore

// gen writes the held-out check's tasks (models/README.md, stage 2): two small
// JSON Lines files, each an operation common in people's data that the base's
// pretraining exercises (data.Exercises) leave out on purpose, so that the
// check measures whether what the exercises taught carries over to operations
// the base was never asked to do:
//
//   - dates: an ISO date rewritten day first, "2020-02-16 ->" " 16 Feb 2020";
//   - acronym: the initials of a phrase in capitals,
//     `acronym of "private shell name portable":` " PSNP".
//
// The pretraining corpus's formats part (data.Formats, in both stages) does
// show dates in seven notations, some beside their ISO form, and a few
// organisations' names beside their acronyms, as sentences; no line asks for
// either operation. Run from the repository root: go run
// testdata/heldout/gen.go. The files are committed; the script is kept beside
// them to show how they were made. Each task draws from its own seeded random
// stream, so the output does not depend on the order the tasks are written in.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type example struct {
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"`
}

const (
	perTask = 1000
	// maxBytes bounds prompt and completion together, so that an example
	// fits the base's context of 128 tokens (one per byte) with its BOS and
	// end token.
	maxBytes = 126
)

// task is one file: its name and a generator drawing from r.
type task struct {
	name string
	seed uint64
	gen  func(r *rand.Rand) example
}

var tasks = []task{
	// An ISO date, day first with the month's short name; every day of the
	// calendar from 1960 to 2029.
	{"dates", 1, func(r *rand.Rand) example {
		start := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
		days := int(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
		d := start.AddDate(0, 0, r.IntN(days))
		return example{d.Format("2006-01-02") + " ->", " " + d.Format("2 Jan 2006")}
	}},
	// Two to five words, the capital of each word's first letter.
	{"acronym", 2, func(r *rand.Rand) example {
		words := []string{"portable", "network", "graphics", "open", "source", "data", "central", "public", "library", "system",
			"remote", "access", "digital", "signal", "hyper", "text", "transfer", "protocol", "secure", "shell", "global",
			"position", "domain", "name", "virtual", "private", "machine", "random", "memory", "unit", "file", "server"}
		n := 2 + r.IntN(4)
		ws := make([]string, n)
		var ac strings.Builder
		for i := range ws {
			ws[i] = words[r.IntN(len(words))]
			ac.WriteString(strings.ToUpper(ws[i][:1]))
		}
		return example{`acronym of "` + strings.Join(ws, " ") + `":`, " " + ac.String()}
	}},
}

func main() {
	for _, t := range tasks {
		r := rand.New(rand.NewPCG(t.seed, 2026))
		seen := map[string]bool{}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // keep "->" readable
		for n := 0; n < perTask; {
			e := t.gen(r)
			if len(e.Prompt)+len(e.Completion) > maxBytes {
				panic(fmt.Sprintf("%s: %q is longer than the context", t.name, e.Prompt))
			}
			if seen[e.Prompt] {
				continue
			}
			seen[e.Prompt] = true
			if err := enc.Encode(e); err != nil {
				panic(err)
			}
			n++
		}
		path := filepath.Join("testdata", "heldout", t.name+".jsonl")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			panic(err)
		}
		fmt.Println(path)
	}
}
