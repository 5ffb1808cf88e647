package rules

import (
	"bytes"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/testmail"
)

// Every message of the corpora is what its fixture says it is, whether
// parsed whole or from its header alone (as the prefilter sees it), and
// the default rules skip exactly the automatic ones: delivery reports of
// Exchange Online, Gmail, Postfix, Sendmail, Exim and qmail, Exchange's
// and Sieve's automatic replies, read receipts; not an ERP system's
// auto-generated invoice, a billing platform's bulk mail, a person's "Out
// of office" subject or a forwarded bounce.
func TestClassifyCorpus(t *testing.T) {
	corpus := append(testmail.FidelityCorpus(), testmail.DemoCorpus()...)
	corpus = append(corpus, testmail.Generate(3, 60, 0.01)...)
	skipAll, takeAll := compile(t, ""), compile(t, "skip_automatic = []")
	kinds := map[string]int{}
	for _, fx := range corpus {
		whole, err := extract.Parse(bytes.NewReader(fx.Raw))
		if err != nil {
			t.Fatalf("%s: %v", fx.Name, err)
		}
		header, _, _ := bytes.Cut(fx.Raw, []byte("\r\n\r\n"))
		top, err := extract.Parse(bytes.NewReader(append(header, "\r\n\r\n"...)))
		if err != nil {
			t.Fatalf("%s header: %v", fx.Name, err)
		}
		for what, msg := range map[string]*extract.Message{"whole": whole, "header": top} {
			if got := Classify(msg.Header, msg.Subject); got.Kind != fx.Automatic {
				t.Errorf("%s (%s): classified %q by %q, want %q", fx.Name, what, got.Kind, got.Sign, fx.Automatic)
			}
		}
		in := Input{Now: testNow, Files: len(whole.Files)}
		ok, why := skipAll.Match(whole, in)
		if ok != (fx.Automatic == "") || !ok && why != RuleAutomatic {
			t.Errorf("%s: by default Match = %v (%s)", fx.Name, ok, why)
		}
		if ok, why := takeAll.Match(whole, in); !ok {
			t.Errorf("%s: skip_automatic = [] refuses it (%s)", fx.Name, why)
		}
		kinds[fx.Automatic]++
	}
	for _, kind := range config.AutomaticKinds {
		if kinds[kind] < 2 {
			t.Errorf("only %d fixtures of kind %s", kinds[kind], kind)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string
		want   string
	}{
		{"plain mail", nil, ""},
		{"delivery status", []string{"Content-Type: multipart/report; report-type=delivery-status; boundary=b"}, config.AutomaticDeliveryReport},
		{"report type quoted, any case", []string{`Content-Type: Multipart/Report; Report-Type="Delivery-Status"; boundary=b`}, config.AutomaticDeliveryReport},
		{"report type beside a broken parameter", []string{`Content-Type: multipart/report; report-type=delivery-status; boundary=b; x=a"b`}, config.AutomaticDeliveryReport},
		{"disposition notification", []string{"Content-Type: multipart/report; report-type=disposition-notification; boundary=b"}, config.AutomaticReadReceipt},
		{"abuse report is no reply", []string{"Content-Type: multipart/report; report-type=feedback-report; boundary=b"}, ""},
		{"a report inside is not the message", []string{"Content-Type: multipart/mixed; boundary=b"}, ""},
		{"exchange ndr marker", []string{"X-MS-Exchange-Message-Is-Ndr:"}, config.AutomaticDeliveryReport},
		{"failed recipients", []string{"X-Failed-Recipients: a@b.example"}, config.AutomaticDeliveryReport},
		{"mailer-daemon", []string{"From: MAILER-DAEMON@mx.example (Mail Delivery System)"}, config.AutomaticDeliveryReport},
		{"auto-replied", []string{"Auto-Submitted: Auto-Replied (vacation)"}, config.AutomaticReply},
		{"auto-replied with a parameter", []string{`Auto-Submitted: auto-replied; owner-email="a@b.example"`}, config.AutomaticReply},
		{"auto-generated alone is taken", []string{"Auto-Submitted: auto-generated", "X-Auto-Response-Suppress: All"}, ""},
		{"auto-generated reply by subject", []string{"Auto-Submitted: auto-generated", "Subject: Automatic reply: Invoice"}, config.AutomaticReply},
		{"suppression header reply by subject", []string{"X-Auto-Response-Suppress: All", "Subject: Réponse automatique : Facture"}, config.AutomaticReply},
		{"inbox rules loop by subject", []string{"X-MS-Exchange-Inbox-Rules-Loop: a@b.example", "Subject: Out of Office AutoReply: Invoice"}, config.AutomaticReply},
		{"auto-submitted no", []string{"Auto-Submitted: no", "Subject: Automatic reply: Invoice"}, ""},
		{"reply to an automatic reply", []string{"Auto-Submitted: auto-generated", "Subject: RE: Automatic reply: Invoice"}, ""},
		{"subject prefix in any case", []string{"Auto-Submitted: auto-generated", "Subject: AUTOMATISCHE ANTWORT: Rechnung"}, config.AutomaticReply},
		{"an invoice for office supplies", []string{"Auto-Submitted: auto-generated", "Subject: Out of office supplies: invoice 12"}, ""},
		{"subject shorter than a prefix", []string{"Auto-Submitted: auto-generated", "Subject: Auto"}, ""},
		{"auto-replied after a comment", []string{"Auto-Submitted: (vacation) auto-replied"}, config.AutomaticReply},
		{"auto-replied after nested comments", []string{`Auto-Submitted: (a (b \) c)) (d) auto-replied`}, config.AutomaticReply},
		{"auto-generated after a comment is taken", []string{"Auto-Submitted: (erp) auto-generated"}, ""},
		{"a comment that does not end", []string{"Auto-Submitted: (auto-replied"}, ""},
		{"icloud vacation", []string{"X-Apple-Action: VACATION"}, config.AutomaticReply},
		{"another apple action is taken", []string{"X-Apple-Action: forward"}, ""},
		{"outlook in japanese", []string{"Auto-Submitted: auto-generated", "Subject: 自動応答: 請求書 4711"}, config.AutomaticReply},
		{"outlook in chinese, full-width colon", []string{"X-Auto-Response-Suppress: All", "Subject: 自动回复： 发票 4711"}, config.AutomaticReply},
		{"outlook in korean", []string{"Auto-Submitted: auto-generated", "Subject: 자동 회신: 청구서"}, config.AutomaticReply},
		{"outlook in russian, any case", []string{"Auto-Submitted: auto-generated", "Subject: АВТОМАТИЧЕСКИЙ ОТВЕТ: Счёт 4711"}, config.AutomaticReply},
		{"outlook in turkish", []string{"Auto-Submitted: auto-generated", "Subject: Otomatik yanıt: Fatura 4711"}, config.AutomaticReply},
		{"outlook in hebrew", []string{"Auto-Submitted: auto-generated", "Subject: תשובה אוטומטית: חשבונית"}, config.AutomaticReply},
		{"outlook in arabic", []string{"Auto-Submitted: auto-generated", "Subject: رد تلقائي: فاتورة"}, config.AutomaticReply},
		{"a japanese erp's subject is taken", []string{"Auto-Submitted: auto-generated", "Subject: 自動応答サービス 請求書 2026-01"}, ""},
		{"a russian erp's subject is taken", []string{"Auto-Submitted: auto-generated", "Subject: Автоматический ответ на запрос счёта 4711"}, ""},
		{"a prefix without a header is taken", []string{"Subject: 自動応答: 請求書 4711"}, ""},
		{"x-autoreply", []string{"X-Autoreply: yes"}, config.AutomaticReply},
		{"x-autoreply no", []string{"X-Autoreply: no"}, ""},
		{"x-autorespond", []string{"X-Autorespond: Thanks"}, config.AutomaticReply},
		{"precedence auto_reply", []string{"Precedence: auto_reply"}, config.AutomaticReply},
		{"precedence bulk is taken", []string{"Precedence: bulk"}, ""},
		{"precedence junk is taken", []string{"Precedence: junk"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := message(t, "Hello.\r\n", tc.header...)
			if got := Classify(msg.Header, msg.Subject); got.Kind != tc.want || tc.want != "" && got.Sign == "" {
				t.Errorf("Classify = %+v, want kind %q", got, tc.want)
			}
		})
	}
}

// Mail that is not automatic, an ERP system's auto-generated invoice
// among it, costs Classify no allocation: it runs on every message.
func TestClassifyAllocatesNothing(t *testing.T) {
	for _, header := range [][]string{nil, {"Auto-Submitted: auto-generated", "X-Auto-Response-Suppress: All", "Precedence: bulk", "Subject: Rechnung 4711"}} {
		m := message(t, "x", header...)
		if n := testing.AllocsPerRun(100, func() { Classify(m.Header, m.Subject) }); n != 0 {
			t.Errorf("%q: %v allocations", header, n)
		}
	}
}

// skip_automatic names the kinds skipped; the others are taken.
func TestSkipAutomaticKinds(t *testing.T) {
	s := compile(t, `skip_automatic = ["delivery-report"]`)
	bounce := message(t, "x", "X-Failed-Recipients: a@b.example")
	reply := message(t, "x", "Auto-Submitted: auto-replied")
	if ok, why := s.Match(bounce, Input{Now: testNow}); ok || why != RuleAutomatic {
		t.Errorf("bounce: Match = %v (%s)", ok, why)
	}
	if a := s.Skipped(bounce); a.Kind != config.AutomaticDeliveryReport || a.Sign != "X-Failed-Recipients: a@b.example" {
		t.Errorf("bounce skipped as %+v", a)
	}
	if ok, why := s.Match(reply, Input{Now: testNow}); !ok {
		t.Errorf("reply refused (%s), though only delivery reports are skipped", why)
	}
	if a := s.Skipped(reply); a != (Automatic{}) {
		t.Errorf("reply skipped as %+v", a)
	}
	for _, k := range config.AutomaticKinds {
		if (Automatic{Kind: k}).Describe() == (Automatic{}).Describe() {
			t.Errorf("kind %s has no words of its own", k)
		}
	}
}

// BenchmarkClassify classifies each message of the generated corpus,
// none of it automatic: what skip_automatic costs every message a task
// takes.
func BenchmarkClassify(b *testing.B) {
	var msgs []*extract.Message
	for _, fx := range testmail.Generate(20250314, 200, 0.01) {
		m, err := extract.Parse(bytes.NewReader(fx.Raw))
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if a := Classify(m.Header, m.Subject); a.Kind != "" {
				b.Fatalf("%s: %+v", m.Subject, a)
			}
		}
	}
}
