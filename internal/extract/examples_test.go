package extract_test

import (
	"fmt"
	"log"
	"strings"

	"mailtask/internal/extract"
)

func ExampleParse() {
	raw := "From: Billing <billing@example.com>\r\n" +
		"Subject: =?UTF-8?Q?Rechnung_M=C3=A4rz?=\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"See attached.\r\n" +
		"--b\r\n" +
		"Content-Type: application/pdf\r\n" +
		"Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"JVBERi0xLjQK\r\n" +
		"--b--\r\n"
	m, err := extract.Parse(strings.NewReader(raw))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.From, "-", m.Subject)
	for _, f := range m.Files {
		content, err := f.Bytes()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %q\n", f.Name, f.ContentType, content)
	}
	// Output:
	// billing@example.com - Rechnung März
	// Rechnung März.pdf application/pdf "%PDF-1.4\n"
}

func ExampleSanitizeName() {
	for _, name := range []string{"../../etc/passwd", `C:\Users\x\con.txt`, ".profile", "a<b>.pdf"} {
		fmt.Println(extract.SanitizeName(name))
	}
	// Output:
	// passwd
	// _con.txt
	// profile
	// a_b_.pdf
}
