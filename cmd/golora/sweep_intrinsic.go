// golora sweep -method intrinsic: one intrinsic-dimension run per d beside full fine-tuning, d90, and LoRA's sizes.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"golora/core/model"
	"golora/core/train"
)

// defaultDims are the dimensions an intrinsic sweep runs when -dims is not given.
const defaultDims = "10,100,1000,10000"

// parseInts reads a comma-separated list of whole numbers given to flag.
func parseInts(flag, list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-%s: %q is not a number", flag, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// intrinsicConfigs expands -method intrinsic: an intrinsic run at each of -dims (-lr, or intrinsic's default rate,
// being the rate at the default d, scaled to each d unless -dim-lr-scale=false: train.IntrinsicLR), LoRA at each of
// -ranks when -ranks is given (at LoRA's default rate), and full fine-tuning with -full.
func (sf sweepFlags) intrinsicConfigs(tf *trainFlags, cfg train.Config) ([]train.Config, error) {
	if sf.lrs != "" {
		return nil, fmt.Errorf("-lrs sweeps the learning rates of LoRA and full fine-tuning: leave out -method intrinsic")
	}
	list := sf.dims
	if list == "" {
		list = defaultDims
	}
	dims, err := parseInts("dims", list)
	if err != nil {
		return nil, err
	}
	fullLR := float32(0)
	if sf.full {
		if fullLR = float32(sf.fullLR); !(fullLR > 0) {
			return nil, fmt.Errorf("-full-lr: must be a positive number, got %g (or -full=false)", sf.fullLR)
		}
	}
	var runs []train.Config
	if tf.set("ranks") {
		ranks, err := parseInts("ranks", sf.ranks)
		if err != nil {
			return nil, err
		}
		lcfg := cfg
		lcfg.LR = train.DefaultLR(train.MethodLoRA)
		runs = train.SweepConfigs(lcfg, ranks, tf.alpha == 0, 0)
	}
	icfg := cfg
	icfg.Method, icfg.IntrinsicDim, icfg.LR = train.MethodIntrinsic, train.DefaultConfig().IntrinsicDim, float32(tf.lr)
	if tf.lr == 0 {
		icfg.LR = train.DefaultLR(train.MethodIntrinsic)
	}
	return append(runs, train.IntrinsicSweepConfigs(icfg, dims, fullLR, sf.dimLRScale)...), nil
}

// intrinsicSummary is the last JSON line of `sweep -method intrinsic -json`: d90 and LoRA's sizes beside it.
type intrinsicSummary struct {
	train.IntrinsicSummary
	Found bool             `json:"found"` // a full run and an intrinsic run finished (else d90 is undefined)
	LoRA  []train.LoRASize `json:"lora_trainable"`
}

func summarizeIntrinsic(base *model.Model, runs []train.Config, results []train.Result) intrinsicSummary {
	var s intrinsicSummary
	s.IntrinsicSummary, s.Found = train.D90(results, 0.9)
	s.LoRA = train.LoRASizes(base.Config, runs[0].Targets)
	return s
}

func printIntrinsic(s intrinsicSummary) {
	fmt.Println()
	switch {
	case !s.Found:
		fmt.Println("d90: needs a finished full fine-tuning run and intrinsic run (-full)")
	case s.D90 > 0:
		fmt.Printf("d90 = %d: the smallest d reaching 90%% of full fine-tuning's %.1f%% (%.1f%%) reached %.1f%%\n",
			s.D90, 100*s.FullAccuracy, 100*s.Target, 100*s.D90Accuracy)
	default:
		fmt.Printf("d90: no d reached 90%% of full fine-tuning's %.1f%% (%.1f%%); the best, d = %d, reached %.1f%%\n",
			100*s.FullAccuracy, 100*s.Target, s.BestDim, 100*s.BestAccuracy)
	}
	fmt.Print("LoRA's trainable parameters beside it:")
	last := ""
	for _, l := range s.LoRA {
		if l.Targets != last {
			fmt.Printf("\n  on %s:", l.Targets)
			last = l.Targets
		}
		fmt.Printf(" r=%d %d", l.Rank, l.Trainable)
	}
	fmt.Println()
}

// plotIntrinsic draws accuracy against trainable parameters (log): the intrinsic runs by d, LoRA's runs when the
// sweep has them, full fine-tuning and 90% of it as lines, and LoRA's sizes at ranks 1-16 as marks on the axis.
func plotIntrinsic(path, task string, results []train.Result, s intrinsicSummary) error {
	var intr, lora plotter.XYs
	var full *train.Result
	for i, r := range results {
		pt := plotter.XY{X: float64(r.TrainableParams), Y: 100 * float64(r.Accuracy)}
		switch {
		case r.Diverged != "":
		case r.Method == train.MethodIntrinsic:
			intr = append(intr, pt)
		case r.Method == train.MethodLoRA:
			lora = append(lora, pt)
		case r.Method == train.MethodFull:
			full = &results[i]
		}
	}
	if len(intr) == 0 {
		return fmt.Errorf("-png: no intrinsic run to plot")
	}
	p := plot.New()
	p.Title.Text = task + ": test accuracy vs trainable parameters"
	p.X.Label.Text = "trainable parameters (log): intrinsic's d, LoRA's Σ r(in+out)"
	p.Y.Label.Text = "test exact match (%)"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 105
	p.Add(plotter.NewGrid())
	blue := color.RGBA{R: 0x1f, G: 0x6f, B: 0xd0, A: 0xff}
	green := color.RGBA{R: 0x2e, G: 0x8b, B: 0x57, A: 0xff}
	red := color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
	lo, hi := intr[0].X, intr[len(intr)-1].X
	for _, pts := range []plotter.XYs{intr, lora} {
		for _, pt := range pts {
			lo, hi = min(lo, pt.X), max(hi, pt.X)
		}
	}
	for _, l := range s.LoRA {
		lo, hi = min(lo, float64(l.Trainable)), max(hi, float64(l.Trainable))
	}
	series := []struct {
		pts   plotter.XYs
		c     color.Color
		label string
	}{{intr, blue, "intrinsic (θ0 + P z), by d"}, {lora, green, "LoRA on " + targetsOf(results) + ", by rank"}}
	for _, sr := range series {
		if len(sr.pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(sr.pts)
		if err != nil {
			return err
		}
		line.Color, points.Color, points.Shape = sr.c, sr.c, draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(sr.label, line, points)
	}
	if full != nil {
		for _, h := range []struct {
			y     float64
			dash  []vg.Length
			label string
		}{{100 * float64(full.Accuracy), nil, fmt.Sprintf("full fine-tuning (%d params)", full.TrainableParams)},
			{100 * float64(s.Target), []vg.Length{vg.Points(5), vg.Points(3)}, "90% of full fine-tuning (d90)"}} {
			l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: h.y}, {X: hi, Y: h.y}})
			if err != nil {
				return err
			}
			l.Color, l.Dashes = red, h.dash
			p.Add(l)
			p.Legend.Add(h.label, l)
		}
	}
	// LoRA's sizes as triangles on the axis, labelled with the rank (the first set of targets only).
	var marks plotter.XYs
	var names []string
	for _, l := range s.LoRA {
		if l.Targets != s.LoRA[0].Targets {
			break
		}
		marks = append(marks, plotter.XY{X: float64(l.Trainable), Y: 2})
		names = append(names, fmt.Sprintf("r=%d", l.Rank))
	}
	sc, err := plotter.NewScatter(marks)
	if err != nil {
		return err
	}
	sc.Shape, sc.Color = draw.TriangleGlyph{}, green
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: marks, Labels: names})
	if err != nil {
		return err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].YAlign = draw.YBottom
		labels.Offset.Y = vg.Points(4)
	}
	p.Add(sc, labels)
	p.Legend.Add("LoRA's size on "+s.LoRA[0].Targets+" at rank r", sc)
	// Bottom right, above the marks of LoRA's sizes: the lines of full fine-tuning and 90% of it run along the top.
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(10), vg.Points(40)
	img := vgimg.New(9*vg.Inch, 5*vg.Inch)
	widenLogRange(&p.X)
	p.Draw(draw.New(img))
	return savePNG(img, path)
}

// replotSweep prints the table and draws the chart of an earlier learning-rate or intrinsic sweep from its -json lines
// (the results; the summary lines are recomputed), without training: a chart redrawn from the figures measured.
func replotSweep(path string, sf sweepFlags, tf *trainFlags, bf *baseFlags, png string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	var results []train.Result
	for i, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r train.Result
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("-from %s: line %d: %w", path, i+1, err)
		}
		if r.Method != "" { // the summary lines have no method
			results = append(results, r)
		}
	}
	if len(results) == 0 {
		return fmt.Errorf("-from %s: no results (want the lines of sweep -json)", path)
	}
	task := results[0].Task
	switch {
	case sf.lrs != "":
		printLRTable(results, lrSummaryOf(results))
		if png != "" {
			return plotLRSweep(png, task, results)
		}
	default: // -method intrinsic
		base, _, err := bf.load()
		if err != nil {
			return err
		}
		cfg, err := tf.config()
		if err != nil {
			return err
		}
		isum := summarizeIntrinsic(base, []train.Config{cfg}, results)
		printTable(results)
		printIntrinsic(isum)
		if png != "" {
			return plotIntrinsic(png, task, results, isum)
		}
	}
	return nil
}
