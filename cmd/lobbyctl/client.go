package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxAnswer bounds what lobbyctl reads of one answer: a page of 200
// lobbies of 256 members each is well under it, and a wrong --addr that
// streams something else cannot fill the memory.
const maxAnswer = 64 << 20

// client calls one shard's operator API (docs/protocol.md §4).
type client struct {
	base  *url.URL // scheme and host (and a path prefix, behind a proxy)
	token string
	http  *http.Client
}

func newClient(addr, token string, timeout time.Duration) (*client, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Sprintf("--addr %q: want host:port or an http(s) URL", addr)}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &client{base: u, token: token, http: &http.Client{Timeout: timeout}}, nil
}

// apiError is a refusal by the shard: its status and the error body of
// docs/protocol.md §5.
type apiError struct {
	Status int
	Code   string
	Msg    string
}

func (e *apiError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "the shard refused the operator token (401 " + e.Code + "): set --token, --token-file or LOBBY_OPERATOR_TOKEN to the shard's --operator-token"
	}
	s := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// unreachableError: no HTTP answer at all.
type unreachableError struct {
	addr string
	err  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s: %v (is lobbyd running there? set --addr or LOBBYCTL_ADDR)", e.addr, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// do sends one request and decodes a 2xx JSON answer into out (nil: the
// body is ignored); raw, when not nil, receives the body as it came.
func (c *client) do(ctx context.Context, method, path string, query url.Values, out any, raw *[]byte) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the message already
		}
		return &unreachableError{addr: c.base.Host, err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return &unreachableError{addr: c.base.Host, err: err}
	}
	if len(body) > maxAnswer {
		return fmt.Errorf("%s %s: answer larger than %d MiB", method, path, maxAnswer>>20)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Code string `json:"code"`
				Msg  string `json:"msg"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &eb) == nil {
			e.Code, e.Msg = eb.Error.Code, eb.Error.Msg
		}
		return e
	}
	if raw != nil {
		*raw = body
	}
	if out != nil && len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the operator API's JSON (is --addr a lobbyd shard?): %v", method, path, err)
		}
	}
	return nil
}
