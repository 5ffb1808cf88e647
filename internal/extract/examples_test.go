package extract_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"mailtask/internal/extract"
	"mailtask/internal/testmail"
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
		content, err := io.ReadAll(f.Open())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %q\n", f.Name, f.ContentType, content)
	}
	// Output:
	// billing@example.com - Rechnung März
	// Rechnung März.pdf application/pdf "%PDF-1.4\n"
}

// ParseAt reads a message where it lies, here a file, and leaves large
// attachments there: each File decodes its bytes from the file as it is
// read, so the file must stay open until the files are written.
func ExampleParseAt() {
	content := bytes.Repeat([]byte("%PDF-1.4 a large scan\n"), 50_000) // 1.1 MB
	raw := testmail.NewMessage("Scan", testmail.Attachment{Name: "scan.pdf", ContentType: "application/pdf", Content: content})
	spool, err := os.CreateTemp("", "message-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	if _, err := spool.Write(raw); err != nil {
		log.Fatal(err)
	}

	m, err := extract.ParseAt(spool, int64(len(raw)))
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range m.Files {
		n, err := io.Copy(io.Discard, f.Open()) // as a sink would write it
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(f.Name, f.Type(), f.Size, n)
	}
	// Output:
	// scan.pdf application/pdf 1100000 1100000
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
