package data

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCopyDrills(t *testing.T) {
	cfg := DrillConfig{MaxAlphabet: 4, MaxPeriod: 12, Periodic: 0.5}
	lines := CopyDrills(1, 400, cfg)
	assert.Equal(t, lines, CopyDrills(1, 400, cfg), "deterministic")
	assert.NotEqual(t, lines[:20], CopyDrills(2, 20, cfg), "seeded")
	var periodic, codes int
	for _, s := range lines {
		if strings.HasPrefix(s, "the codes are ") {
			codes++
			first, second, ok := strings.Cut(strings.TrimPrefix(s, "the codes are "), ". once more, the codes are ")
			assert.True(t, ok, s)
			assert.Equal(t, first+".", second, "a code list is said twice: %q", s)
			continue
		}
		periodic++
		units := strings.Split(strings.TrimSuffix(s, " | "), " | ")
		assert.GreaterOrEqual(t, len(units), 3, "a pattern repeats: %q", s)
		letters := map[rune]bool{}
		for _, u := range units {
			assert.Equal(t, units[0], u, "every repeat is the same pattern: %q", s)
		}
		for _, c := range units[0] {
			if c != ' ' {
				letters[c] = true
			}
		}
		assert.LessOrEqual(t, len(letters), cfg.MaxAlphabet, "alphabet of %q", s)
		assert.LessOrEqual(t, len(units[0]), cfg.MaxPeriod, "period of %q", s)
	}
	assert.InDelta(t, 200, periodic, 40, "about half periodic")
	assert.InDelta(t, 200, codes, 40, "about half codes")
}

func TestInterleave(t *testing.T) {
	a := []string{"a1", "a2", "a3", "a4", "a5", "a6"}
	b := []string{"b1", "b2", "b3"}
	out := Interleave(a, b, 0.3, 7)
	assert.Len(t, out, 9)
	var ga, gb []string
	for _, s := range out {
		if s[0] == 'a' {
			ga = append(ga, s)
		} else {
			gb = append(gb, s)
		}
	}
	assert.Equal(t, a, ga, "a keeps its order")
	assert.Equal(t, b, gb, "b keeps its order")
	assert.Equal(t, out, Interleave(a, b, 0.3, 7), "deterministic")
}

// Mixed drills copy digits, capitals and punctuation; without them the
// drills are the letter drills base-v1 was trained on, draw for draw.
func TestCopyDrillsMixed(t *testing.T) {
	letters := DrillConfig{MaxAlphabet: 8, MaxPeriod: 30, Periodic: 0.3}
	mixed := letters
	mixed.Mixed = 0.6
	assert.Equal(t, CopyDrills(1, 300, letters), CopyDrills(1, 300, DrillConfig{MaxAlphabet: 8, MaxPeriod: 30, Periodic: 0.3, Mixed: 0}))
	nonLetter := 0
	for _, s := range CopyDrills(1, 1000, mixed) {
		if strings.ContainsFunc(s, func(c rune) bool { return c != ' ' && (c < 'a' || c > 'z') && !strings.ContainsRune(".,|", c) }) {
			nonLetter++
		}
		if strings.HasPrefix(s, "the codes are ") {
			first, second, ok := strings.Cut(strings.TrimPrefix(s, "the codes are "), ". once more, the codes are ")
			assert.True(t, ok, s)
			assert.Equal(t, first+".", second, "said twice: %q", s)
			continue
		}
		for _, frame := range []string{" -> ", "\nrepeat: "} {
			if a, b, ok := strings.Cut(strings.TrimPrefix(s, "id: "), frame); ok && !strings.Contains(s, " | ") {
				assert.Equal(t, a, b, "said twice: %q", s)
			}
		}
		if strings.HasPrefix(s, "copy \"") {
			a, b, ok := strings.Cut(strings.TrimPrefix(s, "copy "), " = ")
			assert.True(t, ok, s)
			assert.Equal(t, a, b, "said twice: %q", s)
			continue
		}
		if strings.HasSuffix(s, " | ") && strings.Count(s, " | ") >= 3 { // periodic: some period up to 33 bytes
			periodic := false
			for p := 9; p <= 33 && !periodic; p++ {
				periodic = len(s) > 2*p && s[p:] == s[:len(s)-p] && strings.HasSuffix(s[:p], " | ")
			}
			assert.True(t, periodic, "%q", s)
		}
	}
	assert.InDelta(t, 600, nonLetter, 60, "about 60%% of the drills copy other symbols than letters")
}
