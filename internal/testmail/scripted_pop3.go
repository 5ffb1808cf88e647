package testmail

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// POP3Script is a scripted POP3 server whose maildrop holds Messages,
// numbered from 1: it answers every command a mailtask session sends as a
// plain server would, but for those a test overrides.
type POP3Script struct {
	Messages [][]byte
	// UIDLs are the messages' unique IDs; nil means "uidl-1", "uidl-2"...
	UIDLs []string
	// NoUIDL answers -ERR to UIDL and leaves it out of CAPA.
	NoUIDL bool
	// Replies override the answer to a command, by its verb in upper
	// case ("STAT", "UIDL", "LIST", "RETR", ...). A reply writes the
	// whole answer; args is the rest of the command line.
	Replies map[string]func(w io.Writer, args string) error
}

// Script returns the script to start a ScriptedServer with.
func (s POP3Script) Script() Script {
	return Script{
		Greet: func(w io.Writer) error {
			_, err := io.WriteString(w, "+OK scripted POP3 server ready\r\n")
			return err
		},
		Answer: s.answer,
	}
}

func (s POP3Script) answer(w io.Writer, line string) error {
	verb, args, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if reply, ok := s.Replies[verb]; ok {
		return reply(w, args)
	}
	say := func(lines ...string) error {
		_, err := io.WriteString(w, strings.Join(lines, "\r\n")+"\r\n")
		return err
	}
	message := func() ([]byte, bool) {
		n, err := strconv.Atoi(strings.Fields(args + " x")[0])
		if err != nil || n < 1 || n > len(s.Messages) {
			return nil, false
		}
		return s.Messages[n-1], true
	}
	switch verb {
	case "CAPA":
		caps := []string{"+OK", "USER", "TOP"}
		if !s.NoUIDL {
			caps = append(caps, "UIDL")
		}
		return say(append(caps, ".")...)
	case "STAT":
		total := 0
		for _, m := range s.Messages {
			total += len(m)
		}
		return say(fmt.Sprintf("+OK %d %d", len(s.Messages), total))
	case "UIDL":
		if s.NoUIDL {
			return say("-ERR unknown command")
		}
		lines := []string{"+OK"}
		for i := range s.Messages {
			uidl := fmt.Sprintf("uidl-%d", i+1)
			if s.UIDLs != nil {
				uidl = s.UIDLs[i]
			}
			lines = append(lines, fmt.Sprintf("%d %s", i+1, uidl))
		}
		return say(append(lines, ".")...)
	case "LIST":
		lines := []string{"+OK"}
		for i, m := range s.Messages {
			lines = append(lines, fmt.Sprintf("%d %d", i+1, len(m)))
		}
		return say(append(lines, ".")...)
	case "RETR", "TOP":
		raw, ok := message()
		if !ok {
			return say("-ERR no such message")
		}
		if verb == "TOP" {
			raw = top(raw, 0)
		}
		if err := say(fmt.Sprintf("+OK %d octets", len(raw))); err != nil {
			return err
		}
		bw := bufio.NewWriter(w)
		writeDotStuffed(bw, raw)
		return bw.Flush()
	case "QUIT":
		if err := say("+OK bye"); err != nil {
			return err
		}
		return io.EOF
	default: // USER, PASS, NOOP, RSET, DELE
		return say("+OK")
	}
}
