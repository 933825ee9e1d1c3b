//go:build linux

package netcode_test

import (
	"log"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/lobbyd/lobbyd/netcode"
)

type echo struct{}

func (echo) OnOpen(c *netcode.Conn)                {}
func (echo) OnMessage(c *netcode.Conn, msg []byte) { _ = c.Write(msg) }
func (echo) OnClose(c *netcode.Conn, code uint16)  {}

// The wiring the gateway does: a Fiber app configured for hijacking, its
// own checks on GET /ws, then Upgrade.
func Example() {
	srv, err := netcode.NewServer(netcode.Config{HeartbeatInterval: 15 * time.Second}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()
	app := fiber.New(fiber.Config{ReadTimeout: 10 * time.Second})
	netcode.ConfigureApp(app)
	app.Get("/ws", func(c *fiber.Ctx) error {
		// auth, origin and draining checks answer 401/403/503 here
		return srv.Upgrade(c, "user-42")
	})
	_ = app.Listen("127.0.0.1:8080") // blocks; not run by go test
}
