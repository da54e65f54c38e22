package data

import (
	"strings"
	"testing"

	"golora/core/rng"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustTask(t *testing.T, cfg TaskConfig) *Task {
	t.Helper()
	task, err := NewTask(cfg)
	require.NoError(t, err, "NewTask(%+v)", cfg)
	return task
}

func defaultTask(t *testing.T, name string, seed uint64) *Task {
	t.Helper()
	cfg, err := DefaultTaskConfig(name)
	require.NoError(t, err)
	cfg.Seed = seed
	return mustTask(t, cfg)
}

func prompts(ex []Example) map[string]bool {
	m := map[string]bool{}
	for _, e := range ex {
		m[e.Prompt] = true
	}
	return m
}

func TestTasksDeterministicAndSized(t *testing.T) {
	for _, name := range TaskNames() {
		t.Run(name, func(t *testing.T) {
			cfg, err := DefaultTaskConfig(name)
			require.NoError(t, err)
			a, b := mustTask(t, cfg), mustTask(t, cfg)
			assert.Equal(t, a, b, "same config, same task")
			assert.Equal(t, name, a.Name)
			assert.NotEmpty(t, a.Description)
			assert.Len(t, a.Train, cfg.Train, "train size")
			assert.Len(t, a.Val, cfg.Val, "val size")
			assert.Len(t, a.Test, cfg.Test, "test size")
			for _, split := range [][]Example{a.Train, a.Val, a.Test} {
				for i, e := range split {
					require.NotEmpty(t, e.Prompt, "example %d prompt", i)
					require.NotEmpty(t, e.Completion, "example %d completion", i)
					// BOS + prompt + completion + End within a 128-byte context.
					require.LessOrEqual(t, len(e.Prompt)+len(e.Completion), 120, "example %d: %q", i, e)
				}
			}
			cfg.Seed = 2
			c := mustTask(t, cfg)
			assert.NotEqual(t, a.Test, c.Test, "another seed, another task")
		})
	}
}

func TestTasksDisjointByPrompt(t *testing.T) {
	for _, name := range []string{"e2e", "cipher"} {
		task := defaultTask(t, name, 7)
		tr, va, te := prompts(task.Train), prompts(task.Val), prompts(task.Test)
		assert.Len(t, tr, len(task.Train), "%s train prompts distinct", name)
		assert.Len(t, te, len(task.Test), "%s test prompts distinct", name)
		for p := range te {
			assert.False(t, tr[p], "%s test prompt %q in train", name, p)
			assert.False(t, va[p], "%s test prompt %q in val", name, p)
		}
		for p := range va {
			assert.False(t, tr[p], "%s val prompt %q in train", name, p)
		}
	}
}

func TestTaskConfigErrors(t *testing.T) {
	def := func(name string) TaskConfig {
		c, err := DefaultTaskConfig(name)
		require.NoError(t, err)
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(c *TaskConfig)
		task string
		want string
	}{
		{"unknown task", func(c *TaskConfig) { c.Name = "sums" }, "e2e", `unknown task "sums"`},
		{"cipher difficulty high", func(c *TaskConfig) { c.Difficulty = 40 }, "cipher", "task: cipher difficulty must be 1..26, got 40"},
		{"cipher difficulty zero", func(c *TaskConfig) { c.Difficulty = 0 }, "cipher", "cipher difficulty must be 1..26, got 0"},
		{"train zero", func(c *TaskConfig) { c.Train = 0 }, "e2e", "e2e train size must be"},
		{"val negative", func(c *TaskConfig) { c.Val = -1 }, "cipher", "cipher val size must be"},
		{"test huge", func(c *TaskConfig) { c.Test = 1 << 30 }, "e2e", "e2e test size must be"},
		{"facts zero", func(c *TaskConfig) { c.Facts = 0 }, "facts", "facts facts must be 1..1000, got 0"},
		{"facts train small", func(c *TaskConfig) { c.Train = 150 }, "facts", "facts train must be >= 2*facts = 200"},
		{"facts test > facts", func(c *TaskConfig) { c.Test = 101 }, "facts", "facts test must be <= facts = 100"},
		{"facts val > facts", func(c *TaskConfig) { c.Val = 101 }, "facts", "facts val must be <= facts = 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := def(tc.task)
			tc.edit(&c)
			_, err := NewTask(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// A generator whose space is smaller than asked fails instead of looping.
	_, err := distinctExamples(rng.New(1), 5, "tiny", func(r *rng.RNG) Example {
		return Example{Prompt: string(rune('a' + r.Intn(3))), Completion: "x"}
	})
	assert.ErrorContains(t, err, "task: tiny cannot make 5 distinct examples (got 3)")
	_, err = DefaultTaskConfig("nope")
	assert.ErrorContains(t, err, `unknown task "nope"`)
}

// Every field of the meaning representation shows in the sentence, so the
// model must read all of them.
func TestE2EMentionsEveryField(t *testing.T) {
	task := defaultTask(t, "e2e", 3)
	for i, e := range append(task.Train, task.Test...) {
		require.True(t, strings.HasSuffix(e.Prompt, "\n"), "example %d prompt ends in a newline", i)
		parts := strings.Split(strings.TrimSuffix(e.Prompt, "\n"), "] ")
		require.GreaterOrEqual(t, len(parts), 3, "example %d has 3-5 fields: %q", i, e.Prompt)
		require.LessOrEqual(t, len(parts), 5, "example %d has 3-5 fields: %q", i, e.Prompt)
		for _, p := range parts {
			key, val, ok := strings.Cut(strings.TrimSuffix(p, "]"), "[")
			require.True(t, ok, "example %d field %q", i, p)
			var want string
			switch key {
			case "name", "near", "food", "type", "rating":
				want = val
			case "price":
				want = priceWords[indexOf(prices, val)]
			case "area":
				want = areaWords[indexOf(areas, val)]
			case "family":
				want = familyWords[indexOf(families, val)]
			default:
				t.Fatalf("example %d: unknown field %q", i, key)
			}
			assert.Contains(t, e.Completion, want, "example %d: %q -> %q", i, e.Prompt, e.Completion)
		}
		assert.True(t, strings.HasSuffix(e.Completion, "."), "example %d is one sentence", i)
		assert.Equal(t, 1, strings.Count(e.Completion, "."), "example %d is one sentence", i)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	panic("indexOf: " + s)
}

func TestCipherKey(t *testing.T) {
	for k := 1; k <= 26; k++ {
		key := newCipherKey(99, k)
		changed, image := 0, map[byte]bool{}
		for i, c := range key {
			require.True(t, c >= 'a' && c <= 'z', "k=%d letter %c maps to %q", k, 'a'+i, c)
			if c != byte('a'+i) {
				changed++
			}
			image[c] = true
		}
		assert.Equal(t, k, changed, "k=%d changes exactly k letters", k)
		if k >= 2 {
			assert.Len(t, image, 26, "k=%d is a bijection", k)
		}
	}
	key := newCipherKey(5, 3)
	assert.Equal(t, key, newCipherKey(5, 3), "deterministic")
	s := "Hello, the cat sat!"
	out := key.apply(s)
	require.Len(t, out, len(s))
	for i := range s {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			assert.Equal(t, s[i], out[i], "non-letter at %d unchanged", i)
		}
	}
}

func TestCipherExamples(t *testing.T) {
	cfg, err := DefaultTaskConfig("cipher")
	require.NoError(t, err)
	cfg.Difficulty = 9
	task := mustTask(t, cfg)
	key := newCipherKey(cfg.Seed, 9)
	for i, e := range task.Train {
		s, ok := strings.CutPrefix(e.Prompt, "cipher: ")
		require.True(t, ok, "example %d prompt %q", i, e.Prompt)
		s, ok = strings.CutSuffix(s, "\n")
		require.True(t, ok, "example %d prompt %q", i, e.Prompt)
		assert.LessOrEqual(t, len(s), 50, "example %d sentence length", i)
		assert.Equal(t, key.apply(s), e.Completion, "example %d", i)
	}
}

func TestFactsSplits(t *testing.T) {
	task := defaultTask(t, "facts", 11)
	train := map[Example]bool{}
	for _, e := range task.Train {
		train[e] = true
	}
	answers := map[string]bool{}
	for i, e := range task.Test {
		assert.True(t, train[e], "test question %d %q is trained", i, e.Prompt)
		assert.True(t, strings.HasPrefix(e.Prompt, "Q: ") && strings.HasSuffix(e.Prompt, "\nA: "), "test %d format", i)
		answers[e.Completion] = true
	}
	trainPrompts := prompts(task.Train)
	for i, e := range task.Val {
		assert.False(t, trainPrompts[e.Prompt], "val %d %q is a held-out phrasing", i, e.Prompt)
		assert.Equal(t, task.Test[i].Completion, e.Completion, "val %d asks the same fact as test %d", i, i)
	}
	statements := 0
	for _, e := range task.Train {
		if e.Prompt == factsStatementPrompt {
			statements++
		}
	}
	assert.Equal(t, 100, statements, "one statement per fact")
	assert.Len(t, prompts(task.Test), 100, "each test question asks another subject")
}

// Invented names are fresh: neither words of the corpus nor appearing in it.
func TestFactsNamesNotInCorpus(t *testing.T) {
	cfg, err := DefaultTaskConfig("facts")
	require.NoError(t, err)
	cfg.Facts, cfg.Train, cfg.Test, cfg.Val = 1000, 2000, 1000, 1000
	task := mustTask(t, cfg)
	corpus := map[string]bool{}
	for _, s := range Corpus(cfg.Seed, 3000) {
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
			corpus[w] = true
		}
	}
	for i, e := range task.Test {
		if strings.Contains(e.Prompt, "made of") {
			continue // the answer is a common material
		}
		assert.False(t, corpus[strings.ToLower(e.Completion)], "fact %d answer %q is a corpus word", i, e.Completion)
	}
}

func TestCorpus(t *testing.T) {
	a := Corpus(1, 2000)
	require.Len(t, a, 2000)
	assert.Equal(t, a, Corpus(1, 2000), "deterministic")
	assert.NotEqual(t, a[:10], Corpus(2, 10), "seeded")
	assert.Equal(t, a[:10], Corpus(1, 10), "a prefix of a longer corpus")
	distinct, upper, lower, restaurants := map[string]bool{}, 0, 0, 0
	for i, s := range a {
		require.GreaterOrEqual(t, len(s), 50, "sentence %d %q", i, s)
		require.LessOrEqual(t, len(s), 120, "sentence %d %q", i, s)
		assert.NotContains(t, s, "cipher", "sentence %d", i)
		assert.NotContains(t, s, "food food", "sentence %d", i)
		assert.NotContains(t, s, "  ", "sentence %d", i)
		distinct[s] = true
		switch {
		case s[0] >= 'A' && s[0] <= 'Z':
			upper++
		case s[0] >= 'a' && s[0] <= 'z':
			lower++
		}
		for _, n := range restaurantNames {
			if strings.Contains(s, n) {
				restaurants++
				break
			}
		}
	}
	assert.Greater(t, len(distinct), 1900, "varied")
	assert.Greater(t, upper, 500, "capitalised sentences")
	assert.Greater(t, lower, 300, "lowercase sentences")
	assert.Greater(t, restaurants, 400, "sentences about restaurants")
}
