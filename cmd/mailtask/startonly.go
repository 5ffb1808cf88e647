package main

import (
	"slices"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/s3url"
)

// startOnly lists the settings of next that differ from running's but are
// read only when the daemon starts, so that a reload says which changes
// wait for a restart: the log format, the listener, and cluster mode's
// database, token key, lease and object store. An s3:// destination in a
// daemon started without an object store counts too: its runs fail until
// the restart.
func startOnly(running, next *config.Config) []string {
	a, b := &running.Cluster, &next.Cluster
	changed := []struct {
		key  string
		diff bool
	}{
		{"log_format", running.LogFormat != next.LogFormat},
		{"listen", running.Listen != next.Listen},
		{"state_store", a.StateStore != b.StateStore || a.StateStoreEnv != b.StateStoreEnv || a.StateStoreFile != b.StateStoreFile},
		{"token_key", a.TokenKeyEnv != b.TokenKeyEnv || a.TokenKeyFile != b.TokenKeyFile},
		{"token_key_previous", a.TokenKeyPreviousEnv != b.TokenKeyPreviousEnv || a.TokenKeyPreviousFile != b.TokenKeyPreviousFile},
		{"lease", a.LeaseTime() != b.LeaseTime()},
		{"s3_endpoint", a.S3Endpoint != b.S3Endpoint},
		{"s3_region", a.S3Region != b.S3Region},
		{"s3_path_style", (a.S3PathStyle == nil) != (b.S3PathStyle == nil) || a.S3PathStyle != nil && *a.S3PathStyle != *b.S3PathStyle},
		{"s3_access_key_id", a.S3AccessKeyIDEnv != b.S3AccessKeyIDEnv || a.S3AccessKeyIDFile != b.S3AccessKeyIDFile},
		{"s3_secret_access_key", a.S3SecretAccessKeyEnv != b.S3SecretAccessKeyEnv || a.S3SecretAccessKeyFile != b.S3SecretAccessKeyFile},
		{"an s3:// destination (the daemon started without an object store)", !cluster.Needed(running) && slices.ContainsFunc(next.Tasks, func(t *config.Task) bool { return s3url.Is(t.Destination) })},
	}
	var keys []string
	for _, c := range changed {
		if c.diff {
			keys = append(keys, c.key)
		}
	}
	return keys
}
