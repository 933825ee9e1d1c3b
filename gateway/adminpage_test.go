package gateway

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestAdminPageFiles: /admin/ and every file it refers to are served,
// each with its type and the page's security headers; nothing else under
// /admin/static/ is.
func TestAdminPageFiles(t *testing.T) {
	app := fiber.New()
	(&Gateway{}).adminPageRoutes(app)
	get := func(path string) (int, string, map[string]string) {
		t.Helper()
		resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		h := map[string]string{}
		for _, k := range []string{"Content-Type", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			h[k] = resp.Header.Get(k)
		}
		return resp.StatusCode, string(b), h
	}
	for _, path := range []string{"/admin/", "/admin"} {
		st, body, h := get(path)
		if st != 200 || !strings.HasPrefix(h["Content-Type"], "text/html") || !strings.Contains(body, `id="login-form"`) {
			t.Fatalf("GET %s: %d %v", path, st, h)
		}
		if h["Content-Security-Policy"] != adminPageCSP || h["X-Content-Type-Options"] != "nosniff" ||
			h["X-Frame-Options"] != "DENY" || h["Referrer-Policy"] != "no-referrer" {
			t.Fatalf("GET %s: headers %v", path, h)
		}
	}
	_, index, _ := get("/admin/")
	refs := regexp.MustCompile(`(?:src|href)="(/admin/static/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) != 2 {
		t.Fatalf("index.html refers to %v, want the script and the stylesheet", refs)
	}
	for _, r := range refs {
		st, body, h := get(r[1])
		want := map[bool]string{true: "text/javascript", false: "text/css"}[strings.HasSuffix(r[1], ".js")]
		if st != 200 || !strings.HasPrefix(h["Content-Type"], want) || len(body) == 0 || h["Content-Security-Policy"] == "" {
			t.Errorf("GET %s: %d %v", r[1], st, h)
		}
	}
	for _, path := range []string{"/admin/static/index.html", "/admin/static/..%2fadminpage.go", "/admin/static/nope.js"} {
		if st, _, _ := get(path); st != 404 {
			t.Errorf("GET %s: %d, want 404", path, st)
		}
	}
}

// TestAdminPageKeepsTheTokenInMemory: the page's script never writes the
// token anywhere a browser keeps (storage, cookies, the URL) and never
// puts server data into the page as HTML (lobby and player names are
// players' input).
func TestAdminPageKeepsTheTokenInMemory(t *testing.T) {
	js, err := adminUI.ReadFile("adminui/admin.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(js)
	for _, banned := range []string{"localStorage", "sessionStorage", "indexedDB", "document.cookie", "caches.",
		"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "history.pushState", "location.hash", "eval("} {
		if strings.Contains(src, banned) {
			t.Errorf("admin.js uses %s", banned)
		}
	}
	// The token goes into the Authorization header and nowhere else.
	if !strings.Contains(src, `Authorization: "Bearer " + token`) {
		t.Error("admin.js does not send the token as a bearer header")
	}
	if !strings.Contains(src, `credentials: "omit"`) {
		t.Error("admin.js fetches with credentials")
	}
}
