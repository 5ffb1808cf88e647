package testmail

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// IMAPScript is a scripted IMAP server with one folder, INBOX, holding
// Messages under UIDs 1..n: it answers every command a mailtask session
// sends as a plain server would, but for those a test overrides, which
// then write whatever the test wants the server to have said.
type IMAPScript struct {
	// Capabilities are what the greeting and CAPABILITY list; "" means
	// "IMAP4rev1 UIDPLUS MOVE".
	Capabilities string
	// Greeting is the greeting line, without CRLF; "" means an OK with
	// the capabilities.
	Greeting string
	Messages [][]byte
	// Replies override the answer to a command, by its name in upper case
	// ("LOGIN", "SELECT", "UID SEARCH", "UID FETCH", "FETCH", ...). A reply
	// writes everything, the tagged completion included; args is the rest
	// of the command line.
	Replies map[string]func(w io.Writer, tag, args string) error
}

// Script returns the script to start a ScriptedServer with.
func (s IMAPScript) Script() Script {
	return Script{
		Greet: func(w io.Writer) error {
			greeting := s.Greeting
			if greeting == "" {
				greeting = "* OK [CAPABILITY " + s.capabilities() + "] scripted server ready"
			}
			_, err := io.WriteString(w, greeting+"\r\n")
			return err
		},
		Answer: s.answer,
	}
}

func (s IMAPScript) capabilities() string {
	if s.Capabilities == "" {
		return "IMAP4rev1 UIDPLUS MOVE"
	}
	return s.Capabilities
}

func (s IMAPScript) answer(w io.Writer, line string) error {
	tag, rest, _ := strings.Cut(line, " ")
	name, args, _ := strings.Cut(rest, " ")
	name = strings.ToUpper(name)
	if name == "UID" {
		var sub string
		sub, args, _ = strings.Cut(args, " ")
		name += " " + strings.ToUpper(sub)
	}
	if reply, ok := s.Replies[name]; ok {
		return reply(w, tag, args)
	}
	n := len(s.Messages)
	say := func(lines ...string) error {
		_, err := io.WriteString(w, strings.Join(lines, "\r\n")+"\r\n")
		return err
	}
	switch name {
	case "CAPABILITY":
		return say("* CAPABILITY "+s.capabilities(), tag+" OK CAPABILITY completed")
	case "SELECT", "EXAMINE":
		return say(fmt.Sprintf("* %d EXISTS", n), "* OK [UIDVALIDITY 1] UIDs valid", fmt.Sprintf("* OK [UIDNEXT %d] next", n+1),
			`* FLAGS (\Seen \Deleted \Flagged)`, `* OK [PERMANENTFLAGS (\Seen \Deleted \Flagged \*)] flags`, tag+" OK [READ-WRITE] done")
	case "UID SEARCH":
		uids := make([]string, n)
		for i := range n {
			uids[i] = strconv.Itoa(i + 1)
		}
		return say(strings.TrimSpace("* SEARCH "+strings.Join(uids, " ")), tag+" OK SEARCH completed")
	case "UID FETCH", "FETCH":
		set, items, _ := strings.Cut(args, " ")
		for _, num := range Numbers(set, n) {
			if err := s.fetchResponse(w, num, items); err != nil {
				return err
			}
		}
		return say(tag + " OK FETCH completed")
	case "LIST":
		return say(`* LIST () "/" INBOX`, tag+" OK LIST completed")
	case "STATUS":
		return say(fmt.Sprintf("* STATUS INBOX (MESSAGES %d)", n), tag+" OK STATUS completed")
	case "LOGOUT":
		if err := say("* BYE logging out", tag+" OK LOGOUT completed"); err != nil {
			return err
		}
		return io.EOF
	default: // LOGIN, NOOP, UID STORE, UID EXPUNGE, UID COPY, UID MOVE, ...
		return say(tag + " OK " + name + " completed")
	}
}

// fetchResponse writes message num's FETCH response: its UID, and its
// whole text or header when items ask for BODY.PEEK[] or
// BODY.PEEK[HEADER], or its size for RFC822.SIZE.
func (s IMAPScript) fetchResponse(w io.Writer, num uint32, items string) error {
	raw := s.Messages[num-1]
	var err error
	switch {
	case strings.Contains(items, "BODY.PEEK[HEADER]"):
		header := raw
		if i := strings.Index(string(raw), "\r\n\r\n"); i >= 0 {
			header = raw[:i+4]
		}
		_, err = fmt.Fprintf(w, "* %d FETCH (UID %d BODY[HEADER] {%d}\r\n%s)\r\n", num, num, len(header), header)
	case strings.Contains(items, "BODY.PEEK[]"):
		_, err = fmt.Fprintf(w, "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", num, num, len(raw), raw)
	case strings.Contains(items, "RFC822.SIZE"):
		_, err = fmt.Fprintf(w, "* %d FETCH (UID %d RFC822.SIZE %d)\r\n", num, num, len(raw))
	default:
		_, err = fmt.Fprintf(w, "* %d FETCH (UID %d)\r\n", num, num)
	}
	return err
}

// Numbers returns the numbers an IMAP sequence set ("1:3,7", "2:*") names
// among 1..n, ascending: what a scripted server answers for.
func Numbers(set string, n int) []uint32 {
	var out []uint32
	num := func(s string) uint64 {
		if s == "*" {
			return uint64(n)
		}
		v, _ := strconv.ParseUint(s, 10, 32)
		return v
	}
	for _, part := range strings.Split(set, ",") {
		lo, hi, found := strings.Cut(part, ":")
		a, b := num(lo), num(lo)
		if found {
			b = num(hi)
		}
		a, b = min(a, b), max(a, b)
		for v := max(a, 1); v <= min(b, uint64(n)); v++ {
			out = append(out, uint32(v))
		}
	}
	return out
}
