// Package config turns flags, environment variables and the YAML file of
// docs/protocol.md §6 into one validated Config.
//
// Precedence: built-in defaults, then the file, then environment variables,
// then flags. An unknown key or a value out of range is an error that names
// the file, the key and the reason, so lobbyd refuses to start rather than run
// with a setting the operator did not mean.
//
// Concurrency: Load is a pure function of its arguments; a Config is
// read-only after Load returns.
package config
