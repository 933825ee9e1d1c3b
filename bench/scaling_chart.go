package main

import (
	"io"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// scalingChart draws the scaling table as four panels, each a cost per
// unit against the size on a log axis: a flat line is linear growth.
func scalingChart(w io.Writer, players []playerScale, passes []passScale) error {
	type series struct {
		title, y string
		xs, ys   []float64
	}
	var panels []series
	if len(players) > 0 {
		mem := series{title: "RSS per idle player", y: "bytes"}
		conn := series{title: "server CPU to connect and seat, per player", y: "ms"}
		idle := series{title: "server CPU while idle, per player", y: "µs per s"}
		for _, s := range players {
			x := float64(s.N)
			mem.xs, mem.ys = append(mem.xs, x), append(mem.ys, s.BytesPerPlayer)
			conn.xs, conn.ys = append(conn.xs, x), append(conn.ys, s.ConnectCPU)
			idle.xs, idle.ys = append(idle.xs, x), append(idle.ys, s.IdleCPU)
		}
		panels = append(panels, mem, conn, idle)
	}
	if len(passes) > 0 {
		pass := series{title: "matcher pass per waiting ticket", y: "ns"}
		for _, s := range passes {
			pass.xs = append(pass.xs, float64(s.Tickets))
			pass.ys = append(pass.ys, float64(s.Pass)/float64(time.Nanosecond)/float64(s.Tickets))
		}
		panels = append(panels, pass)
	}
	img := vgimg.New(vg.Length(len(panels))*4*vg.Inch, 3.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	for i, s := range panels {
		p := plot.New()
		p.Title.Text = s.title
		p.X.Label.Text = "players"
		if len(players) == 0 || i == 3 {
			p.X.Label.Text = "waiting tickets"
		}
		p.Y.Label.Text = s.y
		p.X.Scale = plot.LogScale{}
		ticks := make([]plot.Tick, len(s.xs))
		for j, x := range s.xs {
			ticks[j] = plot.Tick{Value: x, Label: sizeLabel(x)}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Min = 0
		pts := make(plotter.XYs, len(s.xs))
		for j := range s.xs {
			pts[j].X, pts[j].Y = s.xs[j], s.ys[j]
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points, plotter.NewGrid())
		p.Draw(tiles.At(dc, i, 0))
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// sizeLabel writes 1000 as 1k and 1000000 as 1M.
func sizeLabel(x float64) string {
	switch {
	case x >= 1e6 && int64(x)%1e6 == 0:
		return strconv.FormatInt(int64(x)/1e6, 10) + "M"
	case x >= 1e3 && int64(x)%1e3 == 0:
		return strconv.FormatInt(int64(x)/1e3, 10) + "k"
	}
	return strconv.FormatInt(int64(x), 10)
}
