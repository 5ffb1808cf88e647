package extract

import "fmt"

// maxNesting bounds how deep ExpandNested descends: a message attached to
// a message attached to ... is a known way to exhaust a parser.
const maxNesting = 8

// ExpandNested replaces every attached message (message/rfc822) among
// m.Files by the files inside it, at any depth, in MIME order; and every
// attached S/MIME signed message (smime.p7m, a .p7m holding a message) by
// the files inside its envelope, marked as such. An attached message that
// cannot be parsed stays a file, with a problem noted; one nested deeper
// than maxNesting too; a .p7m that holds no message stays as it is.
func (m *Message) ExpandNested() {
	m.Files = m.expand(m.Files, 1)
}

func (m *Message) expand(files []File, depth int) []File {
	var out []File
	for _, f := range files {
		if isSMIME(f.ContentType, f.Name) {
			inner, ok := m.signedMessage(f, depth)
			if !ok {
				out = append(out, f)
				continue
			}
			inside := m.expand(inner.Files, depth+1)
			signed(inside)
			out = append(out, inside...)
			continue
		}
		if f.ContentType != "message/rfc822" {
			out = append(out, f)
			continue
		}
		if depth > maxNesting {
			m.problemf("attached message %s nested more than %d deep, kept whole", f.Name, maxNesting)
			out = append(out, f)
			continue
		}
		inner, err := parseNested(textAt(f.Open(), f.Size), depth)
		if err != nil {
			m.problemf("attached message %s: %v; kept whole", f.Name, err)
			out = append(out, f)
			continue
		}
		for _, p := range inner.Problems {
			m.Problems = append(m.Problems, fmt.Sprintf("in attached message %s: %s", f.Name, p))
		}
		out = append(out, m.expand(inner.Files, depth+1)...)
	}
	return out
}
