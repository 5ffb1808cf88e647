package outcome

// Defects counts the defects of the files a run wrote, by kind
// (extract.Defect's Kind, such as "damaged-base64"): each file written
// anew counts once per defect it carries, like Counts.Files. It stays
// beside Counts rather than in it because it is counted by kind: the
// metrics label it, the summary line and the state's last run leave it
// out. A nil Defects counts none.
type Defects map[string]int

// Plus returns d with other's counts added, leaving both as they were.
func (d Defects) Plus(other Defects) Defects {
	if len(other) == 0 {
		return d
	}
	sum := make(Defects, len(d)+len(other))
	for kind, n := range d {
		sum[kind] += n
	}
	for kind, n := range other {
		sum[kind] += n
	}
	return sum
}
