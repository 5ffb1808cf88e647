package mailgen

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"time"
)

// RandomBytes draws n bytes from a ChaCha8 stream seeded by r: much faster
// than r itself for megabytes.
func RandomBytes(r *rand.Rand, n int) []byte {
	var seed [32]byte
	for i := 0; i < len(seed); i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], r.Uint64())
	}
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// PDF is a valid one-page PDF showing title, padded to a little under
// size bytes with an unreferenced stream of random bytes.
func PDF(r *rand.Rand, title string, size int) []byte {
	const fillerObject = 80 // what the filler costs besides itself: object, xref entry, offsets
	doc := PDFDoc(title, nil)
	if pad := size - len(doc) - fillerObject; pad > 0 {
		doc = PDFDoc(title, RandomBytes(r, pad))
	}
	return doc
}

// PDFDoc is a one-page PDF showing title, carrying filler (when not nil)
// as an unreferenced stream.
func PDFDoc(title string, filler []byte) []byte {
	text := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(title)
	content := "BT /F1 18 Tf 56 770 Td (" + text + ") Tj ET"
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	if filler != nil {
		objects = append(objects, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(filler), filler))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, obj := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, obj)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

func noise(r *rand.Rand, w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := r.Uint32()
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 0xff})
		}
	}
	return img
}

// PNG is a valid 16×16 PNG padded to about size bytes with a private
// ancillary chunk, which decoders skip.
func PNG(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	png.Encode(&b, noise(r, 16, 16))
	img := b.Bytes()
	const chunkOverhead, iend = 12, 12
	pad := size - len(img) - chunkOverhead
	if pad <= 0 {
		return img
	}
	chunk := make([]byte, 0, pad+chunkOverhead)
	chunk = binary.BigEndian.AppendUint32(chunk, uint32(pad))
	chunk = append(chunk, "fiLl"...)
	chunk = append(chunk, RandomBytes(r, pad)...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	end := len(img) - iend
	return append(append(append([]byte(nil), img[:end]...), chunk...), img[end:]...)
}

// JPEG is a valid 16×16 JPEG padded to about size bytes with comment
// segments after the start-of-image marker.
func JPEG(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, noise(r, 16, 16), &jpeg.Options{Quality: 80})
	img := b.Bytes()
	out := append([]byte(nil), img[:2]...) // SOI
	for pad := size - len(img); pad > 4; {
		n := min(pad-4, 65533)
		out = append(out, 0xff, 0xfe)
		out = binary.BigEndian.AppendUint16(out, uint16(n+2))
		out = append(out, RandomBytes(r, n)...)
		pad -= n + 4
	}
	return append(out, img[2:]...)
}

// ZIP is a valid ZIP holding one stored file of random bytes, about
// size bytes in all.
func ZIP(r *rand.Rand, name string, size int) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)})
	w.Write(RandomBytes(r, max(0, size-2*len(name)-100)))
	zw.Close()
	return b.Bytes()
}

// CSV is a semicolon-separated invoice list of about size bytes.
func CSV(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	b.WriteString("date;customer;invoice;amount\r\n")
	for {
		row := fmt.Sprintf("2025-%02d-%02d;C%05d;INV-%06d;%d.%02d\r\n", 1+r.IntN(12), 1+r.IntN(28), r.IntN(100000), r.IntN(1000000), r.IntN(100000), r.IntN(100))
		if b.Len()+len(row) > size {
			return b.Bytes()
		}
		b.WriteString(row)
	}
}
