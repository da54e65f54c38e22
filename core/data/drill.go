// This file holds the copying drills mixed into pretraining: text that only
// copying from the context predicts, which is how a small byte-level model
// acquires the induction heads that reading a prompt needs.

package data

import (
	"strings"

	"golora/core/rng"
)

const seedDrill uint64 = 0x6472696c6c // "drill"

// DrillConfig shapes CopyDrills.
type DrillConfig struct {
	MaxAlphabet int     // periodic drills draw from 2..MaxAlphabet random letters (>= 2)
	MaxPeriod   int     // and repeat a pattern of 6..MaxPeriod bytes (>= 6)
	Periodic    float32 // share of periodic drills; the rest are code lists said twice
	// Mixed is the share of drills whose symbols are digits, capitals and
	// punctuation instead of lowercase letters (0: letters only, as base-v1
	// was trained). A base drilled on letters alone copies letters and
	// nothing else: the shipped base before it repeated "the codes are qxv
	// lmot" but answered "the codes are 4821 0093" with letters.
	Mixed float32 `json:",omitempty"`
}

// Symbol sets of the mixed drills: digits alone (numbers are most of what
// people's data copies), capitals, punctuation, and everything printable.
var drillPools = []string{
	"0123456789",
	"0123456789",
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
}

// CopyDrills returns n drill lines generated from seed, of two kinds:
//
//   - periodic: a random pattern over a small alphabet, "abba cab | abba cab | ...",
//     repeated to about 130 bytes. With few letters, one letter of context says
//     little: predicting the next byte needs matching the last several bytes
//     against the earlier repeats (an induction head over n-grams), and that
//     skill is what makes single-occurrence copying learnable afterwards;
//   - codes: "the codes are qxv lmot. once more, the codes are qxv lmot.", with
//     random letters, said exactly twice.
//
// Plain copying drills alone (codes said twice) stayed at chance for
// thousands of steps in our experiments; the small-alphabet repeats broke
// the plateau within about 1,500 steps (models/README.md).
func CopyDrills(seed uint64, n int, cfg DrillConfig) []string {
	r := rng.New(seed ^ seedDrill)
	out := make([]string, n)
	for i := range out {
		if cfg.Mixed > 0 && r.Float32() < cfg.Mixed {
			pool := drillPools[r.Intn(len(drillPools))]
			if r.Float32() < cfg.Periodic {
				out[i] = periodicDrillOf(r, pool, cfg.MaxAlphabet, cfg.MaxPeriod)
			} else {
				out[i] = repeatSymbols(r, pool)
			}
			continue
		}
		if r.Float32() < cfg.Periodic {
			out[i] = periodicDrill(r, cfg.MaxAlphabet, cfg.MaxPeriod)
		} else {
			out[i] = repeatCode(r) // the corpus's own code lists, same text and draws
		}
	}
	return out
}

func periodicDrill(r *rng.RNG, maxAlphabet, maxPeriod int) string {
	na := 2 + r.Intn(max(maxAlphabet, 2)-1)
	letters := r.Perm(26)[:na]
	b := make([]byte, 6+r.Intn(max(maxPeriod, 6)-5))
	for j := range b {
		b[j] = byte('a' + letters[r.Intn(na)])
		if j > 0 && b[j-1] != ' ' && r.Intn(5) == 0 {
			b[j] = ' '
		}
	}
	unit := string(b) + " | "
	return strings.Repeat(unit, 1+130/len(unit))
}

// periodicDrillOf is periodicDrill over 2..maxAlphabet symbols of pool.
func periodicDrillOf(r *rng.RNG, pool string, maxAlphabet, maxPeriod int) string {
	na := 2 + r.Intn(max(min(maxAlphabet, len(pool)), 2)-1)
	perm := r.Perm(len(pool))[:na]
	b := make([]byte, 6+r.Intn(max(maxPeriod, 6)-5))
	for j := range b {
		b[j] = pool[perm[r.Intn(na)]]
		if j > 0 && b[j-1] != ' ' && r.Intn(5) == 0 {
			b[j] = ' '
		}
	}
	unit := string(b) + " | "
	return strings.Repeat(unit, 1+130/len(unit))
}

// repeatSymbols says two or three codes of random symbols of pool, then
// says them again, in one of a few frames.
func repeatSymbols(r *rng.RNG, pool string) string {
	codes := make([]string, 2+r.Intn(2))
	for i := range codes {
		b := make([]byte, 2+r.Intn(8))
		for j := range b {
			b[j] = pool[r.Intn(len(pool))]
		}
		codes[i] = string(b)
	}
	list := strings.Join(codes, pick(r, []string{" ", ", ", "; ", " | ", "\t"}))
	switch r.Intn(4) {
	case 0:
		return "the codes are " + list + ". once more, the codes are " + list + "."
	case 1:
		return "id: " + list + "\nrepeat: " + list
	case 2:
		return list + " -> " + list
	default:
		return "copy \"" + list + "\" = \"" + list + "\""
	}
}

// Interleave returns the lines of a and b in one random order that keeps each
// one's own order, each line coming from b with probability about pb.
func Interleave(a, b []string, pb float32, seed uint64) []string {
	r := rng.New(seed ^ seedDrill ^ 0x1e)
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if len(b) > 0 && (len(a) == 0 || r.Float32() < pb) {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return out
}
