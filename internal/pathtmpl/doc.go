// Package pathtmpl expands the path templates of a task's output:
// destination = "/srv/drop/{yyyy}/{mm}" and file_name = "{yyyy}{mm}{dd}-{name}{ext}".
//
// A template is literal text with {variables}, split into folder segments
// at '/'. Every substituted value is sanitised as a single path segment
// (no separator, no "..", no control or Windows-reserved characters), and
// so is every segment once expanded, so that nothing a sender controls —
// a subject, an address, a file name — can add a folder level or climb out
// of the destination.
package pathtmpl
