package gateway

import (
	"embed"
	"path"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/protocol"
)

// The operator page: /admin/ and its files under /admin/static/, embedded
// in the binary (no Node toolchain, no files to deploy). The page itself
// is public — it holds nothing — and asks for the operator token, which it
// keeps in memory only and sends on every call to the operator API; every
// number it shows comes from that API (admin.go, http.go).

//go:embed adminui
var adminUI embed.FS

// adminPageCSP lets the page load its own script and stylesheet and call
// its own origin, and nothing else: no inline script (a lobby name that
// slipped into the page as HTML could not run), no other origin to send
// the token to, no framing.
const adminPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// adminStatic are the page's files and their types.
var adminStatic = map[string]string{
	"admin.js":  "text/javascript; charset=utf-8",
	"admin.css": "text/css; charset=utf-8",
}

func (g *Gateway) adminPageRoutes(app *fiber.App) {
	app.Get("/admin/", func(c *fiber.Ctx) error {
		return serveAdminFile(c, "index.html", fiber.MIMETextHTMLCharsetUTF8)
	})
	app.Get("/admin/static/:file", func(c *fiber.Ctx) error {
		name := c.Params("file")
		ctype, ok := adminStatic[name]
		if !ok {
			return httpError(c, protocol.CodeNotFound, "no such file")
		}
		return serveAdminFile(c, name, ctype)
	})
}

func serveAdminFile(c *fiber.Ctx, name, ctype string) error {
	b, err := adminUI.ReadFile(path.Join("adminui", name))
	if err != nil {
		return httpError(c, protocol.CodeNotFound, "no such file")
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderContentSecurityPolicy, adminPageCSP)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	// A new build shows at once; the files are small.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(b)
}
