package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mailtask/internal/outcome"
	"mailtask/internal/version"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func TestRunsAreCountedPerTask(t *testing.T) {
	m := New()
	m.Track("invoices")
	m.Track("scans")
	m.Observe(Run{Task: "invoices", Outcome: "ok", Counts: outcome.Counts{Seen: 5, Saved: 3, Failed: 1, Known: 1, Files: 4, Bytes: 1000}, Duration: 2 * time.Second, End: t0})
	m.Observe(Run{Task: "invoices", Outcome: "failed", Counts: outcome.Counts{Seen: 3, Saved: 1, Unmatched: 1, Held: 1, Files: 1, Bytes: 24}, Duration: 500 * time.Millisecond, End: t0.Add(time.Minute), Due: outcome.Due{After: 19}})
	m.Skipped("invoices", SkipOverlap)
	m.Skipped("scans", SkipLocked)
	m.NextRun("invoices", t0.Add(5*time.Minute))
	m.WatchCredentials(func() []Credential {
		return []Credential{{Account: "shared-inbox", Kind: "client_secret", Expires: t0.Add(30 * 24 * time.Hour)}}
	})

	expected := `
# HELP mailtask_actions_due Messages taken whose after-action (after) or failure action (after_failure) the server has not confirmed yet, refused ones included: every run retries them.
# TYPE mailtask_actions_due gauge
mailtask_actions_due{action="after",task="invoices"} 19
mailtask_actions_due{action="after_failure",task="invoices"} 0
# HELP mailtask_bytes_total Bytes written into the task's destination.
# TYPE mailtask_bytes_total counter
mailtask_bytes_total{task="invoices"} 1024
mailtask_bytes_total{task="scans"} 0
# HELP mailtask_credential_expiry_timestamp_seconds When an account's credential (such as an OAuth2 client secret) expires, in Unix time.
# TYPE mailtask_credential_expiry_timestamp_seconds gauge
mailtask_credential_expiry_timestamp_seconds{account="shared-inbox",credential="client_secret"} 1.743408e+09
# HELP mailtask_files_total Files written into the task's destination.
# TYPE mailtask_files_total counter
mailtask_files_total{task="invoices"} 5
mailtask_files_total{task="scans"} 0
# HELP mailtask_last_run_duration_seconds How long the task's last run took.
# TYPE mailtask_last_run_duration_seconds gauge
mailtask_last_run_duration_seconds{task="invoices"} 0.5
# HELP mailtask_last_run_timestamp_seconds When the task's last run ended, in Unix time.
# TYPE mailtask_last_run_timestamp_seconds gauge
mailtask_last_run_timestamp_seconds{task="invoices"} 1.74081606e+09
# HELP mailtask_last_success_timestamp_seconds When the task's last successful run ended, in Unix time.
# TYPE mailtask_last_success_timestamp_seconds gauge
mailtask_last_success_timestamp_seconds{task="invoices"} 1.740816e+09
# HELP mailtask_messages_held_total Messages whose hooks failed under hook_failure = "retry": left on the server as they were, taken again next run.
# TYPE mailtask_messages_held_total counter
mailtask_messages_held_total{task="invoices"} 1
mailtask_messages_held_total{task="scans"} 0
# HELP mailtask_messages_known_total Messages the ledger shows were taken before (under another UID): nothing was written.
# TYPE mailtask_messages_known_total counter
mailtask_messages_known_total{task="invoices"} 1
mailtask_messages_known_total{task="scans"} 0
# HELP mailtask_messages_quarantined_total Messages kept aside: unparseable, larger than max_message_size, or never delivered by the server.
# TYPE mailtask_messages_quarantined_total counter
mailtask_messages_quarantined_total{task="invoices"} 1
mailtask_messages_quarantined_total{task="scans"} 0
# HELP mailtask_messages_seen_total New messages found on the server, those the task's rules refuse included.
# TYPE mailtask_messages_seen_total counter
mailtask_messages_seen_total{task="invoices"} 8
mailtask_messages_seen_total{task="scans"} 0
# HELP mailtask_messages_total Messages taken: their files are in the destination.
# TYPE mailtask_messages_total counter
mailtask_messages_total{task="invoices"} 4
mailtask_messages_total{task="scans"} 0
# HELP mailtask_messages_unmatched_total Messages the task's [task.match] rules refuse, recorded as done with nothing written.
# TYPE mailtask_messages_unmatched_total counter
mailtask_messages_unmatched_total{task="invoices"} 1
mailtask_messages_unmatched_total{task="scans"} 0
# HELP mailtask_next_run_timestamp_seconds When the task runs next, jitter included, in Unix time.
# TYPE mailtask_next_run_timestamp_seconds gauge
mailtask_next_run_timestamp_seconds{task="invoices"} 1.7408163e+09
# HELP mailtask_run_failures_total Runs of a task that failed, after their retries.
# TYPE mailtask_run_failures_total counter
mailtask_run_failures_total{task="invoices"} 1
mailtask_run_failures_total{task="scans"} 0
# HELP mailtask_runs_skipped_total Scheduled runs of a task not started: its previous run was still going (overlap) or another process held its lock (locked).
# TYPE mailtask_runs_skipped_total counter
mailtask_runs_skipped_total{reason="locked",task="invoices"} 0
mailtask_runs_skipped_total{reason="locked",task="scans"} 1
mailtask_runs_skipped_total{reason="overlap",task="invoices"} 1
mailtask_runs_skipped_total{reason="overlap",task="scans"} 0
# HELP mailtask_runs_total Runs of a task that ended (successful, stopped or failed).
# TYPE mailtask_runs_total counter
mailtask_runs_total{task="invoices"} 2
mailtask_runs_total{task="scans"} 0
`
	names := []string{
		"mailtask_actions_due", "mailtask_bytes_total", "mailtask_credential_expiry_timestamp_seconds", "mailtask_files_total",
		"mailtask_last_run_duration_seconds", "mailtask_last_run_timestamp_seconds", "mailtask_last_success_timestamp_seconds",
		"mailtask_messages_held_total", "mailtask_messages_known_total", "mailtask_messages_quarantined_total",
		"mailtask_messages_seen_total", "mailtask_messages_total", "mailtask_messages_unmatched_total", "mailtask_next_run_timestamp_seconds",
		"mailtask_run_failures_total", "mailtask_runs_skipped_total", "mailtask_runs_total",
	}
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(expected), names...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(m.Gatherer()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	// A task removed from the config leaves no series behind.
	m.Forget("invoices")
	for name, want := range map[string]int{"mailtask_runs_total": 1, "mailtask_actions_due": 0, "mailtask_last_success_timestamp_seconds": 0} {
		if n, err := testutil.GatherAndCount(m.Gatherer(), name); n != want {
			t.Errorf("%d %s series after Forget (%v), want %d", n, name, err, want)
		}
	}
}

func TestHandlerServesMetricsAndHealth(t *testing.T) {
	m := New()
	m.Track("invoices")
	var problems []string
	srv := httptest.NewServer(m.Handler(func() []string { return problems }))
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	code, body := get("/metrics")
	build := fmt.Sprintf("mailtask_build_info{version=%q} 1", version.String())
	if code != 200 || !strings.Contains(body, `mailtask_runs_total{task="invoices"} 0`) || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, build) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	// Go's client asks for gzip and unpacks it; a scraper that does not ask
	// gets the same text as it is.
	for _, encoding := range []string{"", "identity"} {
		req, err := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Uncompressed != (encoding == "") || !strings.Contains(string(text), `mailtask_runs_total{task="invoices"} 0`) {
			t.Errorf("/metrics with Accept-Encoding %q: gzipped %v\n%s", encoding, resp.Uncompressed, text)
		}
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz healthy: %d %q", code, body)
	}
	problems = []string{`task "invoices": no successful run since 2025-03-01T08:00:00Z`}
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, problems[0]) {
		t.Errorf("/healthz unhealthy: %d %q", code, body)
	}
	if code, _ := get("/other"); code != 404 {
		t.Errorf("/other: %d", code)
	}
}

// Automatic mail skipped is counted by task and kind.
func TestAutomaticCounted(t *testing.T) {
	m := New()
	m.Track("invoices")
	if n, _ := testutil.GatherAndCount(m.Gatherer(), "mailtask_messages_automatic_total"); n != 0 {
		t.Errorf("%d series before any automatic mail", n)
	}
	m.Observe(Run{Task: "invoices", Outcome: "ok", Counts: outcome.Counts{Unmatched: 3}, Automatic: outcome.Automatic{"delivery-report": 2, "auto-reply": 1}, End: t0})
	m.Observe(Run{Task: "invoices", Outcome: "ok", Counts: outcome.Counts{Unmatched: 1}, Automatic: outcome.Automatic{"delivery-report": 1}, End: t0})
	expected := `
# HELP mailtask_messages_automatic_total Messages not taken because they are automatic mail the task skips (skip_automatic), by kind: delivery-report, auto-reply, read-receipt. messages_unmatched_total counts them too.
# TYPE mailtask_messages_automatic_total counter
mailtask_messages_automatic_total{kind="auto-reply",task="invoices"} 1
mailtask_messages_automatic_total{kind="delivery-report",task="invoices"} 3
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(expected), "mailtask_messages_automatic_total"); err != nil {
		t.Error(err)
	}
}

// Quarantine notices are counted by task, from the task's first run on.
func TestQuarantineNoticesCounted(t *testing.T) {
	m := New()
	m.Track("invoices")
	m.Observe(Run{Task: "invoices", Outcome: "ok", Counts: outcome.Counts{Saved: 2}, QuarantineNotices: 2, End: t0})
	m.Observe(Run{Task: "invoices", Outcome: "ok", Counts: outcome.Counts{Saved: 1}, QuarantineNotices: 1, End: t0})
	m.Observe(Run{Task: "reports", Outcome: "ok", End: t0})
	expected := `
# HELP mailtask_quarantine_notices_total Microsoft 365 quarantine notices a task met: mail held for its mailbox that it will never see until someone releases it. Each is logged at WARN.
# TYPE mailtask_quarantine_notices_total counter
mailtask_quarantine_notices_total{task="invoices"} 3
mailtask_quarantine_notices_total{task="reports"} 0
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(expected), "mailtask_quarantine_notices_total"); err != nil {
		t.Error(err)
	}
}

// Defects of the files written are counted by task and kind, and go with
// a task that is forgotten.
func TestFileDefectsCounted(t *testing.T) {
	m := New()
	m.Track("invoices")
	m.Observe(Run{Task: "invoices", Outcome: "ok", Counts: outcome.Counts{Files: 3}, Defects: outcome.Defects{"damaged-base64": 2}, End: t0})
	m.Observe(Run{Task: "invoices", Outcome: "ok", Counts: outcome.Counts{Files: 1}, Defects: outcome.Defects{"damaged-base64": 1, "unknown-transfer-encoding": 1}, End: t0})
	expected := `
# HELP mailtask_file_defects_total Defects of the files written (damaged base64, an unknown transfer encoding, ...), by kind: such a file holds what could be recovered.
# TYPE mailtask_file_defects_total counter
mailtask_file_defects_total{defect="damaged-base64",task="invoices"} 3
mailtask_file_defects_total{defect="unknown-transfer-encoding",task="invoices"} 1
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(expected), "mailtask_file_defects_total"); err != nil {
		t.Error(err)
	}
	m.Forget("invoices")
	if n, err := testutil.GatherAndCount(m.Gatherer(), "mailtask_file_defects_total"); n != 0 {
		t.Errorf("%d defect series after Forget (%v)", n, err)
	}
}
