package extract

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	// maxNameBytes leaves room under the 255-byte limit of common file
	// systems for the " (n)" the sink adds to a duplicate.
	maxNameBytes = 200
	// maxExtBytes is the longest suffix still kept as an extension when a
	// name is shortened; a longer one is just part of the name.
	maxExtBytes = 20
	// fallbackName replaces a name with nothing usable left in it.
	fallbackName = "attachment"
)

// SanitizeName makes one decoded file name safe as a single path segment on Linux, macOS and Windows.
//
// It keeps only the last path segment, drops control and bidirectional
// formatting characters, replaces the characters Windows forbids with '_',
// NFC-normalises, trims spaces and dots from both ends (a leading dot would
// hide the file and enter the sink's temporary namespace), prefixes Windows
// device names with '_', and shortens to 200 bytes keeping the extension.
// The result is never empty, and SanitizeName(SanitizeName(x)) ==
// SanitizeName(x).
func SanitizeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(safeRune, name)
	// After the removals: taking out a control character can bring a base
	// letter and a combining mark together.
	name = norm.NFC.String(name)
	name = strings.Trim(name, " .")
	if name == "" {
		return fallbackName
	}
	name = shorten(name)
	if reservedOnWindows(name) {
		name = shorten("_" + name)
	}
	return name
}

// safeRune maps one rune of a name: -1 drops it, '_' stands in for a
// character Windows does not allow in names.
func safeRune(r rune) rune {
	switch {
	case r < 0x20, r == 0x7f, 0x80 <= r && r <= 0x9f:
		return -1
	// Bidirectional overrides and isolates let "invoice\u202Efdp.exe"
	// display as "invoiceexe.pdf".
	case r == 0x200e, r == 0x200f, 0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069:
		return -1
	case strings.ContainsRune(`<>:"|?*`, r):
		return '_'
	}
	return r
}

// shorten cuts name to maxNameBytes, keeping its extension and never
// splitting a UTF-8 sequence. A cut stem is trimmed again so the result
// never ends in a space or dot.
func shorten(name string) string {
	if len(name) <= maxNameBytes {
		return name
	}
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= maxExtBytes {
		stem, ext = name[:i], name[i:]
	}
	n := maxNameBytes - len(ext)
	for n > 0 && !utf8.RuneStart(stem[n]) {
		n--
	}
	return strings.TrimRight(stem[:n], " .") + ext
}

// reservedOnWindows reports whether Windows would take name for a device:
// the device names are reserved with any extension and in any case, and
// spaces before the extension do not help.
func reservedOnWindows(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) > 3 && (base[:3] == "COM" || base[:3] == "LPT") {
		switch base[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	}
	return false
}
