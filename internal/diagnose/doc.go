// Package diagnose turns a failure — a server's reply, a network error, an
// identity-platform code — into a hint in plain language: the likely cause
// and the setting to change. It is a table, so each known case is one row
// and one test.
package diagnose
