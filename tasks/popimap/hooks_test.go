package popimap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// hookScript writes an executable script that appends one line per call
// to a log: the MAILTASK_* variables named, separated by '|'. It fails
// while a file named "fail" exists beside it.
func hookScript(t *testing.T, vars ...string) (path, log string) {
	t.Helper()
	dir := t.TempDir()
	path, log = filepath.Join(dir, "hook.sh"), filepath.Join(dir, "log")
	var fields []string
	for _, v := range vars {
		fields = append(fields, `$MAILTASK_`+v)
	}
	body := "#!/bin/sh\n" +
		`if [ -e "` + filepath.Join(dir, "fail") + `" ]; then echo "hook says no" >&2; exit 7; fi` + "\n" +
		`printf '%s\n' "` + strings.Join(fields, "|") + `" >> "` + log + `"` + "\n"
	mustT(t, os.WriteFile(path, []byte(body), 0o755))
	return path, log
}

func logLines(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	mustT(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestHooksSeeDurableFilesAndMessage(t *testing.T) {
	fileHook, fileLog := hookScript(t, "KIND", "FILE_PATH", "SIZE", "SHA256", "FROM", "SUBJECT", "TASK")
	msgHook, msgLog := hookScript(t, "FILE_COUNT", "MESSAGE_ID", "METADATA")
	t.Setenv("HOOK_TEST_SECRET", testPassword)
	f := newFixture(t, testmail.IMAPOptions{},
		`run_after_file = ["`+fileHook+`"]`,
		`run_after_message = ["`+msgHook+`"]`,
		"[task.output]", "metadata = true")
	f.cfg.Accounts["a"].PasswordEnv = "HOOK_TEST_SECRET"
	f.append(mail{subject: "Invoice `whoami` $(id)", files: []testmail.Attachment{pdfFile("a.pdf"), pdfFile("b.pdf")}}.raw())
	f.mustRun()
	files := f.files()
	lines := logLines(t, fileLog)
	if len(lines) != 3 {
		t.Fatalf("file hook ran %d times: %q", len(lines), lines)
	}
	for _, l := range lines {
		p := strings.Split(l, "|")
		if p[0] == "attachment" && files[p[1]] != p[3] {
			t.Errorf("hook saw %s with sha256 %s, the file holds %s", p[1], p[3], files[p[1]])
		}
		if p[4] != "billing@acme.example" || p[5] != "Invoice `whoami` $(id)" || p[6] != "t" {
			t.Errorf("hook saw %q", l)
		}
	}
	if kinds := []string{strings.Split(lines[0], "|")[0], strings.Split(lines[2], "|")[0]}; kinds[0] != "attachment" || kinds[1] != "metadata" {
		t.Errorf("kinds %v", kinds)
	}
	ml := logLines(t, msgLog)
	if len(ml) != 1 || !strings.HasPrefix(ml[0], "3|") || !strings.HasSuffix(ml[0], ".json") {
		t.Errorf("message hook saw %q", ml)
	}
}

func TestHookSecretsHidden(t *testing.T) {
	dir := t.TempDir()
	hook := filepath.Join(dir, "env.sh")
	out := filepath.Join(dir, "env")
	mustT(t, os.WriteFile(hook, []byte("#!/bin/sh\nenv > \""+out+"\"\n"), 0o755))
	t.Setenv("HOOK_TEST_SECRET", testPassword)
	f := newFixture(t, testmail.IMAPOptions{}, `run_after_message = ["`+hook+`"]`)
	f.cfg.Accounts["a"].PasswordEnv = "HOOK_TEST_SECRET"
	f.cfg.Accounts["a"].Password = ""
	f.append(mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw())
	f.mustRun()
	b, err := os.ReadFile(out)
	mustT(t, err)
	if strings.Contains(string(b), testPassword) {
		t.Error("the hook inherited the account's password")
	}
	if !strings.Contains(string(b), "MAILTASK_FILE_COUNT=1") {
		t.Errorf("hook environment lacks MAILTASK_FILE_COUNT:\n%s", b)
	}
}

func TestHookFailurePolicies(t *testing.T) {
	for _, policy := range []string{"retry", "fail", "ignore"} {
		t.Run(policy, func(t *testing.T) {
			hook, log := hookScript(t, "FILE_PATH")
			failMarker := filepath.Join(filepath.Dir(hook), "fail")
			mustT(t, os.WriteFile(failMarker, nil, 0o644))
			f := newFixture(t, testmail.IMAPOptions{},
				`after = "seen"`, `run_after_file = ["`+hook+`"]`, `hook_failure = "`+policy+`"`)
			f.append(mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw())
			sum, err := f.run()
			st, _ := state.Load(f.cfg.StateDir, "t")
			seen := hasFlag(f.srv.Messages("INBOX")[0].Flags, `\Seen`)
			switch policy {
			case "ignore":
				if err != nil || st.Done.Len() != 1 || !seen {
					t.Errorf("ignore: err %v, done %s, seen %v", err, st.Done.String(), seen)
				}
				return
			case "retry":
				if err == nil || !strings.Contains(err.Error(), "hook says no") || sum.Held != 1 {
					t.Errorf("retry: err %v, summary %+v", err, sum)
				}
			case "fail":
				if err == nil || !strings.Contains(err.Error(), `hook_failure = "fail"`) {
					t.Errorf("fail: err %v", err)
				}
			}
			// Held back: not committed, not marked on the server, and the
			// file is already there.
			if st.Done.Len() != 0 || seen || len(f.files()) != 1 {
				t.Fatalf("after a failed hook: done %s, seen %v, files %v", st.Done.String(), seen, sortedKeys(f.files()))
			}
			// Once the hook works, the next run hands it the file again
			// and commits.
			mustT(t, os.Remove(failMarker))
			sum, err = f.run()
			if err != nil || sum.Saved != 1 || sum.Files != 0 {
				t.Fatalf("retry run: %+v, %v", sum, err)
			}
			if got := logLines(t, log); !slices.Equal(got, []string{"a.pdf"}) {
				t.Errorf("hook log %q", got)
			}
			st, _ = state.Load(f.cfg.StateDir, "t")
			if st.Done.Len() != 1 || !hasFlag(f.srv.Messages("INBOX")[0].Flags, `\Seen`) {
				t.Errorf("not committed after the hook succeeded: done %s", st.Done.String())
			}
		})
	}
}

// A subject of 200 KB, past what Linux lets a program's environment hold
// in one variable, reaches the hooks cut, and whole in a file: the hooks
// run, and under hook_failure = "retry" no run fails for it.
func TestHugeSubjectReachesHooksCut(t *testing.T) {
	fileHook, fileLog := hookScript(t, "SUBJECT", "TRUNCATED")
	msgHook, msgLog := hookScript(t, "SUBJECT", "TRUNCATED")
	// The file hook also keeps the file of the whole subject.
	script, err := os.ReadFile(fileHook)
	mustT(t, err)
	keep := `cp "$MAILTASK_SUBJECT_FILE" "` + filepath.Join(filepath.Dir(fileLog), "subject") + `"` + "\n"
	mustT(t, os.WriteFile(fileHook, append(script, keep...), 0o755))
	f := newFixture(t, testmail.IMAPOptions{},
		`run_after_file = ["`+fileHook+`"]`,
		`run_after_message = ["`+msgHook+`"]`,
		`hook_failure = "retry"`)
	subject := strings.Repeat("long subject ", 200_000/13) + "end"
	f.append(mail{subject: subject, files: []testmail.Attachment{pdfFile("a.pdf")}}.raw())
	if sum := f.mustRun(); sum.Saved != 1 || sum.Held != 0 {
		t.Fatalf("run: %+v", sum.Counts)
	}
	for _, log := range []string{fileLog, msgLog} {
		lines := logLines(t, log)
		if len(lines) != 1 {
			t.Fatalf("hook ran %d times: %.200q", len(lines), lines)
		}
		p := strings.Split(lines[0], "|")
		if len(p[0]) > 4096 || !strings.HasPrefix(subject, p[0]) || !strings.Contains(p[1], "SUBJECT") {
			t.Errorf("hook saw a subject of %d bytes, truncated %q", len(p[0]), p[1])
		}
	}
	whole, err := os.ReadFile(filepath.Join(filepath.Dir(fileLog), "subject"))
	if err != nil || string(whole) != subject {
		t.Errorf("the file of the whole subject held %d bytes (%v), want %d", len(whole), err, len(subject))
	}
	if sum := f.mustRun(); sum.Seen != 0 {
		t.Errorf("next run: %+v", sum.Counts)
	}
}
