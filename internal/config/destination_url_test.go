package config

import (
	"strings"
	"testing"
)

// A destination written as a URL other than s3:// was taken for a folder
// named "S3:" or "gs:" beside the configuration file, and validate said
// ok; a variable in an s3:// bucket was reported as `"s3:/" is not an
// s3:// URL`.
func TestDestinationsThatLookLikeURLs(t *testing.T) {
	for dest, want := range map[string]string{
		"S3://invoices/in": `"S3://invoices/in" looks like a URL, but the only one a destination may be is s3://bucket/prefix`,
		"gs://invoices/in": `"gs://invoices/in" looks like a URL`,
		"https://invoices.s3.amazonaws.com/in/{yyyy}": "the scheme in lowercase",
		"s3://{from_domain}/in":                       `"s3://{from_domain}/in": the bucket may not hold a variable`,
		"s3://invoices-{yyyy}/in":                     "the bucket may not hold a variable",
	} {
		_, err := Parse("/etc/mailtask/m.toml", []byte(daemonBase+"[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \""+dest+"\"\n"))
		if err == nil || !strings.Contains(err.Error(), `task "t": destination: `) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", dest, err, want)
		}
	}
	for _, dest := range []string{"/srv/drop/in", "drop/{from_domain}", "s3://invoices/{from_domain}"} {
		if _, err := Parse("/etc/mailtask/m.toml", []byte(daemonBase+"[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \""+dest+"\"\n")); err != nil {
			t.Errorf("%s: %v", dest, err)
		}
	}
}
