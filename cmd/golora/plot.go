// The sweep chart: accuracy against rank and against trainable parameters (log scale), drawn with gonum/plot.
package main

import (
	"fmt"
	"image/color"

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
