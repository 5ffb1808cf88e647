package outcome

// ByKind counts what a run met by kind; a nil ByKind counts none. It
// stays beside Counts rather than in it because it is counted by kind: the
// metrics label it, the summary line and the state's last run leave it
// out.
type ByKind map[string]int

// Defects counts the defects of the files a run wrote, by kind
// (extract.Defect's Kind, such as "damaged-base64"): each file written
// anew counts once per defect it carries, like Counts.Files.
type Defects = ByKind

// Automatic counts the messages a run did not take because they are
// automatic mail its task skips, by kind ("delivery-report", "auto-reply",
// "read-receipt"); Counts.Unmatched counts them too.
type Automatic = ByKind

// Plus returns d with other's counts added, leaving both as they were.
func (d ByKind) Plus(other ByKind) ByKind {
	if len(other) == 0 {
		return d
	}
	sum := make(ByKind, len(d)+len(other))
	for kind, n := range d {
		sum[kind] += n
	}
	for kind, n := range other {
		sum[kind] += n
	}
	return sum
}
