package auth_test

import (
	"fmt"

	"mailtask/internal/auth"
)

// The XOAUTH2 initial response, as Exchange Online and Gmail expect it.
func ExampleNewXOAUTH2() {
	c := auth.NewXOAUTH2("invoices@contoso.com", "eyJ0eXAi.token")
	mech, ir, _ := c.Start()
	fmt.Printf("%s %q\n", mech, ir)
	// A refused token: the failure challenge is answered with nothing and
	// kept for the error message.
	resp, _ := c.Next([]byte(`{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All"}`))
	fmt.Printf("%q; %s\n", resp, auth.FailureChallenge(c))
	// Output:
	// XOAUTH2 "user=invoices@contoso.com\x01auth=Bearer eyJ0eXAi.token\x01\x01"
	// ""; status 401, scope https://outlook.office.com/IMAP.AccessAsUser.All
}
