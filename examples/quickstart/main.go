// Command quickstart is the README's first client as a program: a guest
// token over HTTP, the WebSocket with its welcome event, and one request
// (lobby.create) with its reply. It speaks the wire protocol with nothing but
// a WebSocket library and a MessagePack library, as a client in any language
// would (docs/protocol.md).
//
//	go run ./cmd/lobbyd &              # a dev server on 127.0.0.1:8080
//	go run ./examples/quickstart       # -addr host:port for another one
//
// The code between the README markers is copied into README.md; a test
// (examples_test.go) checks that the two are the same and runs this program
// against a real server.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "lobbyd host:port (a dev server: guest tokens)")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(addr string, out io.Writer) error {
	// README:begin
	// 1. A guest token (dev mode) from the HTTP API.
	resp, err := http.Post("http://"+addr+"/v1/auth/guest", "application/json", strings.NewReader(`{"name":"Ada"}`))
	if err != nil {
		return err
	}
	var guest struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&guest)
	resp.Body.Close()
	if err != nil {
		return err
	}

	// 2. The socket. The server's first message is the welcome event.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+url.QueryEscape(guest.Token), nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	var welcome struct {
		Ev string `msgpack:"ev"`
		D  struct {
			UserID string `msgpack:"user_id"`
			Shard  string `msgpack:"shard"`
		} `msgpack:"d"`
	}
	if err := readMsg(ws, &welcome); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: user %s on shard %s\n", welcome.Ev, welcome.D.UserID, welcome.D.Shard)

	// 3. A request: one binary message holding one MessagePack map. The
	// reply carries the same rid.
	req, _ := msgpack.Marshal(map[string]any{"op": "lobby.create", "rid": 1,
		"d": map[string]any{"name": "Ada's room", "max_players": 8, "visibility": "public"}})
	if err := ws.WriteMessage(websocket.BinaryMessage, req); err != nil {
		return err
	}
	var reply struct {
		Rid uint32 `msgpack:"rid"`
		OK  bool   `msgpack:"ok"`
		D   struct {
			Lobby struct {
				ID   string `msgpack:"id"`
				Name string `msgpack:"name"`
				Code string `msgpack:"code"`
			} `msgpack:"lobby"`
		} `msgpack:"d"`
		Err struct {
			Code string `msgpack:"code"`
			Msg  string `msgpack:"msg"`
		} `msgpack:"err"`
	}
	if err := readMsg(ws, &reply); err != nil {
		return err
	}
	if !reply.OK {
		return fmt.Errorf("lobby.create refused: %s %s", reply.Err.Code, reply.Err.Msg)
	}
	fmt.Fprintf(out, "lobby.create: rid %d ok, lobby %q id %s code %s\n", reply.Rid, reply.D.Lobby.Name, reply.D.Lobby.ID, reply.D.Lobby.Code)
	// README:end
	return nil
}

// readMsg reads one binary message and decodes its MessagePack value into v.
func readMsg(ws *websocket.Conn, v any) error {
	typ, b, err := ws.ReadMessage()
	if err != nil {
		return err
	}
	if typ != websocket.BinaryMessage {
		return errors.New("expected a binary message")
	}
	return msgpack.Unmarshal(b, v)
}
