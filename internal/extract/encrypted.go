package extract

import (
	"io"

	"github.com/jhillyerd/enmime/v2"
)

// Encrypted mail cannot be opened without its recipient's private key,
// which mailtask does not hold: S/MIME enveloped mail (smime.p7m holding
// a CMS EnvelopedData or AuthEnvelopedData, RFC 8551) and PGP/MIME
// (multipart/encrypted: a version part, then the encrypted data, RFC
// 3156). What someone with the key needs is the encrypted data as it came
// (openssl cms -decrypt and gpg --decrypt take it so), so it is saved as a
// file, never dropped, and marked DefectEncrypted: a file that no program
// watching the folder can read until someone decrypts it, which the run's
// log, metrics and sidecar then show.

var (
	oidEnvelopedData     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}             // 1.2.840.113549.1.7.3
	oidAuthEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17} // 1.2.840.113549.1.9.16.1.23
)

// isPGPData reports whether p is the encrypted data of a PGP/MIME
// message: any part of a multipart/encrypted but its version part.
func isPGPData(p *enmime.Part, ctype string) bool {
	return p.Parent != nil && p.Parent.ContentType == "multipart/encrypted" && ctype != "application/pgp-encrypted"
}

// encryptedDefect is the defect of f, the content of part p of type ctype
// named name, when it is encrypted mail; false when it is not.
func encryptedDefect(p *enmime.Part, ctype, name string, f File) (Defect, bool) {
	switch {
	case isPGPData(p, ctype):
		return Defect{DefectEncrypted, "PGP/MIME encrypted: " + f.Name + " is saved as it came, for someone with the recipient's key to decrypt"}, true
	case isSMIME(ctype, name) && envelopedCMS(f.Open(), f.Size):
		return Defect{DefectEncrypted, "S/MIME encrypted: " + f.Name + " is saved as it came, for someone with the recipient's key to decrypt"}, true
	}
	return Defect{}, false
}

// envelopedCMS reports whether the size bytes in r are a CMS
// EnvelopedData or AuthEnvelopedData: encrypted S/MIME.
func envelopedCMS(r io.ReaderAt, size int64) bool {
	c := &cmsReader{t: textAt(r, size), size: size}
	ci, err := c.expect(0, size, asn1Sequence)
	if err != nil {
		return false
	}
	for _, oid := range [][]byte{oidEnvelopedData, oidAuthEnvelopedData} {
		if ok, _, err := c.oid(ci.start, size, oid); ok && err == nil && c.t.err == nil {
			return true
		}
	}
	return false
}
