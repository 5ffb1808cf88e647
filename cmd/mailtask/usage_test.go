package main

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// flagsOf returns the flag set c parses its command line with.
func flagsOf(c command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	return fs
}

var flagInText = regexp.MustCompile(`--[a-z][a-z-]*`)

// TestHelpListsEveryFlag: each command's --help, and its line in
// `mailtask --help`, name every flag the command accepts and no other,
// each value flag with the name of its value.
func TestHelpListsEveryFlag(t *testing.T) {
	code, top, _ := run(t, "--help")
	if code != exitOK {
		t.Fatalf("mailtask --help: exit %d", code)
	}
	for _, c := range commands {
		fs := flagsOf(c)
		var accepted []string
		fs.VisitAll(func(f *flag.Flag) {
			accepted = append(accepted, "--"+f.Name)
			if value, _ := flag.UnquoteUsage(f); value != "" && value != strings.ToUpper(value) {
				t.Errorf("%s --%s: its usage names no VALUE in back quotes (got %q)", c.name, f.Name, value)
			}
		})
		code, help, errOut := run(t, append(strings.Fields(c.name), "--help")...)
		if code != exitOK || errOut != "" {
			t.Errorf("%s --help: exit %d, stderr %q", c.name, code, errOut)
		}
		var line string
		for l := range strings.Lines(top) {
			if strings.HasPrefix(strings.TrimSpace(l), "mailtask "+c.name+" ") || strings.TrimSpace(l) == "mailtask "+c.name {
				line = l
			}
		}
		if line == "" {
			t.Errorf("mailtask --help has no line for %s:\n%s", c.name, top)
		}
		for what, text := range map[string]string{"--help": help, "its line in mailtask --help": line} {
			listed := slices.Compact(slices.Sorted(slices.Values(flagInText.FindAllString(text, -1))))
			if !slices.Equal(listed, accepted) {
				t.Errorf("%s: %s lists %v; the command accepts %v\n%s", c.name, what, listed, accepted, text)
			}
		}
		// Every flag it lists parses (a bad value is not an unknown flag).
		for _, f := range accepted {
			_, _, errOut := run(t, append(strings.Fields(c.name), f+"=1", "--help")...)
			if strings.Contains(errOut, "not defined") {
				t.Errorf("%s %s: %s", c.name, f, errOut)
			}
		}
	}
}

// TestREADMEListsEveryCommand: the README's table of commands shows each
// command as its --help does.
func TestREADMEListsEveryCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "\n## Commands\n")
	table, _, _ = strings.Cut(table, "\n#")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `mailtask ([^`]*)` \\|").FindAllStringSubmatch(table, -1) {
		documented = append(documented, m[1])
	}
	var want []string
	for _, c := range commands {
		want = append(want, synopsis(c, flagsOf(c)))
	}
	for _, s := range want {
		if !slices.Contains(documented, s) {
			t.Errorf("README's commands lack `mailtask %s`", s)
		}
	}
	for _, s := range documented {
		if !slices.Contains(want, s) {
			t.Errorf("README lists `mailtask %s`, which is no command's synopsis", s)
		}
	}
}

// TestHelpShowsNoSecret: no --help prints a secret that the environment
// or the configuration it would read holds.
func TestHelpShowsNoSecret(t *testing.T) {
	const secret = "pw-4f1c9e-never-printed"
	dir := t.TempDir()
	t.Setenv("MAILTASK_CONFIG", writeFile(t, dir, "m.toml", "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword = \""+secret+"\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n"))
	t.Setenv("MAILTASK_TEST_PASSWORD", secret)
	var shown strings.Builder
	for _, args := range [][]string{{"--help"}, {"state", "--help"}, {"auth", "--help"}, {"notify", "--help"}} {
		_, out, errOut := run(t, args...)
		shown.WriteString(out + errOut)
	}
	for _, c := range commands {
		_, out, errOut := run(t, append(strings.Fields(c.name), "--help")...)
		shown.WriteString(out + errOut)
	}
	if strings.Contains(shown.String(), secret) {
		t.Errorf("a --help printed the secret:\n%s", shown.String())
	}
}
