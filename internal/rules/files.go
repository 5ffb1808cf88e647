package rules

import (
	"mailtask/internal/config"
	"mailtask/internal/extract"
)

// Files is a task's compiled [task.attachments]: which files of a message
// are saved.
type Files struct {
	include, exclude Patterns
	types            Patterns
	minSize, maxSize int64
	inline           bool
}

// NewFiles compiles a.
func NewFiles(a config.Attachments) Files {
	f := Files{minSize: int64(a.MinSize), maxSize: int64(a.MaxSize), inline: a.KeepsInline()}
	f.include, _ = NewPatterns(a.Include, nil)
	f.exclude, _ = NewPatterns(a.Exclude, nil)
	f.types, _ = NewPatterns(a.ContentTypes, nil)
	return f
}

// Keep reports whether file is to be saved, and if not, which rule
// refused it.
func (f Files) Keep(file extract.File) (ok bool, why string) {
	switch size := file.Size; {
	case !f.inline && file.Inline:
		return false, "inline"
	case f.include.Set() && !f.include.Match(file.Name):
		return false, "include"
	case f.exclude.Set() && f.exclude.Match(file.Name):
		return false, "exclude"
	case f.types.Set() && !f.types.Match(file.Type()):
		return false, "content_types (" + file.Type() + ")"
	case f.minSize > 0 && size < f.minSize:
		return false, "min_size"
	case f.maxSize > 0 && size > f.maxSize:
		return false, "max_size"
	}
	return true, ""
}

// Select returns the files of files to be saved, in order.
func (f Files) Select(files []extract.File) []extract.File {
	var out []extract.File
	for _, file := range files {
		if ok, _ := f.Keep(file); ok {
			out = append(out, file)
		}
	}
	return out
}
