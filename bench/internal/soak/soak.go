package soak

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Config is one soak run. Zero fields take the defaults of DefaultConfig.
type Config struct {
	Addr         string // lobbyd's address (loopback)
	PID          int    // lobbyd's process, for /proc
	MetricsURL   string // lobbyd's /metrics
	MetricsToken string // its operator token

	// Shards, when set, are the shards of one cluster, used instead of the
	// four fields above: player i of each workload is on shard i mod
	// len(Shards), and every drop resumes on the next shard, never the one
	// it dropped from (docs/protocol.md §5a: a resume works on any shard).
	Shards []Shard
	Setup  string // what the report calls the setup (default "1 shard" or "N shards")

	Duration time.Duration // how long traffic runs
	Sample   time.Duration // how often the server is sampled

	Lobbies   int           // relay and chat lobbies
	PerLobby  int           // players in each
	SendRate  float64       // lobby.send per relay player per second
	ChatEvery time.Duration // a chat per relay player this often
	DropEvery time.Duration // mean time between a relay player's drop and resume

	Churners    int // players creating, joining and leaving lobbies in a loop
	Matchers    int // players queueing for duels in a loop (even)
	Browsers    int // HTTP clients paging through GET /v1/lobbies
	SlowReaders int // members of the firehose lobby that stop reading for long stretches

	FirehoseBytes int           // payload of the firehose lobby's sender
	FirehoseEvery time.Duration // its send interval

	Seed uint64
	Logf func(format string, args ...any)
}

// Shard is one lobbyd process of the run.
type Shard struct {
	Name         string `json:"name"`
	Addr         string `json:"addr"`
	PID          int    `json:"pid"`
	MetricsURL   string `json:"-"`
	MetricsToken string `json:"-"`
}

// DefaultConfig is a one-minute soak of about 60 connections.
func DefaultConfig() Config {
	return Config{
		Duration: time.Minute, Sample: 5 * time.Second,
		Lobbies: 4, PerLobby: 6, SendRate: 10, ChatEvery: 2 * time.Second, DropEvery: 15 * time.Second,
		Churners: 4, Matchers: 8, Browsers: 2, SlowReaders: 4,
		// 800 KB/s: a 10-40 s stall owes more than the write bound and
		// the loopback socket buffers together, so slow readers get closed.
		FirehoseBytes: 8 << 10, FirehoseEvery: 10 * time.Millisecond,
		Seed: 1,
	}
}

func (c *Config) defaults() {
	d := DefaultConfig()
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setD(&c.Duration, d.Duration)
	setD(&c.Sample, d.Sample)
	set(&c.Lobbies, d.Lobbies)
	set(&c.PerLobby, d.PerLobby)
	if c.SendRate == 0 {
		c.SendRate = d.SendRate
	}
	setD(&c.ChatEvery, d.ChatEvery)
	setD(&c.DropEvery, d.DropEvery)
	set(&c.FirehoseBytes, d.FirehoseBytes)
	setD(&c.FirehoseEvery, d.FirehoseEvery)
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if len(c.Shards) == 0 {
		c.Shards = []Shard{{Name: "a", Addr: c.Addr, PID: c.PID, MetricsURL: c.MetricsURL, MetricsToken: c.MetricsToken}}
	}
	if c.Setup == "" {
		c.Setup = "1 shard"
		if len(c.Shards) > 1 {
			c.Setup = fmt.Sprintf("%d shards", len(c.Shards))
		}
	}
}

// Result is what a soak found.
type Result struct {
	Config  Config   `json:"-"`
	Samples []Sample `json:"samples"`

	Events         int64 `json:"events"` // numbered events received
	Lost           int64 `json:"lost"`   // seq gaps
	Duplicated     int64 `json:"duplicated"`
	OutOfOrder     int64 `json:"out_of_order"`       // a sender's messages reordered
	ChatDisagree   int64 `json:"chat_disagreements"` // chat pairs two members saw in opposite orders
	Errors         int64 `json:"errors"`
	Resumes        int64 `json:"resumes"`
	CrossResumes   int64 `json:"cross_shard_resumes"` // resumed on another shard than the one dropped from
	ResumeFailed   int64 `json:"resume_failed"`
	Sends          int64 `json:"sends"`
	Chats          int64 `json:"chats"`
	Churns         int64 `json:"churns"`
	Listings       int64 `json:"listings"`
	Matches        int64 `json:"matches"`
	SlowCloses     int64 `json:"slow_closes"`  // closed with 1008, seen
	SlowDropped    int64 `json:"slow_dropped"` // closed before the reader reached the close frame
	SlowReconnects int64 `json:"slow_reconnects"`
	ConnectRetries int64 `json:"connect_retries"` // TCP connects tried again after a timeout

	ErrorKinds  map[string]int64  `json:"error_kinds,omitempty"`
	ErrorSample map[string]string `json:"error_samples,omitempty"`
	// Anomalies describe the first lost, duplicated or reordered events:
	// which check, whose session, on which shard, which event.
	Anomalies []string `json:"anomalies,omitempty"`

	Setup  string  `json:"setup"`
	Shards []Shard `json:"shards"`
}

// OK reports whether the run found nothing wrong.
func (r *Result) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.OutOfOrder == 0 && r.ChatDisagree == 0 && r.Errors == 0
}

// runner is one soak in progress.
type runner struct {
	cfg  Config
	hc   *http.Client
	c    counters
	wg   sync.WaitGroup
	logs []*chatLog
}

// Run runs the soak until cfg.Duration has passed or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if cfg.Matchers%2 != 0 {
		return nil, errors.New("soak: Matchers must be even (duels)")
	}
	for _, sh := range cfg.Shards {
		if sh.Addr == "" {
			return nil, errors.New("soak: a shard without an address")
		}
	}
	r := &runner{cfg: cfg, hc: newHTTPClient()}
	retries0 := connectRetries.Load()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	// The stable lobbies first, so that relay starts with everyone in.
	relays, err := r.setupRelay(ctx)
	if err != nil {
		return nil, err
	}
	fire, err := r.setupFirehose(ctx)
	if err != nil {
		return nil, err
	}
	var samples []Sample
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		samples = r.sampleLoop(ctx)
	}()
	for i, p := range relays {
		r.go1(func() { r.relayLoop(ctx, p, uint64(i)) })
	}
	r.go1(func() { r.firehoseLoop(ctx, fire) })
	for i := range cfg.SlowReaders {
		r.go1(func() { r.slowReaderLoop(ctx, fire.lobbyID, i) })
	}
	for i := range cfg.Churners {
		r.go1(func() { r.churnLoop(ctx, i) })
	}
	for i := range cfg.Matchers {
		r.go1(func() { r.matchLoop(ctx, i) })
	}
	for i := range cfg.Browsers {
		r.go1(func() { r.browseLoop(ctx, r.shard(i).Addr) })
	}
	<-ctx.Done()
	r.wg.Wait()
	// Let events in flight land before the last checks.
	time.Sleep(500 * time.Millisecond)
	for _, p := range relays {
		p.conn().close()
	}
	fire.conn().close()
	<-sampled

	res := &Result{Config: cfg, Samples: samples}
	c := &r.c
	res.Events, res.Lost, res.Duplicated, res.OutOfOrder = c.events.Load(), c.lost.Load(), c.duplicated.Load(), c.outOfOrder.Load()
	res.Errors, res.Resumes, res.ResumeFailed = c.errors.Load(), c.resumes.Load(), c.resumeFailed.Load()
	res.CrossResumes = c.crossResumes.Load()
	res.Setup, res.Shards = cfg.Setup, cfg.Shards
	res.Sends, res.Chats, res.Churns, res.Listings, res.Matches = c.sends.Load(), c.chats.Load(), c.churns.Load(), c.listings.Load(), c.matches.Load()
	res.SlowCloses, res.SlowDropped, res.SlowReconnects = c.slowCloses.Load(), c.slowDropped.Load(), c.slowReconnects.Load()
	res.ConnectRetries = connectRetries.Load() - retries0
	for _, l := range r.logs {
		res.ChatDisagree += l.disagreements()
	}
	c.mu.Lock()
	res.ErrorKinds, res.ErrorSample, res.Anomalies = c.errKinds, c.errSample, c.anomalies
	c.mu.Unlock()
	return res, nil
}

func (r *runner) go1(f func()) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); f() }()
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// player is a relay or firehose member whose session is checked across
// drops and resumes.
type player struct {
	token, user, lobbyID string
	shard                int // index into Config.Shards of the current connection

	mu sync.Mutex
	c  *wsConn
	s  *session
}

func (p *player) conn() *wsConn { p.mu.Lock(); defer p.mu.Unlock(); return p.c }

// shard is the i-th shard, round robin.
func (r *runner) shard(i int) Shard { return r.cfg.Shards[i%len(r.cfg.Shards)] }

// connect opens (or, with the session's resume token, resumes) p's session.
// A resume goes to the next shard: in a cluster, never the one p dropped
// from.
func (r *runner) connect(ctx context.Context, p *player) error {
	p.mu.Lock()
	resume, last, from := "", uint64(0), p.shard
	if p.c != nil {
		resume, _ = p.c.welcome.d()["resume_token"].(string)
		last = p.s.lastSeq
		p.shard = (p.shard + 1) % len(r.cfg.Shards)
	}
	to := p.shard
	p.mu.Unlock()
	s := p.s
	// The previous connection's reader has ended (drop waits for it), so
	// the session is not being read while it is told where it now is.
	s.shard = r.shard(to).Name
	// A failed resume starts a new session, numbered from 1: set before
	// the reader starts, which reads it.
	restart := func(w msg) {
		if resume != "" && w.d()["resumed"] != true {
			s.lastSeq = 0
		}
	}
	c, err := dial(ctx, r.shard(to).Addr, p.token, resume, last, restart, func(m msg) { s.event(m) })
	if err != nil {
		p.mu.Lock()
		p.shard = from // a retry goes to the same other shard
		p.mu.Unlock()
		return fmt.Errorf("shard %s: %w", r.shard(to).Name, err)
	}
	if resume != "" {
		r.c.resumes.Add(1)
		if from != to {
			r.c.crossResumes.Add(1)
		}
		if c.welcome.d()["resumed"] != true {
			r.c.resumeFailed.Add(1) // lastSeq was reset by restart
		}
	}
	p.mu.Lock()
	p.c = c
	p.mu.Unlock()
	return nil
}

// newPlayer gets a guest token and connects to the i-th shard.
func (r *runner) newPlayer(ctx context.Context, name string, i int, log *chatLog) (*player, error) {
	sh := i % len(r.cfg.Shards)
	tok, uid, err := guest(ctx, r.hc, r.cfg.Shards[sh].Addr, name)
	if err != nil {
		return nil, err
	}
	p := &player{token: tok, user: uid, shard: sh}
	p.s = newSession(&r.c, uid, log)
	return p, r.connect(ctx, p)
}

func (r *runner) setupRelay(ctx context.Context) ([]*player, error) {
	var all []*player
	for l := range r.cfg.Lobbies {
		log := &chatLog{}
		r.logs = append(r.logs, log)
		var lobbyID string
		for k := range r.cfg.PerLobby {
			p, err := r.newPlayer(ctx, fmt.Sprintf("relay-%d-%d", l, k), l*r.cfg.PerLobby+k, log)
			if err != nil {
				return nil, fmt.Errorf("soak: relay player: %w", err)
			}
			if k == 0 {
				d, err := p.c.call("lobby.create", map[string]any{"name": fmt.Sprintf("soak relay %d", l),
					"max_players": r.cfg.PerLobby, "visibility": "public", "mode": "soak"})
				if err != nil {
					return nil, fmt.Errorf("soak: %w", err)
				}
				lobbyID, _ = d["lobby"].(map[string]any)["id"].(string)
			} else if _, err := p.c.call("lobby.join", map[string]any{"lobby_id": lobbyID}); err != nil {
				return nil, fmt.Errorf("soak: %w", err)
			}
			p.lobbyID = lobbyID
			all = append(all, p)
		}
	}
	return all, nil
}

// relayLoop sends game data and chat, and now and then drops the
// connection and resumes.
func (r *runner) relayLoop(ctx context.Context, p *player, idx uint64) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, idx))
	tick := time.Duration(float64(time.Second) / r.cfg.SendRate)
	nextChat := time.Now().Add(time.Duration(rng.Int64N(int64(r.cfg.ChatEvery))))
	nextDrop := time.Now().Add(time.Duration(rng.ExpFloat64() * float64(r.cfg.DropEvery)))
	buf := make([]byte, 64)
	var n uint64
	for sleep(ctx, tick) {
		c := p.conn()
		if time.Now().After(nextDrop) {
			r.c.dropsPlanned.Add(1)
			c.drop()
			sleep(ctx, time.Duration(rng.Int64N(int64(500*time.Millisecond))))
			// A failed resume is an error; then the player does what a
			// client would, tries again with the same resume token, so
			// that one refusal does not take it out of the rest of the run.
			for {
				err := r.connect(context.Background(), p)
				if err == nil {
					break
				}
				r.c.fail("resume", err)
				if !sleep(ctx, time.Second) {
					return
				}
			}
			nextDrop = time.Now().Add(time.Duration(rng.ExpFloat64() * float64(r.cfg.DropEvery)))
			continue
		}
		n++
		binary.BigEndian.PutUint64(buf, idx)
		binary.BigEndian.PutUint64(buf[8:], n)
		if err := c.send("lobby.send", map[string]any{"data": buf}); err != nil {
			r.c.fail("relay send", err)
			continue
		}
		r.c.sends.Add(1)
		if time.Now().After(nextChat) {
			text := fmt.Sprintf("%s #%d", p.user, n)
			if _, err := c.call("lobby.chat", map[string]any{"text": text}); err != nil {
				r.c.fail("chat", err)
			} else {
				r.c.chats.Add(1)
			}
			nextChat = time.Now().Add(r.cfg.ChatEvery)
		}
	}
}

// setupFirehose makes the lobby the slow readers join: one sender of
// large messages.
func (r *runner) setupFirehose(ctx context.Context) (*player, error) {
	p, err := r.newPlayer(ctx, "firehose", 0, nil)
	if err != nil {
		return nil, fmt.Errorf("soak: firehose: %w", err)
	}
	d, err := p.c.call("lobby.create", map[string]any{"name": "soak firehose", "max_players": 256, "visibility": "private"})
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	p.lobbyID, _ = d["lobby"].(map[string]any)["id"].(string)
	code, _ := d["lobby"].(map[string]any)["code"].(string)
	p.lobbyID = code // joined by code: the lobby is private
	return p, nil
}

func (r *runner) firehoseLoop(ctx context.Context, p *player) {
	buf := make([]byte, r.cfg.FirehoseBytes)
	for sleep(ctx, r.cfg.FirehoseEvery) {
		if err := p.conn().send("lobby.send", map[string]any{"data": buf}); err != nil {
			r.c.fail("firehose send", err)
			return
		}
	}
}

// slowReaderLoop joins the firehose lobby and stops reading for 10-40 s
// stretches: the server must bound what it holds for it (closing it as a
// slow consumer when over the bound) while everyone else goes on.
func (r *runner) slowReaderLoop(ctx context.Context, code string, i int) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 1000+uint64(i)))
	addr := r.shard(i).Addr
	tok, _, err := guest(ctx, r.hc, addr, fmt.Sprintf("slow-%d", i))
	if err != nil {
		r.c.fail("slow reader token", err)
		return
	}
	for ctx.Err() == nil {
		ws, err := dialRaw(ctx, addr, tok)
		if err != nil {
			r.c.fail("slow reader dial", err)
			return
		}
		// After a slow-consumer close the session waits out its grace in the
		// lobby, and the new connection keeps the membership: already in.
		if err := ws.joinByCode(code); err != nil && !errors.Is(err, errAlreadyIn) && !stopping(ctx) {
			r.c.fail("slow reader join", err)
		}
		// Stall, then drain; the server may have closed us meanwhile.
		for ctx.Err() == nil {
			if !sleep(ctx, time.Duration(10+rng.IntN(30))*time.Second) {
				break
			}
			if code := ws.drain(time.Second); code != 0 {
				if code == 1008 {
					r.c.slowCloses.Add(1) // read up to the close frame
				} else {
					r.c.slowDropped.Add(1) // the socket ended before we read that far
				}
				break
			}
		}
		ws.Close()
		if ctx.Err() == nil {
			r.c.slowReconnects.Add(1)
		}
	}
}

// churnLoop creates a lobby, has a second player join, chat and leave,
// and disconnects both, over and over, with fresh users.
func (r *runner) churnLoop(ctx context.Context, i int) {
	for k := 0; ctx.Err() == nil; k++ {
		if err := r.churnOnce(ctx, fmt.Sprintf("churn-%d-%d", i, k), i); err != nil && !stopping(ctx) {
			r.c.fail("churn", err)
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		r.c.churns.Add(1)
	}
}

// churnOnce plays one round; in a cluster its two players are on two
// shards (i and i+1).
func (r *runner) churnOnce(ctx context.Context, name string, i int) error {
	var cs [2]*wsConn
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.close()
			}
		}
	}()
	for j := range cs {
		addr := r.shard(i + j).Addr
		tok, _, err := guest(ctx, r.hc, addr, name+strconv.Itoa(j))
		if err != nil {
			return err
		}
		if cs[j], err = dial(ctx, addr, tok, "", 0, nil, nil); err != nil {
			return err
		}
	}
	d, err := cs[0].call("lobby.create", map[string]any{"name": name, "max_players": 4, "visibility": "public", "mode": "churn",
		"attrs": map[string]any{"round": 1}, "data": map[string]any{"x": 1.5}})
	if err != nil {
		return err
	}
	id, _ := d["lobby"].(map[string]any)["id"].(string)
	if _, err := cs[1].call("lobby.join", map[string]any{"lobby_id": id}); err != nil {
		return err
	}
	for _, c := range cs {
		if _, err := c.call("lobby.chat", map[string]any{"text": "hi"}); err != nil {
			return err
		}
	}
	if _, err := cs[0].call("lobby.set_member", map[string]any{"ready": true}); err != nil {
		return err
	}
	for _, c := range cs {
		if _, err := c.call("lobby.leave", map[string]any{}); err != nil {
			return err
		}
	}
	return nil
}

// matchLoop queues for a duel, waits for the match, leaves its lobby, and
// queues again.
func (r *runner) matchLoop(ctx context.Context, i int) {
	addr := r.shard(i).Addr
	tok, _, err := guest(ctx, r.hc, addr, fmt.Sprintf("mm-%d", i))
	if err != nil {
		r.c.fail("matcher token", err)
		return
	}
	matched := make(chan struct{}, 4)
	c, err := dial(ctx, addr, tok, "", 0, nil, func(m msg) {
		if m["ev"] == "mm.matched" {
			matched <- struct{}{}
		}
	})
	if err != nil {
		r.c.fail("matcher dial", err)
		return
	}
	defer c.close()
	for ctx.Err() == nil {
		if _, err := c.call("mm.enqueue", map[string]any{"queue": "duel", "skill": 1000 + 10*i}); err != nil {
			if !stopping(ctx) {
				r.c.fail("enqueue", err)
			}
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		select {
		case <-matched:
			r.c.matches.Add(1)
		case <-ctx.Done():
			return
		case <-time.After(15 * time.Second):
			r.c.fail("match", errors.New("no mm.matched within 15 s"))
			_, _ = c.call("lobby.leave", map[string]any{})
			continue
		}
		if _, err := c.call("lobby.leave", map[string]any{}); err != nil && !stopping(ctx) {
			r.c.fail("leave match", err)
		}
	}
}

// browseLoop pages through GET /v1/lobbies of the shard at addr (in a
// cluster, every shard's lobbies) and reads one lobby by id.
func (r *runner) browseLoop(ctx context.Context, addr string) {
	for ctx.Err() == nil {
		cursor, pages := "", 0
		for pages < 50 && ctx.Err() == nil {
			q := url.Values{"limit": {"20"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var page struct {
				Lobbies []struct {
					ID string `json:"id"`
				} `json:"lobbies"`
				NextCursor *string `json:"next_cursor"`
			}
			if err := r.getJSON(ctx, addr, "/v1/lobbies?"+q.Encode(), &page); err != nil {
				if !stopping(ctx) {
					r.c.fail("list", err)
				}
				break
			}
			r.c.listings.Add(1)
			if len(page.Lobbies) > 0 {
				err := r.getJSON(ctx, addr, "/v1/lobbies/"+page.Lobbies[0].ID, nil)
				var st httpStatus
				if err != nil && !(errors.As(err, &st) && st == 404) && !stopping(ctx) { // it may just have gone
					r.c.fail("get lobby", err)
				}
			}
			pages++
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
			sleep(ctx, 20*time.Millisecond)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

type httpStatus int

func (s httpStatus) Error() string { return "HTTP " + strconv.Itoa(int(s)) }

func (r *runner) getJSON(ctx context.Context, addr, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return httpStatus(resp.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// stopping reports whether the run is ending: ctx is done, or its deadline
// has passed (a connection's deadline taken from ctx can fire an instant
// before ctx itself reports it), so an error then is the shutdown's, not a
// failure.
func stopping(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
