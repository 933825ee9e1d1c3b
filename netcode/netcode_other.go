//go:build !linux

package netcode

import "github.com/gofiber/fiber/v2"

// On platforms without epoll the package compiles so the rest of lobbyd
// does, but NewServer refuses: lobbyd's transport runs on Linux only.

// Conn is one WebSocket connection (Linux only).
type Conn struct{ value any }

// Server is the WebSocket transport (Linux only).
type Server struct{}

// NewServer returns ErrUnsupported off Linux.
func NewServer(cfg Config, h Handler) (*Server, error) { return nil, ErrUnsupported }

func (s *Server) Upgrade(c *fiber.Ctx, value any) error {
	return fiber.NewError(fiber.StatusNotImplemented, ErrUnsupported.Error())
}
func (s *Server) Len() int                              { return 0 }
func (s *Server) Slots() int                            { return 0 }
func (s *Server) Each(fn func(*Conn))                   {}
func (s *Server) Shutdown()                             {}
func (c *Conn) Value() any                              { return c.value }
func (c *Conn) Write(msg []byte) error                  { return ErrClosed }
func (c *Conn) WriteParts(head, body []byte) error      { return ErrClosed }
func (c *Conn) Close(code uint16, reason string)        {}
func (c *Conn) CloseDiscard(code uint16, reason string) {}
func (c *Conn) Queued() int                             { return 0 }

func (c *Conn) WriteHead(head [MaxHead]byte, n int, body []byte) error { return ErrClosed }
