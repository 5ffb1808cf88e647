package popimap

import (
	"strings"
	"testing"

	"mailtask/internal/testmail/dovecot"
)

// A server with ACL (RFC 4314) says through MYRIGHTS whether the account
// may add messages to move_to: without the i right, check and run refuse
// the task before anything is taken, naming the right, instead of taking
// the mail and having every move refused. Dovecot's ACL plugin, with a
// global ACL that gives the owner of Processed only lookup and read.
func TestMoveToWithoutInsertRightIsRefusedUpFront(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{
		Extra: `mail_plugins = $mail_plugins acl
protocol imap {
  mail_plugins = $mail_plugins imap_acl
}
plugin {
  acl = vfile:{DIR}/global-acl:cache_secs=0
}
`,
		Files: map[string]string{"global-acl": "Processed owner lr\n"},
	})
	d.Seed(t, d.User, "INBOX", scan(1))
	d.Seed(t, d.User, "Processed")
	cfg := dovecotConfig(t, d, `after = "move"`, `move_to = "Processed"`)

	steps, ok := checkSteps(t, cfg)
	if ok || steps["select"].Err == nil || !strings.Contains(steps["select"].Err.Error(), `"i" right`) {
		t.Fatalf("check: ok %v, select step %+v; want the missing i right on move_to named", ok, steps["select"])
	}
	_, err := runOnce(cfg)
	if err == nil || !strings.Contains(err.Error(), `move_to folder "Processed"`) {
		t.Fatalf("run: %v; want it refused naming move_to", err)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 0 {
		t.Errorf("%d files written by a task that cannot move its mail", n)
	}
	if total, _ := d.Count(d.User, "INBOX"); total != 1 {
		t.Errorf("INBOX holds %d messages, want 1", total)
	}
}
