// This file holds the fine-tuning task types, their configuration and the
// constructors that dispatch to the generators (e2e.go, cipher.go, facts.go).

package data

import (
	"fmt"
	"strconv"
	"strings"

	"golora/core/rng"
)

// Example is one prompt and the completion the model should produce after it.
type Example struct {
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"`
	Source     string `json:"-"` // where it was read ("mine.jsonl:17", see ReadJSONL), for errors; "" when generated
}

// where names an example in errors: its Source when it has one, else its index i in its split.
func (e Example) where(i int) string {
	if e.Source != "" {
		return e.Source
	}
	return strconv.Itoa(i)
}

// Task is a named set of examples in three splits. Train is what the model
// fits, Val what is watched during training, Test what exact-match accuracy
// (greedy decoding of each Test prompt) is reported on.
type Task struct {
	Name        string
	Description string
	Train       []Example
	Val         []Example
	Test        []Example
}

// TaskConfig says which generated task to build and how big.
type TaskConfig struct {
	Name       string // "e2e", "cipher" or "facts"
	Seed       uint64 // every example, the cipher key and the invented names follow from it
	Difficulty int    // cipher only: how many letters the substitution changes, 1..26
	Facts      int    // facts only: how many invented facts, 1..maxFacts
	Train      int    // examples in each split (facts: see facts.go for what they mean)
	Val        int
	Test       int
}

// Limits on generated tasks.
const (
	maxFacts    = 1000  // invented names come from a finite syllable space
	maxExamples = 50000 // per split: bigger tasks are not what a browser trains on
)

// TaskNames lists the generated tasks, in the order a UI shows them.
func TaskNames() []string { return []string{"e2e", "cipher", "facts"} }

// DefaultTaskConfig returns the defaults of a task: sized so that a small
// pretrained byte-level base can reach >= 95% exact match with full
// fine-tuning within a few hundred steps.
func DefaultTaskConfig(name string) (TaskConfig, error) {
	switch name {
	case "e2e":
		return TaskConfig{Name: name, Seed: 1, Train: 2000, Val: 100, Test: 200}, nil
	case "cipher":
		// 6 letters: enough that most sentences change, few enough to learn quickly.
		return TaskConfig{Name: name, Seed: 1, Difficulty: 6, Train: 2000, Val: 100, Test: 200}, nil
	case "facts":
		// Each fact is trained in two phrasings (question and statement), so
		// Train = 2*Facts; Val asks every fact in a held-out phrasing, Test in
		// the trained question form.
		return TaskConfig{Name: name, Seed: 1, Facts: 100, Train: 200, Val: 100, Test: 100}, nil
	}
	return TaskConfig{}, fmt.Errorf("task: unknown task %q (want one of %s)", name, strings.Join(TaskNames(), ", "))
}

// Validate reports the first field of c that is out of range. Fields a task
// does not use (Difficulty outside cipher, Facts outside facts) are ignored.
func (c TaskConfig) Validate() error {
	if _, err := DefaultTaskConfig(c.Name); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"train", c.Train}, {"val", c.Val}, {"test", c.Test}} {
		if f.v < 1 || f.v > maxExamples {
			return fmt.Errorf("task: %s %s size must be 1..%d, got %d", c.Name, f.name, maxExamples, f.v)
		}
	}
	switch c.Name {
	case "cipher":
		if c.Difficulty < 1 || c.Difficulty > 26 {
			return fmt.Errorf("task: cipher difficulty must be 1..26, got %d", c.Difficulty)
		}
	case "facts":
		if c.Facts < 1 || c.Facts > maxFacts {
			return fmt.Errorf("task: facts facts must be 1..%d, got %d", maxFacts, c.Facts)
		}
		if c.Train < 2*c.Facts {
			return fmt.Errorf("task: facts train must be >= 2*facts = %d (every fact in both trained phrasings), got %d", 2*c.Facts, c.Train)
		}
		if c.Val > c.Facts {
			return fmt.Errorf("task: facts val must be <= facts = %d (one question per fact), got %d", c.Facts, c.Val)
		}
		if c.Test > c.Facts {
			return fmt.Errorf("task: facts test must be <= facts = %d (one question per fact), got %d", c.Facts, c.Test)
		}
	}
	return nil
}

// NewTask generates the task that cfg names. The same cfg gives the same task,
// example for example.
func NewTask(cfg TaskConfig) (*Task, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Name {
	case "e2e":
		return newE2E(cfg)
	case "cipher":
		return newCipher(cfg)
	default:
		return newFacts(cfg)
	}
}

// NewTaskFromExamples wraps bring-your-own examples as a Task. Every split
// must be non-empty and every completion non-empty (an empty completion would
// train only End and make exact match trivial). Splits need not be disjoint:
// a memorisation task asks what it trained, as the facts task does.
func NewTaskFromExamples(name string, train, val, test []Example) (*Task, error) {
	if name == "" {
		return nil, fmt.Errorf("task: name must not be empty")
	}
	for _, s := range []struct {
		split string
		ex    []Example
	}{{"train", train}, {"val", val}, {"test", test}} {
		if len(s.ex) == 0 {
			return nil, fmt.Errorf("task %s: %s split is empty (SplitExamples needs at least 3 distinct prompts)", name, s.split)
		}
		for i, e := range s.ex {
			if e.Completion == "" {
				return nil, fmt.Errorf("task %s: %s example %s has an empty completion", name, s.split, e.where(i))
			}
		}
	}
	return &Task{
		Name:        name,
		Description: fmt.Sprintf("%s: your own examples (%d train, %d val, %d test)", name, len(train), len(val), len(test)),
		Train:       train, Val: val, Test: test,
	}, nil
}

// distinctExamples draws examples from gen until it has n with distinct
// prompts, in the order drawn. It fails when the generator's space is too
// small for n (after many more draws than n).
func distinctExamples(r *rng.RNG, n int, what string, gen func(r *rng.RNG) Example) ([]Example, error) {
	seen := make(map[string]bool, n)
	out := make([]Example, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries > 20*n+1000 {
			return nil, fmt.Errorf("task: %s cannot make %d distinct examples (got %d): ask for fewer", what, n, len(out))
		}
		e := gen(r)
		if seen[e.Prompt] {
			continue
		}
		seen[e.Prompt] = true
		out = append(out, e)
	}
	return out, nil
}

// splitInOrder cuts ex into consecutive train, val and test parts.
func splitInOrder(ex []Example, train, val int) (tr, va, te []Example) {
	return ex[:train], ex[train : train+val], ex[train+val:]
}
