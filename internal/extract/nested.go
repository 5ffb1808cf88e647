package extract

import "fmt"

// maxNesting bounds how deep ExpandNested descends: a message attached to
// a message attached to ... is a known way to exhaust a parser.
const maxNesting = 8

// ExpandNested replaces every attached message (message/rfc822) among
// m.Files by the files inside it, at any depth, in MIME order; and every
// attached S/MIME signed message (smime.p7m, a .p7m holding a message) by
// the files inside its envelope, marked as such; and every Outlook item
// attached as a file (a .msg) by the files inside it (msg.go). With tnef,
// every winmail.dat met on the way is opened too, wherever it lies, as
// ExpandTNEF opens one (which is then not to be called): an Outlook item
// dragged into a rich-text mail comes out of its winmail.dat as a .msg,
// and an RTF mail saved as a .msg holds a winmail.dat, and the files of
// each are taken out in turn, every level counting towards maxNesting
// whatever its kind. An attached message that cannot be parsed stays a
// file, with a problem noted; one nested deeper than maxNesting too; a
// .p7m that holds no message stays as it is. It fails, with an error
// wrapping ErrUnparseable and m.Files unchanged, when the message and
// those it opens hold more than maxParts parts together.
func (m *Message) ExpandNested(tnef bool) error {
	files, err := m.expand(m.Files, 1, tnef)
	if err != nil {
		return err
	}
	m.Files = files
	return nil
}

func (m *Message) expand(files []File, depth int, tnef bool) ([]File, error) {
	var out []File
	for _, f := range files {
		if isSMIME(f.ContentType, f.Name) {
			inner, ok := m.signedMessage(f, depth)
			if !ok {
				out = append(out, f)
				continue
			}
			if err := m.opened(inner.parts, "attached messages"); err != nil {
				return nil, err
			}
			inside, err := m.expand(inner.Files, depth+1, tnef)
			if err != nil {
				return nil, err
			}
			signed(inside)
			out = append(out, inside...)
			continue
		}
		if isOutlookMsg(f) {
			inside, err := m.outlookFiles(f, depth, tnef)
			if err != nil {
				return nil, err
			}
			out = append(out, inside...)
			continue
		}
		if tnef && isTNEF(f) {
			if depth > maxNesting {
				m.problemf("winmail.dat %s nested more than %d deep, kept whole", f.Name, maxNesting)
				out = append(out, f)
				continue
			}
			inside, whole, err := m.tnefFiles(f)
			if err != nil {
				return nil, err
			}
			if inside, err = m.expand(inside, depth+1, tnef); err != nil {
				return nil, err
			}
			out = append(out, inside...)
			if whole != nil {
				out = append(out, *whole)
			}
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
		if err := m.opened(inner.parts, "attached messages"); err != nil {
			return nil, err
		}
		for _, p := range inner.Problems {
			m.Problems = append(m.Problems, fmt.Sprintf("in attached message %s: %s", f.Name, p))
		}
		inside, err := m.expand(inner.Files, depth+1, tnef)
		if err != nil {
			return nil, err
		}
		out = append(out, inside...)
	}
	return out, nil
}
