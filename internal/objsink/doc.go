// Package objsink is the object-storage sink of cluster mode: a task whose
// destination is s3://bucket/prefix/... writes its files as objects of an
// S3-compatible store (AWS S3, or a server such as versitygw or MinIO at a
// custom endpoint), through the same sink.Destination interface as a
// folder on disk, so that the pipeline does not know which it has.
//
// Writes are create-only: each object is put with If-None-Match: *, which
// the store refuses (412 Precondition Failed) when the key exists. The
// SHA-256 of every object's content is kept in its metadata
// (x-amz-meta-sha256, SHA256Metadata), and on a refusal the existing
// object's is compared with ours: identical content is the re-run case
// (Stored.Existing, no second copy, not an error); different content gets
// the task's on_collision, as on disk: a " (1)" suffix, skip, fail, or,
// when the configuration says so, an unconditional overwrite. Objects
// larger than Options.MultipartThreshold go up in parts, and the
// create-only condition is on CompleteMultipartUpload.
//
// Stores that ignore the condition replace the object instead (older
// releases of versitygw and other S3 servers), so that one invoice.pdf
// would silently take another's place. Before a destination's first put,
// the store is probed (probe.go: create-only puts of ProbeName under the
// root, and before its first multipart upload, one of those; a process
// remembers a store that honours it, in Probes). One that does not is
// written to only with CheckFirst (s3_create_only = "check_first"): each
// put looks at its key first and goes without the condition, its findings
// meeting the same comparison as a refusal's; otherwise every put fails
// with a CreateOnlyError.
//
// A put in one request is made here, signed by the SDK's signer and
// retried by its retryer, rather than through the SDK's PutObject, whose
// middleware was a fifth of a run's CPU; the rest goes through the SDK's
// client.
//
// Content is staged first (Stage): held in memory when it is small and
// the destination's MemoryBudget has room, else written to a spool file
// of the task's, while its SHA-256 is taken, since the hash must travel
// in the request that creates the object; PutStaged then uploads it. Dedupe finds content
// already under the destination through an index (Index; the PostgreSQL
// store's DedupeIndex), never by listing the bucket.
//
// Keys are the destination's prefix, the folder the path template gave,
// and the file name, each segment held to sink.CheckName's rule: no "..",
// no empty segment, no leading "/".
package objsink
