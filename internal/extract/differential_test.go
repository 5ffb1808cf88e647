package extract

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

// TestDifferential compares, file by file (name and SHA-256), what Parse,
// ExpandNested and ExpandTNEF take out of testmail.FidelityCorpus and the
// demo corpus with what an independent parser takes out of them:
// Python's standard email package, with tnef(1) for winmail.dat, openssl
// for S/MIME envelopes and olefile for .msg files (testdata/pyextract.py). Each message whose
// files differ must be listed, with the reason, in
// testdata/differential-accepted.txt; a listed message that no longer
// differs fails too, so that the list stays true. Each message must also
// give the files its fixture names.
func TestDifferential(t *testing.T) {
	for _, tool := range []string{"tnef", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; the differential test needs it, and CI must not skip it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	python := pythonWith(t, "olefile", "python3-olefile")
	fidelity := testmail.FidelityCorpus()
	corpus := append(fidelity, testmail.DemoCorpus()...)
	dir := t.TempDir()
	for _, fx := range corpus {
		if err := os.WriteFile(filepath.Join(dir, fx.Name+".eml"), fx.Raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(python, "testdata/pyextract.py", dir).Output()
	if err != nil {
		t.Fatalf("pyextract.py: %v", err)
	}
	var theirs map[string][][2]string
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	accepted := acceptedDifferences(t)
	generated := regexp.MustCompile(`^attachment-\d+\.\w+$`)
	for i, fx := range corpus {
		m, err := Parse(bytes.NewReader(fx.Raw))
		if err != nil {
			t.Errorf("%s: %v", fx.Name, err)
			continue
		}
		m.ExpandNested(true)
		var ours, names []string
		for _, f := range m.Files {
			ours = append(ours, fmt.Sprintf("%s %x", f.Name, sha256.Sum256(contentOf(t, f))))
			names = append(names, f.Name)
		}
		// The fidelity corpus names the files taken with nested = "extract".
		if i < len(fidelity) && !slices.Equal(names, fx.Files) && !(len(names) == 0 && len(fx.Files) == 0) {
			t.Errorf("%s: files %q, the fixture names %q", fx.Name, names, fx.Files)
		}
		var python []string
		for i, f := range theirs[fx.Name+".eml"] {
			name := SanitizeName(f[0])
			if f[0] == "" && i < len(m.Files) && generated.MatchString(m.Files[i].Name) {
				name = m.Files[i].Name // unnamed: ours names it, Python cannot
			}
			python = append(python, name+" "+f[1])
		}
		same := slices.Equal(ours, python)
		switch reason, listed := accepted[fx.Name]; {
		case !same && !listed:
			t.Errorf("%s: files differ from Python's email package\nours:   %q\nPython: %q", fx.Name, ours, python)
		case same && listed:
			t.Errorf("%s: listed as an accepted difference (%s), but the files agree: remove it from the list", fx.Name, reason)
		case !same:
			t.Logf("%s: accepted difference: %s", fx.Name, reason)
		}
	}
	if len(corpus) < 60 {
		t.Errorf("only %d messages compared", len(corpus))
	}
}

// acceptedDifferences reads testdata/differential-accepted.txt: one
// message a line, its name, a tab and why it differs; # starts a comment.
func acceptedDifferences(t *testing.T) map[string]string {
	f, err := os.Open("testdata/differential-accepted.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("differential-accepted.txt: %q has no reason after a tab", line)
		}
		out[name] = reason
	}
	return out
}

// pythonWith is a Python 3 that can import module: the first python3 on
// the PATH, or Debian's, where apt-get install pkg puts it (a python3 of
// its own, pyenv's say, may come first on the PATH). Without one, the
// test is skipped, or fails under CI.
func pythonWith(t *testing.T, module, pkg string) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import "+module).Run() == nil {
			return py
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no python3 with %s (apt-get install python3 %s); the differential test needs it, and CI must not skip it", module, pkg)
	}
	t.Skipf("no python3 with %s (apt-get install python3 %s)", module, pkg)
	return ""
}
