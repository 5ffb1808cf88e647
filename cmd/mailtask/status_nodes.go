package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"mailtask/internal/pgstore"
)

// nodeStatus is one node's line of `mailtask status` in cluster mode, and
// its JSON form (`status --nodes --json`). Times are the database's.
type nodeStatus struct {
	Node        string    `json:"node"`
	Version     string    `json:"version"`
	SchemaKnown int       `json:"schema_known"`
	Started     time.Time `json:"started"`
	LastSeen    time.Time `json:"last_seen"`
	// Unseen is how long ago it was last seen, in seconds.
	Unseen float64 `json:"unseen_seconds"`
	// Config is the digest of its tasks, accounts and lease
	// (cluster.ConfigDigest); Tasks the number of its tasks.
	Config string `json:"config"`
	Tasks  int    `json:"tasks"`
	// Holds counts the leases it holds now.
	Holds int `json:"holds"`
	// TooOld: it knows an older schema than the database's, so it takes
	// no task and keeps no lease. Gone: not seen for a lease. Drift: it
	// runs another configuration than most of the nodes not gone.
	TooOld bool `json:"too_old"`
	Gone   bool `json:"gone"`
	Drift  bool `json:"config_differs"`
}

// nodesStatus is the nodes section of `mailtask status`: every node of
// the nodes table, what it holds among leases (by task), and its flags;
// lease is the lease setting, beyond which a node not seen counts as gone.
func nodesStatus(nodes []pgstore.NodeInfo, leases map[string]pgstore.LeaseInfo, lease time.Duration) []nodeStatus {
	holds := map[string]int{}
	for _, l := range leases {
		if l.Holder != "" && l.LeaseUntil.After(l.Now) {
			holds[l.Holder]++
		}
	}
	rows := make([]nodeStatus, 0, len(nodes))
	live := map[string]int{} // nodes not gone, by configuration
	for _, n := range nodes {
		unseen := n.Unseen()
		r := nodeStatus{
			Node: n.Node, Version: n.Version, SchemaKnown: n.SchemaKnown, Started: n.StartedAt, LastSeen: n.LastSeen,
			Unseen: unseen.Round(time.Second).Seconds(), Config: n.Config, Tasks: n.Tasks, Holds: holds[n.Node],
			TooOld: n.TooOld(), Gone: unseen > lease,
		}
		if !r.Gone {
			live[r.Config]++
		}
		rows = append(rows, r)
	}
	common := mostCommon(live)
	for i := range rows {
		rows[i].Drift = !rows[i].Gone && len(live) > 1 && rows[i].Config != common
	}
	return rows
}

// mostCommon is the configuration most nodes run, "" when two or more
// share the most: then none is the others', and every node's differs.
func mostCommon(counts map[string]int) string {
	best, tied := "", false
	for _, c := range slices.Sorted(maps.Keys(counts)) {
		switch n := counts[c]; {
		case n > counts[best]:
			best, tied = c, false
		case n == counts[best]:
			tied = true
		}
	}
	if tied {
		return ""
	}
	return best
}

// printNodes prints the nodes section: a table, a line on what is up, and
// a note per node that needs a look. config is the digest of the
// configuration status runs with. The database's schema is this
// mailtask's, or status could not have opened it.
func printNodes(w io.Writer, rows []nodeStatus, config string) {
	fmt.Fprintf(w, "\nNODES (database schema %d; this configuration %s)\n", pgstore.SchemaVersion, config)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tVERSION\tSCHEMA\tSTARTED\tLAST SEEN\tHOLDS\tCONFIG")
	var notes []string
	versions := map[string]int{}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s (%s)\n", r.Node, r.Version, r.SchemaKnown, stamp(r.Started), stamp(r.LastSeen), r.Holds, r.Config, taskCount(r.Tasks))
		if r.TooOld {
			notes = append(notes, fmt.Sprintf("%s: older than the schema (knows %d): takes no task", r.Node, r.SchemaKnown))
		}
		if r.Gone {
			notes = append(notes, fmt.Sprintf("%s: not seen for %s", r.Node, time.Duration(r.Unseen)*time.Second))
			continue
		}
		versions[r.Version]++
		if r.Drift {
			notes = append(notes, fmt.Sprintf("%s: configuration differs from the others' (%s, %s)", r.Node, r.Config, taskCount(r.Tasks)))
		}
	}
	tw.Flush()
	var up []string
	for _, v := range slices.Sorted(maps.Keys(versions)) {
		up = append(up, fmt.Sprintf("%d at %s", versions[v], v))
	}
	if len(up) == 0 {
		up = append(up, "none")
	}
	fmt.Fprintf(w, "\nnodes up: %s\n", strings.Join(up, ", "))
	if len(notes) > 0 {
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
}

// taskCount says n tasks.
func taskCount(n int) string {
	if n == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d tasks", n)
}
