// Command gorilla is a baseline for bench/: a lobby relay on
// gorilla/websocket written the way a Go developer writes it first — one
// read goroutine and one write goroutine per connection (the pattern of
// gorilla's chat example), a mutex-guarded map of lobbies, and msgpack via
// vmihailenco/msgpack. It speaks the subset of docs/protocol.md the workloads use,
// in the same envelopes: welcome, ping, lobby.create, lobby.join,
// lobby.leave, lobby.send (event lobby.data), GET /v1/lobbies and a
// /metrics page with go_goroutines.
//
// Auth is trivial on purpose (the user id in the query string,
// /ws?user=ID): an advantage over lobbyd, which checks a JWT.
//
// Concurrency: a conn's readPump is the only reader and the only goroutine
// that changes that conn's lobby membership; its writePump is the only
// writer. server.mu guards the lobby map and every lobby's member set.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	s := newServer()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("GET /v1/lobbies", s.serveList)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("GET /metrics", serveMetrics)
	srv := &http.Server{Addr: *addr, Handler: mux}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		<-ch
		_ = srv.Close()
	}()
	log.Printf("gorilla baseline listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
