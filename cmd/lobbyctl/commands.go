package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// env is what a command works with.
type env struct {
	c       *client
	out     io.Writer
	json    bool
	filters lobbyFilters
	now     func() time.Time // nil: time.Now
}

func (e *env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

type command struct {
	args     string // for usage
	min, max int    // positional arguments
	run      func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]command{
	"shards":  {"", 0, 0, cmdShards},
	"lobbies": {"[filters]", 0, 0, cmdLobbies},
	"lobby":   {"ID", 1, 1, cmdLobby},
	"queues":  {"", 0, 0, cmdQueues},
	"close":   {"LOBBY", 1, 1, cmdClose},
	"drain":   {"[SHARD]", 0, 1, cmdDrain},
}

// The operator API's answers (docs/openapi.yaml), as far as lobbyctl
// shows them; -o json prints the answer as it came.

type shardInfo struct {
	ID          string   `json:"id"`
	Addr        string   `json:"addr"`
	Connections int      `json:"connections"`
	Lobbies     int      `json:"lobbies"`
	Draining    bool     `json:"draining"`
	LastSeen    int64    `json:"last_seen"`
	Matchers    []string `json:"matchers"`
}

type adminMember struct {
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
	Ready     bool   `json:"ready"`
	Connected bool   `json:"connected"`
	IsHost    bool   `json:"is_host"`
	JoinedAt  int64  `json:"joined_at"`
	Shard     string `json:"shard"`
}

type adminLobby struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Code        string          `json:"code"`
	Host        string          `json:"host"`
	Mode        string          `json:"mode"`
	Region      string          `json:"region"`
	Visibility  string          `json:"visibility"`
	HasPassword bool            `json:"has_password"`
	Locked      bool            `json:"locked"`
	State       string          `json:"state"`
	MaxPlayers  int             `json:"max_players"`
	Attrs       map[string]any  `json:"attrs"`
	MatchID     string          `json:"match_id"`
	CreatedAt   int64           `json:"created_at"`
	Version     uint64          `json:"version"`
	Members     []adminMember   `json:"members"`
	Data        json.RawMessage `json:"data"`
}

type adminPage struct {
	Lobbies    []adminLobby `json:"lobbies"`
	NextCursor *string      `json:"next_cursor"`
}

type adminQueue struct {
	Name          string  `json:"name"`
	Tickets       int     `json:"tickets"`
	Players       int     `json:"players"`
	OldestWaitMs  int64   `json:"oldest_wait_ms"`
	MatchesPerMin int     `json:"matches_per_min"`
	Matcher       *string `json:"matcher"`
}

// printJSON writes an answer indented, as it came.
func (e *env) printJSON(raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := e.out.Write(b.Bytes())
	return err
}

// table is a tabwriter over out; flush when done.
func (e *env) table(header ...string) *tabwriter.Writer {
	w := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	return w
}

func cmdShards(ctx context.Context, e *env, _ []string) error {
	var list []shardInfo
	var raw []byte
	if err := e.c.do(ctx, http.MethodGet, "/admin/shards", nil, &list, &raw); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(raw)
	}
	w := e.table("SHARD", "ADDR", "CONNECTIONS", "LOBBIES", "STATE", "LAST SEEN", "MATCHERS")
	now := e.clock()
	for _, s := range list {
		state := "serving"
		if s.Draining {
			state = "draining"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.ID, s.Addr, s.Connections, s.Lobbies, state,
			ago(now, s.LastSeen), dash(strings.Join(s.Matchers, ",")))
	}
	return w.Flush()
}

// lobbyFilters are the flags of "lobbies".
type lobbyFilters struct {
	state, visibility, mode, region, shard, user, cursor string
	limit                                                int
	all                                                  bool
}

func (f *lobbyFilters) register(fs *flag.FlagSet) {
	fs.StringVar(&f.state, "state", "", "open or in_game")
	fs.StringVar(&f.visibility, "visibility", "", "public or private")
	fs.StringVar(&f.mode, "mode", "", "game mode")
	fs.StringVar(&f.region, "region", "", "region")
	fs.StringVar(&f.shard, "shard", "", "lobbies with a member on this shard")
	fs.StringVar(&f.user, "user", "", "the lobby of this user id")
	fs.IntVar(&f.limit, "limit", 0, "lobbies per page, 1-200 (default: the server's, 50)")
	fs.StringVar(&f.cursor, "cursor", "", "start at this page (next_cursor of the previous)")
	fs.BoolVar(&f.all, "all", false, "follow every page")
}

func (f *lobbyFilters) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.state, "visibility": f.visibility, "mode": f.mode,
		"region": f.region, "shard": f.shard, "user": f.user, "cursor": f.cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.limit != 0 {
		q.Set("limit", strconv.Itoa(f.limit))
	}
	return q
}

// maxPages bounds --all: 1,000 pages of up to 200 lobbies.
const maxPages = 1000

func cmdLobbies(ctx context.Context, e *env, _ []string) error {
	q := e.filters.query()
	var all adminPage
	var raw []byte
	for page := 0; ; page++ {
		var p adminPage
		if err := e.c.do(ctx, http.MethodGet, "/admin/lobbies", q, &p, &raw); err != nil {
			return err
		}
		all.Lobbies = append(all.Lobbies, p.Lobbies...)
		all.NextCursor = p.NextCursor
		if !e.filters.all || p.NextCursor == nil || page+1 == maxPages {
			break
		}
		q.Set("cursor", *p.NextCursor)
	}
	if e.json {
		if !e.filters.all {
			return e.printJSON(raw)
		}
		if all.Lobbies == nil {
			all.Lobbies = []adminLobby{}
		}
		b, err := json.Marshal(all)
		if err != nil {
			return err
		}
		return e.printJSON(b)
	}
	w := e.table("LOBBY", "NAME", "STATE", "VISIBILITY", "MODE", "REGION", "PLAYERS", "HOST", "SHARDS", "AGE")
	now := e.clock()
	for _, l := range all.Lobbies {
		connected := 0
		shards := map[string]bool{}
		for _, m := range l.Members {
			if m.Connected {
				connected++
			}
			shards[m.Shard] = true
		}
		players := fmt.Sprintf("%d/%d", len(l.Members), l.MaxPlayers)
		if connected < len(l.Members) {
			players += fmt.Sprintf(" (%d away)", len(l.Members)-connected)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, clip(l.Name, 32), l.State, l.Visibility,
			dash(l.Mode), dash(l.Region), players, dash(l.Host), strings.Join(sortedKeys(shards), ","), age(now, l.CreatedAt))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	switch {
	case len(all.Lobbies) == 0:
		fmt.Fprintln(e.out, "(no lobby matches)")
	case all.NextCursor != nil:
		fmt.Fprintf(e.out, "(more: --cursor %s, or --all)\n", *all.NextCursor)
	}
	return nil
}

func cmdLobby(ctx context.Context, e *env, args []string) error {
	var l adminLobby
	var raw []byte
	if err := e.c.do(ctx, http.MethodGet, "/admin/lobbies/"+url.PathEscape(args[0]), nil, &l, &raw); err != nil {
		return notFound(err, "lobby "+args[0])
	}
	if e.json {
		return e.printJSON(raw)
	}
	now := e.clock()
	kv := tabwriterFor(e.out)
	flags := []string{l.Visibility}
	if l.HasPassword {
		flags = append(flags, "password")
	}
	if l.Locked {
		flags = append(flags, "locked")
	}
	for _, row := range [][2]string{
		{"Lobby", l.ID},
		{"Name", l.Name},
		{"Code", l.Code},
		{"State", l.State},
		{"Access", strings.Join(flags, ", ")},
		{"Mode / region", dash(l.Mode) + " / " + dash(l.Region)},
		{"Players", fmt.Sprintf("%d/%d", len(l.Members), l.MaxPlayers)},
		{"Host", dash(l.Host)},
		{"Match", dash(l.MatchID)},
		{"Created", time.UnixMilli(l.CreatedAt).UTC().Format(time.RFC3339) + " (" + age(now, l.CreatedAt) + " ago)"},
		{"Version", strconv.FormatUint(l.Version, 10)},
		{"Attrs", attrs(l.Attrs)},
	} {
		fmt.Fprintf(kv, "%s:\t%s\n", row[0], row[1])
	}
	if err := kv.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.out)
	w := e.table("MEMBER", "NAME", "ROLE", "READY", "CONNECTED", "SHARD", "JOINED")
	for _, m := range l.Members {
		role := "member"
		if m.IsHost {
			role = "host"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s ago\n", m.UserID, dash(m.Name), role, yesNo(m.Ready),
			yesNo(m.Connected), dash(m.Shard), age(now, m.JoinedAt))
	}
	return w.Flush()
}

func cmdQueues(ctx context.Context, e *env, _ []string) error {
	var qs []adminQueue
	var raw []byte
	if err := e.c.do(ctx, http.MethodGet, "/admin/queues", nil, &qs, &raw); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(raw)
	}
	w := e.table("QUEUE", "TICKETS", "PLAYERS", "OLDEST WAIT", "MATCHES/MIN", "MATCHER")
	for _, q := range qs {
		oldest := "-"
		if q.Tickets > 0 {
			oldest = duration(time.Duration(q.OldestWaitMs) * time.Millisecond)
		}
		matcher := "(none: lease free)"
		if q.Matcher != nil {
			matcher = *q.Matcher
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%d\t%s\n", q.Name, q.Tickets, q.Players, oldest, q.MatchesPerMin, matcher)
	}
	return w.Flush()
}

func cmdClose(ctx context.Context, e *env, args []string) error {
	if err := e.c.do(ctx, http.MethodDelete, "/admin/lobbies/"+url.PathEscape(args[0]), nil, nil, nil); err != nil {
		return notFound(err, "lobby "+args[0])
	}
	if e.json {
		return e.printJSON(fmt.Appendf(nil, `{"closed": %q}`, args[0]))
	}
	fmt.Fprintf(e.out, "closed lobby %s (its members were told: member_left, reason closed)\n", args[0])
	return nil
}

func cmdDrain(ctx context.Context, e *env, args []string) error {
	var raw []byte
	if len(args) == 0 {
		if err := e.c.do(ctx, http.MethodPost, "/admin/drain", nil, nil, &raw); err != nil {
			return err
		}
		if e.json {
			return e.printJSON(raw)
		}
		fmt.Fprintf(e.out, "the shard at %s is draining: its players are told to reconnect elsewhere, then it exits\n", e.c.base.Host)
		return nil
	}
	if err := e.c.do(ctx, http.MethodPost, "/admin/shards/"+url.PathEscape(args[0])+"/drain", nil, nil, &raw); err != nil {
		return notFound(err, "live shard "+args[0])
	}
	if e.json {
		return e.printJSON(raw)
	}
	fmt.Fprintf(e.out, "shard %s was told to drain (lobbyctl shards shows it draining within a few seconds)\n", args[0])
	return nil
}

// notFound words a 404 for what was asked.
func notFound(err error, what string) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return fmt.Errorf("no %s (404 not_found)", what)
	}
	return err
}

func tabwriterFor(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// clip shortens s to n characters for a table cell.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func attrs(m map[string]any) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, " ")
}

// age is how long ago a unix-ms time was, rounded for a table.
func age(now time.Time, ms int64) string {
	return duration(now.Sub(time.UnixMilli(ms)))
}

func ago(now time.Time, ms int64) string { return age(now, ms) + " ago" }

// duration rounds d to what a person reads at a glance: 850ms, 12s, 3m4s,
// 2h5m, 3d4h.
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
