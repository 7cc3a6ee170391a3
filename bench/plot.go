package bench

import (
	"fmt"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WritePlot draws the series as a PNG: throughput (sent, ok and
// unsuccessful per second) above latency (p50 and p99 per period, ms).
func WritePlot(w io.Writer, r *Result) error {
	sent, ok, bad := make(plotter.XYs, 0, len(r.Series)), make(plotter.XYs, 0, len(r.Series)), make(plotter.XYs, 0, len(r.Series))
	p50, p99 := make(plotter.XYs, 0, len(r.Series)), make(plotter.XYs, 0, len(r.Series))
	for _, s := range r.Series {
		t := s.Elapsed.Seconds()
		sent = append(sent, plotter.XY{X: t, Y: perSecond(s.Delta.Started, s.Period)})
		ok = append(ok, plotter.XY{X: t, Y: perSecond(s.Delta.OK, s.Period)})
		bad = append(bad, plotter.XY{X: t, Y: perSecond(s.Delta.Unsuccessful(), s.Period)})
		p50 = append(p50, plotter.XY{X: t, Y: ms(s.Latency.P50)})
		p99 = append(p99, plotter.XY{X: t, Y: ms(s.Latency.P99)})
	}
	top := plot.New()
	top.Title.Text = fmt.Sprintf("%s over %s to %s, target %.0f/s", r.Scenario, r.Transport, r.Target, r.Rate)
	top.Y.Label.Text = "requests/s"
	top.Y.Min = 0
	if err := plotutil.AddLinePoints(top, "sent", sent, "ok", ok, "failed", bad); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	bottom := plot.New()
	bottom.X.Label.Text = "time (s)"
	bottom.Y.Label.Text = "latency (ms)"
	bottom.Y.Min = 0
	if err := plotutil.AddLinePoints(bottom, "p50", p50, "p99", p99); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	top.Legend.Top, bottom.Legend.Top = true, true
	plots := [][]*plot.Plot{{top}, {bottom}}
	img := vgimg.New(vg.Points(800), vg.Points(600))
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(plots, tiles, draw.New(img))
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
