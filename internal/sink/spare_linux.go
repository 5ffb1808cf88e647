package sink

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Creating a file is the costliest step of a Put on some filesystems
// (about a millisecond of kernel time each on ext4 in a VM, more than
// writing and fsyncing a typical attachment), and creations in one folder
// do not run in parallel. So a folder that takes several files keeps a few
// anonymous files (O_TMPFILE) created ahead by goroutines, which overlaps
// that cost with the writer's fsyncs. An anonymous file has no name until
// writeTemp has filled (and fsynced) it and linked it under a temporary name,
// so from there on a Put is exactly what it was, and a crash leaves
// nothing behind.

// sparesAfter is how many files a folder takes before it starts keeping
// spares: each goroutine ends holding one that is never used, a waste only
// for folders that take few files (a folder per sender, say).
const sparesAfter = 8

type spares struct {
	mu      sync.Mutex
	puts    int
	dir     *os.File    // the folder itself, for openat and linkat
	tag     string      // the owner's tag, for the probe's temporary name
	perm    os.FileMode // of the files created
	ready   chan *os.File
	quit    chan struct{}
	done    chan struct{}
	stopped bool
}

// spare returns an anonymous file to fill, or nil when there is none ready.
func (d *Dir) spare() *os.File {
	s := &d.spares
	s.mu.Lock()
	if !s.stopped && s.ready == nil {
		s.puts++
		if s.puts >= sparesAfter {
			s.start(d)
		}
	}
	ready := s.ready
	s.mu.Unlock()
	if ready == nil {
		return nil
	}
	select {
	case f := <-ready:
		return f // nil once the goroutine gave up
	default:
		return nil
	}
}

// start runs the goroutine that keeps a spare; s.mu is held.
func (s *spares) start(d *Dir) {
	dir, err := d.root.Open(".")
	if err != nil {
		s.stopped = true
		return
	}
	s.dir, s.tag, s.perm = dir, d.tree.tag, d.tree.modes.file
	s.ready = make(chan *os.File)
	s.quit = make(chan struct{})
	s.done = make(chan struct{})
	go s.keep()
}

func (s *spares) keep() {
	defer close(s.done)
	defer close(s.ready)
	// O_TMPFILE needs a filesystem that supports it and linking one needs
	// /proc; a first spare, linked and removed at once, shows both work
	// before any content is committed to one. Otherwise Puts create their
	// files as before.
	probe := s.create()
	if probe == nil {
		return
	}
	name := tempName(s.tag)
	err := linkAnonymous(probe, s.dir, name)
	probe.Close()
	if err != nil {
		return
	}
	if err := unix.Unlinkat(int(s.dir.Fd()), name, 0); err != nil {
		return
	}
	// Anonymous files, unlike named ones, are created in parallel.
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 4) {
		wg.Go(func() {
			for {
				f := s.create()
				if f == nil {
					return
				}
				select {
				case s.ready <- f:
				case <-s.quit:
					f.Close()
					return
				}
			}
		})
	}
	wg.Wait()
}

// create returns a new anonymous file in the folder, or nil.
func (s *spares) create() *os.File {
	fd, err := unix.Openat(int(s.dir.Fd()), ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(s.perm))
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "")
}

// stopSpares ends the goroutine and drops its spare; Close calls it.
func (d *Dir) stopSpares() {
	s := &d.spares
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.ready == nil {
		return
	}
	close(s.quit)
	<-s.done
	s.dir.Close()
	s.ready = nil
}

// writeSpare is writeTemp into a spare, if the folder has one ready: it
// fills the spare and only then gives it a temporary name.
func (d *Dir) writeSpare(content io.Reader, m fillMode) (tmp string, st Stored, ok bool, err error) {
	f := d.spare()
	if f == nil {
		return "", Stored{}, false, nil
	}
	tmp, st, err = d.fillSpare(f, content, m)
	return tmp, st, true, err
}

// fillSpare fills the spare f as m says, names it and closes it.
func (d *Dir) fillSpare(f *os.File, content io.Reader, m fillMode) (string, Stored, error) {
	defer f.Close()
	st, err := fill(f, content, m)
	if err != nil {
		return "", Stored{}, err
	}
	tmp := tempName(d.tree.tag)
	if err := linkAnonymous(f, d.spares.dir, tmp); err != nil {
		return "", Stored{}, err
	}
	return tmp, st, nil
}

// linkAnonymous gives the anonymous file f the name in dir.
func linkAnonymous(f, dir *os.File, name string) error {
	proc := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	return unix.Linkat(unix.AT_FDCWD, proc, int(dir.Fd()), name, unix.AT_SYMLINK_FOLLOW)
}
