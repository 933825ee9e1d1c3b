// Package docs holds the project's documentation and no code. Its tests
// keep the documentation true: every relative link in every Markdown file
// of the repository resolves to a file of the repository (and a heading,
// for links with an anchor), openapi.yaml describes every HTTP route the
// server registers with the answers a live server gives, and locks.md
// names every mutex of the server (and is the only file that says how
// they nest).
package docs
