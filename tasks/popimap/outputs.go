package popimap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/outcome"
	"mailtask/internal/pathtmpl"
	"mailtask/internal/rules"
	"mailtask/internal/sink"
)

// outputs is the task's compiled [task.output] and destination template.
type outputs struct {
	root     string             // the destination up to its first variable
	folder   *pathtmpl.Template // the folders below root; nil without variables
	fileName *pathtmpl.Template
	msgName  *pathtmpl.Template
	policy   sink.Policy
	cfg      config.Output
}

func newOutputs(task *config.Task) (*outputs, error) {
	o := &outputs{cfg: task.Output}
	root, rel := pathtmpl.SplitRoot(task.Destination)
	o.root = root
	var err error
	if rel != "" {
		if o.folder, err = pathtmpl.Parse(rel, pathtmpl.MessageVars); err != nil {
			return nil, fmt.Errorf("destination: %w", err)
		}
	}
	if o.fileName, err = pathtmpl.Parse(task.Output.FileName, append(pathtmpl.FileVars, pathtmpl.MessageVars...)); err != nil {
		return nil, fmt.Errorf("output.file_name: %w", err)
	}
	if o.msgName, err = pathtmpl.Parse(task.Output.MessageName, pathtmpl.MessageVars); err != nil {
		return nil, fmt.Errorf("output.message_name: %w", err)
	}
	o.policy.Dedupe = task.Output.Dedupe == config.DedupeSHA256
	// Files' hashes are shown in the metadata sidecar and to hooks only.
	o.policy.Hash = task.Output.Metadata || len(task.RunAfterFile) > 0 || len(task.RunAfterMessage) > 0
	o.policy.Collision = map[string]sink.Collision{
		config.CollisionSuffix:    sink.Suffix,
		config.CollisionOverwrite: sink.Overwrite,
		config.CollisionSkip:      sink.Skip,
		config.CollisionFail:      sink.Fail,
	}[task.Output.OnCollision]
	return o, nil
}

// File kinds, in metadata and MAILTASK_KIND.
const (
	kindAttachment = "attachment"
	kindEML        = "eml"
	kindText       = "text"
	kindHTML       = "html"
	kindMetadata   = "metadata"
)

// output is one file a message produced, as the metadata sidecar and the
// hooks describe it.
type output struct {
	Kind        string `json:"kind"`
	Path        string `json:"path"` // relative to the destination
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	// DuplicateOf: identical content was elsewhere (dedupe) and nothing
	// was written; Skipped: the name was taken (on_collision = "skip") and
	// nothing was written. Whether this run or an earlier one wrote the
	// file is left out: the sidecar must come out the same on a re-run.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	Skipped     bool   `json:"skipped,omitempty"`
	// Defects: what was wrong with the file's content as the message
	// carried it (extract.Defect); the file holds what was recovered.
	Defects []extract.Defect `json:"defects,omitempty"`
	// Signature: "unchecked" for a file taken from inside an S/MIME
	// signed message, whose signature mailtask does not check.
	Signature string `json:"signature,omitempty"`
}

// present reports whether the file is in the destination for this
// message, so that a hook should see it.
func (o output) present() bool { return o.DuplicateOf == "" && !o.Skipped }

// metadata is the JSON sidecar of a message. It holds nothing that
// changes between runs, so a re-run finds it already there.
type metadata struct {
	Task      string    `json:"task"`
	Account   string    `json:"account"`
	Mailbox   string    `json:"mailbox"`
	UID       uint32    `json:"uid,omitempty"`
	UIDL      string    `json:"uidl,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	From      string    `json:"from,omitempty"`
	To        []string  `json:"to,omitempty"`
	Cc        []string  `json:"cc,omitempty"`
	Subject   string    `json:"subject"`
	Date      time.Time `json:"date,omitzero"`
	SHA256    string    `json:"sha256"` // of the raw message
	Size      int       `json:"size"`
	Files     []output  `json:"files"`
}

// plan is what take will do with a parsed message, decided on a parse
// worker: the attachments it keeps, the files it writes and their names,
// the folder, and whether the rules match. The files' content is staged in
// the folder there too (written, under no name yet), so that the writer,
// which names files in message order, only names them, once one Flush has
// made the content of many durable.
type plan struct {
	matched bool
	why     string // the rule that refused the message
	vars    map[string]string
	rel     string      // the folder below the destination
	dir     sink.Folder // nil on a dry run
	outs    []*planned
	err     error // the folder or the staging failed
	// unfit is why the destination cannot hold a file of the message
	// under the name the templates give it (Folder.Fits): the message is
	// kept aside, nothing of it staged.
	unfit error
	// notice: the message is a Microsoft 365 quarantine notice.
	notice *Notice
	// Set by take: the message's writer, and its metadata sidecar, which
	// lists the names the other files were given and so is staged only
	// once they are named; finish names it.
	w    *writer
	meta *planned
}

// planned is one file of a message: what it holds and the name it is to
// get, and its content once staged (never on a dry run).
type planned struct {
	kind, name, ctype string
	defects           []extract.Defect
	signature         string
	content           func() io.Reader
	staged            sink.Pending
}

func (r *run) plan(m mailbox.Message, raw *spool, msg *extract.Message, searched bool) *plan {
	p := &plan{notice: noticeOf(m, msg)}
	// Once staged (or, on a dry run, listed), the content is no longer
	// needed: a message waiting for its batch to be named keeps only what
	// describes it, so that the batches fetched ahead hold kilobytes per
	// message rather than its attachments.
	defer p.dropContent(msg)
	var files []extract.File
	for _, f := range msg.Files {
		if ok, why := r.sel.files.Keep(f); !ok {
			r.log.Debug("file not selected", "msg", m.Key(), "name", f.Name, "rule", why)
			continue
		}
		files = append(files, f)
	}
	in := rules.Input{Size: raw.size, Files: len(files), Now: r.now(), Searched: searched}
	if p.matched, p.why = r.sel.set.Match(msg, in); !p.matched {
		return p
	}
	p.vars = r.messageVars(m, msg, raw.sum)
	if r.out.folder != nil {
		p.rel = r.out.folder.Expand(p.vars)
	}
	cfg := r.out.cfg
	if cfg.TakesAttachments() {
		for i, f := range files {
			name := r.out.fileName.Expand(fileVars(p.vars, f.Name, i+1))
			// The media type is sniffed (extract.File.Type) here rather than on the writer.
			p.outs = append(p.outs, &planned{kind: kindAttachment, name: name, ctype: f.Type(), defects: f.Defects, signature: f.Signature,
				content: func() io.Reader { return f.Open() }})
		}
	}
	base := r.out.msgName.Expand(p.vars)
	if cfg.EML {
		p.outs = append(p.outs, &planned{kind: kindEML, name: base + ".eml", ctype: "message/rfc822", content: raw.Reader})
	}
	if (cfg.Body == config.BodyText || cfg.Body == config.BodyBoth) && msg.Text != "" {
		p.outs = append(p.outs, &planned{kind: kindText, name: base + ".txt", ctype: "text/plain; charset=utf-8",
			content: func() io.Reader { return strings.NewReader(msg.Text) }})
	}
	if (cfg.Body == config.BodyHTML || cfg.Body == config.BodyBoth) && msg.HTML != "" {
		p.outs = append(p.outs, &planned{kind: kindHTML, name: base + ".html", ctype: "text/html; charset=utf-8",
			content: func() io.Reader { return strings.NewReader(msg.HTML) }})
	}
	if cfg.Metadata {
		p.meta = &planned{kind: kindMetadata, name: base + ".json", ctype: "application/json"}
	}
	if r.dest == nil { // a dry run to a folder
		return p
	}
	if p.dir, p.err = r.dest.Folder(p.rel); p.err != nil {
		p.err = fmt.Errorf("%s: %w", m.Key(), p.err)
		return p
	}
	for _, o := range append(p.outs, p.meta) {
		if o == nil {
			continue
		}
		if err := p.dir.Fits(o.name); err != nil {
			p.unfit = fmt.Errorf("its file %q: %w", o.name, err)
			return p
		}
	}
	if r.opts.DryRun {
		p.dir = nil // the writer lists what it would name
		return p
	}
	for _, o := range p.outs {
		if o.staged, p.err = p.dir.Stage(o.content(), r.out.policy); p.err != nil {
			p.err = r.writeError(m, o.name, p.dir, p.err)
			return p
		}
	}
	return p
}

func (p *plan) dropContent(msg *extract.Message) {
	for _, o := range p.outs {
		o.content = nil
	}
	msg.DropContent()
}

// discard releases the content staged and not put.
func (p *plan) discard() {
	for _, o := range p.outs {
		o.discard()
	}
	if p.meta != nil {
		p.meta.discard()
	}
}

func (o *planned) discard() {
	if o.staged != nil {
		o.staged.Discard()
		o.staged = nil
	}
}

func (r *run) writeError(m mailbox.Message, name string, dir sink.Folder, err error) error {
	return fmt.Errorf("%s: write %q in %s: %w", m.Key(), name, dir.Path(), err)
}

// take carries out the plan of a parsed message: if it matches the
// task's rules, it names the files [task.output] asks for and stages the
// metadata sidecar, for finish to name. It returns the message's writer,
// which holds what it wrote, also when it fails part way. Nothing is
// committed here.
func (r *run) take(ctx context.Context, m mailbox.Message, raw *spool, msg *extract.Message, p *plan) (fate, *writer, error) {
	if !p.matched {
		if p.why != rules.RuleAutomatic { // message logs those at info
			r.log.Debug("message does not match the task's rules; recorded as done", "msg", m.Key(), "rule", p.why)
		}
		return unmatched, nil, nil
	}
	if p.err != nil {
		return saved, nil, p.err
	}
	p.w = &writer{r: r, m: m, rel: p.rel, dir: p.dir}
	for _, o := range p.outs {
		if err := p.w.putStaged(ctx, o); err != nil {
			return saved, p.w, err
		}
	}
	if p.meta == nil || p.dir == nil {
		return saved, p.w, nil
	}
	meta := metadata{
		Task: r.opts.Task.Name, Account: r.opts.Task.Account, Mailbox: r.opts.Task.Mailbox,
		UID: m.UID, UIDL: m.UIDL, MessageID: msg.MessageID,
		From: msg.From, To: msg.To, Cc: msg.Cc, Subject: msg.Subject, Date: msg.Date,
		SHA256: hex.EncodeToString(raw.sum[:]), Size: int(raw.size), Files: p.w.outputs,
	}
	if meta.Files == nil {
		meta.Files = []output{}
	}
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return saved, p.w, err
	}
	if p.meta.staged, err = p.dir.Stage(bytes.NewReader(append(data, '\n')), r.out.policy); err != nil {
		return saved, p.w, r.writeError(m, p.meta.name, p.dir, err)
	}
	return saved, p.w, nil
}

// nameSidecar names the metadata sidecar take staged for a message, once
// a Flush has made it durable.
func (r *run) nameSidecar(ctx context.Context, j *job) error {
	p := j.plan
	if p == nil || p.w == nil || p.meta == nil {
		return nil // known, quarantined, not matched or no sidecar
	}
	return p.w.putStaged(ctx, p.meta)
}

// fileNames are the names of the files a plan writes, but its sidecar.
func (p *plan) fileNames() []string {
	names := make([]string, len(p.outs))
	for i, o := range p.outs {
		names[i] = o.name
	}
	return names
}

// sidecarNames is the name of a plan's metadata sidecar, if it has one.
func (p *plan) sidecarNames() []string {
	if p.meta == nil {
		return nil
	}
	return []string{p.meta.name}
}

// writer names one message's files in its folder, and keeps what it
// wrote.
type writer struct {
	r        *run
	m        mailbox.Message
	rel      string      // the folder below the destination
	dir      sink.Folder // nil on a dry run
	outputs  []output    // every file but the metadata sidecar
	metadata *output     // the sidecar, once written
	// files and bytes count the files written anew, and defects their
	// defects; planned lists, on a dry run, those that would be.
	files   int
	bytes   int64
	defects outcome.Defects
	planned []string
}

// putStaged gives the content staged for o in the message's folder (none
// on a dry run) o's name, and hands the staged content over: PutStaged
// releases it, whatever the outcome.
func (w *writer) putStaged(ctx context.Context, o *planned) error {
	s := o.staged
	o.staged = nil
	if w.dir == nil {
		w.planned = append(w.planned, path.Join(w.rel, o.name))
		return nil
	}
	st, err := w.dir.PutStaged(ctx, o.name, s)
	if err != nil {
		return fmt.Errorf("%s: %w", w.m.Key(), err)
	}
	w.record(o, st)
	return nil
}

// record notes a file put: in the outputs, the counts and the log.
func (w *writer) record(p *planned, st sink.Stored) {
	kind := p.kind
	o := output{
		Kind: kind, Path: st.Rel(), SHA256: hex.EncodeToString(st.SHA256[:]), Size: st.Size, ContentType: p.ctype,
		DuplicateOf: st.Duplicate, Skipped: st.Skipped, Defects: p.defects, Signature: p.signature,
	}
	if st.Duplicate != "" {
		o.Path = st.Duplicate
	}
	if kind != kindMetadata {
		w.outputs = append(w.outputs, o)
	}
	if !st.Existing && !st.Skipped && st.Duplicate == "" {
		w.files++
		w.bytes += st.Size
		w.defective(o)
	}
	w.r.log.Debug("file", "msg", w.m.Key(), "kind", kind, "path", o.Path, "size", st.Size,
		"existing", st.Existing, "duplicate_of", st.Duplicate, "skipped", st.Skipped, "replaced", st.Replaced)
	if kind == kindMetadata {
		w.metadata = &o
	}
}

// defective makes the defects of a file written visible: a warning and
// a count by kind.
func (w *writer) defective(o output) {
	for _, d := range o.Defects {
		if w.defects == nil {
			w.defects = outcome.Defects{}
		}
		w.defects[d.Kind]++
		w.r.log.Warn("file written with a defect", "msg", w.m.Key(), "path", o.Path, "defect", d.Kind, "detail", d.Detail)
	}
}

// messageVars are the template variables of a message. Each is stable
// across runs, so a message taken again lands on the same names.
func (r *run) messageVars(m mailbox.Message, msg *extract.Message, sum [32]byte) map[string]string {
	task := r.opts.Task
	yyyy, mm, dd := "0000", "00", "00" // no usable Date header
	if !msg.Date.IsZero() {
		t := msg.Date.In(task.Location)
		yyyy, mm, dd = fmt.Sprintf("%04d", t.Year()), fmt.Sprintf("%02d", int(t.Month())), fmt.Sprintf("%02d", t.Day())
	}
	id := sum[:]
	if msg.MessageID != "" {
		h := sha256.Sum256([]byte(msg.MessageID))
		id = h[:]
	}
	uid := m.UIDL
	if uid == "" {
		uid = strconv.FormatUint(uint64(m.UID), 10)
	}
	return map[string]string{
		"task":        task.Name,
		"account":     task.Account,
		"mailbox":     task.Mailbox,
		"yyyy":        yyyy,
		"mm":          mm,
		"dd":          dd,
		"from":        or(strings.ToLower(msg.From), "unknown-sender"),
		"from_domain": or(pathtmpl.Domain(msg.From), "unknown-domain"),
		"subject":     or(pathtmpl.Slug(msg.Subject), "no-subject"),
		"message_id":  hex.EncodeToString(id)[:12],
		"uid":         uid,
	}
}

// fileVars adds a file's variables to a message's.
func fileVars(vars map[string]string, name string, n int) map[string]string {
	out := make(map[string]string, len(vars)+3)
	for k, v := range vars {
		out[k] = v
	}
	ext := filepath.Ext(name)
	if len(ext) > 20 || strings.ContainsRune(ext, ' ') { // "Re. the meeting" has no extension
		ext = ""
	}
	out["name"] = strings.TrimSuffix(name, ext)
	out["ext"] = strings.TrimPrefix(ext, ".")
	out["n"] = strconv.Itoa(n)
	return out
}

func or(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}
