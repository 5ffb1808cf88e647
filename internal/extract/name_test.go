package extract

import (
	"strings"
	"testing"
)

// want is the part of a File a name test checks.
type want struct {
	name, ctype string
	inline      bool
}

func TestParseFileNames(t *testing.T) {
	pdf := "Content-Transfer-Encoding: base64"
	pdfBody := "JVBERi0xLjQK"
	tests := []struct {
		name string
		msg  string
		want []want
	}{
		{
			name: "disposition filename wins over type name",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf; name="type.pdf"`,
				`Content-Disposition: attachment; filename="disp.pdf"`, pdf)),
			want: []want{{"disp.pdf", "application/pdf", false}},
		},
		{
			name: "type name when disposition has none",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf; name="type.pdf"`,
				`Content-Disposition: attachment`, pdf)),
			want: []want{{"type.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2231 UTF-8",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf`,
				`Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf`, pdf)),
			want: []want{{"€ rates.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2231 ISO-8859-1 with language, preferred over plain filename",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf`,
				`Content-Disposition: attachment; filename="Gruesse.pdf"; filename*=iso-8859-1'de'Gr%FC%DFe.pdf`, pdf)),
			want: []want{{"Grüße.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2231 continuation mixing extended and plain sections",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`,
				"Content-Disposition: attachment;\r\n filename*0*=UTF-8''Jahres%C3%BC;\r\n filename*1*=bersicht%202024;\r\n filename*2=\".xlsx\"", pdf)),
			want: []want{{"Jahresübersicht 2024.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", false}},
		},
		{
			name: "RFC 2231 continuation in ISO-8859-1",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf`,
				`Content-Disposition: attachment; filename*0*=iso-8859-1''caf%E9; filename*1=".pdf"`, pdf)),
			want: []want{{"café.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2231 in the type name",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf; name*=windows-1250''%8Ailing.pdf`, pdf)),
			want: []want{{"Šiling.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2047 B in quoted filename",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf`,
				`Content-Disposition: attachment; filename="=?UTF-8?B?UmVjaG51bmcgw5xiZXJzaWNodC5wZGY=?="`, pdf)),
			want: []want{{"Rechnung Übersicht.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2047 Q ISO-8859-1 in type name",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf; name="=?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln.pdf?="`,
				`Content-Disposition: attachment`, pdf)),
			want: []want{{"Grüße aus Köln.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2047 character split across words, folded",
			msg: mixed(textBody, part(pdfBody,
				"Content-Type: application/pdf;\r\n name=\"=?UTF-8?Q?caf=C3?=\r\n =?UTF-8?Q?=A9.pdf?=\"", pdf)),
			want: []want{{"café.pdf", "application/pdf", false}},
		},
		{
			name: "RFC 2047 unpadded base64 and spaced charset",
			msg: mixed(textBody, part(pdfBody,
				`Content-Type: application/pdf; name="=?UTF-8 ?B?w6k?=.pdf"`, pdf)),
			want: []want{{"é.pdf", "application/pdf", false}},
		},
		{
			name: "Exchange: quoted encoded-words after a fold, more parameters after",
			msg: mixed(textBody, part(pdfBody,
				"Content-Type: application/pdf;\r\n\tname=\r\n\t\"=?iso-8859-1?Q?50032266_Rechnung_f=FCr_1467829.?=\r\n =?iso-8859-1?Q?pdf?=\"",
				"Content-Disposition: attachment; filename=\r\n\t\"=?iso-8859-1?Q?50032266_Rechnung_f=FCr_1467829.?=\r\n =?iso-8859-1?Q?pdf?=\"; size=631148;\r\n\tcreation-date=\"Fri, 05 Jul 2019 10:00:00 GMT\"", pdf)),
			want: []want{{"50032266 Rechnung für 1467829.pdf", "application/pdf", false}},
		},
		{
			name: "quoted encoded-word after a space",
			msg: mixed(textBody, part(pdfBody, "Content-Type: application/pdf",
				`Content-Disposition: attachment; filename= "=?utf-8?Q?Rechnung_M=C3=A4rz.pdf?="`, pdf)),
			want: []want{{"Rechnung März.pdf", "application/pdf", false}},
		},
		{
			name: "type name after a fold, no disposition",
			msg:  mixed(textBody, part(pdfBody, "Content-Type: application/pdf; name=\r\n \"=?utf-8?Q?Rechnung_M=C3=A4rz.pdf?=\"", pdf)),
			want: []want{{"Rechnung März.pdf", "application/pdf", false}},
		},
		{
			name: "unquoted spaces: the lenient parse still reads the name",
			msg: mixed(textBody, part(pdfBody, "Content-Type: application/pdf",
				`Content-Disposition: attachment; filename=Rechnung April 2025.pdf`, pdf)),
			want: []want{{"Rechnung April 2025.pdf", "application/pdf", false}},
		},
		{
			name: "NFD raw UTF-8 becomes NFC",
			msg: mixed(textBody, part(pdfBody,
				"Content-Type: application/pdf",
				"Content-Disposition: attachment; filename=\"Cafe\u0301.pdf\"", pdf)),
			want: []want{{"Caf\u00e9.pdf", "application/pdf", false}},
		},
		{
			name: "NFD in RFC 2231 becomes NFC",
			msg: mixed(textBody, part(pdfBody,
				"Content-Type: application/pdf",
				"Content-Disposition: attachment; filename*=utf-8''Cafe%CC%81.pdf", pdf)),
			want: []want{{"Caf\u00e9.pdf", "application/pdf", false}},
		},
		{
			name: "raw 8-bit Latin-1 name",
			msg: mixed(textBody, part(pdfBody,
				"Content-Type: application/pdf",
				"Content-Disposition: attachment; filename=\"caf\xe9.pdf\"", pdf)),
			want: []want{{"café.pdf", "application/pdf", false}},
		},
		{
			name: "type name only, no disposition (enmime OtherParts)",
			msg:  mixed(textBody, part(pdfBody, "Content-Type: application/pdf; name=x.pdf", pdf)),
			want: []want{{"x.pdf", "application/pdf", false}},
		},
		{
			name: "inline image with filename",
			msg: mixed(textBody, part("iVBORw0KGgo=",
				"Content-Type: image/png",
				"Content-Disposition: inline; filename=logo.png",
				"Content-ID: <logo@x>", pdf)),
			want: []want{{"logo.png", "image/png", true}},
		},
		{
			// Apple Mail and iOS Mail mark inline every file dropped into
			// the text and put it among the attachments: it is attached.
			name: "PDF marked inline among the attachments (Apple Mail)",
			msg: mixed(textBody, part(pdfBody,
				"Content-Type: application/pdf; name=scan.pdf",
				"Content-Disposition: inline; filename=scan.pdf", pdf)),
			want: []want{{"scan.pdf", "application/pdf", false}},
		},
		{
			name: "named picture without disposition beside the HTML in multipart/related",
			msg: envelope + multipart("related", "rel",
				part("<p>Hi<img src=\"cid:sig@x\"></p>\r\n", "Content-Type: text/html; charset=utf-8"),
				part("iVBORw0KGgo=", "Content-Type: image/png; name=signature.png", "Content-ID: <sig@x>", pdf)),
			want: []want{{"signature.png", "image/png", true}},
		},
		{
			name: "document without disposition the HTML shows by cid:, outside a multipart/related",
			msg: mixed(part("<p>See <img src=\"cid:page1@x\"></p>\r\n", "Content-Type: text/html; charset=utf-8"),
				part(pdfBody, "Content-Type: application/pdf; name=page1.pdf", "Content-ID: <page1@x>", pdf)),
			want: []want{{"page1.pdf", "application/pdf", true}},
		},
		{
			name: "inline image without filename is not a file",
			msg: mixed(textBody, part("iVBORw0KGgo=",
				"Content-Type: image/png",
				"Content-Disposition: inline",
				"Content-ID: <logo@x>", pdf)),
		},
		{
			name: "related image without name or disposition is not a file",
			msg: envelope + multipart("related", "rel",
				part("<img src=cid:logo@x>", "Content-Type: text/html"),
				part("iVBORw0KGgo=", "Content-Type: image/png", "Content-ID: <logo@x>", pdf)),
		},
		{
			name: "nested mixed inside alternative keeps MIME order",
			msg: mixed(
				multipart("alternative", "alt",
					part("plain", "Content-Type: text/plain"),
					multipart("mixed", "inner",
						part("<p>html</p>", "Content-Type: text/html"),
						part(pdfBody, "Content-Type: application/pdf", "Content-Disposition: attachment; filename=deep.pdf", pdf))),
				part(pdfBody, "Content-Type: application/pdf", "Content-Disposition: attachment; filename=shallow.pdf", pdf)),
			want: []want{{"deep.pdf", "application/pdf", false}, {"shallow.pdf", "application/pdf", false}},
		},
		{
			name: "message/rfc822 attached with name",
			msg: mixed(textBody, part("Subject: inner\r\n\r\nforwarded\r\n",
				"Content-Type: message/rfc822; name=fwd.eml",
				"Content-Disposition: attachment")),
			want: []want{{"fwd.eml", "message/rfc822", false}},
		},
		{
			name: "message/rfc822 attached without name",
			msg: mixed(textBody, part("Subject: inner\r\n\r\nforwarded\r\n",
				"Content-Type: message/rfc822",
				"Content-Disposition: attachment")),
			want: []want{{"attachment-1.eml", "message/rfc822", false}},
		},
		{
			name: "generated names count files and map the type",
			msg: mixed(textBody,
				part(pdfBody, "Content-Type: application/pdf; name=a.pdf", pdf),
				part(pdfBody, "Content-Type: APPLICATION/PDF", "Content-Disposition: attachment", pdf),
				part("x", "Content-Type: application/x-unknown", "Content-Disposition: attachment"),
				part("x", "Content-Type: application/octet-stream")),
			want: []want{
				{"a.pdf", "application/pdf", false},
				{"attachment-2.pdf", "application/pdf", false},
				{"attachment-3.bin", "application/x-unknown", false},
				{"attachment-4.bin", "application/octet-stream", false},
			},
		},
		{
			name: "unnamed text and html bodies are not files, named ones are",
			msg: mixed(
				multipart("alternative", "alt",
					part("plain", "Content-Type: text/plain"),
					part("<p>html</p>", "Content-Type: text/html")),
				part("a;b\r\n", "Content-Type: text/csv; name=data.csv"),
				part("<p>report</p>", "Content-Type: text/html; name=report.html")),
			want: []want{{"data.csv", "text/csv", false}, {"report.html", "text/html", false}},
		},
		{
			name: "hostile names are sanitised",
			msg: mixed(textBody,
				part(pdfBody, "Content-Type: application/pdf", `Content-Disposition: attachment; filename="../../etc/passwd"`, pdf),
				part(pdfBody, "Content-Type: application/pdf", `Content-Disposition: attachment; filename="C:\\Windows\\con.pdf"`, pdf),
				part(pdfBody, "Content-Type: application/pdf", `Content-Disposition: attachment; filename=".htaccess"`, pdf)),
			want: []want{
				{"passwd", "application/pdf", false},
				{"_con.pdf", "application/pdf", false},
				{"htaccess", "application/pdf", false},
			},
		},
		{
			name: "digest part without Content-Type defaults to message/rfc822",
			msg: envelope + multipart("digest", "dig",
				part("Subject: one\r\n\r\nfirst\r\n", "Content-Disposition: attachment")),
			want: []want{{"attachment-1.eml", "message/rfc822", false}},
		},
		{
			name: "single-part message that is an attachment",
			msg:  envelope + part(pdfBody, "Content-Type: application/pdf; name=scan.pdf", pdf),
			want: []want{{"scan.pdf", "application/pdf", false}},
		},
		{
			name: "plain text message has no files",
			msg:  envelope + part("just text\r\n", "Content-Type: text/plain"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, f := range m.Files {
				checkName(t, f.Name)
				got = append(got, want{f.Name, f.ContentType, f.Inline})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("files = %+v, want %+v (problems %q)", got, tt.want, m.Problems)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("file %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDecodeWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain.pdf", "plain.pdf"},
		{"=?UTF-8?B?w6k=?=.pdf", "é.pdf"},
		{"a =?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?= b", "a éé b"},
		{"=?ISO-8859-1?Q?a?= =?UTF-8?Q?=C3=A9?=", "aé"},
		{"=?x-no-such-charset?Q?caf=E9?=", "café"},
		{"=?UTF-8?Q?caf=C3=A9?=", "café"},
		{"=?utf-8*en?Q?x?=", "x"},
		{"=?UTF-8?B?%%%?= rest", "=?UTF-8?B?%%%?= rest"},
	}
	for _, tt := range tests {
		if got := decodeWords(tt.in); got != tt.want {
			t.Errorf("decodeWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
