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
	"strconv"
	"strings"
	"unicode/utf8"

	"golora/core/rng"
)

// maxJSONLLine bounds one line, so that a file without newlines cannot make
// the reader hold gigabytes; an example that long would not fit a context.
const maxJSONLLine = 1 << 20

// ReadJSONL reads one example per line: {"prompt": "...", "completion": "..."}.
// file names the input in errors, which read "FILE:LINE: what is wrong", and
// each example records its "FILE:LINE" (Example.Source) for the errors of
// later steps. It is strict, because a silently skipped or misread line is a
// silently different experiment:
//   - blank (or all-whitespace) lines are skipped; anything else must be one
//     JSON object, with nothing after it on the line;
//   - the keys are exactly "prompt" and "completion", each once: another key
//     (usually a typo, "completions"), another case ("Prompt") or a key given
//     twice (JSON would keep the last) is an error;
//   - prompt and completion must both be present and non-empty (an empty
//     prompt gives every test example the same input; an empty completion
//     trains nothing but End);
//   - a line that is not valid UTF-8, or a string holding an unpaired
//     surrogate escape ("\ud800"), is an error: decoding would replace them
//     with U+FFFD;
//   - a file with no examples is an error.
//
// A UTF-8 byte order mark at the start of the file is skipped (editors on
// Windows write one). Strings are kept byte for byte (no trimming), so "\n" at
// the end of a prompt stays part of it.
func ReadJSONL(r io.Reader, file string) ([]Example, error) {
	br := bufio.NewReader(r)
	var out []Example
	for line := 1; ; line++ {
		text, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte(utf8BOM))
		}
		if len(bytes.TrimSpace(text)) > 0 {
			ex, perr := parseExample(text)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, line, perr)
			}
			ex.Source = fmt.Sprintf("%s:%d", file, line)
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

// utf8BOM is the byte order mark some editors put at the start of a UTF-8 file.
const utf8BOM = "\xef\xbb\xbf"

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

// parseExample reads one line's object key by key: encoding/json would match
// keys case-insensitively and let a repeated key overwrite the first.
func parseExample(line []byte) (Example, error) {
	if !utf8.Valid(line) {
		at := 0
		for at < len(line) {
			r, n := utf8.DecodeRune(line[at:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			at += n
		}
		return Example{}, fmt.Errorf("invalid UTF-8 at byte %d of the line (0x%02x); save the file as UTF-8", at+1, line[at])
	}
	notObject := func(err error) error {
		return fmt.Errorf("not a JSON object with \"prompt\" and \"completion\": %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil {
		return Example{}, notObject(err)
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Example{}, notObject(fmt.Errorf("the line starts with %v", tok))
	}
	// Pointers tell a missing field (or null) from an empty one, for the message.
	var prompt, completion *string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Example{}, notObject(err)
		}
		key := tok.(string) // inside an object, the decoder only yields string keys
		var dst **string
		switch key {
		case "prompt":
			dst = &prompt
		case "completion":
			dst = &completion
		default:
			if k := strings.ToLower(key); k == "prompt" || k == "completion" {
				return Example{}, fmt.Errorf("key %q: keys are case-sensitive, write %q", key, k)
			}
			return Example{}, notObject(fmt.Errorf("unknown field %q", key))
		}
		if seen[key] {
			return Example{}, fmt.Errorf("%q appears twice on the line", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Example{}, notObject(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return Example{}, notObject(fmt.Errorf("%q must be a string, got %s", key, raw))
		}
		if err := pairedSurrogates(raw); err != nil {
			return Example{}, fmt.Errorf("%q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Example{}, notObject(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Example{}, fmt.Errorf("more than one JSON value on the line")
	}
	switch {
	case prompt == nil:
		return Example{}, fmt.Errorf("missing \"prompt\"")
	case completion == nil:
		return Example{}, fmt.Errorf("missing \"completion\"")
	case *prompt == "":
		return Example{}, fmt.Errorf("empty \"prompt\"")
	case *completion == "":
		return Example{}, fmt.Errorf("empty \"completion\"")
	}
	return Example{Prompt: *prompt, Completion: *completion}, nil
}

// pairedSurrogates refuses a JSON string literal with a \u escape of a UTF-16
// surrogate that is not part of a high-low pair, which encoding/json decodes as
// U+FFFD.
func pairedSurrogates(raw []byte) error {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 4 {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[:4]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character such as \\ or \"
			continue
		}
		r, ok := hex4(raw[i+2:])
		if !ok {
			continue // the decoder has already refused it
		}
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return fmt.Errorf("unpaired surrogate escape \\u%04x (decoding would replace it with U+FFFD)", r)
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := rune(0), false
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				lo, ok = hex4(raw[i+8:])
			}
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return fmt.Errorf("unpaired surrogate escape \\u%04x (decoding would replace it with U+FFFD)", r)
			}
			i += 11 // both escapes
		default:
			i += 5
		}
	}
	return nil
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
