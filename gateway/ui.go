package gateway

import (
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/protocol"
)

// UI routes: the lobby page at / and its files under /ui/ (Options.UI, the
// embedded build of web/). The gateway does not know what the page is;
// it serves the files it is given, read-only, with the headers a browser
// needs to neither cache a stale build nor sniff a type.

// uiPrefix is where the page's files are served; the page refers to them there.
const uiPrefix = "/ui/"

func (g *Gateway) mountUI(app *fiber.App) {
	if g.opts.UI == nil {
		return
	}
	app.Get("/", func(c *fiber.Ctx) error { return g.serveUIFile(c, "index.html") })
	// One middleware for the whole tree rather than a route per file: the
	// build decides which files exist. Other methods fall through to 404.
	app.Use(uiPrefix, func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		name := strings.TrimPrefix(c.Path(), uiPrefix)
		return g.serveUIFile(c, name)
	})
}

func (g *Gateway) serveUIFile(c *fiber.Ctx, name string) error {
	// fs.ValidPath refuses "..", empty elements and absolute paths, so no
	// request reaches outside the tree it was given.
	if name == "" || !fs.ValidPath(name) || strings.HasSuffix(name, "/") {
		return httpError(c, protocol.CodeNotFound, "no such file")
	}
	b, err := fs.ReadFile(g.opts.UI, name)
	if err != nil {
		return httpError(c, protocol.CodeNotFound, "no such file")
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8" // module scripts need a JavaScript type
	case "":
		ctype = "text/plain; charset=utf-8"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ctype)
	// Files are not content-hashed: a browser revalidates each time
	// (fasthttp answers the conditional request), so a new build shows at once.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	// The client library may be loaded by pages of other origins (the
	// browser example opened from a file).
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	return c.Send(b)
}
