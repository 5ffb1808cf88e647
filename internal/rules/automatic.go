package rules

import (
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"mailtask/internal/config"
)

// Automatic is what gives a message away as automatic mail: its kind (one
// of config.AutomaticKinds) and the header that shows it, for the log.
// The zero value is a message some person or program wrote to the
// mailbox.
type Automatic struct {
	Kind, Sign string
}

// Describe is the kind in words, for logs and dry runs.
func (a Automatic) Describe() string {
	switch a.Kind {
	case config.AutomaticDeliveryReport:
		return "a delivery report (bounce, delay or receipt)"
	case config.AutomaticReply:
		return "an automatic reply (out of office, vacation)"
	case config.AutomaticReadReceipt:
		return "a read receipt"
	}
	return "not automatic mail"
}

// Classify tells whether a message, by its top-level header (canonical
// field names, decoded values) and subject, is a delivery report, an
// automatic reply or a read receipt.
//
// It goes by what the senders put on the wire, and only by signs that mail
// a person or a business system writes does not carry:
//   - reports (RFC 6522) say what they are in their top-level Content-Type:
//     multipart/report; report-type=delivery-status (RFC 3464: Exchange,
//     Gmail, Postfix, Exim, Sendmail) or disposition-notification (RFC
//     8098). Exchange marks its non-delivery reports with
//     X-MS-Exchange-Message-Is-Ndr, Exim and Gmail theirs with
//     X-Failed-Recipients, and mailers older than RFC 3464 (qmail) send
//     them from MAILER-DAEMON;
//   - an automatic reply says Auto-Submitted: auto-replied (RFC 3834; Sieve
//     vacation, RFC 5230, must; Gmail, Zimbra), X-Autoreply, X-Autorespond,
//     Precedence: auto_reply, or (iCloud Mail) X-Apple-Action: vacation.
//     Exchange's out-of-office reply says only auto-generated, which is
//     what ERP systems, scanners and billing platforms put on real
//     invoices: auto-generated counts only with the subject prefix Outlook
//     gives an automatic reply ("Automatic reply:", "Out of Office:", and
//     their translations); such a subject without any header of automatic
//     mail (a person writing "Out of office: ..." by hand) is taken.
//
// Precedence: bulk and junk are left alone: mailing lists and billing
// platforms send real mail with them. A report forwarded by a person is a
// message of its own (multipart/mixed) and is taken.
func Classify(header map[string][]string, subject string) Automatic {
	first := func(field string) (string, bool) {
		v, ok := header[field]
		if !ok || len(v) == 0 {
			return "", ok
		}
		return strings.TrimSpace(v[0]), true
	}
	if ct, ok := first("Content-Type"); ok {
		if kind := reportKind(ct); kind != "" {
			return Automatic{kind, reportSigns[kind]}
		}
	}
	if _, ok := first("X-Ms-Exchange-Message-Is-Ndr"); ok {
		return Automatic{config.AutomaticDeliveryReport, "X-MS-Exchange-Message-Is-Ndr"}
	}
	if v, ok := first("X-Failed-Recipients"); ok {
		return Automatic{config.AutomaticDeliveryReport, "X-Failed-Recipients: " + v}
	}
	if from, _ := first("From"); hasFold(from, "mailer-daemon@") {
		return Automatic{config.AutomaticDeliveryReport, "From: " + from}
	}
	submitted, submittedSet := first("Auto-Submitted")
	switch kw := keyword(submitted); {
	case strings.EqualFold(kw, "auto-replied"):
		return Automatic{config.AutomaticReply, "Auto-Submitted: " + submitted}
	case strings.EqualFold(kw, "no"):
		submittedSet = false
	}
	for _, field := range []string{"X-Autoreply", "X-Autorespond"} {
		if v, ok := first(field); ok && !negative(v) {
			return Automatic{config.AutomaticReply, field + ": " + v}
		}
	}
	// iCloud Mail's vacation reply says nothing else (no Auto-Submitted).
	if v, _ := first("X-Apple-Action"); strings.EqualFold(v, "vacation") {
		return Automatic{config.AutomaticReply, "X-Apple-Action: " + v}
	}
	if v, _ := first("Precedence"); strings.EqualFold(v, "auto_reply") {
		return Automatic{config.AutomaticReply, "Precedence: " + v}
	}
	// The subject counts only beside a header of automatic mail.
	field, value := "Auto-Submitted", submitted
	if !submittedSet {
		field = ""
		for _, f := range []string{"X-Auto-Response-Suppress", "X-Ms-Exchange-Inbox-Rules-Loop"} {
			if v, ok := first(f); ok {
				field, value = f, v
				break
			}
		}
	}
	if field != "" {
		if prefix, ok := autoReplySubject(subject); ok {
			return Automatic{config.AutomaticReply, field + ": " + value + ", subject " + prefix}
		}
	}
	return Automatic{}
}

// reportSigns are what reportKind goes by, for the log: without the
// boundary, which says nothing to a reader.
var reportSigns = map[string]string{
	config.AutomaticDeliveryReport: "Content-Type: multipart/report; report-type=delivery-status",
	config.AutomaticReadReceipt:    "Content-Type: multipart/report; report-type=disposition-notification",
}

// reportKind is the kind of automatic mail a top-level Content-Type of
// multipart/report says, "" for any other.
func reportKind(ct string) string {
	// Spares parsing the Content-Type of every other message.
	if len(ct) < len("multipart/report") || !strings.EqualFold(ct[:len("multipart/report")], "multipart/report") {
		return ""
	}
	media, params, err := mime.ParseMediaType(ct)
	if media != "multipart/report" {
		return ""
	}
	report := params["report-type"]
	if err != nil {
		// A parameter mime cannot read (a stray character after the
		// boundary) must not hide the report type.
		lower := strings.ToLower(ct)
		for _, t := range []string{"delivery-status", "disposition-notification"} {
			if strings.Contains(lower, "report-type="+t) || strings.Contains(lower, `report-type="`+t) {
				report = t
			}
		}
	}
	switch strings.ToLower(report) {
	case "delivery-status":
		return config.AutomaticDeliveryReport
	case "disposition-notification":
		return config.AutomaticReadReceipt
	}
	return ""
}

// keyword is the keyword of an Auto-Submitted value, without the
// comments RFC 3834 lets stand before and after it or the parameters
// that may follow it ("auto-replied (vacation)", "(vacation)
// auto-replied", "auto-generated; owner-email=...").
func keyword(v string) string {
	for v = strings.TrimLeft(v, " \t"); strings.HasPrefix(v, "("); v = strings.TrimLeft(v, " \t") {
		v = skipComment(v)
	}
	if i := strings.IndexAny(v, " \t;("); i >= 0 {
		v = v[:i]
	}
	return v
}

// skipComment is v after the comment it starts with, nested comments and
// quoted pairs within it; "" when the comment does not end.
func skipComment(v string) string {
	depth := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return v[i+1:]
			}
		}
	}
	return ""
}

// negative reports whether a header's value says no.
func negative(v string) bool {
	return strings.EqualFold(v, "no") || strings.EqualFold(v, "false") || v == "0"
}

// hasFold reports whether sub is within s in any case, without the copy
// strings.ToLower makes.
func hasFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// autoReplySubjects are the subject prefixes Outlook and Exchange give an
// automatic reply, in their languages most met, and older Exchange's "Out
// of Office:" / "Out of Office AutoReply:"; lower case.
var autoReplySubjects = []string{
	"automatic reply:",         // English
	"out of office:",           // Exchange 2007
	"out of office autoreply:", // Exchange 2003
	"automatische antwort:",    // German
	"réponse automatique :",    // French, with the space French puts before a colon
	"réponse automatique:",     // ... and without
	"respuesta automática:",    // Spanish
	"risposta automatica:",     // Italian
	"automatisch antwoord:",    // Dutch
	"resposta automática:",     // Portuguese
	"automatiskt svar:",        // Swedish
	"automatisk svar:",         // Danish, Norwegian
	"automaattinen vastaus:",   // Finnish
	"odpowiedź automatyczna:",  // Polish
	"automatická odpověď:",     // Czech
	"abwesenheitsnotiz:",       // German, Exchange 2003
	"automatikus válasz:",      // Hungarian
	"răspuns automat:",         // Romanian
	"otomatik yanıt:",          // Turkish
	"αυτόματη απάντηση:",       // Greek
	"автоматический ответ:",    // Russian
	"автоматична відповідь:",   // Ukrainian
	"رد تلقائي:",               // Arabic
	"תשובה אוטומטית:",          // Hebrew
	"自動応答:",                    // Japanese
	"自动回复:",                    // Chinese, simplified
	"自動回覆:",                    // Chinese, traditional
	"자동 회신:",                   // Korean
	"自動応答：",                    // ... the four, with the full-width colon
	"自动回复：",                    // their writers type
	"自動回覆：",
	"자동 회신：",
}

// autoReplySubject reports whether subject starts with the prefix of an
// automatic reply, and which (quoted, in lower case).
func autoReplySubject(subject string) (string, bool) {
	subject = strings.TrimSpace(subject)
	for _, p := range autoReplySubjects {
		if hasPrefixFold(subject, p) {
			return strconv.Quote(p), true
		}
	}
	return "", false
}

// hasPrefixFold reports whether s starts with prefix in any case.
// EqualFold folds rune by rune, so the prefix of s to compare is the one
// of as many runes as prefix has.
func hasPrefixFold(s, prefix string) bool {
	n := utf8.RuneCountInString(prefix)
	for i := range s {
		if n == 0 {
			return strings.EqualFold(s[:i], prefix)
		}
		n--
	}
	return n == 0 && strings.EqualFold(s, prefix)
}
