package clusterwatch

import (
	"strings"
	"testing"
)

func TestParseMetricsSumsASeriesOverItsLabels(t *testing.T) {
	page := `# HELP mailtask_runs_total Runs.
# TYPE mailtask_runs_total counter
mailtask_runs_total{task="a"} 3
mailtask_runs_total{task="b c} d"} 4
mailtask_runs_total_other 100
mailtask_fenced_commits_total 2 1700000000000
mailtask_claim_duration_seconds_bucket{le="+Inf"} 7
mailtask_claim_duration_seconds_count 7
`
	m, err := ParseMetrics(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"mailtask_runs_total":                   7,
		"mailtask_fenced_commits_total":         2,
		"mailtask_claim_duration_seconds_count": 7,
		"mailtask_lease_losses_total":           0,
	} {
		if got := m.Sum(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, err := ParseMetrics(strings.NewReader("mailtask_runs_total\n")); err == nil {
		t.Error("a series without a value parsed")
	}
	if _, err := ParseMetrics(strings.NewReader("mailtask_runs_total many\n")); err == nil {
		t.Error("a series with a value that is no number parsed")
	}
}
