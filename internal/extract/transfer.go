package extract

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
)

// Transfer encodings as transferEncoding names them.
const (
	encIdentity        = "" // 7bit, 8bit, binary, none, or one not known
	encBase64          = "base64"
	encQuotedPrintable = "quoted-printable"
	encUUencode        = "x-uuencode"
)

// transferEncoding is the encoding a Content-Transfer-Encoding value names.
// An unknown one is taken as identity, with a problem to report: the bytes
// are saved as they came.
func transferEncoding(cte string) (enc, problem string) {
	switch cte = strings.ToLower(strings.TrimSpace(cte)); cte {
	case encBase64, encQuotedPrintable:
		return cte, ""
	case encUUencode, "uuencode", "x-uue", "uue":
		return encUUencode, ""
	case "", "7bit", "8bit", "binary":
		return encIdentity, ""
	default:
		return encIdentity, fmt.Sprintf("unknown Content-Transfer-Encoding %q, saved undecoded", cte)
	}
}

// decodeTransfer undoes a part's Content-Transfer-Encoding. It never fails:
// damaged input yields what can be recovered plus a description of the
// damage, because half an attachment reported as damaged is more use to an
// operator than a dropped message.
func decodeTransfer(cte string, raw []byte) (content []byte, problem string) {
	switch enc, problem := transferEncoding(cte); enc {
	case encBase64:
		return decodeBase64(raw)
	case encQuotedPrintable:
		return decodeQuotedPrintable(raw), ""
	case encUUencode:
		return decodeUU(raw)
	default:
		return raw, problem
	}
}

// decodeBase64 skips line breaks, padding and any stray character, then
// decodes what remains; a dangling final character (6 bits, less than a
// byte) is dropped.
//
// Nearly every attachment is well-formed base64 in CRLF-broken lines:
// decodeQuanta takes those at about 1.5 times the speed of the standard
// decoder, and leaves the first quantum it cannot take whole (the padded
// last one, or damage) with the rest of the input to the lenient decoder.
// The quanta it took hold a multiple of four base64 characters and nothing
// else, so the lenient decoder would have decoded them to the same bytes
// and found no defect in them: the result is its result for the whole
// input (FuzzDecodeBase64 checks this).
func decodeBase64(raw []byte) ([]byte, string) {
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(raw))) // enough for any result
	n, read := decodeQuanta(out, raw)
	rest, problem := decodeBase64Lenient(raw[read:])
	return append(out[:n], rest...), problem
}

// decodeBase64Lenient is decodeBase64 for what decodeQuanta leaves:
// stray characters, white space, padding in the middle, missing padding, a
// truncated final quantum.
func decodeBase64Lenient(raw []byte) ([]byte, string) {
	clean := make([]byte, 0, len(raw))
	stray := 0
	for _, c := range raw {
		switch base64Class[c] {
		case base64Char:
			clean = append(clean, c)
		case base64Stray:
			stray++
		}
	}
	var problems []string
	if stray > 0 {
		problems = append(problems, fmt.Sprintf("%d characters that are not base64 skipped", stray))
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
		problems = append(problems, "base64 truncated, last byte lost")
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := decodeChars(out, clean)
	if err != nil {
		problems = append(problems, "base64: "+err.Error())
	}
	return out[:n], strings.Join(problems, "; ")
}

// decodeQuotedPrintable decodes leniently, unlike mime/quotedprintable which
// stops at the first bad escape: an '=' not followed by two hex digits or a
// line break is kept as it is. Trailing white space on a line is transport
// padding and removed (RFC 2045 6.7 rule 3).
func decodeQuotedPrintable(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		var line, eol []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i+1], raw[i+1:]
			eol = []byte("\n")
			line = line[:len(line)-1]
			if l := len(line); l > 0 && line[l-1] == '\r' {
				line, eol = line[:l-1], []byte("\r\n")
			}
		} else {
			line, raw = raw, nil
		}
		line = bytes.TrimRight(line, " \t")
		if l := len(line); l > 0 && line[l-1] == '=' {
			line, eol = line[:l-1], nil // soft line break
		}
		for i := 0; i < len(line); i++ {
			if line[i] == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, line[i])
		}
		out = append(out, eol...)
	}
	return out
}
