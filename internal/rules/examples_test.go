package rules_test

import (
	"fmt"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/rules"
)

// The part of a rule set an IMAP server can evaluate: each glob's longest
// literal word, and the size bounds exactly.
func ExampleSet_Query() {
	set, err := rules.New(config.Match{
		From:    config.Patterns{"*@acme.example"},
		Subject: config.Patterns{"Invoice *"},
		MinSize: 10_000,
	}, time.UTC)
	if err != nil {
		panic(err)
	}
	q := set.Query(time.Now())
	fmt.Println(q.Header, q.Larger)
	// Output:
	// [{From [@acme.example]} {Subject [Invoice]}] 9999
}

func ExampleNewGlob() {
	g := rules.NewGlob("*@acme.example")
	fmt.Println(g.Match("Billing@ACME.example"), g.Match("billing@acme.example.evil"))
	// Output:
	// true false
}
