// This file holds bring-your-own data: reading examples from JSON Lines and
// splitting them into train, val and test.

package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golora/core/rng"
)

// maxJSONLLine bounds one line, so that a file without newlines cannot make
// the reader hold gigabytes; an example that long would not fit a context.
const maxJSONLLine = 1 << 20

// ReadJSONL reads one example per line: {"prompt": "...", "completion": "..."}.
// file names the input in errors, which read "FILE:LINE: what is wrong".
// It is strict, because a silently skipped or misread line is a silently
// different experiment:
//   - blank (or all-whitespace) lines are skipped; anything else must be one
//     JSON object, with nothing after it on the line;
//   - unknown fields are errors (they are usually typos: "completions");
//   - prompt and completion must both be present and non-empty (an empty
//     prompt gives every test example the same input; an empty completion
//     trains nothing but End);
//   - a file with no examples is an error.
//
// Strings are kept byte for byte (no trimming), so "\n" at the end of a prompt
// stays part of it.
func ReadJSONL(r io.Reader, file string) ([]Example, error) {
	br := bufio.NewReader(r)
	var out []Example
	for line := 1; ; line++ {
		text, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		if len(bytes.TrimSpace(text)) > 0 {
			ex, perr := parseExample(text)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, line, perr)
			}
			out = append(out, ex)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples (want one JSON object per line with \"prompt\" and \"completion\")", file)
	}
	return out, nil
}

// readLine returns the next line without its "\n" (or "\r\n"), and io.EOF
// with the last line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxJSONLLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxJSONLLine)
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		return line, err
	}
}

func parseExample(line []byte) (Example, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	// Pointers tell a missing field from an empty one, for the message.
	var raw struct {
		Prompt     *string `json:"prompt"`
		Completion *string `json:"completion"`
	}
	if err := dec.Decode(&raw); err != nil {
		return Example{}, fmt.Errorf("not a JSON object with \"prompt\" and \"completion\": %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Example{}, fmt.Errorf("more than one JSON value on the line")
	}
	switch {
	case raw.Prompt == nil:
		return Example{}, fmt.Errorf("missing \"prompt\"")
	case raw.Completion == nil:
		return Example{}, fmt.Errorf("missing \"completion\"")
	case *raw.Prompt == "":
		return Example{}, fmt.Errorf("empty \"prompt\"")
	case *raw.Completion == "":
		return Example{}, fmt.Errorf("empty \"completion\"")
	}
	return Example{Prompt: *raw.Prompt, Completion: *raw.Completion}, nil
}

// WriteJSONL writes ex one per line in the format ReadJSONL reads.
func WriteJSONL(w io.Writer, ex []Example) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i, e := range ex {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write example %d: %w", i, err)
		}
	}
	return nil
}

// SplitExamples splits ex about 80/10/10 into train, val and test,
// deterministically from seed, and disjoint by prompt: all examples that share
// a prompt go to the same split, so a test prompt is never trained. The split
// is by distinct prompts: with d of them, val and test get max(1, round(d/10))
// each and train the rest. With fewer than 3 distinct prompts no disjoint
// three-way split exists: everything goes to train and val and test are empty
// (NewTaskFromExamples then reports the empty split). Within a split,
// examples keep their input order.
func SplitExamples(ex []Example, seed uint64) (train, val, test []Example) {
	index := map[string]int{} // prompt -> its number in order of first appearance
	for _, e := range ex {
		if _, ok := index[e.Prompt]; !ok {
			index[e.Prompt] = len(index)
		}
	}
	d := len(index)
	if d < 3 {
		return append([]Example(nil), ex...), nil, nil
	}
	nHeld := max(1, (d+5)/10)
	split := make([]int, d) // 0 train, 1 val, 2 test, by prompt number
	perm := rng.New(seed ^ seedSplit).Perm(d)
	for rank, p := range perm {
		switch {
		case rank < nHeld:
			split[p] = 1
		case rank < 2*nHeld:
			split[p] = 2
		}
	}
	for _, e := range ex {
		switch split[index[e.Prompt]] {
		case 0:
			train = append(train, e)
		case 1:
			val = append(val, e)
		default:
			test = append(test, e)
		}
	}
	return train, val, test
}

// describeExample shortens an example for error messages.
func describeExample(e Example) string {
	s := e.Prompt + e.Completion
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", strings.ToValidUTF8(s, "?"))
}
