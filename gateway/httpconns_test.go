package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// A shutdown closes the connections that wait for a request (a silent one,
// an idle keep-alive one) at once, and lets a request already in its
// handler finish and write its response.
func TestShutdownClosesWaitingConnsNotBusyOnes(t *testing.T) {
	conns := newHTTPConns()
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: time.Minute, IdleTimeout: time.Minute})
	app.Server().ConnState = conns.track
	app.Use(conns.middleware)
	entered, release := make(chan struct{}), make(chan struct{})
	app.Get("/slow", func(c *fiber.Ctx) error {
		close(entered)
		<-release
		return c.SendString("finished")
	})
	app.Get("/fast", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	addr := ln.Addr().String()

	silent := dial(t, addr)
	keepAlive := dial(t, addr)
	if got := roundTrip(t, keepAlive, "/fast"); got != "ok" {
		t.Fatalf("/fast answered %q", got)
	}
	busy := dial(t, addr)
	if _, err := io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered

	shutdown := make(chan error, 1)
	go func() {
		shutdown <- conns.closeWaitingDuring(func() error { return app.ShutdownWithTimeout(time.Minute) }, 10*time.Millisecond)
	}()

	for name, c := range map[string]net.Conn{"silent": silent, "keep-alive": keepAlive} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 64)); err != io.EOF {
			t.Errorf("%s connection: read %d bytes, %v; want EOF (closed by the shutdown)", name, n, err)
		}
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("the busy connection's response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "finished" {
		t.Fatalf("the busy connection got %d %q", resp.StatusCode, body)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for _, c := range []net.Conn{silent, keepAlive, busy} {
		c.Close()
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip sends one keep-alive GET on c and returns the body.
func roundTrip(t *testing.T, c net.Conn, path string) string {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// A request that does not arrive within ReadTimeout is answered 408 (Fiber
// hands the handler fasthttp's timeout as ErrRequestTimeout), with the
// protocol's error body and the connection closing.
func TestRequestTimeoutIs408(t *testing.T) {
	g := &Gateway{}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: g.httpErrorHandler})
	app.Get("/slow", func(*fiber.Ctx) error { return fiber.ErrRequestTimeout })
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/slow", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close || !strings.Contains(string(body), `"code":"bad_request"`) {
		t.Fatalf("got %d (close %v) %s", resp.StatusCode, resp.Close, body)
	}
}
