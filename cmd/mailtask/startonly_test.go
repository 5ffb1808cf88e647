package main

import (
	"slices"
	"testing"

	"mailtask/internal/config"
)

// A reload says which of its changes wait for a restart: the cluster's
// settings were taken silently (a region fixed in the file, reloaded,
// still failed every run), and a first s3:// destination failed its runs
// with no word of why.
func TestStartOnlySettingsAreNamedOnReload(t *testing.T) {
	// parse reads a configuration of top-level lines and task t's
	// destination.
	parse := func(t *testing.T, top, destination string) *config.Config {
		t.Helper()
		cfg, err := config.Parse("/etc/mailtask/m.toml", []byte(top+`
[accounts.a]
host = "h"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
schedule = "@hourly"
destination = "`+destination+`"
`))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	const (
		folder  = "d"
		s3      = "s3://invoices/in"
		cluster = "state_store_env = \"DB\"\ns3_region = \"us-east-1\"\nlease = \"1m\"\n"
	)
	for _, tc := range []struct {
		name, runningTop, running, nextTop, next string
		want                                     []string
	}{
		{"nothing", cluster, s3, cluster, s3, nil},
		{"a task's destination", cluster, s3, cluster, "s3://invoices/other", nil},
		{"region and lease", cluster, s3, "state_store_env = \"DB\"\ns3_region = \"eu-west-1\"\nlease = \"2m\"\n", s3, []string{"lease", "s3_region"}},
		{"lease left at its default", cluster, s3, "state_store_env = \"DB\"\ns3_region = \"us-east-1\"\n", s3, nil},
		{"a state store added", "", folder, "state_store_env = \"DB\"\n", folder, []string{"state_store"}},
		{"a first s3:// destination", "", folder, "s3_region = \"us-east-1\"\n", s3, []string{"s3_region", "an s3:// destination (the daemon started without an object store)"}},
		{"a previous token key added", cluster + "token_key_env = \"NEW\"\n", s3, cluster + "token_key_env = \"NEW\"\ntoken_key_previous_env = \"OLD\"\n", s3, []string{"token_key_previous"}},
		{"listen", "", folder, "listen = \"127.0.0.1:9464\"\n", folder, []string{"listen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := startOnly(parse(t, tc.runningTop, tc.running), parse(t, tc.nextTop, tc.next))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
