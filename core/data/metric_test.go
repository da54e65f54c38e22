package data

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExactMatch(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		match     bool
	}{
		{"Lumen", "Lumen", true},
		{"", "", true},
		{"lumen", "Lumen", false},
		{"Lumen ", "Lumen", false},
		{"Lumen\n", "Lumen", false},
		{"Lume", "Lumen", false},
		{"The Mill is a pub.", "The Mill is a pub.", true},
	} {
		assert.Equal(t, tc.match, ExactMatch(tc.got, tc.want), "ExactMatch(%q, %q)", tc.got, tc.want)
	}
	assert.InDelta(t, 0.5, Accuracy([]string{"a", "b"}, []string{"a", "c"}), 0, "Accuracy")
	assert.InDelta(t, 0.0, Accuracy(nil, nil), 0, "Accuracy of nothing")
	assert.Panics(t, func() { Accuracy([]string{"a"}, nil) })
}
