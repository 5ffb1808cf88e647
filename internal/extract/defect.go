package extract

// Defect is something wrong with a file as the message carried it, which
// the file written shows: its content is what could be recovered, not
// necessarily what the sender attached. Kind is one of the Defect*
// constants, for counting; Detail says what was found, for a person.
type Defect struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Defect kinds. They are few and fixed, so that a metric labelled by them
// stays small.
const (
	// DefectUnknownEncoding: a Content-Transfer-Encoding mailtask does not
	// know; the content is saved as it came.
	DefectUnknownEncoding = "unknown-transfer-encoding"
	// DefectBase64: characters that are not base64 were skipped, or the
	// base64 was cut short.
	DefectBase64 = "damaged-base64"
	// DefectUUencode: damaged uuencoded lines, a missing end line, or a
	// uuencoded part without a begin line (saved undecoded).
	DefectUUencode = "damaged-uuencode"
	// DefectTNEF: a TNEF stream (winmail.dat) that is cut short or holds
	// what it should not; it is kept whole beside the files taken out.
	DefectTNEF = "damaged-tnef"
	// DefectTNEFMessage: a TNEF stream holds an attached message, which is
	// not taken out; the stream is kept whole.
	DefectTNEFMessage = "tnef-attached-message"
	// DefectMsg: an Outlook item attached as a file (.msg) that is
	// damaged; it is kept whole beside the files taken out.
	DefectMsg = "damaged-msg"
	// DefectMsgObject: an Outlook item holds what is not taken out (an
	// OLE object, a message attached more than maxNesting deep); the item
	// is kept whole beside the files taken out.
	DefectMsgObject = "msg-object-not-taken"
	// DefectEncrypted: S/MIME or PGP/MIME encrypted data, which mailtask
	// cannot decrypt; it is saved as it came (encrypted.go).
	DefectEncrypted = "encrypted"
)

// encodingDefect is the defect a transfer decoder's problem stands for.
func encodingDefect(enc, problem string) Defect {
	kind := DefectUnknownEncoding
	switch enc {
	case encBase64:
		kind = DefectBase64
	case encUUencode:
		kind = DefectUUencode
	}
	return Defect{Kind: kind, Detail: problem}
}
