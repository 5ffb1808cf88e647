package popimap

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// rawSearch answers UID SEARCH as mox v0.0.15 does: a message matches a
// SUBJECT string that its raw Subject field (unfolded, encoded words
// left encoded) contains, ignoring case; of several strings (the ORs of
// one term), any. Its answer is written as mox writes it.
func rawSearch(raws [][]byte) func(w io.Writer, tag, args string) error {
	quoted := regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	return func(w io.Writer, tag, args string) error {
		var wants []string
		for _, m := range quoted.FindAllStringSubmatch(args, -1) {
			wants = append(wants, strings.ToLower(m[1]))
		}
		var uids []string
		for i, raw := range raws {
			header, _, _ := strings.Cut(string(raw), "\r\n\r\n")
			subject := ""
			for _, line := range strings.Split(strings.ReplaceAll(header, "\r\n ", " "), "\r\n") {
				if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Subject") {
					subject = strings.ToLower(strings.TrimSpace(value))
				}
			}
			match := len(wants) == 0 // UID SEARCH UID 1:*
			for _, want := range wants {
				match = match || strings.Contains(subject, want)
			}
			if match {
				uids = append(uids, strconv.Itoa(i+1))
			}
		}
		_, err := fmt.Fprintf(w, "* SEARCH %s\r\n%s OK UID SEARCH done\r\n", strings.Join(uids, " "), tag)
		return err
	}
}

// mox searches a field's raw text: its SEARCH leaves out a subject in an
// encoded word ("=?UTF-8?B?SW52b2ljZSAz?=" is "Invoice 3"). The message
// is taken all the same, and one whose subject is not the glob's is not.
func TestSearchOnRawFieldsLosesNoEncodedSubject(t *testing.T) {
	raws := [][]byte{
		mail{subject: "Invoice 1"}.raw(),
		mail{subject: "=?UTF-8?B?SW52b2ljZSAz?="}.raw(),
		mail{subject: "=?UTF-8?B?TmV3c2xldHRlcg==?="}.raw(), // "Newsletter"
		mail{subject: "Newsletter"}.raw(),
	}
	srv, err := testmail.StartScripted(testmail.IMAPScript{
		Capabilities: "IMAP4rev2 IMAP4rev1 UIDPLUS ESEARCH MOVE",
		Messages:     raws,
		Replies:      map[string]func(io.Writer, string, string) error{"UID SEARCH": rawSearch(raws)},
	}.Script())
	mustT(t, err)
	t.Cleanup(func() { srv.Close() })
	cfg := taskConfig(t, "mox", accountTOML("mox", config.ProtocolIMAP, srv.Addr(), config.TLSNone, "", "user", "password"),
		"[task.output]", "eml = true", `message_name = "{uid}"`, "[task.match]", `subject = "Invoice *"`)
	searchAll(cfg) // the default sends mox no SUBJECT to search for
	sum := runCfg(t, cfg)
	if got := sortedKeys(filesIn(t, cfg.Tasks[0].Destination)); strings.Join(got, " ") != "1.eml 2.eml" {
		t.Errorf("took %v, want 1.eml and 2.eml (summary %+v)", got, sum.Counts)
	}
	if sum.Unmatched != 1 {
		t.Errorf("summary %+v: want the encoded newsletter looked at and refused", sum.Counts)
	}
}
