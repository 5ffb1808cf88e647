// Package extract owns the step from raw message bytes to what the pipeline
// saves: the message's metadata and its attachments, each with a file name
// that is safe as a single path segment on Linux, macOS and Windows.
//
// Parsing is done by enmime, which tolerates the malformed mail found in real
// mailboxes; recoverable defects become Message.Problems rather than errors.
// enmime runs in raw-content mode so that attachment bytes are only
// transfer-decoded (base64, quoted-printable) here, never transcoded to UTF-8:
// a windows-1252 CSV must land on disk as the sender's windows-1252 CSV.
//
// Before enmime sees a message, scanShape walks its MIME structure in one
// linear pass and refuses, as unparseable, shapes no real mail has and on
// which enmime is quadratic or worse: more than 2,000 parts, multiparts
// nested more than 100 deep, more than 12 multiparts left open at once
// (or chains of them again and again), or a header block of more than
// 1 MB, which enmime would hold whole several times over (shape.go). The same pass finds the bodies of large
// attachments; enmime is given a skeleton of the message without their
// inner bytes, which are put back afterwards, because its byte-at-a-time
// boundary reader is otherwise most of the parsing time (elide.go).
//
// ParseAt parses a message stored on disk without reading it into memory:
// the scan reads it a window at a time (text.go), enmime sees only the
// skeleton, and the Files of the elided bodies decode them from the disk
// when opened (base64.go, quotedprintable.go), so memory stays flat
// whatever the message's size. Parse and ParseBytes, for messages in
// memory, decode every part at once but the large base64 ones: those too
// are decoded as their File is read, from the message's bytes in place,
// so that an attachment is never held twice, encoded and decoded.
//
// File names are resolved in the order MS-OXCMAIL gives (Content-Disposition
// filename, then Content-Type name), decoded from RFC 2231 and RFC 2047 in
// any charset, NFC-normalised and sanitised; parameters are parsed strictly
// first (mime.ParseMediaType reads Exchange's folded quoted values), then
// leniently. Duplicate names are left to the sink, which owns the
// destination folder.
//
// Beyond plain MIME, what mail clients show as files is taken out too:
// uuencoded parts and uuencoded blocks in a plain text body
// (uuencode.go); an unnamed message shown in the text (an inline forward,
// a digest member) when it holds files; the message inside an opaque
// S/MIME signed envelope (smime.go, its signature not checked); the data
// fork of a Mac's AppleDouble file, without its header fork
// (appledouble.go); encrypted mail, S/MIME or PGP/MIME, as it came,
// marked as such (encrypted.go); and, when
// the pipeline asks, the files inside attached messages (ExpandNested),
// Outlook items attached as .msg files among them (msg.go, over a reader
// of compound files, cfb.go), and inside Outlook's winmail.dat (tnef.go:
// at any depth with ExpandNested, at the top with ExpandTNEF). Each of these
// decoders reads where the bytes lie and decodes as the File is read, so
// memory stays bounded whatever the size. What was wrong with a file's
// content as the message carried it is kept on the file as Defects
// (defect.go), by kind, for the pipeline to show.
package extract
