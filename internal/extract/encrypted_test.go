package extract

import (
	"slices"
	"strings"
	"testing"

	"mailtask/internal/mailgen"
	"mailtask/internal/testmail"
)

// fidelityFixture is the message of testmail.FidelityCorpus named name.
func fidelityFixture(t *testing.T, name string) []byte {
	t.Helper()
	for _, fx := range testmail.FidelityCorpus() {
		if fx.Name == name {
			return fx.Raw
		}
	}
	t.Fatalf("no fixture %s in the fidelity corpus", name)
	return nil
}

// Encrypted mail, which mailtask cannot open, is saved as it came and
// marked, wherever it lies; a signed envelope, a detached signature and
// a .p7m that is not CMS are not marked.
func TestEncryptedMailIsSavedMarked(t *testing.T) {
	der := func(oid []byte) string {
		return string(mailgen.Base64Lines(append([]byte{0x30, byte(2 + len(oid)), 0x06, byte(len(oid))}, oid...)))
	}
	p7m := func(body string) string {
		return part(body, `Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"`,
			`Content-Disposition: attachment; filename="smime.p7m"`, "Content-Transfer-Encoding: base64")
	}
	attachedEnvelope := mixed(textBody, part(string(fidelityFixture(t, "smime-enveloped")),
		"Content-Type: message/rfc822", `Content-Disposition: attachment; filename="encrypted.eml"`))
	for _, tc := range []struct {
		name   string
		raw    string
		nested bool
		want   []string // each file's name and whether it is marked encrypted
	}{
		{"S/MIME enveloped-data, the whole message", string(fidelityFixture(t, "smime-enveloped")), false, []string{"smime.p7m encrypted"}},
		{"S/MIME authEnveloped-data attached", mixed(textBody, p7m(der(oidAuthEnvelopedData))), false, []string{"smime.p7m encrypted"}},
		{"S/MIME enveloped-data in an attached message", attachedEnvelope, true, []string{"smime.p7m encrypted"}},
		{"PGP/MIME, named", string(fidelityFixture(t, "pgp-mime-encrypted")), false, []string{"encrypted.asc encrypted"}},
		{"PGP/MIME, unnamed", string(fidelityFixture(t, "pgp-mime-encrypted-unnamed")), false, []string{"attachment-1.asc encrypted"}},
		{"S/MIME signed", string(testmail.OpaqueSigned()), false, []string{"invoice-4711.pdf"}},
		{"detached signature", string(fidelityFixture(t, "signed-multipart-detached")), false, []string{"contract.pdf", "smime.p7s"}},
		{"a .p7m that is not CMS", mixed(textBody, p7m(string(mailgen.Base64Lines([]byte("not CMS at all"))))), false, []string{"smime.p7m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if tc.nested {
				if err := m.ExpandNested(false); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, f := range m.Files {
				s := f.Name
				for _, d := range f.Defects {
					s += " " + d.Kind
					if d.Kind == DefectEncrypted && !strings.Contains(d.Detail, f.Name) {
						t.Errorf("the defect %q does not name %s", d.Detail, f.Name)
					}
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("files %q, want %q (problems %q)", got, tc.want, m.Problems)
			}
		})
	}
}
