package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyd/lobbyd/protocol"
)

// WatchQuery is the filters of the live lobby list (those of GET
// /v1/lobbies, without cursor). Empty fields are no filter.
type WatchQuery struct {
	Mode, Region, State string
	HasSpace            bool
	Attrs               map[string]string // attr.<key>=<value>
	Limit               int               // the first list's length, 1..100; 0: the server's default (20)
}

func (q WatchQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("mode", q.Mode)
	set("region", q.Region)
	set("state", q.State)
	if q.HasSpace {
		v.Set("has_space", "true")
	}
	for k, s := range q.Attrs {
		v.Set("attr."+k, s)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// WatchKind says what a WatchEvent is.
type WatchKind int

// Kinds of WatchEvent.
const (
	// WatchReset: (re)connected; forget the list, a fresh one follows.
	WatchReset WatchKind = iota
	// WatchLobby: a lobby to show or replace (Lobby).
	WatchLobby
	// WatchSynced: the first list is complete.
	WatchSynced
	// WatchRemoved: a lobby to take off the list (ID).
	WatchRemoved
)

// WatchEvent is one change of the live lobby list.
type WatchEvent struct {
	Kind  WatchKind
	Lobby protocol.LobbyView // WatchLobby
	ID    string             // WatchLobby and WatchRemoved
}

// Watch follows the live lobby list (GET /v1/lobbies/watch) on the
// Client's server until ctx ends: the channel gets WatchReset, the list,
// WatchSynced, then changes; after a dropped stream, an overflow or a
// drain it reconnects with backoff and starts again with WatchReset. The
// channel is closed when ctx ends. It needs no session: see WatchURL.
func (c *Client) Watch(ctx context.Context, q WatchQuery) (<-chan WatchEvent, error) {
	u := c.httpBase()
	return WatchURL(ctx, u.String(), q, &c.opts)
}

// WatchURL is Watch without a Client: base is the server's HTTP root
// ("http://host:port").
func WatchURL(ctx context.Context, base string, q WatchQuery, opts *Options) (<-chan WatchEvent, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("client: watch url: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path = "/v1/lobbies/watch"
	u.RawQuery = q.values().Encode()
	o := opts.withDefaults()
	// The first request answers synchronously: a bad query is the
	// caller's error, not something to retry.
	resp, err := watchGet(ctx, u.String(), o)
	if err != nil {
		return nil, err
	}
	out := make(chan WatchEvent, 64)
	go func() {
		defer close(out)
		for n := 0; ; n++ {
			if resp != nil {
				if readWatch(ctx, resp, out) {
					n = 0 // the stream worked: start the backoff over
				}
				resp.Body.Close()
				resp = nil
			}
			wait := backoff(n, o.MinBackoff, o.MaxBackoff)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			r, err := watchGet(ctx, u.String(), o)
			if err != nil {
				if he, ok := err.(*HandshakeError); ok && he.RetryAfter > 0 {
					t := time.NewTimer(he.RetryAfter)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return
					}
				}
				continue
			}
			resp = r
		}
	}()
	return out, nil
}

func watchGet(ctx context.Context, u string, o Options) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range o.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, handshakeError(resp.StatusCode, resp.Header.Get("Retry-After"), resp.Body)
	}
	return resp, nil
}

// readWatch turns one stream into events until it ends; it reports whether
// the stream got as far as synced.
func readWatch(ctx context.Context, resp *http.Response, out chan<- WatchEvent) bool {
	send := func(ev WatchEvent) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !send(WatchEvent{Kind: WatchReset}) {
		return false
	}
	synced := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			if strings.HasPrefix(line, ":") {
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "event":
				event = v
			case "data":
				data += v
			}
			continue
		}
		var ev WatchEvent
		ok := true
		switch event {
		case "lobby":
			ev.Kind = WatchLobby
			ok = json.Unmarshal([]byte(data), &ev.Lobby) == nil
			ev.ID = ev.Lobby.ID
		case "lobby_removed":
			ev.Kind = WatchRemoved
			var r struct {
				ID string `json:"id"`
			}
			ok = json.Unmarshal([]byte(data), &r) == nil
			ev.ID = r.ID
		case "synced":
			ev.Kind = WatchSynced
			synced = true
		default: // overflow, or an event this version does not know
			ok = false
		}
		event, data = "", ""
		if ok && !send(ev) {
			return synced
		}
	}
	return synced
}
