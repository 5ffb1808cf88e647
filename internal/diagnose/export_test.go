package diagnose

// RowOf names the catalogue row that matches err, or "".
func RowOf(err error) string {
	if r := find(err); r != nil {
		return r.name
	}
	return ""
}

// RowNames lists the catalogue's rows in order.
func RowNames() []string {
	names := make([]string, len(catalogue))
	for i, r := range catalogue {
		names[i] = r.name
	}
	return names
}
