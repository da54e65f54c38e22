// This file holds the exact-match metric.

package data

// ExactMatch reports whether a generated completion equals the expected one,
// byte for byte: no trimming, no case folding. Generation stops at End, which
// is not part of got; a completion is right only if the model wrote exactly
// want and then End (a trailing space or newline is a different answer, and
// our tasks' completions never end in whitespace).
func ExactMatch(got, want string) bool { return got == want }

// Accuracy is the fraction of got[i] that exactly match want[i]; 0 for no
// examples. It panics if the lengths differ.
func Accuracy(got, want []string) float64 {
	if len(got) != len(want) {
		panic("data: Accuracy with different lengths")
	}
	if len(got) == 0 {
		return 0
	}
	n := 0
	for i := range got {
		if ExactMatch(got[i], want[i]) {
			n++
		}
	}
	return float64(n) / float64(len(got))
}
