package data_test

import (
	"fmt"
	"strings"

	"golora/core/data"
)

// One example of each generated task, with its defaults.
func ExampleNewTask() {
	for _, name := range data.TaskNames() {
		cfg, _ := data.DefaultTaskConfig(name)
		task, err := data.NewTask(cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		e := task.Test[0]
		fmt.Printf("%s (%d/%d/%d): %q -> %q\n", name, len(task.Train), len(task.Val), len(task.Test), e.Prompt, e.Completion)
	}
	// Output:
	// e2e (2000/100/200): "name[Loch Fyne] food[Japanese] area[city centre]\n" -> "Loch Fyne is a Japanese place in the city centre."
	// cipher (2000/100/200): "cipher: the candle is near the pretty shelf\n" -> "the fandle is near the pretty shelo"
	// facts (200/100/100): "Q: what is the capital of Teisduland?\nA: " -> "Zosher"
}

// Bring your own data: read JSON Lines, split by prompt, encode, batch.
func ExampleReadJSONL() {
	var in strings.Builder
	for i := range 20 {
		fmt.Fprintf(&in, "{\"prompt\": \"%d+1=\", \"completion\": \"%d\"}\n", i, i+1)
	}
	ex, err := data.ReadJSONL(strings.NewReader(in.String()), "sums.jsonl")
	if err != nil {
		fmt.Println(err)
		return
	}
	train, val, test := data.SplitExamples(ex, 1)
	task, err := data.NewTaskFromExamples("sums", train, val, test)
	if err != nil {
		fmt.Println(err)
		return
	}
	seqs, err := data.EncodeExamples(data.NewByteTokenizer(), task.Train, 128, "sums train")
	if err != nil {
		fmt.Println(err)
		return
	}
	var batch data.Batch
	data.NewBatcher(seqs, 4, 1).Next(&batch)
	fmt.Println(len(task.Train), len(task.Val), len(task.Test), batch.B, batch.T)

	_, err = data.ReadJSONL(strings.NewReader(`{"prompt": "1+1="}`), "bad.jsonl")
	fmt.Println(err)
	// Output:
	// 16 2 2 4 8
	// bad.jsonl:1: missing "completion"
}
