package soak

import (
	"fmt"
	"image/color"
	"io"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// series are the sampled figures that must stay flat, with how to read
// each from a Sample.
var series = []struct {
	name, unit string
	get        func(Sample) float64
}{
	{"RSS", "MiB", func(s Sample) float64 { return mib(s.RSSBytes) }},
	{"heap in use", "MiB", func(s Sample) float64 { return mib(s.HeapBytes) }},
	{"goroutines", "", func(s Sample) float64 { return float64(s.Goroutines) }},
	{"open fds", "", func(s Sample) float64 { return float64(s.FDs) }},
}

// Growth compares each series' mean over the last quarter of the run with
// its mean over the second quarter (after warm-up): the ratio, per series
// name. A flat run is near 1.
func (r *Result) Growth() map[string]float64 {
	out := map[string]float64{}
	n := len(r.Samples)
	if n < 8 {
		return out
	}
	for _, s := range series {
		mean := func(a, b int) float64 {
			var t float64
			for _, x := range r.Samples[a:b] {
				t += s.get(x)
			}
			return t / float64(b-a)
		}
		if early := mean(n/4, n/2); early > 0 {
			out[s.name] = mean(3*n/4, n) / early
		}
	}
	return out
}

// Markdown writes the report: the totals, what must be zero, growth, and
// the samples (at most about 40 rows, evenly spaced).
func (r *Result) Markdown(w io.Writer, title, command string) error {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "`%s`, on %s: %v of relay (%d lobbies × %d players, %g lobby.send/s each, a chat every %v, a drop and resume every %v on average), "+
		"%d churners, %d matchmakers, %d listing clients and %d slow readers on a firehose lobby (%d B every %v).\n\n",
		command, c.Setup, c.Duration, c.Lobbies, c.PerLobby, c.SendRate, c.ChatEvery, c.DropEvery,
		c.Churners, c.Matchers, c.Browsers, c.SlowReaders, c.FirehoseBytes, c.FirehoseEvery)
	if len(c.Shards) > 1 {
		names := make([]string, len(c.Shards))
		for i, sh := range c.Shards {
			names[i] = sh.Name
		}
		fmt.Fprintf(&b, "Cluster: shards %s. Player i of each workload is on shard i mod %d (a churn round's two players on two shards, "+
			"the firehose sender on %s, its slow readers on every shard), and every drop resumes on the next shard, never the one it dropped from. "+
			"RSS, heap, goroutines and fds below are the sums over the %d shard processes (each shard's own figures are in soak.json, `per_shard`); "+
			"Redis is not counted.\n\n", strings.Join(names, ", "), len(c.Shards), names[0], len(c.Shards))
	}
	verdict := "**PASS**: nothing lost, duplicated or reordered, no errors."
	if !r.OK() {
		verdict = "**FAIL**: see the must-be-zero rows."
	}
	fmt.Fprintf(&b, "%s\n\n| must be 0 | count |\n|---|---:|\n", verdict)
	for _, x := range []struct {
		k string
		v int64
	}{{"lost events (seq gaps)", r.Lost}, {"duplicated events", r.Duplicated}, {"a sender's messages out of order", r.OutOfOrder},
		{"chat pairs seen in two orders in one lobby", r.ChatDisagree}, {"errors", r.Errors}} {
		fmt.Fprintf(&b, "| %s | %d |\n", x.k, x.v)
	}
	if len(r.Anomalies) > 0 {
		b.WriteString("\nFirst anomalies found:\n\n")
		for _, a := range r.Anomalies {
			fmt.Fprintf(&b, "- %s\n", a)
		}
	}
	if len(r.ErrorKinds) > 0 {
		kinds := make([]string, 0, len(r.ErrorKinds))
		for k := range r.ErrorKinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		b.WriteString("\n| error kind | count | first |\n|---|---:|---|\n")
		for _, k := range kinds {
			fmt.Fprintf(&b, "| %s | %d | %s |\n", k, r.ErrorKinds[k], strings.ReplaceAll(r.ErrorSample[k], "|", "/"))
		}
	}
	fmt.Fprintf(&b, "\n| work done | count |\n|---|---:|\n")
	for _, x := range []struct {
		k string
		v int64
	}{{"numbered events received", r.Events}, {"lobby.send", r.Sends}, {"chats", r.Chats},
		{"drops resumed", r.Resumes}, {"of them on another shard", r.CrossResumes}, {"resumes refused (new session)", r.ResumeFailed}, {"churn rounds (2 players each)", r.Churns},
		{"listing pages", r.Listings}, {"matches (per player)", r.Matches},
		{"slow readers closed as slow consumers (1008 read)", r.SlowCloses},
		{"slow readers closed before reading that far (1006)", r.SlowDropped}, {"slow reader reconnects", r.SlowReconnects},
		{"TCP connects retried after a timeout", r.ConnectRetries}} {
		fmt.Fprintf(&b, "| %s | %d |\n", x.k, x.v)
	}
	if g := r.Growth(); len(g) > 0 {
		b.WriteString("\nGrowth (mean of the last quarter ÷ mean of the second quarter; flat is 1.00): ")
		var parts []string
		for _, s := range series {
			if v, ok := g[s.name]; ok {
				parts = append(parts, fmt.Sprintf("%s %.2f", s.name, v))
			}
		}
		b.WriteString(strings.Join(parts, ", ") + ".\n")
	}
	b.WriteString("\n| t | RSS MiB | heap MiB | goroutines | fds | events/s | errors |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	step := max(1, len(r.Samples)/40)
	for i, s := range r.Samples {
		if i%step != 0 && i != len(r.Samples)-1 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %d | %d | %.0f | %d |\n", s.At.Round(time.Second), mib(s.RSSBytes), mib(s.HeapBytes),
			s.Goroutines, s.FDs, s.EventsPerS, s.Errors)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Chart writes a PNG with one panel per series over the run's time.
func (r *Result) Chart(w io.Writer) error {
	rows := [][]*plot.Plot{{}, {}}
	for i, s := range series {
		p := plot.New()
		p.Title.Text = s.name
		p.X.Label.Text = "minutes"
		if s.unit != "" {
			p.Y.Label.Text = s.unit
		}
		p.Y.Min, p.X.Min = 0, 0
		pts := make(plotter.XYs, len(r.Samples))
		for j, x := range r.Samples {
			pts[j].X, pts[j].Y = x.At.Minutes(), s.get(x)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
		l.Width = vg.Points(1.5)
		p.Add(l)
		rows[i/2] = append(rows[i/2], p)
	}
	img := vgimg.New(12*vg.Inch, 8*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 2, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
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
