package pathtmpl

import (
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/extract"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{yyyy}/{nope}", "unknown variable {nope}"},
		{"{yyyy", "'{' without '}'"},
		{"yyyy}", "'}' without '{'"},
		{"a//b", "empty folder name"},
		{"/abs", "empty folder name"},
		{"a/../b", `".." is not allowed`},
		{"{name}", "unknown variable {name}"}, // a file variable in a folder template
	} {
		_, err := Parse(tc.src, MessageVars)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{
		"yyyy": "2025", "mm": "03", "from_domain": "acme.example", "subject": "invoice-4711",
		"from": "a/b@evil.example", "task": "CON", "mailbox": "INBOX/Sub",
	}
	for _, tc := range []struct{ src, want string }{
		{"{yyyy}/{mm}", "2025/03"},
		{"{from_domain}/{yyyy}-{mm}", "acme.example/2025-03"},
		{"{from}", "a_b@evil.example"},      // a separator in a value is no folder
		{"{task}", "_CON"},                  // a Windows device name is not a folder name
		{"x-{mailbox}", "x-INBOX_Sub"},      // nor is a folder hierarchy
		{"{subject}.{uid}", "invoice-4711"}, // a missing value is empty; the trailing dot goes
		{"  {uid}  ", "attachment"},         // nothing usable left
	} {
		tmpl, err := Parse(tc.src, MessageVars)
		if err != nil {
			t.Fatal(err)
		}
		if got := tmpl.Expand(vars); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Re: Invoice #123 / März": "re-invoice-123-märz",
		"  ../../etc/passwd  ":    "etc-passwd",
		"":                        "",
		"!!!":                     "",
		strings.Repeat("ab ", 50): strings.TrimSuffix(strings.Repeat("ab-", 20), "-"),
		"Rechnung\u202eFDP.exe":   "rechnung-fdp-exe",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitRoot(t *testing.T) {
	for _, tc := range []struct{ dest, root, rel string }{
		{"/srv/drop", "/srv/drop", ""},
		{"/srv/drop/{yyyy}/{mm}", "/srv/drop", "{yyyy}/{mm}"},
		{"/srv/drop-{task}/x", "/srv", "drop-{task}/x"},
		{"/{task}", "/", "{task}"},
	} {
		root, rel := SplitRoot(filepath.FromSlash(tc.dest))
		if root != filepath.FromSlash(tc.root) || rel != tc.rel {
			t.Errorf("SplitRoot(%q) = %q, %q; want %q, %q", tc.dest, root, rel, tc.root, tc.rel)
		}
	}
}

// FuzzExpandStaysInside is the promise that matters: whatever a sender
// puts in a subject, an address or a file name, the expanded path is
// relative, has no ".." or empty segment, and every segment is a file name
// extract would accept, so joined to the destination it stays inside.
func FuzzExpandStaysInside(f *testing.F) {
	for _, s := range []string{"../../etc/passwd", "/abs", `C:\x`, "a\x00b", "..", ".", "CON", "\u202e", strings.Repeat("x", 300), "a/../../b"} {
		f.Add(s, s, s)
	}
	all := append(append([]string(nil), MessageVars...), FileVars...)
	tmpl, err := Parse("{from_domain}/{subject}/{yyyy}-{from}/{name}.{ext}", all)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, subject, from, name string) {
		vars := map[string]string{
			"subject": Slug(subject), "from": from, "from_domain": Domain(from),
			"yyyy": subject, "name": name, "ext": name,
		}
		rel := tmpl.Expand(vars)
		root := filepath.FromSlash("/srv/drop")
		full := filepath.Join(root, filepath.FromSlash(rel))
		if !strings.HasPrefix(full, root+string(filepath.Separator)) {
			t.Fatalf("%q escapes %s as %s", rel, root, full)
		}
		segs := strings.Split(rel, "/")
		if len(segs) != 4 {
			t.Fatalf("%q has %d segments, want the template's 4", rel, len(segs))
		}
		for _, seg := range segs {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") || extract.SanitizeName(seg) != seg {
				t.Fatalf("segment %q of %q is not a safe name", seg, rel)
			}
		}
	})
}
