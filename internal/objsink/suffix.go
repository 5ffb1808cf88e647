package objsink

import (
	"context"
	"fmt"
	"path"
	"sync"

	"mailtask/internal/sink"
)

// maxSuffix is sink.MaxSuffix, a variable only so that tests can reach it
// without 10,000 objects.
var maxSuffix = sink.MaxSuffix

// family is what a Bucket has learnt, in this run, of one name's " (n)"
// variants in one folder, as the folder sink keeps it (sink's
// suffix.go): each create-only PUT costs a request, so that searching
// from "name" up for every file would make the n-th file of a name cost n
// requests, and 2,000 same-named files two million.
type family struct {
	mu sync.Mutex
	// next is the first suffix not yet tried: every variant below it was
	// found taken (or was placed here).
	next int
	// bySum holds the variants below next whose content is known, by
	// SHA-256: identical content under one of them is found again
	// without a request per variant, whatever the order of a re-run.
	bySum map[[32]byte]int
}

// family returns the family of name in folder rel.
func (b *Bucket) family(rel, name string) *family {
	key := path.Join(rel, name)
	b.familiesMu.Lock()
	defer b.familiesMu.Unlock()
	if b.families == nil {
		b.families = map[string]*family{}
	}
	f := b.families[key]
	if f == nil {
		f = &family{bySum: map[[32]byte]int{}}
		b.families[key] = f
	}
	return f
}

// placeSuffixed puts s under name or the first variant "stem (n).ext"
// that is free, unless a variant holds the same content already. Past
// maxSuffix variants the name carries the content's hash (sink's
// HashedName), the same on every run, so no run fails and none costs
// more.
func (f *folder) placeSuffixed(ctx context.Context, name string, s *staged, st sink.Stored) (sink.Stored, error) {
	b := f.b
	fam := b.family(f.rel, name)
	fam.mu.Lock()
	defer fam.mu.Unlock()
	try := func(cand string) (bool, object, error) {
		got, o, err := b.create(ctx, f.relOf(cand), s)
		if err != nil || got == taken {
			return false, o, err
		}
		st.Name, st.Existing = cand, got == existing
		return true, o, nil
	}
	if n, ok := fam.bySum[s.sum]; ok {
		if done, _, err := try(sink.Candidate(name, n)); done || err != nil {
			return st, err
		}
	}
	for ; fam.next <= maxSuffix; fam.next++ {
		n := fam.next
		done, o, err := try(sink.Candidate(name, n))
		if err != nil {
			return st, err
		}
		if done {
			fam.bySum[s.sum] = n
			fam.next++
			return st, nil
		}
		if o.summed {
			fam.bySum[o.sum] = n
		}
	}
	for _, digits := range []int{12, 64} {
		if done, _, err := try(sink.HashedName(name, s.sum, digits)); done || err != nil {
			return st, err
		}
	}
	return st, fmt.Errorf("more than %d objects of that name exist, and the name made from the content's hash is taken by other content", maxSuffix)
}
