package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/client"
	"github.com/lobbyd/lobbyd/bench/internal/stats"
)

// BrowseConfig bounds the browse workload.
type BrowseConfig struct {
	Clients int           // concurrent HTTP clients (default 16)
	Limit   int           // ?limit= (default 20)
	Warm    time.Duration // default 500ms
	Measure time.Duration // default 4s
}

func (c *BrowseConfig) defaults() {
	if c.Clients <= 0 {
		c.Clients = 16
	}
	if c.Limit <= 0 {
		c.Limit = 20
	}
	if c.Warm <= 0 {
		c.Warm = 500 * time.Millisecond
	}
	if c.Measure <= 0 {
		c.Measure = 4 * time.Second
	}
}

// BrowseResult is the listing rate with Lobbies public lobbies.
type BrowseResult struct {
	Lobbies       int
	ReqPerSec     float64
	P50, P99      time.Duration
	CPU           CPU
	ClientLimited bool
	// PageBytes is the size of the checked first page (what each request
	// reads): servers whose pages carry more cost the load generator more.
	PageBytes int `json:",omitempty"`
}

// maxListBody bounds a listing answer read by the load generator.
const maxListBody = 4 << 20

// Browse makes each held connection leave its lobby and create its own (so
// there are len(held) public lobbies), then runs cfg.Clients closed-loop HTTP
// clients on GET /v1/lobbies?limit=cfg.Limit.
func Browse(ctx context.Context, t *Target, held *Held, cfg BrowseConfig) (BrowseResult, error) {
	cfg.defaults()
	res := BrowseResult{Lobbies: len(held.Conns)}
	setupCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	t.logf("browse: creating %d lobbies", len(held.Conns))
	err := pool(setupCtx, len(held.Conns), dialWorkers, func(ctx context.Context, i int) error {
		c := held.Conns[i]
		if err := c.Leave(ctx); err != nil {
			return err
		}
		_, err := c.Create(ctx, fmt.Sprintf("browse %d", i), 8)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("browse: lobbies: %w", err)
	}
	url := fmt.Sprintf("http://%s/v1/lobbies?limit=%d", t.Addr, cfg.Limit)
	hc := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.Clients,
			DisableCompression:  true,
			IdleConnTimeout:     client.IdleConnTimeout,
		},
	}
	defer hc.CloseIdleConnections()
	// One checked request first: the answer must be a full page.
	if res.PageBytes, err = checkListing(ctx, hc, url, cfg.Limit); err != nil {
		return res, fmt.Errorf("browse: %w", err)
	}
	var hist stats.Hist
	var count atomic.Uint64
	var firstErr atomic.Value
	runCtx, stop := context.WithTimeout(ctx, cfg.Warm+cfg.Measure+30*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for runCtx.Err() == nil {
				t0 := time.Now()
				if err := getDiscard(runCtx, hc, url, buf); err != nil {
					if runCtx.Err() == nil {
						firstErr.CompareAndSwap(nil, err)
						stop()
					}
					return
				}
				hist.Record(time.Since(t0))
				count.Add(1)
			}
		}()
	}
	time.Sleep(cfg.Warm)
	hist.Reset()
	n0, u0 := count.Load(), t.usageNow()
	select {
	case <-time.After(cfg.Measure):
	case <-runCtx.Done():
	}
	n1, u1 := count.Load(), t.usageNow()
	res.P50, res.P99 = hist.Quantile(0.5), hist.Quantile(0.99)
	stop()
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return res, fmt.Errorf("browse: %w", err)
	}
	res.ReqPerSec = float64(n1-n0) / u1.at.Sub(u0.at).Seconds()
	res.CPU = cpuSince(u0, u1)
	res.ClientLimited = res.CPU.MachineBound()
	t.logf("browse: %.0f req/s with %d lobbies, p99 %s, server %.2f cores, client %.2f cores",
		res.ReqPerSec, res.Lobbies, res.P99, res.CPU.Server, res.CPU.Client)
	return res, nil
}

// checkListing fetches url once and checks that the answer is a full page
// of limit lobbies; it returns the page's size in bytes.
func checkListing(ctx context.Context, hc *http.Client, url string, limit int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListBody))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	var page struct {
		Lobbies []json.RawMessage `json:"lobbies"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(page.Lobbies) != limit {
		return 0, fmt.Errorf("GET %s: %d lobbies, want %d", url, len(page.Lobbies), limit)
	}
	return len(body), nil
}

// getDiscard fetches url and reads the body into buf without keeping it:
// the load generator must not spend its CPU decoding JSON.
func getDiscard(ctx context.Context, hc *http.Client, url string, buf []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.CopyBuffer(io.Discard, io.LimitReader(resp.Body, maxListBody), buf); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}
