package rules

import (
	"slices"
	"testing"
	"time"

	"mailtask/internal/mailbox"
)

func TestMatchRules(t *testing.T) {
	for _, tc := range []struct {
		name, rules string
		header      []string
		body        string
		in          Input
		want        bool
	}{
		{name: "no rules match everything", want: true},

		{name: "from address glob", rules: `from = "*@acme.example"`, want: true},
		{name: "from display name glob", rules: `from = "acme billing"`, want: true},
		{name: "from other sender", rules: `from = "*@acme.example"`, header: []string{"From: x@evil.example"}, want: false},
		{name: "from any of a list", rules: `from = ["*@other.example", "billing@*"]`, want: true},
		{name: "from lookalike domain", rules: `from = "*@acme.example"`, header: []string{"From: a@acme.example.evil"}, want: false},
		{name: "from encoded name", rules: `from = "Müller*"`, header: []string{"From: =?utf-8?q?M=C3=BCller_GmbH?= <m@x.example>"}, want: true},
		{name: "from regex", rules: `from_regex = "^billing@acme\\."`, want: true},
		{name: "from regex no match", rules: `from_regex = "^sales@"`, want: false},
		{name: "from glob or regex", rules: "from = \"*@nope\"\nfrom_regex = \"acme\"", want: true},
		{name: "from unparseable header", rules: `from = "*scanner*"`, header: []string{"From: scanner at floor 3"}, want: true},
		{name: "from 8-bit display name", rules: `from = "*@scanner.example"`, header: []string{"From: Scanner M\xfcller <scan@scanner.example>"}, want: true},
		{name: "from 8-bit display name by name", rules: `from = "Scanner Müller"`, header: []string{"From: Scanner M\xfcller <scan@scanner.example>"}, want: true},

		{name: "to any recipient", rules: `to = "archive@contoso.example"`, want: true},
		{name: "to no recipient", rules: `to = "ceo@*"`, want: false},
		{name: "to regex", rules: `to_regex = "^invoices@"`, want: true},
		{name: "cc", rules: `cc = "boss@*"`, want: true},
		{name: "cc missing header", rules: `cc = "*"`, header: []string{"Cc:"}, want: false},
		{name: "cc regex", rules: `cc_regex = "@contoso\\.example$"`, want: true},

		{name: "subject glob", rules: `subject = "invoice *"`, want: true},
		{name: "subject glob whole value", rules: `subject = "invoice"`, want: false},
		{name: "subject regex", rules: `subject_regex = "invoice [0-9]+"`, want: true},
		{name: "subject regex no match", rules: `subject_regex = "^re:"`, want: false},
		{name: "subject 8-bit", rules: `subject = "Scan für *"`, header: []string{"Subject: Scan f\xfcr M\xfcller"}, want: true},

		{name: "body contains", rules: `body_contains = "PLEASE PAY"`, body: "Hello,\r\nplease pay by Friday.\r\n", want: true},
		{name: "body lacks", rules: `body_contains = ["overdue", "reminder"]`, body: "Hello.\r\n", want: false},
		{name: "body in html", rules: `body_contains = "pay now"`,
			header: []string{"Content-Type: text/html; charset=utf-8"}, body: "<p>Pay <b>now</b> or pay now</p>", want: true},
		{name: "body quoted-printable latin1", rules: `body_contains = "März"`,
			header: []string{"Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: quoted-printable"}, body: "Rechnung M=E4rz\r\n", want: true},

		{name: "header glob", rules: "[task.match.header]\nX-Mailer = \"canon*\"", want: true},
		{name: "header name any case", rules: "[task.match.header]\nx-mailer = \"*iR-ADV*\"", want: true},
		{name: "header no match", rules: "[task.match.header]\nX-Mailer = \"Xerox*\"", want: false},
		{name: "header absent", rules: "[task.match.header]\nX-Scanner = \"*\"", want: false},
		{name: "header regex", rules: "[task.match.header_regex]\nX-Mailer = \"C55[0-9]{2}$\"", want: true},
		{name: "two headers both needed", rules: "[task.match.header]\nX-Mailer = \"canon*\"\nX-Priority = \"1\"", want: false},

		{name: "since before date", rules: `since = 2025-03-01`, want: true},
		{name: "since after date", rules: `since = 2025-03-15`, want: false},
		{name: "since in task time zone", rules: `since = 2025-03-14T09:30:00`, want: true}, // 09:30 Berlin is the message's time
		{name: "since one second later", rules: `since = 2025-03-14T09:30:01`, want: false},
		{name: "since rfc3339 string", rules: `since = "2025-03-14T08:29:59Z"`, want: true},
		{name: "since without date header", rules: `since = 2025-01-01`, header: []string{"Date:"}, want: false},
		{name: "max_age young", rules: `max_age = "7d"`, in: Input{Now: testNow}, want: true},
		{name: "max_age old", rules: `max_age = "5d"`, in: Input{Now: testNow}, want: false},
		{name: "max_age hours", rules: `max_age = "200h"`, in: Input{Now: testNow}, want: true},

		{name: "min_size", rules: `min_size = "1KB"`, in: Input{Size: 1000}, want: true},
		{name: "min_size too small", rules: `min_size = "1KB"`, in: Input{Size: 999}, want: false},
		{name: "max_size", rules: `max_size = 2048`, in: Input{Size: 2048}, want: true},
		{name: "max_size too big", rules: `max_size = "2KiB"`, in: Input{Size: 2049}, want: false},
		{name: "sizes trusted to the server", rules: `max_size = 10`, in: Input{Size: 2049, Searched: true}, want: true},
		// A size the listing announced is judged with a tenth's slack:
		// the message is downloaded, and judged on its bytes.
		{name: "max_size, announced within the slack", rules: `max_size = 2000`, in: Input{Size: 2200, Announced: true}, want: true},
		{name: "max_size, announced past the slack", rules: `max_size = 2000`, in: Input{Size: 2201, Announced: true}, want: false},
		{name: "min_size, announced within the slack", rules: `min_size = 1000`, in: Input{Size: 900, Announced: true}, want: true},
		{name: "min_size, announced past the slack", rules: `min_size = 1000`, in: Input{Size: 899, Announced: true}, want: false},

		{name: "has attachments", rules: `has_attachments = true`, in: Input{Files: 1}, want: true},
		{name: "has no attachments", rules: `has_attachments = true`, in: Input{Files: 0}, want: false},
		{name: "must have none", rules: `has_attachments = false`, in: Input{Files: 0}, want: true},
		{name: "must have none but has", rules: `has_attachments = false`, in: Input{Files: 2}, want: false},

		{name: "unseen_only is left to the server", rules: `unseen_only = true`, want: true},

		{name: "all rules together", rules: "from = \"*@acme.example\"\nsubject = \"*4711*\"\nmin_size = 10\nsince = 2025-03-01\nhas_attachments = true\n[task.match.header]\nX-Mailer = \"Canon*\"",
			in: Input{Size: 100, Files: 1, Now: testNow}, want: true},
		{name: "all rules, one fails", rules: "from = \"*@acme.example\"\nsubject = \"*4712*\"\nmin_size = 10",
			in: Input{Size: 100}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := compile(t, tc.rules)
			body := tc.body
			if body == "" {
				body = "Hello.\r\n"
			}
			in := tc.in
			if in.Now.IsZero() {
				in.Now = testNow
			}
			got, why := s.Match(message(t, body, tc.header...), in)
			if got != tc.want {
				t.Errorf("Match = %v (%s), want %v", got, why, tc.want)
			}
			if !got && why == "" {
				t.Error("no reason given for a mismatch")
			}
			// Parsed from the header alone, the message passes MatchHeader
			// whenever it passes Match, and fails it for the same reason
			// when a header rule refuses it.
			headerOnly := message(t, "", tc.header...)
			hok, hwhy := s.MatchHeader(headerOnly, in)
			if got && !hok {
				t.Errorf("MatchHeader refuses (%s) what Match accepts", hwhy)
			}
			if !hok && hwhy != why {
				t.Errorf("MatchHeader refuses for %q, Match for %q", hwhy, why)
			}
		})
	}
}

func TestNeedsHeader(t *testing.T) {
	for _, tc := range []struct {
		rules              string
		unsearched, search bool
	}{
		{"", false, false},
		{`body_contains = "x"`, false, false},
		{`min_size = 10`, false, false},
		{`subject = "Invoice*"`, true, false},      // a literal the server searches for
		{`subject = "*4711*"`, true, false},        // the same
		{`subject_regex = "^Invoice"`, true, true}, // no server can search for that
		{`to = "?*"`, true, true},                  // no literal text to search for
		{`from = "a*b@*"`, true, false},            // "b@", a necessary substring
		{`since = 2025-03-01`, true, false},        // SENTSINCE
		{"[task.match.header]\nX-Mailer = \"Canon*\"", true, false},
	} {
		s := compile(t, tc.rules)
		if got := s.NeedsHeader(false); got != tc.unsearched {
			t.Errorf("%q: NeedsHeader(not searched) = %v", tc.rules, got)
		}
		if got := s.NeedsHeader(true); got != tc.search {
			t.Errorf("%q: NeedsHeader(searched) = %v", tc.rules, got)
		}
	}
}

func TestQuery(t *testing.T) {
	for _, tc := range []struct {
		name, rules string
		want        mailbox.Query
	}{
		{name: "nothing to push", rules: `body_contains = "x"`, want: mailbox.Query{}},
		{name: "globs push their longest literal",
			rules: "from = [\"*@acme.example\", \"Acme Billing*\"]\nsubject = \"Invoice *\"",
			want:  mailbox.Query{Header: []mailbox.HeaderTerm{{Field: "From", AnyOf: []string{"@acme.example", "Billing"}}, {Field: "Subject", AnyOf: []string{"Invoice"}}}}},
		{name: "a regex in the key pushes nothing for it", rules: "from = \"*@acme.example\"\nfrom_regex = \"x\"\nto = \"*@contoso*\"",
			want: mailbox.Query{Header: []mailbox.HeaderTerm{{Field: "To", AnyOf: []string{"@contoso"}}}}},
		{name: "a wildcard-only glob pushes nothing", rules: `cc = ["*", "boss@*"]`, want: mailbox.Query{}},
		{name: "headers", rules: "[task.match.header]\nx-mailer = \"Canon *\"\nX-Other = \"*\"",
			want: mailbox.Query{Header: []mailbox.HeaderTerm{{Field: "X-Mailer", AnyOf: []string{"Canon"}}}}},
		{name: "sizes", rules: "min_size = 1000\nmax_size = 5000", want: mailbox.Query{Larger: 999, Smaller: 5001}},
		{name: "since a day early in UTC", rules: `since = 2025-03-10`, want: mailbox.Query{SentSince: time.Date(2025, 3, 8, 0, 0, 0, 0, time.UTC)}},
		{name: "max_age", rules: `max_age = "2d"`, want: mailbox.Query{SentSince: time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC)}},
		{name: "the later of since and max_age", rules: "max_age = \"2d\"\nsince = 2025-01-01", want: mailbox.Query{SentSince: time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC)}},
		{name: "unseen", rules: `unseen_only = true`, want: mailbox.Query{Unseen: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := compile(t, tc.rules).Query(testNow, true)
			if !equalQuery(got, tc.want) {
				t.Errorf("Query(all) = %+v, want %+v", got, tc.want)
			}
			if flags, want := compile(t, tc.rules).Query(testNow, false), (mailbox.Query{Unseen: tc.want.Unseen}); !equalQuery(flags, want) {
				t.Errorf("Query(flags alone) = %+v, want %+v: a server's index may leave out what matches its header, date and size keys", flags, want)
			}
			if got.IsZero() != equalQuery(tc.want, mailbox.Query{}) {
				t.Errorf("IsZero = %v for %+v", got.IsZero(), got)
			}
		})
	}
}

func equalQuery(a, b mailbox.Query) bool {
	return slices.EqualFunc(a.Header, b.Header, func(x, y mailbox.HeaderTerm) bool {
		return x.Field == y.Field && slices.Equal(x.AnyOf, y.AnyOf)
	}) && a.SentSince.Equal(b.SentSince) && a.Larger == b.Larger && a.Smaller == b.Smaller && a.Unseen == b.Unseen
}

// TestQueryIsNecessary checks the promise server-side search rests on: a
// message that matches the rules also satisfies their query, here
// evaluated the way IMAP SEARCH does (substring, ignoring case; SENTSINCE
// on the Date's own day).
func TestQueryIsNecessary(t *testing.T) {
	rules := "from = [\"*@acme.example\", \"*billing*\"]\nsubject = \"invoice ????*\"\nmax_age = \"10d\"\n[task.match.header]\nX-Mailer = \"Canon*\""
	s := compile(t, rules)
	q := s.Query(testNow, true)
	for _, date := range []string{"Mon, 10 Mar 2025 23:59:00 -1200", "Tue, 11 Mar 2025 00:30:00 +1400", "Fri, 14 Mar 2025 09:30:00 +0100"} {
		msg := message(t, "x", "Date: "+date)
		ok, why := s.Match(msg, Input{Now: testNow})
		if !ok {
			t.Logf("%s does not match (%s); nothing to check", date, why)
			continue
		}
		for _, term := range q.Header {
			found := false
			for _, v := range msg.Header[term.Field] {
				for _, lit := range term.AnyOf {
					found = found || containsFold(v, lit)
				}
			}
			if !found {
				t.Errorf("%s matches but fails the search term %+v", date, term)
			}
		}
		day := time.Date(msg.Date.Year(), msg.Date.Month(), msg.Date.Day(), 0, 0, 0, 0, time.UTC)
		if day.Before(q.SentSince) {
			t.Errorf("%s matches but its day %v is before SENTSINCE %v", date, day, q.SentSince)
		}
	}
}
