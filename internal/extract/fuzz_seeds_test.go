package extract

import "mailtask/internal/testmail"

// maxSeedBytes leaves out seeds too large for the fuzzer to mutate
// quickly; the malformed-corpus test covers the large shapes.
const maxSeedBytes = 128 << 10

// realWorldSeeds are whole messages as mailboxes hold them, for FuzzParse:
// the demo corpus (invoices, scans, RFC 2231 and 2047 names, inline
// images, forwarded mail, a truncated scanner upload), a sample of the
// generated corpus, the hostile-names message, the malformed corpus and
// the fidelity corpus (uuencode, TNEF, S/MIME, inline forwards, ...).
func realWorldSeeds() [][]byte {
	var seeds [][]byte
	fixtures := append(testmail.DemoCorpus(), testmail.Generate(11, 20, 0.01)...)
	fixtures = append(fixtures, testmail.MalformedCorpus()...)
	fixtures = append(fixtures, testmail.FidelityCorpus()...)
	fixtures = append(fixtures, testmail.Fixture{Raw: testmail.HostileMessage()})
	for _, fx := range fixtures {
		if len(fx.Raw) <= maxSeedBytes {
			seeds = append(seeds, fx.Raw)
		}
	}
	return seeds
}

// hostileNameSeeds are attachment names an attacker sends, for
// FuzzSanitizeName.
func hostileNameSeeds() []string { return testmail.HostileNames() }
