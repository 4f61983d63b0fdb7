package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/recipients"
)

// sendOutput holds send's output flags.
type sendOutput struct {
	asJSON, strict, dryRun bool
	rejectsPath, content   string
}

// sendResult is send --json's object.
type sendResult struct {
	ID         string `json:"id"`
	Recipients int    `json:"recipients"`
	Batches    int    `json:"batches"`
	Rejected   int    `json:"rejected"`
	Duplicates int    `json:"duplicates"`
	Created    bool   `json:"created"` // false: the job already existed and nothing new was sent
}

// printResult prints the job id alone, or the --json object.
func (o sendOutput) printResult(w io.Writer, res client.Result) error {
	if !o.asJSON {
		_, err := fmt.Fprintln(w, res.JobID)
		return err
	}
	return json.NewEncoder(w).Encode(sendResult{ID: res.JobID, Recipients: res.Accepted, Batches: res.Batches,
		Rejected: res.RejectedCount, Duplicates: res.Duplicates, Created: res.Created})
}

// sendError words an error of client.Send or client.DryRun for the command line: the fields of a
// *FieldError as flags, the idempotency conflict with the flags that differ.
func sendError(err error, fromFile bool, encoding, appSource string) error {
	var (
		fe *client.FieldError
		ie *client.IdempotencyError
	)
	switch {
	case errors.As(err, &ie):
		return conflictError{idempotencyMessage(ie, appSource)}
	case errors.As(err, &fe) && fe.Field == "Recipients":
		return fmt.Errorf("nothing to send: %s", fe.Reason)
	case errors.As(err, &fe) && fe.Field == "Encoding" && !fromFile:
		return usageError{fmt.Errorf("--to: %s", fe.Reason)}
	case errors.As(err, &fe) && fe.Field == "Encoding":
		hint := ""
		if mustCanonical(encoding) != recipients.EncodingGB18030 && strings.Contains(fe.Reason, "not valid UTF-8") {
			hint = "\nIf the file was saved as GBK/GB18030 (Excel on a Chinese Windows), pass --encoding gb18030."
		}
		reason := fe.Reason
		if !strings.Contains(reason, "nothing sent") {
			reason += "; nothing sent"
		}
		return fmt.Errorf("--file: %s.%s", reason, hint)
	case errors.As(err, &fe):
		return usageError{fmt.Errorf("%s: %s", flagOf(fe.Field, appSource), fe.Reason)}
	}
	return err
}

// recipientSource is send's --file input: read through a progress display, Ctrl-C honoured while
// reading stdin, and for --strict readable twice (the check, then the send).
type recipientSource struct {
	reader   io.Reader // nil without --file
	file     *os.File  // the file read (a spooled copy of stdin for --strict); nil for stdin
	progress *readProgress
	temp     string // path of the spooled copy, removed by close
}

// openRecipients opens --file (path, or "-" for stdin). With rewindable (--strict) stdin is first
// copied to a temporary file, so that it can be read again after the check.
func (a *app) openRecipients(ctx context.Context, path string, given, rewindable bool) (*recipientSource, error) {
	src := &recipientSource{}
	if !given {
		return src, nil
	}
	var (
		in   io.Reader
		size int64
	)
	if path == "-" {
		in = newCtxReader(ctx, a.stdin)
		if rewindable {
			tmp, err := os.CreateTemp("", "enqueue-stdin-*.csv")
			if err != nil {
				return nil, fmt.Errorf("--strict: spool stdin: %w", err)
			}
			src.file, src.temp = tmp, tmp.Name()
			in = io.TeeReader(in, tmp)
		}
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
		src.file = fh
		in = fh
		if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		} else {
			in = newCtxReader(ctx, fh) // a named pipe can block too
		}
	}
	// Someone typing the numbers on the terminal needs no progress line over their typing.
	typed := path == "-" && a.term.isTTY(a.stdin)
	src.progress = newReadProgress(in, a.stderr, a.term, size, typed)
	src.reader = src.progress
	return src, nil
}

// done ends the progress display once the input has been read.
func (s *recipientSource) done() {
	if s.progress != nil {
		s.progress.done()
		s.progress = nil
	}
}

// interrupt clears the progress line so that a message can be written on stderr.
func (s *recipientSource) interrupt() {
	if s.progress != nil {
		s.progress.interrupt()
	}
}

// rewind returns a reader of the input from its start, for the second reading of --strict.
func (s *recipientSource) rewind() (io.Reader, error) {
	if s.reader == nil {
		return nil, nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("--file: read again: %w", err)
	}
	return s.file, nil
}

func (s *recipientSource) close() {
	if s.file != nil {
		_ = s.file.Close()
	}
	if s.temp != "" {
		_ = os.Remove(s.temp)
	}
}

// rejectLog reports rejected lines on stderr and, with --rejects, in a CSV file.
type rejectLog struct {
	before   func() // called before each report on stderr (clears a progress line); nil for none
	stderr   io.Writer
	fromFile bool
	file     *os.File
	csv      *csv.Writer
	path     string
}

func newRejectLog(path string, fromFile bool, stderr io.Writer) (*rejectLog, error) {
	l := &rejectLog{stderr: stderr, fromFile: fromFile, path: path}
	if path == "" {
		return l, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--rejects: %w", err)
	}
	l.file, l.csv = fh, csv.NewWriter(fh)
	_ = l.csv.Write([]string{"line", "input", "reason"}) // errors surface at Flush in close
	return l, nil
}

func (l *rejectLog) add(le client.LineError) {
	if l.before != nil {
		l.before()
	}
	if l.fromFile {
		fmt.Fprintf(l.stderr, "line %d: %s: %q\n", le.Line, le.Reason, le.Input)
	} else {
		fmt.Fprintf(l.stderr, "--to %q: %s\n", le.Input, le.Reason)
	}
	if l.csv != nil {
		_ = l.csv.Write([]string{strconv.Itoa(le.Line), le.Input, le.Reason})
	}
}

// close writes the --rejects file out; closing twice is a no-op.
func (l *rejectLog) close() error {
	if l.file == nil {
		return nil
	}
	l.csv.Flush()
	err := errors.Join(l.csv.Error(), l.file.Close())
	l.file = nil
	if err != nil {
		return fmt.Errorf("--rejects %s: %w", l.path, err)
	}
	return nil
}
