package model

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseTargets: target lists come from flags, the page and adapter_config.json files. ParseTargets never panics;
// what it accepts is one target per listed name, in block order, without repeats, and parses back to itself.
func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{"q,v", "q_proj, v_proj", "Q,K,down", "", ",,", "q,q", "gate,up,down,o,k,v,q", "x_proj", "q\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		names := strings.Split(list, ";") // several list elements, each of which may hold commas
		ts, err := ParseTargets(names)
		if err != nil {
			return
		}
		listed := 0
		for _, n := range names {
			for _, part := range strings.Split(n, ",") {
				if strings.TrimSpace(part) != "" {
					listed++
				}
			}
		}
		if len(ts) != listed || len(ts) == 0 {
			t.Fatalf("%q: %d names listed, %d targets %v", list, listed, len(ts), ts)
		}
		if !slices.IsSorted(ts) || len(slices.Compact(slices.Clone(ts))) != len(ts) {
			t.Fatalf("%q: targets %v not in block order without repeats", list, ts)
		}
		var back []string
		for _, tg := range ts {
			back = append(back, tg.String())
		}
		again, err := ParseTargets(back)
		if err != nil || !slices.Equal(again, ts) {
			t.Fatalf("%q: %v parses back to %v, %v", list, back, again, err)
		}
	})
}
