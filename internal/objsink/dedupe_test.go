package objsink

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/pgstore"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/postgres"
)

// pgIndex is the dedupe index of a fresh cluster-mode database.
func pgIndex(t *testing.T, destination string) *pgstore.DedupeIndex {
	t.Helper()
	url := postgres.Shared(t).NewDatabase(t)
	ctx := testContext(t)
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.Open(ctx, pgstore.Options{URL: url, Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return store.DedupeIndex(destination)
}

func TestDedupeFindsContentThroughTheIndex(t *testing.T) {
	tg := openTarget(t, "in", Options{})
	tg.dest.index = pgIndex(t, tg.dest.Path())
	dedupe := sink.Policy{Dedupe: true}
	first, err := tg.put(t, "2025", "invoice.pdf", invoiceA, dedupe)
	if err != nil || first.Duplicate != "" {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := tg.put(t, "2025", "invoice.pdf", invoiceA, dedupe)
	if err != nil || !again.Existing {
		t.Fatalf("re-run: %+v, %v; want Existing", again, err)
	}
	dup, err := tg.put(t, "2026", "copy.pdf", invoiceA, dedupe)
	if err != nil || dup.Duplicate != "2025/invoice.pdf" {
		t.Fatalf("same content elsewhere: %+v, %v; want Duplicate of 2025/invoice.pdf", dup, err)
	}
	if keys := tg.keys(t); join(keys) != "in/2025/invoice.pdf" {
		t.Fatalf("bucket holds %v, want one copy", keys)
	}

	// Downstream took the object away: the stale entry is dropped and
	// the content written again.
	_, err = tg.srv.Client().DeleteObject(testContext(t), &s3.DeleteObjectInput{Bucket: aws.String(tg.bucket), Key: aws.String("in/2025/invoice.pdf")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := tg.put(t, "2026", "copy.pdf", invoiceA, dedupe)
	if err != nil || st.Duplicate != "" || st.Rel() != "2026/copy.pdf" {
		t.Fatalf("after the original was deleted: %+v, %v", st, err)
	}
	if again, err := tg.put(t, "2027", "third.pdf", invoiceA, dedupe); err != nil || again.Duplicate != "2026/copy.pdf" {
		t.Fatalf("the index now names the new copy: %+v, %v", again, err)
	}
}

func TestDedupeWithoutAnIndexFailsClearly(t *testing.T) {
	tg := openTarget(t, "", Options{})
	_, err := tg.put(t, "", "x.pdf", invoiceA, sink.Policy{Dedupe: true})
	if err == nil || !strings.Contains(err.Error(), "state_store") {
		t.Fatalf("dedupe without an index: %v; want an error naming state_store", err)
	}
}
