// The sweep chart: accuracy against rank and against trainable parameters (log scale), drawn with gonum/plot.
package main

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"golora/core/train"
)

func plotSweep(path, task string, results []train.Result) error {
	var byRank, byParams plotter.XYs
	var full *train.Result
	for i, r := range results {
		if r.Method != train.MethodLoRA {
			full = &results[i]
			continue
		}
		byRank = append(byRank, plotter.XY{X: float64(r.Rank), Y: 100 * float64(r.Accuracy)})
		byParams = append(byParams, plotter.XY{X: float64(r.TrainableParams), Y: 100 * float64(r.Accuracy)})
	}
	if len(byRank) == 0 {
		return fmt.Errorf("-png: no LoRA runs to plot")
	}
	accent := color.RGBA{R: 0x1f, G: 0x6f, B: 0xd0, A: 0xff}
	ref := color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
	mk := func(title, xlabel string, pts plotter.XYs, logX bool, fullX float64) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = xlabel
		p.Y.Label.Text = "test exact match (%)"
		p.Y.Min, p.Y.Max = 0, 100
		if logX {
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		if xlabel == "rank r" { // a tick at every rank run
			var ticks []plot.Tick
			for _, pt := range pts {
				ticks = append(ticks, plot.Tick{Value: pt.X, Label: fmt.Sprint(pt.X)})
			}
			p.X.Tick.Marker = plot.ConstantTicks(ticks)
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color = accent, accent
		points.Shape = draw.CircleGlyph{}
		p.Add(plotter.NewGrid(), line, points)
		p.Legend.Add("LoRA on "+targetsOf(results), line, points)
		if full != nil {
			xs := []float64{pts[0].X, pts[len(pts)-1].X}
			if logX && fullX > xs[1] {
				xs[1] = fullX
			}
			fl, err := plotter.NewLine(plotter.XYs{{X: xs[0], Y: 100 * float64(full.Accuracy)}, {X: xs[1], Y: 100 * float64(full.Accuracy)}})
			if err != nil {
				return nil, err
			}
			fl.Color, fl.Dashes = ref, []vg.Length{vg.Points(5), vg.Points(3)}
			p.Add(fl)
			p.Legend.Add(fmt.Sprintf("full fine-tuning (%d params)", full.TrainableParams), fl)
		}
		widenLogRange(&p.X)
		// Top left, below the full fine-tuning line's usual place near 100%.
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.XOffs, p.Legend.YOffs = vg.Points(10), -vg.Points(24)
		return p, nil
	}
	fullX := 0.0
	if full != nil {
		fullX = float64(full.TrainableParams)
	}
	p1, err := mk(task+": accuracy vs LoRA rank", "rank r", byRank, true, 0)
	if err != nil {
		return err
	}
	p2, err := mk(task+": accuracy vs trainable parameters", "trainable parameters (log)", byParams, true, fullX)
	if err != nil {
		return err
	}
	const w, h = 12 * vg.Inch, 4.5 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{p1, p2}}, tiles, dc)
	p1.Draw(canvases[0][0])
	p2.Draw(canvases[0][1])
	return savePNG(img, path)
}

// widenLogRange gives a log axis whose data hold a single value (a sweep of one rank, one rate or one d) a range
// around it: gonum widens an empty range by 1 on each side, to 0 for a value of 1, which a log scale cannot draw
// (it panicked).
func widenLogRange(a *plot.Axis) {
	if a.Min == a.Max && a.Min > 0 {
		a.Min, a.Max = a.Min/2, a.Max*2
	}
}

func targetsOf(results []train.Result) string {
	for _, r := range results {
		if len(r.Targets) > 0 {
			s := ""
			for i, t := range r.Targets {
				if i > 0 {
					s += ","
				}
				s += t
			}
			return s
		}
	}
	return ""
}

// plotMethods draws the LoRA paper's Figure 2 at our scale for a methods sweep: test accuracy against trainable
// parameters (log axis), one series per method through its sizes, full fine-tuning as a point and a dashed line;
// beside it, each run's step time relative to the same sweep's full fine-tuning step (1 = as slow as full).
func plotMethods(path, task string, runs []sweepRun) error {
	var order []string
	byMethod := map[string][]sweepRun{}
	var full *sweepRun
	for i, r := range runs {
		if r.Method == train.MethodFull {
			full = &runs[i]
		}
		if r.Method == train.MethodFrozen || r.TrainableParams == 0 || r.Skipped != "" {
			continue
		}
		if _, ok := byMethod[r.Method]; !ok {
			order = append(order, r.Method)
		}
		byMethod[r.Method] = append(byMethod[r.Method], r)
	}
	if len(order) == 0 {
		return fmt.Errorf("-png: no trained runs to plot")
	}
	palette := []color.RGBA{{0x1f, 0x6f, 0xd0, 0xff}, {0x2e, 0x9e, 0x44, 0xff}, {0xe6, 0x7e, 0x22, 0xff}, {0x8e, 0x44, 0xad, 0xff},
		{0x16, 0xa0, 0x85, 0xff}, {0xd3, 0x54, 0x00, 0xff}, {0x7f, 0x8c, 0x8d, 0xff}, {0xc2, 0x18, 0x5b, 0xff}, {0x27, 0x3c, 0x75, 0xff},
		{0x9a, 0x7d, 0x0a, 0xff}}
	glyphs := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
		draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}}
	ref := color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
	minX, maxX := math.Inf(1), 0.0
	for _, r := range runs {
		if r.TrainableParams > 0 {
			minX, maxX = min(minX, float64(r.TrainableParams)), max(maxX, float64(r.TrainableParams))
		}
	}
	newPanel := func(title, ylabel string) *plot.Plot {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "trainable parameters (log)"
		p.Y.Label.Text = ylabel
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Min, p.X.Max = minX/1.5, maxX*1.5
		p.Add(plotter.NewGrid())
		return p
	}
	legend := plot.NewLegend() // drawn in a column of its own: eleven series would cover a panel
	acc := newPanel(task+": accuracy vs trainable parameters", "test exact match (%)")
	acc.Y.Min, acc.Y.Max = 0, 100
	step := newPanel(task+": step time relative to full fine-tuning", "step time / full fine-tuning's")
	step.Y.Min = 0
	for i, m := range order {
		var pa, ps plotter.XYs
		for _, r := range byMethod[m] {
			x := float64(r.TrainableParams)
			pa = append(pa, plotter.XY{X: x, Y: 100 * float64(r.Accuracy)})
			if r.StepVsFull > 0 {
				ps = append(ps, plotter.XY{X: x, Y: r.StepVsFull})
			}
		}
		col := palette[i%len(palette)]
		if m == train.MethodFull {
			col = ref
		}
		for _, panel := range []struct {
			p      *plot.Plot
			pts    plotter.XYs
			legend bool
		}{{acc, pa, true}, {step, ps, false}} {
			if len(panel.pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(panel.pts)
			if err != nil {
				return err
			}
			line.Color, points.Color = col, col
			points.Shape = glyphs[i%len(glyphs)]
			points.Radius = vg.Points(3.5)
			panel.p.Add(line, points)
			if panel.legend {
				name := m
				if s := byMethod[m][0].SizeName; s != "" && len(byMethod[m]) > 1 {
					var sizes []string
					for _, r := range byMethod[m] {
						sizes = append(sizes, strconv.Itoa(r.Size))
					}
					name = fmt.Sprintf("%s (%s %s)", m, s, strings.Join(sizes, ","))
				}
				legend.Add(name, line, points)
			}
		}
	}
	if full != nil {
		y := 100 * float64(full.Accuracy)
		fl, err := plotter.NewLine(plotter.XYs{{X: minX / 1.5, Y: y}, {X: maxX * 1.5, Y: y}})
		if err != nil {
			return err
		}
		fl.Color, fl.Dashes = ref, []vg.Length{vg.Points(5), vg.Points(3)}
		acc.Add(fl)
		legend.Add("full fine-tuning's level", fl)
		one, err := plotter.NewLine(plotter.XYs{{X: minX / 1.5, Y: 1}, {X: maxX * 1.5, Y: 1}})
		if err != nil {
			return err
		}
		one.Color, one.Dashes = ref, []vg.Length{vg.Points(5), vg.Points(3)}
		step.Add(one)
	}
	const w, h, legendW = 15 * vg.Inch, 5 * vg.Inch, 2.6 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 8, PadY: vg.Millimeter * 4, PadLeft: vg.Millimeter * 2,
		PadRight: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{acc, step}}, tiles, draw.Crop(dc, 0, -legendW, 0, 0))
	acc.Draw(canvases[0][0])
	step.Draw(canvases[0][1])
	legend.Top, legend.Left = true, true
	legend.YOffs = -vg.Points(30)
	legend.Draw(draw.Crop(dc, w-legendW, 0, 0, 0))
	return savePNG(img, path)
}
