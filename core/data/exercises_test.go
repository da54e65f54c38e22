package data

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
)

func TestExercises(t *testing.T) {
	a := Exercises(1, 3000)
	assert.Equal(t, a, Exercises(1, 3000), "deterministic")
	assert.Equal(t, a[:10], Exercises(1, 10), "a prefix of a longer set")
	assert.NotEqual(t, a[:10], Exercises(2, 10), "another seed, other lines")
	fewShot := 0
	for i, s := range a {
		assert.GreaterOrEqual(t, len(s), 12, "line %d %q", i, s)
		assert.LessOrEqual(t, len(s), exerciseMaxLen, "line %d %q", i, s)
		assert.True(t, plainText(s), "line %d %q", i, s)
		if !strings.HasPrefix(s, "Q: ") && !strings.HasPrefix(s, "Input: ") && !strings.HasPrefix(s, "###") && strings.Count(s, "\n") >= 2 {
			fewShot++
		}
	}
	assert.Greater(t, fewShot, 300, "a third of the lines are several instances of one operation")
}

// Every operation's answer is what the operation says, checked on instances
// by an independent computation where one is cheap.
func TestExerciseAnswers(t *testing.T) {
	r := rng.New(5)
	ints := func(s string) []int {
		var out []int
		for _, f := range strings.FieldsFunc(s, func(c rune) bool { return (c < '0' || c > '9') && c != '-' }) {
			n, err := strconv.Atoi(f)
			require.NoError(t, err, "%q", s)
			out = append(out, n)
		}
		return out
	}
	for i, op := range exerciseOps {
		for range 200 {
			v := r.Intn(1 << 20)
			e := op(r, v)
			require.NotEmpty(t, e.ask, "op %d", i)
			require.NotEmpty(t, e.out, "op %d: %+v", i, e)
			ask := strings.Join(e.ask, " / ")
			switch {
			case strings.Contains(ask, "sort ascending"):
				x := ints(e.in)
				slices.Sort(x)
				assert.Equal(t, x, ints(e.out), "%+v", e)
			case strings.Contains(ask, "sort descending"):
				x := ints(e.in)
				slices.Sort(x)
				slices.Reverse(x)
				assert.Equal(t, x, ints(e.out), "%+v", e)
			case strings.Contains(ask, "the largest"):
				assert.Equal(t, []int{slices.Max(ints(e.in))}, ints(e.out), "%+v", e)
			case strings.HasPrefix(ask, "add / sum"):
				x := ints(strings.ReplaceAll(e.in, " + ", " "))
				assert.Equal(t, strconv.Itoa(x[0]+x[1]), e.out, "%+v", e)
			case strings.HasPrefix(ask, "uppercase"):
				assert.Equal(t, strings.ToUpper(e.in), e.out)
			case strings.HasPrefix(ask, "digits only / remove the separators"):
				assert.Equal(t, strings.Map(func(c rune) rune {
					if c >= '0' && c <= '9' {
						return c
					}
					return -1
				}, e.in), e.out)
			case strings.HasSuffix(ask, "Find the "+strings.TrimSuffix(e.ask[0], "?")):
				// A record lookup: the value is in the record, after its key.
				k := strings.TrimSuffix(e.ask[0], "?")
				at := strings.Index(strings.ToLower(e.in), k)
				require.GreaterOrEqual(t, at, 0, "%+v", e)
				assert.Contains(t, e.in, e.out, "%+v", e)
			}
		}
	}
	assert.Equal(t, "1 234 567", groupDigits(1234567, " "))
	assert.Equal(t, "1.25", trimDecimal(1250, 3))
	assert.Equal(t, "12", trimDecimal(1200, 2))
	assert.Equal(t, "0.05", trimDecimal(5, 2))
	assert.Equal(t, "Garden of the Moon", titleCase([]string{"garden", "of", "the", "moon"}, true))
	assert.Equal(t, "Garden Of The Moon", titleCase([]string{"garden", "of", "the", "moon"}, false))
}

// A few-shot line repeats one variant of one operation (sorting in one
// direction, one power of ten, one unit): the instances drawn with the same
// variant ask the same thing, unless the ask names a part of the instance
// (keyed), which a few-shot line then shows with each input.
func TestFewShotKeepsTheVariant(t *testing.T) {
	r := rng.New(9)
	for i, op := range exerciseOps {
		for v := range 60 {
			first := op(r, v)
			for range 20 {
				e := op(r, v)
				if !e.keyed && !first.keyed {
					require.Equal(t, first.ask, e.ask, "op %d variant %d: %q then %q", i, v, first.in, e.in)
				}
			}
		}
	}
}

// The exercises are a part of the corpus of their own: held out and counted
// like the others, and a corpus without them is the one before them.
func TestCorpusExercisesPart(t *testing.T) {
	cfg := CorpusConfig{Seed: 1, World: 300, Formats: 300, ValFraction: 0.1}
	without, err := BuildCorpus(cfg, nil)
	require.NoError(t, err)
	cfg.Exercises = 200
	with, err := BuildCorpus(cfg, nil)
	require.NoError(t, err)
	assert.Len(t, with.Val[PartExercises], 20)
	assert.Equal(t, Exercises(1, 200)[:20], with.Val[PartExercises])
	assert.Positive(t, with.Bytes[PartExercises])
	assert.Len(t, with.Train, len(without.Train)+180)
	assert.Zero(t, without.Bytes[PartExercises])
	cfg.Exercises = -1
	_, err = BuildCorpus(cfg, nil)
	assert.ErrorContains(t, err, "exercises")
}
