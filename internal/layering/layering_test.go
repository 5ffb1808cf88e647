package layering

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// rule forbids the packages that from matches to import what to matches.
type rule struct {
	why      string
	from, to func(pkg string) bool
	// transitive applies the rule to everything from links, not only to
	// what its own files import.
	transitive bool
	// brokenUntil names the branch that makes a rule hold which does not
	// hold yet: the rule is checked and reported, and must then fail. When
	// the branch has merged, the rule holds, the test says so, and
	// brokenUntil is to be removed.
	brokenUntil string
}

func under(prefixes ...string) func(string) bool {
	return func(pkg string) bool {
		for _, p := range prefixes {
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				return true
			}
		}
		return false
	}
}

func except(match func(string) bool, exempt ...string) func(string) bool {
	return func(pkg string) bool { return match(pkg) && !slices.Contains(exempt, pkg) }
}

func oneOf(pkgs ...string) func(string) bool {
	return func(pkg string) bool { return slices.Contains(pkgs, pkg) }
}

// network is what opens connections or runs programs, which a parser must
// not; net/mail, net/textproto and net/url only parse.
func network(pkg string) bool {
	return oneOf("net", "net/smtp", "net/rpc", "crypto/tls", "os/exec")(pkg) ||
		under("net/http", "mailtask/internal/mailbox", "mailtask/internal/auth", "mailtask/internal/notify", "mailtask/internal/hook")(pkg)
}

func ownPackage(pkg string) bool { return strings.HasPrefix(pkg, "mailtask/") }

var rules = []rule{
	{
		why:  "a mailbox session reads the mailbox; what a task has taken is the pipeline's to record",
		from: under("mailtask/internal/mailbox"),
		to:   under("mailtask/internal/state"),
	},
	{
		why:  "the command line uses the packages, never the other way round",
		from: under("mailtask/internal", "mailtask/tasks"),
		to:   under("mailtask/cmd"),
	},
	{
		why:  "tasks are built on internal/; only the scheduler, which runs them, knows them",
		from: except(under("mailtask/internal"), "mailtask/internal/scheduler"),
		to:   under("mailtask/tasks"),
	},
	{
		why:  "extract parses bytes it is given; it never reaches the network or runs a program",
		from: under("mailtask/internal/extract"),
		to:   network,
	},
	{
		why:  "extract, state, clock and outcome are the bottom layer: they build on no other package of mailtask but outcome, the counts of a run that state records",
		from: under("mailtask/internal/extract", "mailtask/internal/state", "mailtask/internal/clock", "mailtask/internal/outcome"),
		to:   except(ownPackage, "mailtask/internal/outcome"),
	},
	{
		why:        "test servers, the fake identity provider and fault injection stay out of the binary",
		from:       under("mailtask/cmd/mailtask"),
		to:         under("mailtask/internal/testmail"),
		transitive: true,
	},
	{
		why:        "the demo and the message writer are linked into the binary; testmail builds on them, not the reverse",
		from:       under("mailtask/internal/demo", "mailtask/internal/mailgen"),
		to:         under("mailtask/internal/testmail"),
		transitive: true,
	},
}

func TestImportsFollowTheLayers(t *testing.T) {
	imports := importGraph(t)
	for _, r := range rules {
		var broken []string
		for _, pkg := range slices.Sorted(maps.Keys(imports)) {
			if !r.from(pkg) {
				continue
			}
			deps := imports[pkg]
			if r.transitive {
				deps = closure(imports, pkg)
			}
			verb := " imports "
			if r.transitive {
				verb = " links "
			}
			for _, dep := range deps {
				if r.to(dep) {
					broken = append(broken, pkg+verb+dep)
				}
			}
		}
		switch {
		case r.brokenUntil == "" && len(broken) > 0:
			t.Errorf("%s:\n  %s", r.why, strings.Join(broken, "\n  "))
		case r.brokenUntil != "" && len(broken) > 0:
			t.Logf("known to be broken until %s merges: %s:\n  %s", r.brokenUntil, r.why, strings.Join(broken, "\n  "))
		case r.brokenUntil != "":
			t.Errorf("the rule %q holds now: remove its brokenUntil %q so that it stays enforced", r.why, r.brokenUntil)
		}
	}
}

// importGraph returns what each package of the module and each package it
// links imports, test files left out.
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "mailtask/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		graph[fields[0]] = fields[1:]
	}
	if _, ok := graph["mailtask/cmd/mailtask"]; !ok {
		t.Fatalf("go list did not list mailtask/cmd/mailtask:\n%s", out)
	}
	return graph
}

// closure is every package pkg links, directly or not.
func closure(graph map[string][]string, pkg string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(p string) {
		for _, dep := range graph[p] {
			if !seen[dep] {
				seen[dep] = true
				visit(dep)
			}
		}
	}
	visit(pkg)
	return slices.Sorted(maps.Keys(seen))
}
