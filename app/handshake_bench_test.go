package app_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
)

// BenchmarkHandshake is one player's connect on an in-memory shard: TCP
// connect, the HTTP upgrade with a JWT, the welcome read, the close. Its
// allocs/op and B/op are the server's (the client is a raw socket): the
// garbage a burst of reconnects makes, which sits among the players'
// long-lived objects and is why a shard's RSS is about twice its live heap
// after one (docs/architecture.md, "Memory per idle player").
func BenchmarkHandshake(b *testing.B) {
	cfg, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.JWTSecret = "handshake-bench-secret"
	cfg.MaxConnections = 1024
	cfg.HandshakeLimit.PerAddress.PerSecond = 0 // every player dials from 127.0.0.1
	cfg.HandshakeLimit.PerUser.PerSecond = 0
	cfg.ResumeGraceMs = 0 // a closed player's session ends at once
	a, err := app.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	go a.Serve()
	defer a.Shutdown()
	port := a.Listener.Addr().(*net.TCPAddr).Port
	toks := make([]string, 4096)
	for i := range toks {
		if toks[i], err = a.Auth.Issue(fmt.Sprintf("hs-%06d", i), "", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		p := dialPlayer(b, port, toks[i%len(toks)])
		for {
			if _, ok := p.frame(); ok { // the welcome
				break
			}
			p.read(b)
		}
		unix.Close(p.fd)
		i++
	}
}
