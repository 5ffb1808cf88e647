package s3url

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, root := range []string{"s3://", "s3://UPPER", "s3://ok-bucket/../x", "s3://ok-bucket//x", "s3://ok-bucket/./x", "file:///tmp", "s3://a"} {
		if _, _, err := Parse(root); err == nil {
			t.Errorf("Parse(%q) was accepted", root)
		}
	}
	for root, want := range map[string][2]string{
		"s3://invoices.example/in/mail/": {"invoices.example", "in/mail"},
		"s3://bkt":                       {"bkt", ""},
		"s3://bkt/":                      {"bkt", ""},
	} {
		b, p, err := Parse(root)
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", root, b, p, err, want[0], want[1])
		}
	}
	if !Is("s3://x/y") || Is("/srv/s3://") {
		t.Error("Is")
	}
}

// FuzzParse: whatever it accepts names a key prefix that stays below the
// bucket.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"s3://bkt/a/b", "s3://bkt/../a", "s3://b-k.t/a//b/", "s3://bkt/a\\b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, root string) {
		bucket, prefix, err := Parse(root)
		if err != nil {
			return
		}
		if !bucketPattern.MatchString(bucket) {
			t.Fatalf("Parse(%q) accepted bucket %q", root, bucket)
		}
		if strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
			t.Fatalf("Parse(%q) gave prefix %q", root, prefix)
		}
		for seg := range strings.SplitSeq(prefix, "/") {
			if prefix != "" && (seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00")) {
				t.Fatalf("Parse(%q) gave prefix %q with segment %q", root, prefix, seg)
			}
		}
	})
}
