package objsink

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/bench"
	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/seaweedfs"
	"mailtask/internal/testmail/versitygw"
)

// BenchmarkPutStaged stages and puts objects of a few sizes, create-only,
// through the client mailtask builds (NewClient) to versitygw and to
// SeaweedFS, and reports the CPU time spent per put by this process (the
// client's) and by the server's, beside the client's allocations: what
// the request's shape costs is paid on both sides.
func BenchmarkPutStaged(b *testing.B) {
	vgw, weed := versitygw.Shared(b), seaweedfs.Shared(b)
	for _, srv := range []struct {
		name string
		store
		pid    int
		config ClientConfig
	}{
		{"versitygw", vgw, vgw.PID(), ClientConfig{Endpoint: vgw.Endpoint, Region: versitygw.Region,
			AccessKeyID: vgw.AccessKeyID, SecretAccessKey: vgw.SecretAccessKey}},
		{"seaweedfs", weed, weed.PID(), ClientConfig{Endpoint: weed.Endpoint, Region: seaweedfs.Region,
			AccessKeyID: weed.AccessKeyID, SecretAccessKey: weed.SecretAccessKey}},
	} {
		b.Run(srv.name, func(b *testing.B) { benchmarkPuts(b, srv.store, srv.pid, srv.config) })
	}
}

func benchmarkPuts(b *testing.B, srv store, pid int, config ClientConfig) {
	ctx := context.Background()
	client, err := NewClient(ctx, config)
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{16 << 10, 128 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			dest, err := Open(Options{Root: s3url.Scheme + srv.NewBucket(b), Client: client, SpoolDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer dest.Close()
			f, err := dest.Folder("")
			if err != nil {
				b.Fatal(err)
			}
			content := bytes.Repeat([]byte("mailtask "), size/9+1)[:size]
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu0, server0 := processCPU(), serverCPU(b, pid)
			b.ResetTimer()
			for i := range b.N {
				s, err := f.Stage(bytes.NewReader(content), sink.Policy{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.PutStaged(ctx, fmt.Sprintf("object-%d", i), s); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "client-CPU-µs/op")
			b.ReportMetric(float64((serverCPU(b, pid)-server0).Microseconds())/float64(b.N), "server-CPU-µs/op")
		})
	}
}

// serverCPU is the CPU time the S3 server of process pid has spent.
func serverCPU(b *testing.B, pid int) time.Duration {
	cpu, err := bench.ProcessCPU(pid, false)
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}

// processCPU is the user and system time this process has spent.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStageSpooled stages content too large for memory, into a
// spool file, and discards it: what a file that is not held in memory
// costs the client before its put, CPU per op as the process's rusage
// has it.
func BenchmarkStageSpooled(b *testing.B) {
	dest, err := Open(Options{Root: s3url.Scheme + "bucket", Client: s3.New(s3.Options{Region: versitygw.Region}), SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer dest.Close()
	f, err := dest.Folder("")
	if err != nil {
		b.Fatal(err)
	}
	content := bytes.Repeat([]byte("mailtask "), (memLimit+memLimit/2)/9)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		s, err := f.Stage(bytes.NewReader(content), sink.Policy{})
		if err != nil {
			b.Fatal(err)
		}
		if s.(*staged).file == nil {
			b.Fatal("content not spooled")
		}
		s.Discard()
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "CPU-µs/op")
}
