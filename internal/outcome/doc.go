// Package outcome is what one run of a task did: the messages it found,
// took, knew already, quarantined, left to the rules or held back, and the
// files and bytes it wrote, and whether it ended well.
//
// One type, Counts, carries those numbers from the pipeline to every place
// that shows them: the summary line of run-task and the daemon's log line
// for the run, the state file's last run (`mailtask status`), and the
// Prometheus metrics. Each counter is one field of Counts whose tags say
// how each of those names it, so a counter added there reaches all of them.
// Figures that do not fit a counter of its kind travel beside Counts:
// Defects, the defects of the files written, and Automatic, the automatic
// mail skipped, both counted by kind (labelled metrics), and Due, the
// actions the server has not confirmed when the run ends (a level:
// status, the state and a gauge).
package outcome
