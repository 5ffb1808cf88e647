package popimap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/hook"
	"mailtask/internal/mailbox"
	"mailtask/internal/sink"
)

// hookJob is the hooks due for one message once its files are durable.
type hookJob struct {
	m     mailbox.Message
	env   hook.Env // the message's variables
	files []output // present in the destination
	meta  *output  // the metadata sidecar, if present
}

// hooks is the task's compiled run_after_file and run_after_message.
type hooks struct {
	file, message *hook.Command
	policy        string
}

func newHooks(cfg *config.Config, task *config.Task) hooks {
	h := hooks{policy: task.HookFailure}
	if len(task.RunAfterFile) == 0 && len(task.RunAfterMessage) == 0 {
		// No list of secrets to hide either: it walks every account, and
		// this is every run of every task (10,000 accounts for 10,000
		// mailboxes).
		return h
	}
	// A hook must not inherit the secrets the configuration reads from
	// the environment.
	var hide []string
	for _, a := range cfg.Accounts {
		hide = append(hide, a.PasswordEnv)
		if a.OAuth2 != nil {
			hide = append(hide, a.OAuth2.ClientSecretEnv)
		}
	}
	// Values too long for the environment wait for the hook in the spool,
	// which the next run empties should a crash leave them there.
	tmp := SpoolDir(cfg.StateDir, task.Name)
	if len(task.RunAfterFile) > 0 {
		h.file = &hook.Command{Argv: task.RunAfterFile, Timeout: task.HookTimeout.Std(), Hide: hide, TempDir: tmp}
	}
	if len(task.RunAfterMessage) > 0 {
		h.message = &hook.Command{Argv: task.RunAfterMessage, Timeout: task.HookTimeout.Std(), Hide: hide, TempDir: tmp}
	}
	return h
}

func (h hooks) any() bool { return h.file != nil || h.message != nil }

// hookJob returns the hooks a taken message is due, to be run once the
// batch's files are durable; nil when it has none.
func (r *run) hookJob(m mailbox.Message, msg *extract.Message, vars map[string]string, w *writer) *hookJob {
	if !r.hooks.any() || r.opts.DryRun {
		return nil
	}
	job := &hookJob{m: m}
	for _, o := range w.outputs {
		if o.present() {
			job.files = append(job.files, o)
		}
	}
	if m := w.metadata; m != nil && m.present() {
		job.files = append(job.files, *m)
		job.meta = m
	}
	date := ""
	if !msg.Date.IsZero() {
		date = msg.Date.Format(time.RFC3339)
	}
	job.env = hook.Env{
		"TASK":        r.opts.Task.Name,
		"ACCOUNT":     r.opts.Task.Account,
		"MAILBOX":     r.opts.Task.Mailbox,
		"MESSAGE":     m.Key(),
		"UID":         vars["uid"],
		"FROM":        msg.From,
		"SUBJECT":     msg.Subject,
		"MESSAGE_ID":  msg.MessageID,
		"DATE":        date,
		"DESTINATION": r.out.root,
	}
	// An object store has keys, not folders.
	if dir := r.dest.Locate(w.rel); dir.Path != "" {
		job.env["DIR"] = dir.Path
	}
	return job
}

// runHooks runs the hooks of a batch's messages, after making their files
// durable: a hook must never see a file a crash could still take away. It
// returns the messages to commit, and the failures that held the others
// back: with hook_failure = "retry" a message whose hook failed is not
// committed, so the next run takes it again (finding its files already
// there) and runs its hooks again. With "fail" the first failure ends the
// run.
func (r *run) runHooks(ctx context.Context, got []delivered) (kept []delivered, held []error, err error) {
	if !slices.ContainsFunc(got, func(d delivered) bool { return d.hook != nil }) {
		return got, nil, nil
	}
	if err := r.dest.Sync(ctx); err != nil {
		return nil, nil, err
	}
	for _, d := range got {
		if d.hook == nil {
			kept = append(kept, d)
			continue
		}
		err := r.runHookJob(ctx, d.hook)
		switch {
		case err == nil:
			kept = append(kept, d)
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case r.hooks.policy == config.HookIgnore:
			r.log.Warn("hook failed; going on (hook_failure = \"ignore\")", "msg", d.m.Key(), "err", err)
			kept = append(kept, d)
		case r.hooks.policy == config.HookFail:
			return nil, nil, fmt.Errorf("%s: %w (hook_failure = \"fail\"; the message is taken again next run)", d.m.Key(), err)
		default:
			r.log.Warn("hook failed; the message is taken again next run (hook_failure = \"retry\")", "msg", d.m.Key(), "err", err)
			held = append(held, fmt.Errorf("%s: %w", d.m.Key(), err))
		}
	}
	return kept, held, nil
}

// runHookJob runs the file hook for each file of a message, then its
// message hook; the first failure stops the message's hooks.
func (r *run) runHookJob(ctx context.Context, job *hookJob) error {
	if r.hooks.file != nil {
		for _, f := range job.files {
			env := job.fileEnv(r.dest.Locate(f.Path), f)
			if err := r.hooks.file.Run(ctx, env); err != nil {
				return err
			}
		}
	}
	if r.hooks.message != nil {
		return r.hooks.message.Run(ctx, job.messageEnv(r.dest))
	}
	return nil
}

// messageEnv is what a message hook is told: the message's variables,
// and where its files are, by path on a filesystem (FILES, METADATA), by
// key and URL in an object store (OBJECT_KEYS, OBJECT_URLS,
// METADATA_URL), one per line.
func (job *hookJob) messageEnv(dest sink.Destination) hook.Env {
	env := hook.Env{}
	for k, v := range job.env {
		env[k] = v
	}
	var paths, keys, urls []string
	for _, f := range job.files {
		loc := dest.Locate(f.Path)
		if loc.Path != "" {
			paths = append(paths, loc.Path)
			continue
		}
		keys, urls = append(keys, loc.Key), append(urls, loc.URL)
	}
	env["FILE_COUNT"] = strconv.Itoa(len(job.files))
	var meta sink.Location
	if job.meta != nil {
		meta = dest.Locate(job.meta.Path)
	}
	if keys == nil {
		env["FILES"] = strings.Join(paths, "\n")
		env["METADATA"] = meta.Path
		return env
	}
	env["OBJECT_KEYS"] = strings.Join(keys, "\n")
	env["OBJECT_URLS"] = strings.Join(urls, "\n")
	env["METADATA_URL"] = meta.URL
	return env
}

// fileEnv is what a file hook is told of f, which is at loc: its path, or
// its key and URL in an object store.
func (job *hookJob) fileEnv(loc sink.Location, f output) hook.Env {
	env := hook.Env{}
	for k, v := range job.env {
		env[k] = v
	}
	if loc.Path != "" {
		env["FILE"] = loc.Path
	} else {
		env["OBJECT_KEY"], env["OBJECT_URL"] = loc.Key, loc.URL
	}
	env["FILE_PATH"] = f.Path
	env["KIND"] = f.Kind
	env["SHA256"] = f.SHA256
	env["SIZE"] = strconv.FormatInt(f.Size, 10)
	env["CONTENT_TYPE"] = f.ContentType
	return env
}

// heldBack reports the messages hook failures held back this run, as the
// run's error: the operator should know even though nothing was lost.
func heldBack(held []error) error {
	if len(held) == 0 {
		return nil
	}
	return fmt.Errorf("hooks failed for %d messages, which stay on the server as they were and are taken again next run: %w",
		len(held), errors.Join(held...))
}
