// Package version says which mailtask this is, from what the Go toolchain
// recorded in the binary when it was built: the module's version when it
// was installed at a version (go install ...@v1.4.0), or, built in a
// checkout, a pseudo-version naming its commit (go build stamps it unless
// told -buildvcs=false), else "devel". No build flag of ours is needed, so
// an administrator can report, and a developer check out, what runs.
//
// `mailtask version` prints it, the daemon logs it when it starts, and
// requests over HTTP carry it in their User-Agent (UserAgent), so that an
// identity platform's or an object store's logs tell mailtask, and which
// one, from other clients.
package version
