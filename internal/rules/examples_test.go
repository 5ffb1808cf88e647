package rules_test

import (
	"fmt"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/rules"
)

// The part of a rule set an IMAP server's search applies: by default the
// flags alone; for a server trusted to follow RFC 3501 (server_search =
// "all"), each glob's longest literal word, and the size bounds exactly.
func ExampleSet_Query() {
	set, err := rules.New(config.Match{
		From:    config.Patterns{"*@acme.example"},
		Subject: config.Patterns{"Invoice *"},
		MinSize: 10_000,
	}, time.UTC)
	if err != nil {
		panic(err)
	}
	fmt.Println(set.Query(time.Now(), false).IsZero())
	q := set.Query(time.Now(), true)
	fmt.Println(q.Header, q.Larger)
	// Output:
	// true
	// [{From [@acme.example]} {Subject [Invoice]}] 9999
}

func ExampleNewGlob() {
	g := rules.NewGlob("*@acme.example")
	fmt.Println(g.Match("Billing@ACME.example"), g.Match("billing@acme.example.evil"))
	// Output:
	// true false
}
