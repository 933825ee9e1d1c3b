package report

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// chartMetrics are the panels of chart.png, three rows of three; the last
// row (matchmaking) is lobbyd's alone.
var chartMetrics = [][]metric{
	{mIdleBytes, mCPUPerM, mCPUPerMInStep},
	{mMaxRate, mP99, mChurn},
	{mBrowse, mMatchRate, mMatchP99},
}

// chartTargets draws a dashed line at a metric's absolute goal.
var chartTargets = map[string]float64{mMatchRate.Name: MatchTarget}

// palette colours the servers in a fixed order (lobbyd first).
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// bars is one panel's data: a median per server and its range.
type bars struct {
	med, lo, hi []float64
}

func (b bars) Len() int                        { return len(b.med) }
func (b bars) XY(i int) (float64, float64)     { return float64(i), b.med[i] }
func (b bars) YError(i int) (float64, float64) { return b.med[i] - b.lo[i], b.hi[i] - b.med[i] }

// panel draws one metric as bars (median) with error bars (min–max).
func (r *Results) panel(m metric) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = m.Name
	p.Y.Label.Text = m.Unit + " (" + m.Better + " is better)"
	p.Y.Min = 0
	var b bars
	var names []string
	for _, k := range r.Servers {
		if m.lobbydOnly && k != "lobbyd" {
			continue
		}
		s, _ := r.summary(m, k) // a missing figure draws as 0
		b.med, b.lo, b.hi = append(b.med, s.Median), append(b.lo, s.Min), append(b.hi, s.Max)
		names = append(names, shortTitle(k))
	}
	for i := range b.med {
		vals := make(plotter.Values, len(b.med))
		vals[i] = b.med[i]
		bc, err := plotter.NewBarChart(vals, vg.Points(28))
		if err != nil {
			return nil, err
		}
		bc.Color = palette[i%len(palette)]
		bc.LineStyle.Width = 0
		p.Add(bc)
	}
	if len(b.med) == 0 {
		p.Title.Text += " (not measured)"
		return p, nil
	}
	if goal, ok := chartTargets[m.Name]; ok {
		line := plotter.NewFunction(func(float64) float64 { return goal })
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		line.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("target %s", fmtNum(goal, 0)), line)
		p.Legend.Top = true
		p.Y.Max = max(p.Y.Max, goal*1.15)
	}
	if r.Runs > 1 {
		eb, err := plotter.NewYErrorBars(b)
		if err != nil {
			return nil, err
		}
		p.Add(eb)
	}
	p.NominalX(names...)
	return p, nil
}

func shortTitle(k string) string {
	switch k {
	case "gorilla":
		return "gorilla"
	case "socketio":
		return "Socket.IO"
	case "colyseus":
		return "Colyseus"
	}
	return k
}

// chart writes chart.png.
func chart(w io.Writer, r *Results) error {
	rows := make([][]*plot.Plot, len(chartMetrics))
	for i, row := range chartMetrics {
		for _, m := range row {
			p, err := r.panel(m)
			if err != nil {
				return fmt.Errorf("chart %s: %w", m.Name, err)
			}
			rows[i] = append(rows[i], p)
		}
	}
	img := vgimg.New(15*vg.Inch, 12*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: len(rows), Cols: len(rows[0]), PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 4, PadBottom: vg.Millimeter * 4, PadLeft: vg.Millimeter * 4, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		for j := range rows[i] {
			rows[i][j].Draw(canvases[i][j])
		}
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
