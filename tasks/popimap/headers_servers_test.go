package popimap

import (
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/testmail/servers/courier"
	"mailtask/internal/testmail/servers/cyrus"
	"mailtask/internal/testmail/servers/mailutils"
)

// headerFetchMail is what takeHeadersAlone seeds: a message a header rule
// refuses, one it takes, and one above max_message_size whose header is
// longer than a MiB.
func headerFetchMail() [][]byte {
	return [][]byte{mail{subject: "newsletter"}.raw(), scan(1), headerBomb()}
}

// takeHeadersAlone runs a task whose rule on the subject the search
// cannot express (a regular expression) is checked on each message's
// header alone, and whose max_message_size keeps the header bomb aside
// with the first MiB of its header: both fetch headers by a partial
// BODY.PEEK[HEADER]<0.n>, which every server must answer.
func takeHeadersAlone(t *testing.T, cfg func(taskTOML ...string) *config.Config) {
	t.Helper()
	sum, err := runOnce(cfg(`max_message_size = "1MiB"`, "[task.match]", `subject_regex = ["^(scan|X)"]`))
	if err != nil || sum.Seen != 3 || sum.Saved != 1 || sum.Unmatched != 1 || sum.Failed != 1 {
		t.Fatalf("run: %+v, %v; want the scan taken, the newsletter refused on its header, the bomb kept aside", sum.Counts, err)
	}
}

func TestCyrusIMAPAnswersPartialHeaderFetches(t *testing.T) {
	s := cyrus.Start(t, cyrus.Options{})
	s.AddUser(t, "alice")
	s.Append(t, "alice", "INBOX", headerFetchMail()...)
	takeHeadersAlone(t, func(taskTOML ...string) *config.Config {
		return cyrusConfig(t, s, config.ProtocolIMAP, "alice", taskTOML...)
	})
}

func TestCourierIMAPAnswersPartialHeaderFetches(t *testing.T) {
	s := courier.Start(t, courier.Options{Users: map[string]string{"alice": courierPassword}})
	s.Seed(t, "alice", "INBOX", "", headerFetchMail()...)
	takeHeadersAlone(t, func(taskTOML ...string) *config.Config {
		return courierConfig(t, s, config.ProtocolIMAP, taskTOML...)
	})
}

func TestMailutilsIMAPAnswersPartialHeaderFetches(t *testing.T) {
	s := mailutils.Start(t, mailutils.Options{Users: map[string]string{"alice": mailutilsPassword}})
	s.Seed(t, "alice", "INBOX", headerFetchMail()...)
	takeHeadersAlone(t, func(taskTOML ...string) *config.Config {
		return mailutilsConfig(t, s, config.ProtocolIMAP, mailutilsPassword, taskTOML...)
	})
}

func TestMoxIMAPAnswersPartialHeaderFetches(t *testing.T) {
	b := newMoxBox(t)
	b.append(t, headerFetchMail()...)
	takeHeadersAlone(t, func(taskTOML ...string) *config.Config { return b.config(t, taskTOML...) })
}
