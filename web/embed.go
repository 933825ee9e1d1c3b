// Package web is lobbyd's browser side: the TypeScript client (src/, with
// its tests in test/), the lobby page (page/), and their built output in
// dist/, which is committed and embedded here so that `go run ./cmd/lobbyd`
// serves the page with no Node toolchain. `npm run build` in this folder
// rebuilds dist/ (TestDistIsBuilt checks it matches the sources).
//
// Concurrency: Assets returns an immutable file system, safe for any
// number of goroutines.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Assets is the built page and client: index.html at the root, the client's
// ES modules under js/, and the vendored @msgpack/msgpack under vendor/.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a literal directory embedded above
	}
	return sub
}
