// Package layering holds no code: its test states which packages of
// mailtask may import which, and fails `go test` (so `make test`) when an
// import breaks a rule. It does for mailtask what depguard does for
// restic, with the rules beside the code they guard.
package layering
